"""The labeling workspace in a real browser: a CT task rendered by Cornerstone3D (WebGL on
SwiftShader), scrolled, windowed, drawn on (box, length, brush), answered, saved, reloaded and
submitted; what the server stored is compared with what the mouse drew."""

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from annotator.imaging.synthetic.xray import make_xray
from annotator.labeling.annotations import create_annotation
from annotator.labeling.mask_codec import WireChunk, encode_message, encode_slice
from annotator.labeling.mask_reads import read_annotation_segments
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    Assignment,
    LabelingTask,
    SetKind,
    Source,
)
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member, update_label_schema
from tests.e2e.browser import canvas_point, drag, log_in
from tests.e2e.timing import FPS, NETWORK
from tests.factories import UserFactory, make_project
from tests.imaging.dicom_files import ct_files, to_bytes
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e

# E2E_WORKSPACE_SLICES=300 E2E_WORKSPACE_SIZE=512 runs the same flow on a full-size CT for the
# timing figures; drawing positions scale with the image.
SLICES = int(os.environ.get("E2E_WORKSPACE_SLICES", "12"))
SIZE = int(os.environ.get("E2E_WORKSPACE_SIZE", "64"))
S = SIZE / 64
LOAD_MS = 60_000  # loading a whole stack is measured, not asserted
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "workspace.png"
LABELS: list[dict[str, Any]] = [
    {
        "key": "lesion_box",
        "name": "Lesion box",
        "kind": "bounding_box",
        "scope": "image",
        "attributes": [
            {
                "key": "margin",
                "name": "Margin",
                "type": "enum",
                "options": [
                    {"value": "smooth", "label": "Smooth"},
                    {"value": "spiculated", "label": "Spiculated"},
                ],
            },
            {"key": "count", "name": "Count", "type": "integer", "min": 0, "max": 10},
            {"key": "calcified", "name": "Calcified", "type": "boolean"},
        ],
    },
    {"key": "diameter", "name": "Diameter", "kind": "length", "scope": "image"},
    {"key": "organ", "name": "Organ", "kind": "mask", "scope": "series", "color": "#e6194b"},
    {
        "key": "quality",
        "name": "Image quality",
        "kind": "ordinal",
        "scope": "series",
        "required": True,
        "options": [
            {"value": "1", "label": "Poor"},
            {"value": "2", "label": "Fair"},
            {"value": "3", "label": "Good"},
        ],
    },
    {"key": "marker", "name": "Marker", "kind": "point", "scope": "image"},
    {"key": "recist", "name": "RECIST", "kind": "bidirectional", "scope": "image"},
    {"key": "outline", "name": "Outline", "kind": "polygon", "scope": "image"},
    {"key": "path", "name": "Path", "kind": "polyline", "scope": "image"},
]

CANVAS_STATS = """() => {
  const canvas = document.querySelector('[data-testid=viewport] canvas');
  const ctx = canvas.getContext('2d');
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const seen = new Set();
  let sum = 0;
  for (let n = 0; n < data.length; n += 4) {
    const v = data[n];
    seen.add(v);
    sum += v;
  }
  return { distinct: seen.size, mean: sum / (data.length / 4), w: canvas.width, h: canvas.height };
}"""


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _setup(*, review: bool = False, model: bool = False) -> tuple[Any, Any, LabelingTask]:
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name="Chest CT", review_required=review)
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(project, ct_files(slices=SLICES, size=SIZE))
    task = LabelingTask.objects.get(series=series)
    if model:  # a model pre-annotation: readers start from a copy of it
        model_set = AnnotationSet.objects.create(task=task, kind=SetKind.MODEL, model_version="t-1")
        create_annotation(
            annotation_set=model_set,
            actor=None,
            label_key="lesion_box",
            data={"min": [4, 4], "max": [16, 18]},
            slice_index=2,
            source=Source.MODEL,
            model_version="t-1",
        )
    assign_reader(task=task, actor=manager, reader=reader)
    return project, reader, task


def _api_as(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _mouse_ij(page: Any, point: tuple[float, float]) -> list[float]:
    """Where a page point falls in voxel indices (through the viewport's canvas transform)."""
    box = page.get_by_test_id("viewport").locator("canvas").bounding_box()
    return page.evaluate(
        "([x, y]) => window.__workspace.toIJ(x, y)", [point[0] - box["x"], point[1] - box["y"]]
    )


def test_reader_labels_a_ct_task(page: Any, live_server: Any, transactional_db: None) -> None:
    expect = _expect()
    project, reader, task = _setup()
    log_in(page, live_server, reader.username)

    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    viewport = page.get_by_test_id("viewport")
    expect(viewport).to_have_attribute("data-rendered", "true")
    expect(viewport).to_have_attribute("data-stack-loaded", "true", timeout=LOAD_MS)
    marks = page.evaluate("() => window.__workspace.marks")

    # The image rendered: the canvas holds a picture, not one flat value.
    expect(page.get_by_test_id("slice-number")).to_have_text(f"1 / {SLICES}")
    expect(page.get_by_test_id("window-values")).to_have_text("W 400 / L 40")
    before = page.evaluate(CANVAS_STATS)
    assert before["distinct"] > 8, before
    page.get_by_test_id("preset-lung").click()
    expect(page.get_by_test_id("window-values")).to_have_text("W 1500 / L -600")
    page.wait_for_timeout(100)
    lung = page.evaluate(CANVAS_STATS)
    assert lung["distinct"] > 8, lung
    assert abs(lung["mean"] - before["mean"]) > 1, (before, lung)
    page.get_by_test_id("preset-soft-tissue").click()
    expect(page.get_by_test_id("window-values")).to_have_text("W 400 / L 40")

    # Scroll: mouse wheel, keys and the slider all move k.
    viewport.hover()
    page.mouse.wheel(0, 120)
    expect(page.get_by_test_id("slice-number")).not_to_have_text(f"1 / {SLICES}")
    page.keyboard.press("Home")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"1 / {SLICES}")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"3 / {SLICES}")
    page.get_by_test_id("slice-slider").fill("5")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"6 / {SLICES}")

    network = page.evaluate(NETWORK)
    speed = page.evaluate(FPS)
    # The marks are performance.now() of the workspace document: ms since its navigation began.
    print(  # noqa: T201 - figures are reported, not asserted
        f"\nworkspace timings ({SLICES}x{SIZE}x{SIZE} CT, loopback): first image "
        f"{marks['firstImage']:.0f} ms after navigation, whole stack loaded "
        f"{marks['stackLoaded']:.0f} ms, scrolling {speed['fps']:.0f} frames/s over "
        f"{speed['slices']} slice changes; series metadata {network['metadata']:.0f} ms, "
        f"{network['frames']} frame requests from {network['firstFrame']:.0f} to "
        f"{network['lastFrame']:.0f} ms (median {network['median']:.0f} ms each)"
    )

    reading = Assignment.objects.get(task=task, reader=reader)
    drawn_k = 4
    page.get_by_test_id("slice-slider").fill(str(drawn_k))
    expect(page.get_by_test_id("slice-number")).to_have_text(f"{drawn_k + 1} / {SLICES}")

    # A length: the server keeps the voxel points the mouse went to, and measures like Cornerstone.
    page.get_by_test_id("label-diameter").click()
    start, end = canvas_point(page, 20 * S, 22 * S), canvas_point(page, 44 * S, 40 * S)
    drag(page, start, end)
    expect(page.get_by_test_id("finding")).to_have_count(1)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    shown_mm = page.evaluate(
        """() => {
          const a = window.__workspace.annotations().find((x) => x.metadata.toolName === 'Length');
          return Object.values(a.data.cachedStats)[0].length;
        }"""
    )
    length = Annotation.objects.get(annotation_set=reading.annotation_set, label_key="diameter")
    assert length.slice_index == drawn_k
    for stored, mouse in zip(length.data["points"], [start, end], strict=True):
        expected = _mouse_ij(page, mouse)
        assert abs(stored[0] - expected[0]) <= 0.5, (stored, expected)
        assert abs(stored[1] - expected[1]) <= 0.5, (stored, expected)
    assert abs(length.measurements["length_mm"] - shown_mm) <= 0.005 * shown_mm, (
        length.measurements,
        shown_mm,
    )
    print(  # noqa: T201 - figures are reported, not asserted
        f"length round trip: stored {length.data['points']}, mouse "
        f"{[_mouse_ij(page, p) for p in (start, end)]}; server {length.measurements['length_mm']} "
        f"mm, Cornerstone {shown_mm:.3f} mm"
    )
    expect(page.get_by_test_id("finding-measurements").first).to_contain_text(" mm")

    # A box.
    page.get_by_test_id("label-lesion_box").click()
    box_start, box_end = canvas_point(page, 8 * S, 10 * S), canvas_point(page, 24 * S, 30 * S)
    drag(page, box_start, box_end)
    expect(page.get_by_test_id("finding")).to_have_count(2)
    # The new drawing is selected: its typed attributes are edited in the side panel.
    selected = page.get_by_test_id("selected-finding")
    selected.get_by_test_id("attr-margin").select_option("spiculated")
    selected.get_by_test_id("attr-count").fill("12")
    selected.get_by_test_id("attr-count").press("Enter")
    expect(selected).to_contain_text("At most 10.")
    selected.get_by_test_id("attr-count").fill("3")
    selected.get_by_test_id("attr-count").press("Enter")
    selected.get_by_test_id("attr-calcified").check()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")

    # A brush stroke on the mask label.
    page.get_by_test_id("label-organ").click()
    drag(page, canvas_point(page, 30 * S, 30 * S), canvas_point(page, 40 * S, 34 * S))
    expect(page.get_by_test_id("segment-organ")).to_be_visible()
    expect(page.get_by_test_id("finding")).to_have_count(3)

    # The ordinal answer.
    page.get_by_test_id("answer-quality-2").check()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")

    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))

    # Reload: everything comes back from the server, and showing it writes nothing.
    versions = dict(
        Annotation.objects.filter(annotation_set=reading.annotation_set).values_list(
            "pk", "version"
        )
    )
    page.reload()
    expect(viewport).to_have_attribute("data-stack-loaded", "true", timeout=LOAD_MS)
    expect(page.get_by_test_id("finding")).to_have_count(3)
    expect(page.get_by_test_id("answer-quality-2")).to_be_checked()
    stored = {
        a.label_key: a
        for a in Annotation.objects.filter(annotation_set=reading.annotation_set, deleted=False)
    }
    assert set(stored) == {"diameter", "lesion_box", "organ", "quality"}
    page.wait_for_timeout(600)  # longer than the autosave pause
    assert {a.pk: a.version for a in Annotation.objects.filter(pk__in=versions)} == versions
    assert stored["quality"].data == {"value": "2"}
    box = stored["lesion_box"]
    assert box.slice_index == drawn_k
    assert box.attributes == {"margin": "spiculated", "count": 3, "calcified": True}
    low, high = _mouse_ij(page, box_start), _mouse_ij(page, box_end)
    for axis in (0, 1):
        assert abs(box.data["min"][axis] - low[axis]) <= 0.5, (box.data, low)
        assert abs(box.data["max"][axis] - high[axis]) <= 0.5, (box.data, high)
    volume = read_annotation_segments(stored["organ"])[1]
    painted = [k for k in range(SLICES) if volume[k].any()]
    assert painted == [drawn_k], painted
    assert volume[drawn_k][round(32 * S), round(35 * S)], "the stroke's middle is painted"
    # The mask drawn after the reload is the stored one (read back through GET …/mask/).
    page.get_by_test_id("slice-slider").fill(str(drawn_k))
    voxels = page.evaluate(
        """(k) => {
          const ws = window.__workspace;
          const layer = ws.masks().layers[0];
          const bits = ws.viewer.labelmapSlice(layer.labelmapIds[k]);
          let n = 0;
          for (let i = 0; i < bits.length; i++) n += bits[i] ? 1 : 0;
          return n;
        }""",
        drawn_k,
    )
    assert voxels == int(volume[drawn_k].sum())

    # Submit: without review the reading is accepted at once.
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("assignment-status")).to_have_text("accepted")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    reading.refresh_from_db()
    assert reading.status in {"submitted", "accepted"}


def test_conflict_keeps_local_work_and_shortcuts_help(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    expect = _expect()
    project, reader, task = _setup()
    browser_errors.allow_response("/annotations/", 409)
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    expect(page.get_by_test_id("viewport")).to_have_attribute(
        "data-stack-loaded", "true", timeout=LOAD_MS
    )

    # Every tool has a shortcut; "?" lists them.
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("Bidirectional")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("help-overlay")).to_have_count(0)
    page.keyboard.press("2")
    expect(page.get_by_test_id("label-diameter")).to_have_class("active")
    page.keyboard.press("b")
    expect(page.get_by_test_id("label-lesion_box")).to_have_class("active")
    page.keyboard.press("i")
    expect(page.get_by_test_id("window-values")).to_contain_text("inverted")

    page.get_by_test_id("side-comments").click()
    page.get_by_test_id("comment-text").fill("Motion artefact on the upper slices.")
    page.get_by_test_id("comment-post").click()
    expect(page.get_by_test_id("comment")).to_contain_text("Motion artefact")
    page.get_by_test_id("side-labels").click()

    page.get_by_test_id("answer-quality-1").check()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    answer = Annotation.objects.get(label_key="quality")

    # Someone else (another tab) changes the answer behind this page's back.
    changed = _api_as(reader).patch(
        f"/api/v1/projects/{project.pk}/annotations/{answer.pk}/",
        {"version": answer.version, "data": {"value": "3"}},
        format="json",
    )
    assert changed.status_code == 200, changed.content

    page.get_by_test_id("answer-quality-2").check()
    expect(page.get_by_test_id("save-status")).to_have_text("Changed elsewhere")
    expect(page.get_by_test_id("conflict")).to_contain_text("changed this reading elsewhere")
    expect(page.get_by_test_id("answer-quality-2")).to_be_checked()  # local work kept
    answer.refresh_from_db()
    assert answer.data == {"value": "3"}

    page.get_by_test_id("conflict-keep").click()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    answer.refresh_from_db()
    assert answer.data == {"value": "2"}


def test_reviewer_rejects_and_reader_sees_the_comment(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    project, reader, task = _setup(review=True)
    reviewer = UserFactory.create(username="reviewer")
    add_member(project=project, actor=project.owner, user=reviewer, role=Role.REVIEWER)
    reading = Assignment.objects.get(task=task, reader=reader)
    as_reader = _api_as(reader)
    base = f"/api/v1/projects/{project.pk}"
    for body in (
        {"label_key": "diameter", "slice_index": 3, "data": {"points": [[10, 12], [30, 40]]}},
        {"label_key": "quality", "data": {"value": "3"}},
    ):
        made = as_reader.post(
            f"{base}/annotation-sets/{reading.annotation_set.pk}/annotations/", body, format="json"
        )
        assert made.status_code == 201, made.content
    organ = as_reader.post(
        f"{base}/annotation-sets/{reading.annotation_set.pk}/annotations/",
        {"label_key": "organ", "data": {"segments": [{"number": 1, "label": "organ"}]}},
        format="json",
    ).json()
    bits = np.zeros((SIZE, SIZE), dtype=bool)
    bits[20:30, 24:34] = True  # 100 voxels on slice 3
    painted = as_reader.generic(
        "PATCH",
        f"{base}/annotations/{organ['id']}/mask/",
        encode_message((SLICES, SIZE, SIZE), [WireChunk(segment=1, k=3, data=encode_slice(bits))]),
        content_type="application/vnd.annotator.mask",
        HTTP_IF_MATCH=f'"{organ["version"]}"',
    )
    assert painted.status_code == 200, painted.content
    submitted = as_reader.post(f"{base}/assignments/{reading.pk}/submit/", {}, format="json")
    assert submitted.status_code == 200, submitted.content

    log_in(page, live_server, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}?review=1")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-rendered", "true")
    reviewed = page.get_by_test_id("review-set")
    expect(reviewed).to_have_count(1)
    expect(reviewed).to_contain_text("reader")
    reviewed.get_by_test_id("review-toggle").check()
    assert page.evaluate("() => window.__workspace.annotations().length") == 1
    page.wait_for_function(
        "() => Object.values(window.__workspace.segmentationVoxels()).includes(100)"
    )
    page.get_by_test_id("slice-slider").fill("3")  # where the reader drew
    if os.environ.get("SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOT.with_name("workspace-review.png")))
    expect(page.get_by_test_id("review-reject")).to_be_disabled()
    page.get_by_test_id("review-comment-text").fill("The diameter misses the nodule's edge.")
    page.get_by_test_id("review-reject").click()
    expect(page.get_by_test_id("review-status")).to_have_text("returned")
    reading.refresh_from_db()
    assert reading.status == "returned"

    page.context.clear_cookies()
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    expect(page.get_by_test_id("review-comment")).to_contain_text("misses the nodule")
    expect(page.get_by_test_id("submit")).to_be_visible()  # the reading is open again
    expect(page.get_by_test_id("finding")).to_have_count(2)  # the length and the mask


def _trace(page: Any, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=3)
    page.mouse.up()


def test_point_bidirectional_polygon_polyline_round_trip(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    project, reader, task = _setup(model=True)
    reading = Assignment.objects.get(task=task, reader=reader)
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-rendered", "true")
    page.get_by_test_id("slice-slider").fill("2")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"3 / {SLICES}")
    # The model's box is the starting state, marked as such.
    expect(page.get_by_test_id("finding")).to_have_count(1)
    expect(page.get_by_test_id("finding").first).to_contain_text("model")

    page.get_by_test_id("label-marker").click()
    spot = canvas_point(page, 12, 14)
    page.mouse.click(*spot)
    expect(page.get_by_test_id("finding")).to_have_count(2)

    page.get_by_test_id("label-recist").click()
    drag(page, canvas_point(page, 20, 20), canvas_point(page, 40, 36))
    expect(page.get_by_test_id("finding")).to_have_count(3)

    page.get_by_test_id("label-outline").click()
    ring = [(30, 10), (40, 12), (44, 20), (38, 26), (30, 22), (29, 12), (30, 10.2)]
    _trace(page, [canvas_point(page, i, j) for i, j in ring])
    expect(page.get_by_test_id("finding")).to_have_count(4)

    page.get_by_test_id("label-path").click()
    line = [(8, 40), (14, 46), (20, 44), (26, 52)]
    _trace(page, [canvas_point(page, i, j) for i, j in line])
    expect(page.get_by_test_id("finding")).to_have_count(5)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")

    stored = {
        a.label_key: a
        for a in Annotation.objects.filter(annotation_set=reading.annotation_set, deleted=False)
    }
    assert set(stored) == {"lesion_box", "marker", "recist", "outline", "path"}
    assert stored["lesion_box"].source == "model"
    assert all(a.slice_index == 2 for a in stored.values())
    mouse = _mouse_ij(page, spot)
    assert all(
        abs(a - b) <= 0.5 for a, b in zip(stored["marker"].data["point"], mouse, strict=True)
    )
    assert (
        stored["recist"].measurements["long_axis_mm"]
        > stored["recist"].measurements["short_axis_mm"]
    )
    assert len(stored["outline"].data["points"]) >= 3
    assert stored["outline"].measurements["area_mm2"] > 0
    assert len(stored["path"].data["points"]) >= 2
    assert stored["path"].measurements["length_mm"] > 0
    versions = {a.pk: a.version for a in stored.values()}

    page.reload()
    expect(page.get_by_test_id("viewport")).to_have_attribute(
        "data-stack-loaded", "true", timeout=LOAD_MS
    )
    expect(page.get_by_test_id("finding")).to_have_count(5)
    tools = page.evaluate(
        "() => window.__workspace.annotations().map((a) => a.metadata.toolName).sort()"
    )
    assert tools == ["Bidirectional", "PlanarFreehandROI", "Polyline", "Probe", "RectangleROI"], (
        tools
    )
    page.wait_for_timeout(600)
    assert {a.pk: a.version for a in Annotation.objects.filter(pk__in=versions)} == versions

    # The model's box is fully editable: dragging its corner saves a human revision.
    page.get_by_test_id("tool-w").click()
    page.get_by_test_id("slice-slider").fill("2")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"3 / {SLICES}")
    corner = canvas_point(page, 16, 18)
    page.mouse.move(corner[0] + 3, corner[1] + 3)
    page.mouse.move(*corner, steps=2)
    drag(page, corner, canvas_point(page, 20, 22))
    expect(page.locator("[data-testid=finding][data-label=lesion_box]")).not_to_contain_text(
        "model"
    )
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    edited = Annotation.objects.get(pk=stored["lesion_box"].pk)
    assert edited.source == "human"
    assert abs(edited.data["max"][0] - 20) <= 0.5
    assert abs(edited.data["max"][1] - 22) <= 0.5
    assert edited.data["min"] == [4, 4]

    # Delete the marker from the findings list (DELETE with its version).
    page.locator("[data-testid=finding][data-label=marker]").get_by_test_id(
        "finding-delete"
    ).click()
    expect(page.get_by_test_id("finding")).to_have_count(4)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    assert Annotation.objects.get(pk=stored["marker"].pk).deleted


def test_a_radiograph_opens_as_a_one_image_stack(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name="Chest X-ray", modalities=["DX"])
    schema = project.label_schemas.get()
    update_label_schema(
        project=project,
        actor=manager,
        base_revision=schema.revision,
        labels=[{"key": "marker", "name": "Marker", "kind": "point", "scope": "image"}],
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    image = make_xray(size=(256, 200))
    [series] = ingest_and_build(project, [("dx/1.dcm", to_bytes(image))])
    task = LabelingTask.objects.get(series=series)
    reading = assign_reader(task=task, actor=manager, reader=reader)

    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    expect(page.get_by_test_id("viewport")).to_have_attribute(
        "data-stack-loaded", "true", timeout=LOAD_MS
    )
    expect(page.get_by_test_id("slice-number")).to_have_text("1 / 1")
    expect(page.get_by_test_id("slice-slider")).to_have_count(0)
    assert page.evaluate(CANVAS_STATS)["distinct"] > 8
    page.get_by_test_id("label-marker").click()
    spot = canvas_point(page, 120, 90)
    page.mouse.click(*spot)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    marker = Annotation.objects.get(annotation_set=reading.annotation_set, label_key="marker")
    mouse = _mouse_ij(page, spot)
    assert marker.slice_index == 0
    assert all(abs(a - b) <= 0.5 for a, b in zip(marker.data["point"], mouse, strict=True))


def test_an_image_task_opens_on_its_own_slice_and_saves_there(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name="Slices", task_unit="image", auto_assign=False)
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    ingest_and_build(project, ct_files(slices=SLICES, size=SIZE))
    task = LabelingTask.objects.filter(unit="image").order_by("instance__stack_position")[3]
    assert task.instance is not None
    k = task.instance.stack_position
    assert k is not None
    slot = assign_reader(task=task, actor=manager, reader=reader)

    log_in(page, live_server, "reader")
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"{k + 1} / {SLICES}")
    page.get_by_test_id("label-diameter").click()
    drag(page, canvas_point(page, 5, 5), canvas_point(page, 12, 5))
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    [length] = Annotation.objects.filter(annotation_set=slot.annotation_set, label_key="diameter")
    assert length.slice_index == k
