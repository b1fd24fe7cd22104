"""Jobs run by a real Celery worker process over the real Redis broker."""

import csv
import io
import time
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.jobs.models import Job, JobState
from annotator.projects.models import Project

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
Client = Callable[[User], APIClient]


def _wait(job_id: str, timeout: float = 90.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).state}")


@pytest.mark.parametrize("queue", ["default", "gpu"])
def test_worker_check_runs_on_each_queue(
    celery_worker: str, client_for: Client, user: User, queue: str
) -> None:
    response = client_for(user).post("/api/v1/jobs/worker-check/", {"queue": queue}, format="json")
    assert response.status_code == 202
    job = _wait(response.json()["id"])
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result is not None
    assert job.result["queue"] == queue
    assert job.result["device"] in ("cpu", "cuda")
    assert job.result["checksum"] == 140.0
    body = client_for(user).get(f"/api/v1/jobs/{job.pk}/").json()
    assert (body["state"], body["progress"], body["done"], body["total"]) == (
        "succeeded",
        1.0,
        2,
        2,
    )


def test_audit_export_job_writes_csv_with_progress(
    celery_worker: str, client_for: Client, manager: User, project: Project
) -> None:
    client = client_for(manager)
    for i in range(3):
        client.patch(
            f"/api/v1/projects/{project.pk}/",
            {"version": i + 1, "description": f"rev {i}"},
            format="json",
        )
    response = client.post(f"/api/v1/projects/{project.pk}/audit-export/")
    job = _wait(response.json()["id"])
    assert job.state == JobState.SUCCEEDED, job.error
    # create, member.add, schema.create, 3 updates, and the export job's own event
    assert job.total == job.done == 7
    download = client.get(f"/api/v1/jobs/{job.pk}/download/")
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [r["action"] for r in rows][:3] == ["project.create", "member.add", "schema.create"]
    assert rows[3]["changes"] == '{"description": ["", "rev 0"]}'
