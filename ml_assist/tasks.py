"""Celery entry points of ml_assist (routed to the gpu queue unless sent elsewhere)."""

from celery import shared_task

import ml_assist.training.tasks  # noqa: F401 - registers ml_assist.train_model (ml2)
from annotator.jobs.names import PREANNOTATE_TASK, WORKER_CHECK_TASK
from annotator.jobs.services import run_job
from ml_assist.preannotate import TIME_LIMIT_SECONDS, preannotate_job
from ml_assist.worker_check import check_worker


@shared_task(name=WORKER_CHECK_TASK, acks_late=True, soft_time_limit=120, time_limit=180)
def check_worker_task(job_id: str) -> None:
    """Report the device and libraries of the worker that takes this job."""
    run_job(job_id=job_id, work=check_worker)


@shared_task(
    name=PREANNOTATE_TASK,
    acks_late=True,
    soft_time_limit=TIME_LIMIT_SECONDS - 300,
    time_limit=TIME_LIMIT_SECONDS,
)
def preannotate_task(job_id: str) -> None:
    """Run a model on a job's tasks (ml_assist.preannotate.preannotate_job holds the work)."""
    run_job(job_id=job_id, work=preannotate_job)
