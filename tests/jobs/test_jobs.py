"""Jobs: enqueue after commit, claim once, progress, failure, visibility."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.jobs.models import Job, JobKind, JobState
from annotator.jobs.names import AUDIT_EXPORT_TASK, WORKER_CHECK_TASK
from annotator.jobs.services import enqueue_job, report_progress, run_job
from annotator.projects.models import Project, Role
from ml_assist.tasks import check_worker_task

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def test_worker_check_is_sent_after_commit(
    client_for: Client, user: User, mocker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send_task = mocker.patch("annotator.jobs.services.celery_app.send_task")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(
            "/api/v1/jobs/worker-check/", {"queue": "gpu"}, format="json"
        )
    assert response.status_code == 202
    job = Job.objects.get()
    assert (job.kind, job.queue, job.state) == (JobKind.WORKER_CHECK, "gpu", JobState.QUEUED)
    send_task.assert_called_once_with(
        WORKER_CHECK_TASK, args=[str(job.pk)], task_id=str(job.pk), queue="gpu"
    )


def test_worker_check_unknown_queue_is_400(client_for: Client, user: User) -> None:
    response = client_for(user).post("/api/v1/jobs/worker-check/", {"queue": "tpu"}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["queue"])
    assert not Job.objects.exists()


def test_audit_export_needs_manager(
    client_for: Client,
    project: Project,
    manager: User,
    member_of: Callable[[str], User],
    mocker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    send_task = mocker.patch("annotator.jobs.services.celery_app.send_task")
    reviewer = member_of(Role.REVIEWER)
    url = f"/api/v1/projects/{project.pk}/audit-export/"
    assert client_for(reviewer).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(url)
    assert response.status_code == 202
    send_task.assert_called_once()
    assert send_task.call_args.args[0] == AUDIT_EXPORT_TASK


def test_job_is_visible_to_creator_and_project_managers_only(
    client_for: Client,
    project: Project,
    manager: User,
    user: User,
    member_of: Callable[[str], User],
    mocker: Any,
) -> None:
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    job = enqueue_job(kind=JobKind.AUDIT_EXPORT, created_by=manager, project=project)
    other_manager = member_of(Role.MANAGER)
    assert client_for(other_manager).get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert client_for(member_of(Role.ANNOTATOR)).get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert client_for(user).get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert client_for(user).get(f"/api/v1/jobs/{uuid.uuid4()}/").status_code == 404


def test_progress_is_exposed(client_for: Client, user: User, mocker: Any) -> None:
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    job = enqueue_job(kind=JobKind.WORKER_CHECK, created_by=user)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    report_progress(job=job, done=3, total=12, message="3 of 12")
    body = client_for(user).get(f"/api/v1/jobs/{job.pk}/").json()
    assert (body["state"], body["done"], body["total"], body["progress"], body["message"]) == (
        "running",
        3,
        12,
        0.25,
        "3 of 12",
    )


def test_redelivered_task_runs_once(user: User, mocker: Any) -> None:
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    job = enqueue_job(kind=JobKind.WORKER_CHECK, created_by=user)
    check_worker_task(str(job.pk))
    job.refresh_from_db()
    first_finish = job.finished_at
    assert job.state == JobState.SUCCEEDED
    assert job.result["device"] == "cpu"
    assert job.result["checksum"] == 140.0
    check_worker_task(str(job.pk))  # acks_late redelivery after a crash
    job.refresh_from_db()
    assert job.finished_at == first_finish


def test_failing_work_fails_the_job_with_reason(user: User, mocker: Any) -> None:
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    job = enqueue_job(kind=JobKind.WORKER_CHECK, created_by=user)

    def broken(_: Job) -> tuple[dict[str, Any], None]:
        raise ValueError("model output has the wrong shape")

    run_job(job_id=str(job.pk), work=broken)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == "ValueError: model output has the wrong shape"
    assert job.result is None


def test_task_for_missing_job_is_dropped() -> None:
    run_job(job_id=str(uuid.uuid4()), work=lambda job: ({}, None))
    assert not Job.objects.exists()
