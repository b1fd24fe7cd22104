"""Project progress: tasks by status, queue depth, completions per day, reader throughput."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.core.errors import NotFoundError
from annotator.imaging.synthetic import make_ct_series
from annotator.labeling import progress as progress_module
from annotator.labeling.models import Assignment, LabelingTask
from annotator.labeling.progress import ProjectProgress, ReaderProgress, project_progress
from annotator.labeling.reading import record_activity, review_assignment, submit_assignment
from annotator.labeling.task_state import update_task
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from tests.imaging.dicom_files import to_bytes
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.django_db

HOUR = 3600.0


def tiny_series(count: int) -> list[tuple[str, bytes]]:
    """Files of `count` separate 2-slice 16x16 CT series."""
    files = []
    for n in range(count):
        for ds in make_ct_series(slices=2, size=16, nodules=0, uid_seed=f"progress-{n}"):
            files.append((f"s{n}/{ds.SOPInstanceUID}.dcm", to_bytes(ds)))
    return files


def stamp(
    assignment: Assignment, *, active: float, days_ago: float, hours_to_submit: float
) -> None:
    """Give a submitted reading exact times (and its task, when done, the same completion)."""
    submitted = timezone.now() - timedelta(days=days_ago)
    Assignment.objects.filter(pk=assignment.pk).update(
        active_seconds=active,
        submitted_at=submitted,
        created_at=submitted - timedelta(hours=hours_to_submit),
    )
    LabelingTask.objects.filter(pk=assignment.task_id, status="done").update(completed_at=submitted)


@pytest.fixture
def second_reader(member_of: Callable[[str], User]) -> User:
    return member_of(Role.ANNOTATOR)


@pytest.fixture
def busy(
    labeled_project: Project, manager: User, reader: User, second_reader: User, reviewer: User
) -> Project:
    """Nine tasks in every state, read by `reader` (A) and `second_reader` (B), review on.

    A: three accepted readings (active 10 s, 60 s, 20 s; submitted 1, 1 and 40 days ago, 2 h,
    3 h and 4 h after assignment), one in progress, one assigned and not started (on a task
    that needs two readers). B: one waiting for review (50 s, 2 days ago, 1 h), one returned.
    One task is skipped and one has nobody yet.
    """
    labeled_project.review_required = True
    labeled_project.save(update_fields=["review_required"])
    series = ingest_and_build(labeled_project, tiny_series(9))
    tasks = [LabelingTask.objects.get(series=s) for s in series]

    def reading(task: LabelingTask, who: User) -> Assignment:
        return assign_reader(task=task, actor=manager, reader=who)

    for task, (active, days_ago, hours) in zip(
        tasks[:3], [(10.0, 1, 2), (60.0, 1, 3), (20.0, 40, 4)], strict=True
    ):
        done = submit_assignment(assignment=reading(task, reader), actor=reader)
        review_assignment(assignment=done, actor=reviewer, decision="accept")
        stamp(done, active=active, days_ago=days_ago, hours_to_submit=hours)
    record_activity(assignment=reading(tasks[3], reader), actor=reader)
    update_task(task=tasks[4], actor=manager, expected_version=tasks[4].version, readers_required=2)
    reading(tasks[4], reader)
    waiting = submit_assignment(assignment=reading(tasks[5], second_reader), actor=second_reader)
    stamp(waiting, active=50.0, days_ago=2, hours_to_submit=1)
    returned = submit_assignment(assignment=reading(tasks[6], second_reader), actor=second_reader)
    review_assignment(assignment=returned, actor=reviewer, decision="reject", comment="Redo it.")
    update_task(task=tasks[7], actor=manager, expected_version=tasks[7].version, skipped=True)
    return labeled_project


def row(report: ProjectProgress, who: User) -> ReaderProgress:
    [found] = [r for r in report.readers if r.reader_id == who.pk]
    return found


def test_project_progress_counts_tasks_by_status(busy: Project, manager: User) -> None:
    report = project_progress(project=busy, user=manager)
    assert report.tasks_by_status == {
        "new": 2,
        "in_progress": 2,
        "in_review": 1,
        "done": 3,
        "skipped": 1,
    }
    assert report.total_tasks == 9


def test_project_progress_queue_depth_is_free_slots_plus_unstarted(
    busy: Project, manager: User
) -> None:
    report = project_progress(project=busy, user=manager)
    # one slot on the two-reader task and the task nobody holds; A's unstarted assignment
    assert (report.open_slots, report.not_started, report.queue_depth) == (2, 1, 3)


def test_project_progress_reader_status_counts(
    busy: Project, manager: User, reader: User, second_reader: User
) -> None:
    report = project_progress(project=busy, user=manager)
    a, b = row(report, reader), row(report, second_reader)
    assert (a.assigned, a.in_progress, a.submitted, a.accepted, a.returned) == (1, 1, 0, 3, 0)
    assert (b.assigned, b.in_progress, b.submitted, b.accepted, b.returned) == (0, 0, 1, 0, 1)
    assert [r.username for r in report.readers] == sorted([reader.username, second_reader.username])


def test_project_progress_throughput_over_the_default_30_days(
    busy: Project, manager: User, reader: User, second_reader: User
) -> None:
    report = project_progress(project=busy, user=manager)
    a, b = row(report, reader), row(report, second_reader)
    # the reading of 40 days ago is outside the window
    assert (a.completed, a.active_days) == (2, 1)
    assert a.tasks_per_day == pytest.approx(2 / 30)
    assert a.tasks_per_active_day == pytest.approx(2.0)
    assert a.median_active_seconds == pytest.approx(35.0)
    assert a.mean_seconds_to_submit == pytest.approx(2.5 * HOUR)
    assert (b.completed, b.active_days) == (1, 1)
    assert b.median_active_seconds == pytest.approx(50.0)
    assert b.mean_seconds_to_submit == pytest.approx(HOUR)


def test_project_progress_wider_window_includes_older_readings(
    busy: Project, manager: User, reader: User
) -> None:
    a = row(project_progress(project=busy, user=manager, days=60), reader)
    assert (a.completed, a.active_days) == (3, 2)
    assert a.tasks_per_day == pytest.approx(3 / 60)
    assert a.tasks_per_active_day == pytest.approx(1.5)
    assert a.median_active_seconds == pytest.approx(20.0)
    assert a.mean_seconds_to_submit == pytest.approx(3 * HOUR)


def test_project_progress_without_completed_readings_has_no_rates(
    busy: Project, manager: User, reader: User
) -> None:
    a = row(project_progress(project=busy, user=manager, days=1), reader)
    assert (a.completed, a.tasks_per_day) == (0, 0.0)
    assert a.tasks_per_active_day is None
    assert a.median_active_seconds is None
    assert a.mean_seconds_to_submit is None


def test_project_progress_median_computed_in_python_matches(
    busy: Project, manager: User, reader: User, mocker: Any
) -> None:
    mocker.patch.object(progress_module, "_database_has_median", return_value=False)
    a = row(project_progress(project=busy, user=manager, days=60), reader)
    assert a.median_active_seconds == pytest.approx(20.0)


def test_project_progress_per_day_series(busy: Project, manager: User) -> None:
    report = project_progress(project=busy, user=manager)
    today = timezone.localdate()
    assert len(report.per_day) == 30
    assert (report.since, report.until) == (today - timedelta(days=29), today)
    assert [d.day for d in report.per_day] == [today - timedelta(days=29 - n) for n in range(30)]
    by_day = {d.day: (d.tasks_done, d.readings_completed) for d in report.per_day}
    assert by_day[today - timedelta(days=1)] == (2, 2)
    assert by_day[today - timedelta(days=2)] == (0, 1)
    assert sum(d.tasks_done for d in report.per_day) == 2
    assert sum(d.readings_completed for d in report.per_day) == 3


def test_project_progress_readers_see_only_their_own_row(
    busy: Project, reader: User, second_reader: User
) -> None:
    report = project_progress(project=busy, user=second_reader)
    assert report.all_readers is False
    assert [r.reader_id for r in report.readers] == [second_reader.pk]
    assert report.total_tasks == 9
    assert report.queue_depth == 3


def test_project_progress_reviewers_see_every_reader(
    busy: Project, reviewer: User, reader: User, second_reader: User
) -> None:
    report = project_progress(project=busy, user=reviewer)
    assert report.all_readers is True
    assert {r.reader_id for r in report.readers} == {reader.pk, second_reader.pk}


def test_project_progress_for_a_non_member_is_not_found(busy: Project, user: User) -> None:
    with pytest.raises(NotFoundError):
        project_progress(project=busy, user=user)


def test_project_progress_rejects_an_empty_window(busy: Project, manager: User) -> None:
    with pytest.raises(ValueError, match="days"):
        project_progress(project=busy, user=manager, days=0)


def test_project_progress_of_an_empty_project(labeled_project: Project, manager: User) -> None:
    report = project_progress(project=labeled_project, user=manager, days=7)
    assert report.total_tasks == 0
    assert report.queue_depth == 0
    assert report.readers == []
    assert [d.tasks_done for d in report.per_day] == [0] * 7


# --- API ---------------------------------------------------------------------------------------


def progress_url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/progress/"


def test_api_progress(
    busy: Project,
    client_for: Callable[[User], APIClient],
    manager: User,
    reader: User,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(manager)
    with django_assert_max_num_queries(9):
        response = client.get(progress_url(busy), {"days": 60})
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 60
    assert body["tasks_by_status"] == {
        "new": 2,
        "in_progress": 2,
        "in_review": 1,
        "done": 3,
        "skipped": 1,
    }
    assert (body["open_slots"], body["not_started"], body["queue_depth"]) == (2, 1, 3)
    assert len(body["per_day"]) == 60
    assert body["per_day"][-1]["day"] == timezone.localdate().isoformat()
    assert body["all_readers"] is True
    [a] = [r for r in body["readers"] if r["reader_id"] == reader.pk]
    assert a["username"] == reader.username
    assert (a["completed"], a["accepted"], a["active_days"]) == (3, 3, 2)
    assert a["median_active_seconds"] == pytest.approx(20.0)
    assert a["mean_seconds_to_submit"] == pytest.approx(3 * HOUR)


def test_api_progress_query_count_does_not_grow_with_readers(
    busy: Project,
    client_for: Callable[[User], APIClient],
    manager: User,
    member_of: Callable[[str], User],
    django_assert_max_num_queries: Any,
) -> None:
    extra = ingest_and_build(busy, [(n, b) for n, b in tiny_series(12)[18:]])
    for series in extra:
        task = LabelingTask.objects.get(series=series)
        assignment = assign_reader(task=task, actor=manager, reader=member_of(Role.ANNOTATOR))
        record_activity(assignment=assignment, actor=assignment.reader)
    client = client_for(manager)
    with django_assert_max_num_queries(9):
        body = client.get(progress_url(busy)).json()
    assert len(body["readers"]) == 5
    assert body["total_tasks"] == 12


def test_api_progress_reader_gets_totals_and_own_row(
    busy: Project, client_for: Callable[[User], APIClient], reader: User
) -> None:
    body = client_for(reader).get(progress_url(busy)).json()
    assert body["all_readers"] is False
    assert [r["reader_id"] for r in body["readers"]] == [reader.pk]
    assert body["total_tasks"] == 9


@pytest.mark.parametrize("days", ["0", "366", "week"])
def test_api_progress_rejects_a_bad_window(
    busy: Project, client_for: Callable[[User], APIClient], manager: User, days: str
) -> None:
    response = client_for(manager).get(progress_url(busy), {"days": days})
    assert response.status_code == 400
    assert "days" in response.json()["errors"]


def test_api_progress_of_another_project_is_404(
    busy: Project, client_for: Callable[[User], APIClient], user: User
) -> None:
    assert client_for(user).get(progress_url(busy)).status_code == 404
