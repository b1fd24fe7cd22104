"""Celery entry points of the audit app."""

from celery import shared_task

from annotator.audit.export import export_audit_log
from annotator.jobs.names import AUDIT_EXPORT_TASK
from annotator.jobs.services import run_job


@shared_task(name=AUDIT_EXPORT_TASK, acks_late=True, soft_time_limit=600, time_limit=660)
def export_audit_log_task(job_id: str) -> None:
    """Export a project's audit log to a CSV file attached to the job."""
    run_job(job_id=job_id, work=export_audit_log, file_name=f"audit-{job_id}.csv")
