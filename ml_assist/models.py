"""The model registry and the record of every prediction a model version made.

A registered model is one version of one model in one project: its kind, how its outputs map to
the project's schema labels, what input it expects, where its weights are and how good it was.
A prediction row is the idempotency key of a pre-annotation: one per model version and task, so
a redelivered Celery task finds the row and does not predict twice.
"""

from django.conf import settings
from django.db import models


class ModelKind(models.TextChoices):
    """What a model produces."""

    SEGMENTATION_2D = "segmentation_2d", "2D segmentation"
    SEGMENTATION_3D = "segmentation_3d", "3D segmentation"
    DETECTION = "detection", "Detection"
    CLASSIFICATION = "classification", "Classification"
    TRIAGE = "triage", "Triage score"


class ModelSource(models.TextChoices):
    """Where a model version's weights come from."""

    BUILTIN = "builtin", "Built-in (no weights)"
    TORCHSCRIPT = "torchscript", "Uploaded TorchScript"
    TRAINED = "trained", "Trained in the project"


class RegisteredModel(models.Model):
    """One version of one model, registered in one project."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="ml_models"
    )
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=32, choices=ModelKind.choices)
    source = models.CharField(max_length=16, choices=ModelSource.choices)
    builtin = models.CharField(
        max_length=64, blank=True, help_text="Key of a built-in predictor (source builtin)."
    )
    label_map = models.JSONField(
        default=dict,
        blank=True,
        help_text="Output channel or class index (a string) -> schema label key, e.g. "
        '{"1": "lung"}.',
    )
    input_spec = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the model expects: modalities, spacing (mm), intensity window, "
        "in_channels, patch or slice size.",
    )
    weights = models.FileField(upload_to="ml-models/%Y/%m/", blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(
        default=False, help_text="Used for pre-annotation on ingest and by default on demand."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version this one was trained from.",
    )
    training_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revision = models.PositiveIntegerField(
        default=1,
        help_text="Bumped on every edit (optimistic concurrency; `version` is the model's).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                "project", "name", "version", name="registered_model_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}:v{self.version}"

    @property
    def tag(self) -> str:
        """The model version as annotations and revisions record it (name:vN)."""
        return f"{self.name}:v{self.version}"


class PredictionStatus(models.TextChoices):
    """Where one prediction is."""

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Prediction(models.Model):
    """One model version run on one labeling task (the idempotency key of pre-annotation)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="predictions")
    task = models.ForeignKey(
        "labeling.LabelingTask", on_delete=models.CASCADE, related_name="predictions"
    )
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=PredictionStatus.choices, default=PredictionStatus.RUNNING
    )
    annotation_set = models.ForeignKey(
        "labeling.AnnotationSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.FloatField(
        null=True, blank=True, help_text="Triage score, when the model gives one."
    )
    uncertainty = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="Load + predict + store.")
    device = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint("model", "task", name="prediction_once_per_model_and_task"),
        ]

    def __str__(self) -> str:
        return f"{self.model} on task {self.task_id}"
