"""Projects, who is in them with which role, and their versioned label schemas."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from annotator.projects.modalities import Modality, validate_display_settings, validate_modalities

__all__ = ["LabelSchema", "Membership", "Modality", "Project", "Role", "TaskUnit"]

MAX_READERS = 10


class Role(models.TextChoices):
    """A member's role in one project; annotator/projects/access.py says what each may do."""

    MANAGER = "manager", "Manager"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class TaskUnit(models.TextChoices):
    """What one labeling task covers."""

    STUDY = "study", "Study"
    SERIES = "series", "Series"
    IMAGE = "image", "Image"


class Project(models.Model):
    """A labeling project: which images, which labels, how many readers, whether to review."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects"
    )
    modalities = models.JSONField(default=list, validators=[validate_modalities])
    readers_per_item = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_READERS)]
    )
    review_required = models.BooleanField(default=False)
    task_unit = models.CharField(
        max_length=8,
        choices=TaskUnit.choices,
        default=TaskUnit.SERIES,
        help_text="One labeling task per study, series or image.",
    )
    auto_assign = models.BooleanField(
        default=True, help_text="Deal new tasks to readers, balanced; otherwise readers claim."
    )
    archived = models.BooleanField(default=False)
    preannotate_on_ingest = models.BooleanField(
        default=False, help_text="The active model(s) pre-annotate every newly opened task."
    )
    triage_sets_priority = models.BooleanField(
        default=False, help_text="A model's triage score sets task priority (round(score*100))."
    )
    display_settings = models.JSONField(
        default=dict, blank=True, validators=[validate_display_settings]
    )
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every edit.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="project_name_unique_per_owner"),
            models.CheckConstraint(
                condition=models.Q(readers_per_item__gte=1, readers_per_item__lte=MAX_READERS),
                name="project_readers_per_item_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [models.UniqueConstraint("project", "user", name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"


class LabelSchema(models.Model):
    """One version of a project's labels; the highest version is the current one.

    `revision` counts every saved change across the project's versions and is what an editor
    sends back to prove it edited the newest state. Once `in_use` (annotations refer to it), a
    breaking change creates the next version instead of rewriting this one.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_schemas")
    version = models.PositiveIntegerField()
    revision = models.PositiveIntegerField()
    labels = models.JSONField(default=list, blank=True)
    in_use = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint("project", "version", name="label_schema_version_unique"),
            models.UniqueConstraint("project", "revision", name="label_schema_revision_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project} labels v{self.version}"
