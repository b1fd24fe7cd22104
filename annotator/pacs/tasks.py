"""Celery entry points of the pacs app (default queue)."""

from celery import shared_task

from annotator.jobs.names import PACS_PULL_TASK
from annotator.jobs.services import run_job
from annotator.pacs.services import pull_studies


@shared_task(
    name=PACS_PULL_TASK, acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300
)
def pull_studies_task(job_id: str) -> None:
    """Retrieve studies from a PACS and ingest them, with progress per instance."""
    run_job(job_id=job_id, work=pull_studies)
