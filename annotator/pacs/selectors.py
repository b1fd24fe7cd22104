"""Reads of PACS connections."""

from django.db.models import QuerySet

from annotator.pacs.models import PacsConnection
from annotator.projects.models import Project


def list_pacs_connections(*, project: Project) -> QuerySet[PacsConnection]:
    """Return the project's PACS connections (check the caller's role before calling)."""
    return PacsConnection.objects.filter(project=project).select_related("created_by")
