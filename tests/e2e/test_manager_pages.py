"""The manager pages in a real browser: import a CT zip, deal the tasks, review, watch progress.

The upload's ingest job and the volume builds that open the tasks run in a real Celery worker
(the `celery_worker` fixture). Reading and reviewing, which happen in the workspace, are done
through the services here so that this test stays about the manager pages.
"""

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from annotator.accounts.models import User
from annotator.labeling.models import Assignment, LabelingTask, TaskStatus
from annotator.labeling.progress import project_progress
from annotator.labeling.reading import record_activity, review_assignment, submit_assignment
from annotator.labeling.task_state import update_task
from annotator.projects.models import Project, Role
from annotator.projects.services import add_member
from tests.factories import PASSWORD, UserFactory, make_project
from tests.imaging.dicom_files import ct_files, make_zip

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SLICES = 8
REJECT_COMMENT = "Please outline the whole nodule, not only its core."


# Drop one file on the drop zone the way a browser does (a DataTransfer on a drop event).
DROP_FILE = """([name, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "application/dicom"}));
  const zone = document.querySelector('[data-testid="drop-zone"]');
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(
      new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }
}"""


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _screenshot(page: Any, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _log_in(page: Any, live_server: Any, username: str, path: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login?next={path}")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()


def _wait_for_tasks(project: Project, count: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if LabelingTask.objects.filter(project=project).count() >= count:
            return
        time.sleep(0.3)
    raise AssertionError(
        f"the worker opened {LabelingTask.objects.filter(project=project).count()} tasks"
    )


def _read_and_review(project: Project, reader: User, manager: User) -> tuple[int, int]:
    """The reader submits both readings; the manager accepts one and returns the other."""
    accepted, returned = Assignment.objects.filter(task__project=project).order_by("task_id")
    for assignment in (accepted, returned):
        record_activity(assignment=assignment, actor=reader)
        submit_assignment(assignment=assignment, actor=reader)
    review_assignment(assignment=accepted, actor=manager, decision="accept", comment="")
    review_assignment(assignment=returned, actor=manager, decision="reject", comment=REJECT_COMMENT)
    return accepted.task_id, returned.task_id


@pytest.mark.worker
def test_manager_imports_deals_and_follows_progress(
    page: Any,
    live_server: Any,
    transactional_db: None,
    celery_worker: str,
    tmp_path: Path,
) -> None:
    expect = _expect()
    pm = UserFactory.create(username="pm")
    reader = UserFactory.create(username="reader")
    project = make_project(
        owner=pm, name="Chest CT", review_required=True, auto_assign=False, readers_per_item=1
    )
    add_member(project=project, actor=pm, user=reader, role=Role.ANNOTATOR)
    # Two series (each call makes new UIDs) in one zip: two tasks once the volumes are built.
    members = dict(ct_files(slices=SLICES, size=32)) | dict(ct_files(slices=SLICES, size=32))
    archive = tmp_path / "two-series.zip"
    archive.write_bytes(make_zip(members))

    # Import: the zip goes up with a progress bar, then the ingest job reports per file.
    _log_in(page, live_server, "pm", f"/projects/{project.pk}/import")
    expect(page.get_by_test_id("drop-zone")).to_be_visible()
    page.get_by_test_id("upload-input").set_input_files(str(archive))
    expect(page.get_by_test_id("upload-status")).to_have_attribute("data-done", "true")
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("aria-valuenow", "100")
    job = page.get_by_test_id("ingest-job")
    expect(job).to_have_attribute("data-state", "succeeded", timeout=90_000)
    expect(page.get_by_test_id("report-accepted")).to_have_attribute("data-value", str(2 * SLICES))
    expect(page.get_by_test_id("report-rejected")).to_have_attribute("data-value", "0")
    expect(page.get_by_test_id("report-series")).to_contain_text("2 series")

    # Dropping one file again (multipart this time) reports it as a duplicate.
    name, data = next(iter(members.items()))
    page.evaluate(DROP_FILE, [name.split("/")[-1], list(data)])
    expect(job).to_have_attribute("data-state", "succeeded", timeout=90_000)
    expect(page.get_by_test_id("report-duplicates")).to_have_attribute("data-value", "1")
    expect(page.get_by_test_id("report-accepted")).to_have_attribute("data-value", "0")
    expect(page.get_by_test_id("report-file")).to_have_attribute("data-status", "duplicate")
    _screenshot(page, "import.png")

    # Tasks: the worker builds the volumes, which opens the tasks; the manager deals them.
    _wait_for_tasks(project, 2)
    page.get_by_test_id("tab-tasks").click()
    rows = page.get_by_test_id("task-row")
    expect(rows).to_have_count(2)
    expect(rows.first.get_by_test_id("open-slots")).to_have_text("1 open slot")
    page.get_by_test_id("distribute").click()
    expect(page.get_by_test_id("distribute-result")).to_contain_text("Dealt 2 open slot(s)")
    expect(page.locator('[data-testid="slot"][data-reader="reader"]')).to_have_count(2)
    _screenshot(page, "tasks.png")

    # The manager's own worklist is empty and "Start next" finds nothing left (204).
    page.get_by_test_id("tab-worklist").click()
    expect(page.get_by_test_id("worklist-empty")).to_be_visible()
    page.get_by_test_id("start-next").click()
    expect(page.get_by_test_id("start-next-message")).to_contain_text("Nothing left")

    # The reader works in the workspace (here: the services); the manager reviews.
    accepted_task, returned_task = _read_and_review(project, reader, pm)

    # Progress: the charts' text values are the API's numbers.
    page.get_by_test_id("tab-progress").click()
    expected = project_progress(project=project, user=pm, days=30)
    expect(page.get_by_test_id("figure-total-value")).to_have_text("2")
    expect(page.get_by_test_id("figure-queue-depth-value")).to_have_text(str(expected.queue_depth))
    for status in TaskStatus.values:
        expect(page.get_by_test_id(f"status-value-{status}")).to_have_text(
            str(expected.tasks_by_status[status])
        )
    assert expected.tasks_by_status["done"] == 1
    expect(page.get_by_test_id("per-day-readings-total")).to_have_text("1")
    expect(page.get_by_test_id("per-day-done-total")).to_have_text("1")
    expect(page.get_by_test_id("per-day")).to_have_count(30)
    row = page.locator('[data-testid="reader-row"][data-reader="reader"]')
    expect(row.get_by_test_id("reader-accepted")).to_have_text("1")
    expect(row.get_by_test_id("reader-returned")).to_have_text("1")
    expect(row.get_by_test_id("reader-completed")).to_have_text("1")
    _screenshot(page, "progress.png")

    # The reader sees both tasks on the worklist, the returned one with the reviewer's comment.
    _log_in(page, live_server, "reader", f"/projects/{project.pk}")
    expect(page.get_by_test_id("worklist-tab")).to_be_visible()
    expect(page.get_by_test_id("tab-tasks")).to_have_count(0)  # managers only
    expect(page.get_by_test_id("tab-import")).to_have_count(0)
    expect(page.get_by_test_id("review-list")).to_have_count(0)  # readers do not review
    rows = page.get_by_test_id("worklist-row")
    expect(rows).to_have_count(2)
    returned = page.locator(f'[data-testid="worklist-row"][data-task-id="{returned_task}"]')
    expect(returned.get_by_test_id("my-assignment-status")).to_have_text("Returned")
    expect(returned.get_by_test_id("review-comment")).to_contain_text(REJECT_COMMENT)
    accepted = page.locator(f'[data-testid="worklist-row"][data-task-id="{accepted_task}"]')
    expect(accepted.get_by_test_id("my-assignment-status")).to_have_text("Accepted")
    page.get_by_test_id("worklist-status").select_option("done")
    expect(rows).to_have_count(1)
    page.get_by_test_id("worklist-status").select_option("")
    expect(rows).to_have_count(2)
    _screenshot(page, "worklist.png")

    # A row links to the workspace route of its task (the workspace has its own tests).
    expect(returned.get_by_test_id("task-open")).to_have_attribute(
        "href", re.compile(rf"/projects/{project.pk}/tasks/{returned_task}$")
    )


def test_manager_edits_assignments_and_task_with_conflict(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    from tests.labeling.conftest import ingest_and_build

    expect = _expect()
    pm = UserFactory.create(username="pm")
    first = UserFactory.create(username="first")
    second = UserFactory.create(username="second")
    checker = UserFactory.create(username="checker")
    project = make_project(owner=pm, name="Chest CT", review_required=True, auto_assign=False)
    add_member(project=project, actor=pm, user=first, role=Role.ANNOTATOR)
    add_member(project=project, actor=pm, user=second, role=Role.ANNOTATOR)
    add_member(project=project, actor=pm, user=checker, role=Role.REVIEWER)
    ingest_and_build(project, ct_files(slices=4, size=16))
    task = LabelingTask.objects.get(project=project)

    # Settings moved off the landing page (the worklist) to /settings; tabs lead to the rest.
    _log_in(page, live_server, "pm", f"/projects/{project.pk}/settings")
    expect(page.get_by_test_id("project-description")).to_be_visible()
    page.get_by_test_id("tab-tasks").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/tasks$"))
    row = page.locator(f'[data-testid="task-row"][data-task-id="{task.pk}"]')
    slots = row.get_by_test_id("slot")

    # Assign by hand, move the slot to another reader, then remove it.
    row.get_by_test_id("assign-reader").select_option(label="first (annotator)")
    row.get_by_test_id("assign-submit").click()
    expect(slots).to_have_count(1)
    expect(slots.first).to_have_attribute("data-reader", "first")
    slots.first.get_by_test_id("slot-reassign").click()
    slots.first.get_by_test_id("slot-reassign-to").select_option(label="second")
    slots.first.get_by_test_id("slot-reassign-submit").click()
    expect(slots.first).to_have_attribute("data-reader", "second")
    slots.first.get_by_test_id("slot-remove").click()
    expect(slots).to_have_count(0)
    expect(row.get_by_test_id("open-slots")).to_have_text("1 open slot")

    # Edit priority and due date with the task's version.
    row.get_by_test_id("task-edit").click()
    page.get_by_test_id("task-edit-priority").fill("5")
    page.get_by_test_id("task-edit-due").fill("2030-01-31")
    page.get_by_test_id("task-edit-save").click()
    expect(row.get_by_test_id("task-priority")).to_have_text("5")
    task.refresh_from_db()
    assert (task.priority, str(task.due_date)) == (5, "2030-01-31")

    # Someone else changes the task meanwhile: the save answers 409, the page offers a reload.
    browser_errors.allow_response(f"/tasks/{task.pk}/", 409)
    row.get_by_test_id("task-edit").click()
    update_task(task=task, actor=pm, expected_version=task.version, priority=9)
    page.get_by_test_id("task-edit-priority").fill("7")
    page.get_by_test_id("task-edit-save").click()
    expect(page.get_by_test_id("task-edit-stale")).to_contain_text("changed by someone else")
    page.get_by_test_id("task-edit-reload").click()
    expect(row.get_by_test_id("task-priority")).to_have_text("9")
    expect(page.get_by_test_id("task-edit-priority")).to_have_value("9")
    page.get_by_test_id("task-edit-priority").fill("7")
    page.get_by_test_id("task-edit-save").click()
    expect(row.get_by_test_id("task-priority")).to_have_text("7")

    # Exclude the first reader from the project's dealing: dealing gives the slot to "second".
    page.get_by_test_id("exclusion-user").select_option(label="first (annotator)")
    page.get_by_test_id("exclusion-add").click()
    expect(page.get_by_test_id("exclusion-result")).to_contain_text("first is excluded")
    page.get_by_test_id("distribute").click()
    expect(page.get_by_test_id("distribute-result")).to_contain_text("Dealt 1 open slot(s)")
    expect(slots).to_have_count(1)
    expect(slots.first).to_have_attribute("data-reader", "second")

    # The reading is submitted; the reviewer finds it under "To review", opening review mode.
    assignment = Assignment.objects.get(task=task)
    record_activity(assignment=assignment, actor=second)
    submit_assignment(assignment=assignment, actor=second)
    _log_in(page, live_server, "checker", f"/projects/{project.pk}")
    review_row = page.locator(f'[data-testid="review-row"][data-task-id="{task.pk}"]')
    expect(review_row).to_have_count(1)
    expect(review_row).to_contain_text("second")
    expect(review_row.get_by_test_id("task-open")).to_have_attribute(
        "href", re.compile(rf"/projects/{project.pk}/tasks/{task.pk}\?review=1$")
    )
    expect(page.get_by_test_id("tab-tasks")).to_have_count(0)
    page.get_by_test_id("tab-progress").click()
    expect(page.locator('[data-testid="reader-row"][data-reader="second"]')).to_have_count(1)


@pytest.mark.worker
def test_manager_searches_a_pacs_and_pulls_a_study(
    page: Any, live_server: Any, transactional_db: None, celery_worker: str
) -> None:
    from tests.pacs.fake_pacs import dicomweb_pacs, make_studies

    expect = _expect()
    pm = UserFactory.create(username="pm")
    project = make_project(owner=pm, name="Chest CT")
    with dicomweb_pacs(make_studies()) as pacs:
        _log_in(page, live_server, "pm", f"/projects/{project.pk}/import")
        expect(page.get_by_test_id("pacs-empty")).to_be_visible()
        page.get_by_test_id("pacs-add-toggle").click()
        page.get_by_test_id("pacs-name").fill("Hospital PACS")
        page.get_by_test_id("pacs-base-url").fill(pacs.url)
        page.get_by_test_id("pacs-save").click()
        expect(page.get_by_test_id("pacs-connection")).to_contain_text("Hospital PACS")

        page.get_by_test_id("pacs-q-patient").fill("PAT-A")
        page.get_by_test_id("pacs-search-submit").click()
        results = page.get_by_test_id("pacs-result")
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text("PAT-A")
        results.first.get_by_test_id("pacs-pick").check()
        page.get_by_test_id("pacs-pull").click()
        job = page.get_by_test_id("pacs-pull-job")
        expect(job).to_have_attribute("data-state", "succeeded", timeout=90_000)
        expect(job.get_by_test_id("report-accepted")).to_have_attribute("data-value", "3")
    assert pacs.queries[0]["PatientID"] == ["PAT-A"]  # the search form's filter reached it
