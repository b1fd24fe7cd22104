"""Jobs: the durable record of a Celery task's state and progress."""

import uuid

from django.conf import settings
from django.db import models


class JobState(models.TextChoices):
    """Where a job is in its life."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobKind(models.TextChoices):
    """What a job does; each kind is one Celery task name."""

    WORKER_CHECK = "worker_check", "Worker check"
    AUDIT_EXPORT = "audit_export", "Audit log export"
    INGEST_UPLOAD = "ingest_upload", "Image upload ingest"
    PACS_PULL = "pacs_pull", "Pull from a PACS"
    PREANNOTATE = "preannotate", "Model pre-annotation"
    TRAIN_MODEL = "train_model", "Model training"


class Job(models.Model):
    """A long job; its id is also the Celery task id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    queue = models.CharField(max_length=32, default="default")
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    result_file = models.FileField(upload_to="jobs/%Y/%m/", blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__isnull=True) | models.Q(done__lte=models.F("total")),
                name="job_done_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state})"

    @property
    def progress(self) -> float | None:
        """Return the finished share in [0, 1], or None when the total is unknown."""
        if self.state == JobState.SUCCEEDED:
            return 1.0
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)
