"""Writes for jobs: enqueue after commit, claim, report progress, finish."""

import logging
import socket
from collections.abc import Callable
from typing import Any

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.celery import app as celery_app
from annotator.core.errors import DomainError
from annotator.core.middleware import bind_request_id
from annotator.jobs.models import Job, JobState
from annotator.jobs.names import QUEUES, TASK_FOR_KIND
from annotator.projects.models import Project

logger = logging.getLogger(__name__)


class UnknownQueueError(DomainError):
    """A job was sent to a queue no worker listens on."""

    code = "unknown_queue"


class JobAlreadyClaimedError(Exception):
    """A redelivered task found its job already started or finished (not an error to report)."""


@transaction.atomic
def enqueue_job(
    *,
    kind: str,
    created_by: User | None,
    project: Project | None = None,
    queue: str = "default",
    params: dict[str, Any] | None = None,
) -> Job:
    """Record a job and send its Celery task once the transaction commits.

    Raises:
        UnknownQueueError: `queue` is not one the workers consume.
    """
    if queue not in QUEUES:
        raise UnknownQueueError(f"Choose a queue among: {', '.join(QUEUES)}.", field="queue")
    job = Job(kind=kind, queue=queue, project=project, created_by=created_by, params=params or {})
    job.full_clean()
    job.save()
    record_event(
        actor=created_by,
        action="job.create",
        obj=job,
        project=project,
        changes={"kind": [None, kind], "queue": [None, queue]},
    )
    task_name = TASK_FOR_KIND[kind]
    transaction.on_commit(
        lambda: celery_app.send_task(
            task_name, args=[str(job.pk)], task_id=str(job.pk), queue=queue
        )
    )
    return job


def claim_job(*, job_id: str) -> Job:
    """Move a queued job to running; exactly one delivery of its task wins.

    Raises:
        Job.DoesNotExist: no such job (its transaction was rolled back).
        JobAlreadyClaimedError: another delivery already ran or is running it.
    """
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=timezone.now(), worker=socket.gethostname()[:200]
    )
    if not claimed:
        Job.objects.get(pk=job_id)  # raise DoesNotExist for a job that never committed
        raise JobAlreadyClaimedError(job_id)
    bind_request_id(str(job_id))
    return Job.objects.select_related("project", "created_by").get(pk=job_id)


def report_progress(*, job: Job, done: int, total: int | None = None, message: str = "") -> None:
    """Store how far a running job is (a single UPDATE; cheap enough to call per item)."""
    job.done, job.message = done, message[:300]
    if total is not None:
        job.total = total
    Job.objects.filter(pk=job.pk).update(done=job.done, total=job.total, message=job.message)


def finish_job(
    *, job: Job, result: dict[str, Any], file_name: str | None = None, file: File[Any] | None = None
) -> Job:
    """Mark a job succeeded with its result (and an optional downloadable file)."""
    job.state, job.result, job.finished_at = JobState.SUCCEEDED, result, timezone.now()
    job.message = job.message or "Done"
    if job.total is not None:
        job.done = job.total
    if file is not None and file_name:
        job.result_file.save(file_name, file, save=False)
    job.save()
    return job


def fail_job(*, job_id: str, error: str) -> None:
    """Mark a job failed with a message for the person who started it."""
    Job.objects.filter(pk=job_id).exclude(state=JobState.SUCCEEDED).update(
        state=JobState.FAILED, error=error[:2000], finished_at=timezone.now(), message="Failed"
    )


def run_job(
    *,
    job_id: str,
    work: Callable[[Job], tuple[dict[str, Any], File[Any] | None]],
    file_name: str | None = None,
) -> None:
    """Claim the job, run `work(job)`, and store its result or its error; never raises for a
    deterministic failure (the job carries it), so a worker keeps serving."""
    try:
        job = claim_job(job_id=job_id)
    except JobAlreadyClaimedError:
        logger.info("Job %s was already claimed; skipping redelivery", job_id)
        return
    except Job.DoesNotExist:
        logger.warning("Job %s does not exist; dropping its task", job_id)
        return
    try:
        result, file = work(job)
        finish_job(job=job, result=result, file_name=file_name, file=file)
    except Exception as error:
        logger.exception("Job %s failed", job_id)
        fail_job(job_id=job_id, error=f"{type(error).__name__}: {error}")
