"""Labeling: tasks, reader assignments, annotation sets, findings with revisions, comments,
mask chunks and lesion tracks.

Geometry of every finding is stored in the voxel index space (i, j, k) of one stack of its
series; `annotator/imaging/geometry.py` converts to patient LPS coordinates.
"""

from django.conf import settings
from django.db import models

from annotator.imaging.models import Instance, Patient, Series, Stack, Study
from annotator.projects.models import Project, TaskUnit

__all__ = [
    "Annotation",
    "AnnotationRevision",
    "AnnotationSet",
    "Assignment",
    "AssignmentStatus",
    "Comment",
    "LabelingTask",
    "LesionMeasurement",
    "LesionTrack",
    "MaskChunk",
    "ReaderExclusion",
    "SetKind",
    "Source",
    "TaskStatus",
    "TaskUnit",
]


class TaskStatus(models.TextChoices):
    """Where a labeling task stands."""

    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class AssignmentStatus(models.TextChoices):
    """Where one reader's work on a task stands."""

    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned for changes"
    ACCEPTED = "accepted", "Accepted"


class SetKind(models.TextChoices):
    """Whose annotations a set holds."""

    READER = "reader", "Reader"
    REFERENCE = "reference", "Reference (adjudicated)"
    MODEL = "model", "Model pre-annotation"
    IMPORT = "import", "Imported"
    RETIRED = "retired", "Former reader's drafts (after reassignment)"


class Source(models.TextChoices):
    """Who produced a revision."""

    HUMAN = "human", "Human"
    MODEL = "model", "Model"
    IMPORT = "import", "Import"


class LabelingTask(models.Model):
    """One unit of work (a study, a series or an image) that N readers label."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labeling_tasks")
    unit = models.CharField(max_length=8, choices=TaskUnit.choices)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="labeling_tasks")
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.CASCADE, related_name="labeling_tasks"
    )
    instance = models.ForeignKey(
        Instance, null=True, blank=True, on_delete=models.CASCADE, related_name="labeling_tasks"
    )
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.NEW)
    priority = models.IntegerField(default=0, help_text="Higher first.")
    triage_score = models.FloatField(null=True, blank=True)
    uncertainty = models.FloatField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    readers_required = models.PositiveSmallIntegerField(default=1)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                "project",
                "study",
                condition=models.Q(unit="study"),
                name="task_unique_study",
            ),
            models.UniqueConstraint(
                "series", condition=models.Q(unit="series"), name="task_unique_series"
            ),
            models.UniqueConstraint(
                "instance", condition=models.Q(unit="image"), name="task_unique_image"
            ),
            models.CheckConstraint(
                condition=models.Q(readers_required__gte=1), name="task_readers_required_min"
            ),
        ]
        indexes = [models.Index(fields=["project", "status", "-priority", "created_at"])]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.unit})"


class ReaderExclusion(models.Model):
    """A member who must not read a project's tasks (task null) or one task."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(
        LabelingTask, null=True, blank=True, on_delete=models.CASCADE, related_name="exclusions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "project", "user", "task", name="exclusion_unique", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} excluded from {self.task_id or 'project'}"


class Assignment(models.Model):
    """One reader's slot on a task."""

    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="assignments")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=8, default="claim", help_text="auto, manual or claim.")
    active_seconds = models.FloatField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "created_at", "id"]
        constraints = [models.UniqueConstraint("task", "reader", name="assignment_unique")]

    def __str__(self) -> str:
        return f"Assignment {self.pk} of task {self.task_id}"


class AnnotationSet(models.Model):
    """The findings of one reader, the reference, a model run or an import on one task."""

    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="annotation_sets")
    kind = models.CharField(max_length=16, choices=SetKind.choices)
    assignment = models.OneToOneField(
        Assignment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="annotation_set",
    )
    model_version = models.CharField(max_length=100, blank=True)
    final = models.BooleanField(default=False, help_text="A reference the adjudicator closed.")
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change inside.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "id"]
        constraints = [
            models.UniqueConstraint(
                "task", condition=models.Q(kind="reference"), name="set_one_reference_per_task"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="reader", assignment__isnull=False)
                | (~models.Q(kind="reader") & models.Q(assignment__isnull=True)),
                name="set_reader_has_assignment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} set {self.pk} of task {self.task_id}"


class Annotation(models.Model):
    """One finding or answer: a label of the schema on a study, series, stack or slice."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    annotation_set = models.ForeignKey(
        AnnotationSet, on_delete=models.CASCADE, related_name="annotations"
    )
    label_key = models.CharField(max_length=63)
    kind = models.CharField(max_length=32)
    scope = models.CharField(max_length=8)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="annotations")
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    stack = models.ForeignKey(
        Stack, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    slice_index = models.IntegerField(
        null=True, blank=True, help_text="k of the image (or frame) for image-scope findings."
    )
    data = models.JSONField(default=dict, blank=True, help_text="Geometry in voxel indices.")
    attributes = models.JSONField(default=dict, blank=True)
    measurements = models.JSONField(default=dict, blank=True, help_text="Computed by the server.")
    mask_manifest = models.JSONField(
        default=dict, blank=True, help_text="{segment: {k: chunk digest}} for masks."
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    model_version = models.CharField(max_length=100, blank=True)
    schema_version = models.PositiveIntegerField()
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["annotation_set", "id"]
        indexes = [models.Index(fields=["annotation_set", "deleted"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.label_key} #{self.pk}"


class AnnotationRevision(models.Model):
    """A saved state of an annotation; any one can be fetched and restored."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    model_version = models.CharField(max_length=100, blank=True)
    schema_version = models.PositiveIntegerField()
    data = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    measurements = models.JSONField(default=dict, blank=True)
    mask_manifest = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "number"]
        constraints = [
            models.UniqueConstraint("annotation", "number", name="revision_number_unique")
        ]

    def __str__(self) -> str:
        return f"Revision {self.number} of annotation {self.annotation_id}"


class MaskChunk(models.Model):
    """One segment's bits on one slice: zlib(packbits(rows x columns)), shared by content."""

    digest = models.CharField(max_length=64, primary_key=True)
    data = models.BinaryField()
    voxels = models.PositiveIntegerField(help_text="Set voxels in the slice.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest[:12]


class Comment(models.Model):
    """Free text on a task or on one finding."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="comments")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    assignment = models.ForeignKey(
        Assignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
        help_text="The reading a review comment is about (shown to that reader only).",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    kind = models.CharField(max_length=16, default="comment", help_text="comment or rejection.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "created_at", "id"]

    def __str__(self) -> str:
        return f"Comment {self.pk} on task {self.task_id}"


class LesionTrack(models.Model):
    """One lesion of one pseudonymous patient followed across studies (RECIST target), as one
    reader tracks it (readers do not see each other's tracks; reviewers see all)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="lesion_tracks")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="lesion_tracks")
    name = models.CharField(max_length=100)
    nodal = models.BooleanField(default=False, help_text="Lymph node: short axis counts.")
    target = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "name", "id"]
        constraints = [models.UniqueConstraint("patient", "name", name="lesion_track_name_unique")]

    def __str__(self) -> str:
        return f"Lesion {self.name} of patient {self.patient_id}"


class LesionMeasurement(models.Model):
    """A track's measurement at one time point (study): a length or bidirectional finding."""

    track = models.ForeignKey(LesionTrack, on_delete=models.CASCADE, related_name="measurements")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    long_axis_mm = models.FloatField()
    short_axis_mm = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["track", "study__study_date", "id"]
        constraints = [
            models.UniqueConstraint("track", "study", name="lesion_measurement_one_per_study")
        ]

    def __str__(self) -> str:
        return f"{self.track} at study {self.study_id}"
