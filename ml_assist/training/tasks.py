"""Celery entry point of in-project training (routed to the gpu queue with ml_assist.*)."""

from celery import shared_task

from annotator.jobs.names import TRAIN_MODEL_TASK
from annotator.jobs.services import run_job
from ml_assist.training.service import train_model


@shared_task(
    name=TRAIN_MODEL_TASK, acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300
)
def train_model_task(job_id: str) -> None:
    """Train the project's network for the job; the job carries progress, result or error."""
    run_job(job_id=job_id, work=train_model)
