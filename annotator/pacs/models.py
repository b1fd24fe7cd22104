"""A project's connections to remote PACS."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from annotator.projects.models import Project


class PacsKind(models.TextChoices):
    """How the remote PACS is spoken to."""

    DICOMWEB = "dicomweb", "DICOMweb (QIDO-RS / WADO-RS)"
    DIMSE = "dimse", "DIMSE (C-FIND / C-GET / C-MOVE)"


class RetrieveMethod(models.TextChoices):
    """How a DIMSE PACS sends the studies we pull."""

    C_GET = "c-get", "C-GET (same association)"
    C_MOVE = "c-move", "C-MOVE (to our DICOM listener)"


class PacsConnection(models.Model):
    """A remote PACS a project's managers search and pull studies from."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pacs_connections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=PacsKind.choices)
    base_url = models.URLField(max_length=500, blank=True, help_text="DICOMweb service root.")
    auth_header = models.CharField(
        max_length=4000,
        blank=True,
        help_text="DICOMweb Authorization header value, sent as is; never shown again.",
    )
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    called_ae_title = models.CharField(max_length=16, blank=True, help_text="The PACS's AE.")
    calling_ae_title = models.CharField(
        max_length=16, blank=True, default="ANNOTATOR", help_text="Our AE title towards it."
    )
    retrieve_method = models.CharField(
        max_length=8, choices=RetrieveMethod.choices, default=RetrieveMethod.C_GET
    )
    move_destination = models.CharField(
        max_length=16,
        blank=True,
        help_text="C-MOVE destination: the AE title our listener answers for this project.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name", "id"]
        constraints = [
            models.UniqueConstraint("project", "name", name="pacs_name_unique_per_project"),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=PacsKind.DICOMWEB) & ~models.Q(base_url="")
                    | models.Q(kind=PacsKind.DIMSE, port__isnull=False)
                    & ~models.Q(host="")
                    & ~models.Q(called_ae_title="")
                ),
                name="pacs_address_for_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=PacsKind.DIMSE, retrieve_method=RetrieveMethod.C_MOVE)
                | ~models.Q(move_destination=""),
                name="pacs_move_needs_destination",
            ),
        ]

    def __str__(self) -> str:
        return self.name
