"""Workspace layouts in a real browser: cine playback of an ultrasound multi-frame series and
the 2x2 mammography hanging (R-CC, L-CC / R-MLO, L-MLO, MONOCHROME1 shown inverted)."""

import re
from typing import Any

import pytest
from pydicom.uid import generate_uid

from annotator.imaging.synthetic import make_mammogram_pair, make_ultrasound_cine
from annotator.labeling.models import LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member, update_label_schema
from tests.e2e.browser import log_in
from tests.factories import UserFactory, make_project
from tests.imaging.dicom_files import to_bytes
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e

LOAD_MS = 60_000
LABELS = [{"key": "mass", "name": "Mass", "kind": "bounding_box", "scope": "image"}]

# Brightness of one canvas: distinct values, mean, and the x of its brightness centroid as a
# fraction of the width (0 left, 1 right).
CELL_STATS = """(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  const ctx = canvas.getContext('2d');
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const seen = new Set();
  let sum = 0;
  let moment = 0;
  for (let n = 0; n < data.length; n += 4) {
    const v = data[n];
    seen.add(v);
    sum += v;
    moment += v * ((n / 4) % canvas.width);
  }
  return {
    distinct: seen.size,
    mean: sum / (data.length / 4),
    centroid: sum ? moment / sum / canvas.width : 0.5,
  };
}"""

# Frames the viewport showed during `ms` milliseconds (its new-image events).
COUNT_FRAMES = """(ms) => new Promise((resolve) => {
  const element = document.querySelector('[data-testid=viewport]');
  let shown = 0;
  const count = () => { shown += 1; };
  element.addEventListener('CORNERSTONE_STACK_NEW_IMAGE', count);
  setTimeout(() => {
    element.removeEventListener('CORNERSTONE_STACK_NEW_IMAGE', count);
    resolve(shown);
  }, ms);
})"""


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _project(modality: str) -> tuple[Any, Any, Any]:
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name=f"{modality} layouts", modalities=[modality])
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    return project, manager, reader


def _open(page: Any, live_server: Any, project: Any, task: LabelingTask, username: str) -> None:
    log_in(page, live_server, username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")


def _frame(page: Any) -> int:
    return int(page.get_by_test_id("slice-number").inner_text().split("/")[0])


def test_ultrasound_cine_plays_loops_and_pauses(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    project, manager, reader = _project("US")
    frames = 12
    cine = make_ultrasound_cine(frames=frames, size=(120, 160), frame_rate=20.0)
    [series] = ingest_and_build(project, [("us.dcm", to_bytes(cine))])
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)

    _open(page, live_server, project, task, reader.username)
    expect(page.get_by_test_id("viewport")).to_have_attribute(
        "data-stack-loaded", "true", timeout=LOAD_MS
    )
    expect(page.get_by_test_id("slice-number")).to_have_text(f"1 / {frames}")
    # The default rate comes from the header (FrameTime 50 ms: 20 frames/s).
    expect(page.get_by_test_id("cine-fps")).to_have_value("20")

    play = page.get_by_test_id("cine-play")
    play.click()
    expect(play).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("slice-number")).not_to_have_text(f"1 / {frames}")
    # It loops: over two passes every frame shows, and the first one comes round again.
    seen: set[int] = set()
    wrapped = False
    previous = _frame(page)
    for _ in range(200):
        current = _frame(page)
        seen.add(current)
        wrapped = wrapped or current < previous
        previous = current
        if wrapped and len(seen) >= frames - 2:
            break
        page.wait_for_timeout(25)
    assert wrapped, seen
    assert len(seen) >= frames - 2, seen  # polling can miss a frame or two at 20/s

    # Pausing stops it.
    play.click()
    expect(play).to_have_attribute("aria-pressed", "false")
    paused = _frame(page)
    page.wait_for_timeout(400)
    assert _frame(page) == paused

    # Space plays and pauses too (listed in the help), and the rate can be changed.
    page.get_by_test_id("cine-fps").fill("40")
    page.get_by_test_id("viewport").click(position={"x": 5, "y": 5})
    page.keyboard.press(" ")
    expect(play).to_have_attribute("aria-pressed", "true")
    shown = page.evaluate(COUNT_FRAMES, 1000)
    print(f"\ncine at 40 frames/s ({frames} frames of 120x160): {shown} frames shown in 1 s")  # noqa: T201
    assert shown >= 10, shown
    page.keyboard.press(" ")
    expect(play).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("Play / pause the cine")


def _mammograms(*, one_series: bool) -> list[Any]:
    """R CC, L CC, R MLO, L MLO; either one series (as built) or one series per image."""
    datasets = make_mammogram_pair(size=(208, 160), pixel_spacing=1.0)
    if not one_series:
        for n, ds in enumerate(datasets):
            ds.SeriesInstanceUID = generate_uid()
            ds.SeriesNumber = n + 1
            ds.Laterality = ds.ImageLaterality  # series-level laterality, as many modalities send
    return datasets


@pytest.mark.parametrize("one_series", [False, True], ids=["series-per-view", "one-series"])
def test_mammography_hangs_two_by_two(
    page: Any, live_server: Any, transactional_db: None, one_series: bool
) -> None:
    expect = _expect()
    project, manager, reader = _project("MG")
    datasets = _mammograms(one_series=one_series)
    made = ingest_and_build(
        project, [(f"mg/{n}.dcm", to_bytes(ds)) for n, ds in enumerate(datasets)]
    )
    if one_series:
        [series] = made
        active = "R-CC"  # the series' task draws on stack 0: the first image
    else:  # open the L MLO image's task: it is drawn on, in the bottom-right cell
        series = next(
            s for s in made if s.laterality == "L" and s.display["view_position"] == "MLO"
        )
        active = "L-MLO"
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)

    _open(page, live_server, project, task, reader.username)
    hanging = page.get_by_test_id("hanging")
    expect(hanging).to_be_visible()
    expect(page.get_by_test_id("viewport")).to_have_attribute(
        "data-stack-loaded", "true", timeout=LOAD_MS
    )
    cells = ["R-CC", "L-CC", "R-MLO", "L-MLO"]
    boxes = {}
    for cell in cells:
        locator = page.get_by_test_id(f"hanging-cell-{cell}")
        expect(locator).to_have_attribute("data-active", "true" if cell == active else "false")
        expect(page.get_by_test_id(f"hanging-label-{cell}")).to_have_text(cell.replace("-", " "))
        if cell != active:
            expect(page.get_by_test_id(f"hanging-viewport-{cell}")).to_have_attribute(
                "data-rendered", "true", timeout=LOAD_MS
            )
            # Cornerstone inverts MONOCHROME1 (the MLO images) itself.
            expect(page.get_by_test_id(f"hanging-viewport-{cell}")).to_have_attribute(
                "data-inverted", "true" if cell.endswith("MLO") else "false"
            )
        boxes[cell] = locator.bounding_box()
    # The cells hang R-CC, L-CC on top and R-MLO, L-MLO below.
    assert boxes["R-CC"]["x"] < boxes["L-CC"]["x"]
    assert boxes["R-MLO"]["x"] < boxes["L-MLO"]["x"]
    assert boxes["R-CC"]["y"] < boxes["R-MLO"]["y"]
    assert abs(boxes["R-CC"]["y"] - boxes["L-CC"]["y"]) < 1

    page.wait_for_timeout(200)
    for cell in cells:
        stats = page.evaluate(CELL_STATS, f"[data-testid=hanging-cell-{cell}]")
        assert stats["distinct"] > 8, (cell, stats)  # a picture, not a blank canvas
        # Back to back: a right breast's chest wall is on the image's right, a left one's on
        # its left. Displayed bright on dark air (MONOCHROME1 inverted), the brightness leans
        # towards the chest wall; shown raw, an MLO's bright air would pull it the other way.
        if cell.startswith("R"):
            assert stats["centroid"] > 0.5, (cell, stats)
        else:
            assert stats["centroid"] < 0.5, (cell, stats)

    # The active cell is the drawing viewport: its label tools work there.
    page.get_by_test_id("label-mass").click()
    expect(page.get_by_test_id("label-mass")).to_have_class(re.compile("active"))
