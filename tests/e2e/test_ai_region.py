"""The workspace's "AI region" tool in a real browser: a click (or a box) on a phantom disc
paints the server's region segmentation into the reader's mask, the autosave stores it, and the
eraser edits it like any stroke."""

from typing import Any

import numpy as np
import pytest

from annotator.labeling.mask_reads import read_annotation_segments
from annotator.labeling.models import Annotation, Assignment, LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member, update_label_schema
from tests.e2e.browser import canvas_point, drag, log_in
from tests.factories import UserFactory, make_project
from tests.labeling.conftest import ingest_and_build
from tests.ml_assist.interactive_phantom import disc_series_files, disc_truth

pytestmark = pytest.mark.e2e

SIZE, SLICES, CENTRE, RADIUS = 64, 3, (34, 28), 14.0
LABELS = [{"key": "organ", "name": "Organ", "kind": "mask", "scope": "series", "color": "#e6194b"}]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _setup() -> tuple[Any, Any, LabelingTask]:
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name="Disc phantom")
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(
        project, disc_series_files(slices=SLICES, size=SIZE, centre=CENTRE, radius=RADIUS)
    )
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)
    return project, reader, task


def _stored_mask(task: LabelingTask) -> np.ndarray:
    reading = Assignment.objects.get(task=task).annotation_set
    organ = Annotation.objects.get(annotation_set=reading, label_key="organ", deleted=False)
    return read_annotation_segments(organ)[1]


def test_ai_region_click_and_box_fill_the_disc(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    from playwright.sync_api import expect

    project, reader, task = _setup()
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    viewport = page.get_by_test_id("viewport")
    expect(viewport).to_have_attribute("data-stack-loaded", "true", timeout=60_000)
    truth = disc_truth(size=SIZE, centre=CENTRE, radius=RADIUS)

    # The tool is listed in the help overlay and switched on with A.
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-overlay")).to_contain_text("AI region")
    page.keyboard.press("Escape")
    page.get_by_test_id("label-organ").click()
    page.keyboard.press("a")
    expect(page.get_by_test_id("ai-region")).to_have_class("active")

    # A click inside the disc on slice 1: the region is painted and saved as the reader's mask.
    page.mouse.click(*canvas_point(page, *CENTRE))
    expect(page.get_by_test_id("ai-region-status")).to_contain_text("mm²")
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    volume = _stored_mask(task)
    assert [k for k in range(SLICES) if volume[k].any()] == [0]
    assert _dice(volume[0], truth) > 0.9, _dice(volume[0], truth)
    expect(page.get_by_test_id("segment-organ")).to_be_visible()

    # A box dragged around the disc on slice 2.
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"2 / {SLICES}")
    low = (CENTRE[0] - RADIUS - 5, CENTRE[1] - RADIUS - 5)
    high = (CENTRE[0] + RADIUS + 5, CENTRE[1] + RADIUS + 5)
    drag(page, canvas_point(page, *low), canvas_point(page, *high))
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    page.wait_for_timeout(800)  # past the autosave pause
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    volume = _stored_mask(task)
    assert _dice(volume[1], truth) > 0.9, _dice(volume[1], truth)

    # The region is an ordinary stroke: the eraser takes a bite out of it.
    before = int(volume[1].sum())
    page.keyboard.press("e")
    drag(
        page,
        canvas_point(page, CENTRE[0] - 4, CENTRE[1]),
        canvas_point(page, CENTRE[0] + 4, CENTRE[1]),
    )
    page.wait_for_timeout(800)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    after = _stored_mask(task)
    assert int(after[1].sum()) < before
    assert not after[1][CENTRE[1], CENTRE[0]]
