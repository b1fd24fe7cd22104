"""Adjudication in the browser: two readers hand in their readings, a reviewer starts the
reference from a merge, prunes and adds findings in the workspace, and finalizes the task;
a reviewer also corrects a submitted reading before accepting it."""

import os
from pathlib import Path
from typing import Any

import pytest

from annotator.labeling.annotations import create_annotation
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    Assignment,
    LabelingTask,
    SetKind,
    TaskStatus,
)
from annotator.labeling.reading import submit_assignment
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.e2e.browser import canvas_point, drag, log_in
from tests.factories import UserFactory, make_project
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e

SLICES = 8
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "adjudication.png"
SIZE = 64
LABELS: list[dict[str, Any]] = [
    {"key": "diameter", "name": "Diameter", "kind": "length", "scope": "image"},
    {
        "key": "quality",
        "name": "Image quality",
        "kind": "ordinal",
        "scope": "series",
        "options": [
            {"value": "1", "label": "Poor"},
            {"value": "2", "label": "Fair"},
            {"value": "3", "label": "Good"},
        ],
    },
]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _setup(*, submit_second: bool = True) -> tuple[Any, Any, LabelingTask, list[Assignment]]:
    """A review project with two readers per task; both readings hold lengths and an answer."""
    manager = UserFactory.create(username="manager")
    project = make_project(
        owner=manager,
        name="Adjudicated CT",
        review_required=True,
        readers_per_item=2,
        auto_assign=False,
        labels=LABELS,
    )
    reviewer = UserFactory.create(username="reviewer")
    add_member(project=project, actor=manager, user=reviewer, role=Role.REVIEWER)
    [series] = ingest_and_build(project, ct_files(slices=SLICES, size=SIZE))
    task = LabelingTask.objects.get(series=series)
    readings = []
    for n, name in enumerate(("alice", "bob")):
        reader = UserFactory.create(username=name)
        add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
        reading = assign_reader(task=task, actor=manager, reader=reader)
        create_annotation(
            annotation_set=reading.annotation_set,
            actor=reader,
            label_key="diameter",
            data={"points": [[10 + n, 12 + n], [30 + n, 40 + n]]},
            slice_index=3,
        )
        create_annotation(
            annotation_set=reading.annotation_set,
            actor=reader,
            label_key="quality",
            data={"value": "3"},
        )
        if n == 0 or submit_second:
            submit_assignment(assignment=reading, actor=reader)
        readings.append(reading)
    return project, reviewer, task, readings


def test_reviewer_merges_edits_and_finalizes_the_reference(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    project, reviewer, task, readings = _setup()
    log_in(page, live_server, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}?review=1")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-rendered", "true")
    expect(page.get_by_test_id("review-set")).to_have_count(2)
    expect(page.get_by_test_id("handed-in")).to_have_text("2 of 2 readings handed in")
    expect(page.get_by_test_id("reference-from")).to_have_count(2)
    expect(page.get_by_test_id("reference-from").first).to_have_text("Start reference from alice")
    expect(page.get_by_test_id("read-only")).to_be_visible()  # nothing to edit yet

    # The merge: both readers' lengths pooled, the agreed answer kept; it opens editable.
    page.get_by_test_id("reference-merge").click()
    expect(page.get_by_test_id("editing-set")).to_have_text("editing the reference")
    expect(page.get_by_test_id("read-only")).to_have_count(0)
    expect(page.get_by_test_id("reference-state")).to_contain_text("from a merge")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-rendered", "true")
    expect(page.get_by_test_id("finding")).to_have_count(2)
    expect(page.get_by_test_id("answer-quality-3")).to_be_checked()
    # Both pooled lengths are drawn on the image as the reviewer's own editable drawings.
    assert page.evaluate("() => window.__workspace.annotations().length") == 2
    if os.environ.get("SCREENSHOTS") == "1":
        page.get_by_test_id("slice-slider").fill("3")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOT))
    reference = AnnotationSet.objects.get(task=task, kind=SetKind.REFERENCE)
    assert reference.annotations.filter(deleted=False).count() == 3
    expect(page.get_by_test_id("finalize")).to_be_visible()
    expect(page.get_by_test_id("submit")).to_have_count(0)

    # Prune one of the pooled lengths, then measure another on slice 5.
    page.get_by_test_id("finding-delete").first.click()
    expect(page.get_by_test_id("finding")).to_have_count(1)
    page.get_by_test_id("slice-slider").fill("4")
    expect(page.get_by_test_id("slice-number")).to_have_text(f"5 / {SLICES}")
    page.get_by_test_id("label-diameter").click()
    drag(page, canvas_point(page, 16, 20), canvas_point(page, 40, 44))
    expect(page.get_by_test_id("finding")).to_have_count(2)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")

    page.get_by_test_id("finalize").click()
    expect(page.get_by_test_id("editing-set")).to_have_text("final reference")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_test_id("finalize")).to_have_count(0)
    expect(page.get_by_test_id("reference-state")).to_contain_text("Final")
    expect(page.get_by_test_id("finding")).to_have_count(2)

    reference.refresh_from_db()
    task.refresh_from_db()
    assert reference.final
    assert task.status == TaskStatus.DONE
    assert [r.status for r in Assignment.objects.filter(task=task).order_by("pk")] == [
        "accepted",
        "accepted",
    ]
    lengths = Annotation.objects.filter(
        annotation_set=reference, label_key="diameter", deleted=False
    ).order_by("slice_index")
    assert [a.slice_index for a in lengths] == [3, 4]
    drawn = lengths[1]
    assert drawn.copied_from is None  # drawn by the reviewer, not pooled
    assert all(abs(a - b) < 0.6 for a, b in zip(drawn.data["points"][0], [16, 20], strict=True))
    assert reference.annotations.filter(label_key="quality", deleted=False).get().data == {
        "value": "3"
    }
    # The readings themselves are untouched by the reference edits.
    for reading in readings:
        assert reading.annotation_set.annotations.filter(deleted=False).count() == 2


def test_finalize_waits_for_every_reading_and_a_reading_can_be_corrected(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    expect = _expect()
    project, reviewer, task, readings = _setup(submit_second=False)
    log_in(page, live_server, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}?review=1")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-rendered", "true")
    expect(page.get_by_test_id("handed-in")).to_have_text("1 of 2 readings handed in")

    # Correct alice's submitted reading (a length she missed on slice 5), then accept it.
    alice = page.get_by_test_id("review-set").filter(has_text="alice")
    alice.get_by_test_id("review-edit").click()
    expect(page.get_by_test_id("editing-set")).to_have_text("correcting alice")
    expect(page.get_by_test_id("finding")).to_have_count(1)
    page.get_by_test_id("slice-slider").fill("4")
    page.get_by_test_id("label-diameter").click()
    drag(page, canvas_point(page, 20, 20), canvas_point(page, 40, 30))
    expect(page.get_by_test_id("finding")).to_have_count(2)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    alice = page.get_by_test_id("review-set").filter(has_text="alice")
    alice.get_by_test_id("review-accept").click()
    expect(page.get_by_test_id("editing-set")).to_have_count(0)
    alice = page.get_by_test_id("review-set").filter(has_text="alice")
    expect(alice.get_by_test_id("review-status")).to_have_text("accepted")
    first = readings[0]
    first.refresh_from_db()
    assert first.status == "accepted"
    assert first.annotation_set.annotations.filter(label_key="diameter", deleted=False).count() == 2

    # Start from alice's reading; finalizing is refused until bob hands his in.
    page.get_by_test_id("reference-from").filter(has_text="alice").click()
    expect(page.get_by_test_id("editing-set")).to_have_text("editing the reference")
    expect(page.get_by_test_id("finding")).to_have_count(2)
    browser_errors.allow_response("/reference/finalize/", 409)  # WorkflowError
    page.get_by_test_id("finalize").click()
    expect(page.get_by_test_id("adjudication-error")).to_contain_text(
        "1 of 2 readings are handed in"
    )
    task.refresh_from_db()
    assert task.status != TaskStatus.DONE
    assert not AnnotationSet.objects.get(task=task, kind=SetKind.REFERENCE).final
