"""Celery task names, so the core can enqueue work in packages it must not import."""

from annotator.jobs.models import JobKind

WORKER_CHECK_TASK = "ml_assist.check_worker"
AUDIT_EXPORT_TASK = "audit.export_audit_log"
INGEST_UPLOAD_TASK = "imaging.ingest_upload"
BUILD_VOLUMES_TASK = "imaging.build_series_volumes"
PACS_PULL_TASK = "pacs.pull_studies"
PREANNOTATE_TASK = "ml_assist.preannotate"
TRAIN_MODEL_TASK = "ml_assist.train_model"

TASK_FOR_KIND: dict[str, str] = {
    JobKind.WORKER_CHECK: WORKER_CHECK_TASK,
    JobKind.AUDIT_EXPORT: AUDIT_EXPORT_TASK,
    JobKind.INGEST_UPLOAD: INGEST_UPLOAD_TASK,
    JobKind.PACS_PULL: PACS_PULL_TASK,
    JobKind.PREANNOTATE: PREANNOTATE_TASK,
    JobKind.TRAIN_MODEL: TRAIN_MODEL_TASK,
}
QUEUES = ("default", "gpu")
