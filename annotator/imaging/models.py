"""The imaging hierarchy: pseudonymous Patient → Study → Series → Stack / Instance."""

import secrets

from django.db import models

from annotator.projects.models import Project


def _new_secret() -> str:
    return secrets.token_hex(32)


class ImagingSettings(models.Model):
    """A project's de-identification policy and DIMSE address (one row per project)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="imaging_settings"
    )
    deidentify = models.BooleanField(default=True)
    retain_longitudinal_dates = models.BooleanField(
        default=True, help_text="Shift dates per patient instead of removing them."
    )
    retain_patient_characteristics = models.BooleanField(
        default=True, help_text="Keep sex, age, size and weight."
    )
    clean_descriptors = models.BooleanField(default=True)
    keep_pseudonym_map = models.BooleanField(
        default=False, help_text="Store original patient ids (visible to managers only)."
    )
    safe_private_tags = models.JSONField(default=list, blank=True)
    secret = models.CharField(
        max_length=64,
        default=_new_secret,
        editable=False,
        help_text="Keys UID remapping, pseudonyms and date shifts.",
    )
    ae_title = models.CharField(
        max_length=16, blank=True, help_text="Called AE title that routes C-STORE to this project."
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "ae_title", condition=~models.Q(ae_title=""), name="imaging_ae_title_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Imaging settings of {self.project}"


class Patient(models.Model):
    """A patient as the project knows them: a pseudonym when de-identification is on."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="patients")
    pseudonym = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pseudonym"]
        constraints = [
            models.UniqueConstraint("project", "pseudonym", name="patient_pseudonym_unique")
        ]

    def __str__(self) -> str:
        return self.pseudonym


class PseudonymEntry(models.Model):
    """The link from a pseudonym back to the original patient id, kept only when the project
    asks for it; readable by its managers only."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="pseudonym_entry"
    )
    original_patient_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pseudonym entry {self.pk}"


class Study(models.Model):
    """A DICOM study (UIDs as stored: remapped when de-identified)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="studies")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    study_instance_uid = models.CharField(max_length=64)
    study_date = models.DateField(null=True, blank=True)
    study_time = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-study_date", "id"]
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(
                "project", "study_instance_uid", name="study_uid_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"study {self.pk}"


class SeriesStatus(models.TextChoices):
    """Whether a series' volume cache is built."""

    RECEIVING = "receiving", "Receiving"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Series(models.Model):
    """A DICOM series, or a volume/image imported from NIfTI, NRRD, MHA, PNG, JPEG or TIFF."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="series")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    laterality = models.CharField(max_length=8, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    is_image = models.BooleanField(default=True, help_text="False for SR, SEG, RTSTRUCT, PR.")
    source_format = models.CharField(max_length=16, default="dicom")
    burned_in_risk = models.BooleanField(
        default=False, help_text="May carry burned-in text: review it."
    )
    instance_count = models.PositiveIntegerField(default=0)
    display = models.JSONField(
        default=dict, blank=True, help_text="Photometric interpretation, header windows, VOI."
    )
    status = models.CharField(
        max_length=16, choices=SeriesStatus.choices, default=SeriesStatus.RECEIVING
    )
    status_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["study", "series_number", "id"]
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(
                "project", "series_instance_uid", name="series_uid_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"series {self.pk} ({self.modality})"


class Stack(models.Model):
    """One geometrically consistent set of images of a series (a volume, a localizer, a single
    image or a cine); its voxels are cached as a memory-mappable array."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="stacks")
    index = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=16)
    size = models.JSONField(help_text="(columns, rows, slices): SimpleITK order.")
    spacing = models.JSONField(help_text="(column, row, slice) spacing in mm.")
    origin = models.JSONField(help_text="LPS of voxel (0, 0, 0) in mm.")
    direction = models.JSONField(help_text="3×3 row-major; columns are the i, j, k axes.")
    uniform = models.BooleanField(default=True)
    slice_positions = models.JSONField(default=list, blank=True)
    gantry_tilt_deg = models.FloatField(null=True, blank=True)
    frame_time_ms = models.FloatField(null=True, blank=True)
    volume_path = models.CharField(max_length=300, blank=True)
    dtype = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "index"]
        constraints = [models.UniqueConstraint("series", "index", name="stack_index_unique")]

    def __str__(self) -> str:
        return f"stack {self.index} of series {self.series_id}"


class Instance(models.Model):
    """One stored DICOM object (de-identified when the project asks for it)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="instances")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    stack = models.ForeignKey(
        Stack, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    stack_position = models.IntegerField(null=True, blank=True)
    sop_instance_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64)
    transfer_syntax_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    file = models.FileField(upload_to="dicom/", max_length=300)
    file_size = models.PositiveBigIntegerField()
    content_digest = models.CharField(max_length=64, help_text="Keyed hash of the file received.")
    is_image = models.BooleanField(default=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    geometry = models.JSONField(
        default=dict, blank=True, help_text="Position, orientation, spacing, image type."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "stack_position", "instance_number", "id"]
        constraints = [
            models.UniqueConstraint(
                "project", "sop_instance_uid", name="instance_uid_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"instance {self.pk}"
