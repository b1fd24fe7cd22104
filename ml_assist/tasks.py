"""Celery entry points of ml_assist (routed to the gpu queue unless sent elsewhere)."""

from celery import shared_task

from annotator.jobs.names import WORKER_CHECK_TASK
from annotator.jobs.services import run_job
from ml_assist.services import check_worker


@shared_task(name=WORKER_CHECK_TASK, acks_late=True, soft_time_limit=120, time_limit=180)
def check_worker_task(job_id: str) -> None:
    """Report the device and libraries of the worker that takes this job."""
    run_job(job_id=job_id, work=check_worker)
