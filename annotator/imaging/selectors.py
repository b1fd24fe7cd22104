"""Reads of the imaging hierarchy, scoped to the asking user's projects."""

from django.db.models import Count, Prefetch, QuerySet

from annotator.imaging.models import Instance, PseudonymEntry, Series, Stack, Study
from annotator.projects.models import Project


def list_studies(*, project: Project) -> QuerySet[Study]:
    """Return the project's studies with their patient and series counts."""
    return (
        Study.objects.filter(project=project)
        .select_related("patient")
        .annotate(series_count=Count("series", distinct=True))
        .order_by("-study_date", "-id")
    )


def list_series(*, project: Project) -> QuerySet[Series]:
    """Return the project's series with study, patient and stacks."""
    return (
        Series.objects.filter(project=project)
        .select_related("study", "study__patient")
        .prefetch_related(Prefetch("stacks", queryset=Stack.objects.order_by("index")))
    )


def list_instances(*, series: Series) -> QuerySet[Instance]:
    """Return a series' stored objects in display order."""
    return Instance.objects.filter(series=series).order_by(
        "stack_id", "stack_position", "instance_number", "pk"
    )


def list_stack_frames(*, stack: Stack) -> list[tuple[str, int]]:
    """Return (SOP Instance UID, frame number from 1) of each image of a stack, in slice order
    k (a multi-frame instance gives one entry per frame): what a viewer loads over WADO-RS."""
    return [
        (sop_instance_uid, frame)
        for sop_instance_uid, count in stack.instances.order_by("stack_position", "pk")
        .values_list("sop_instance_uid", "number_of_frames")
        .iterator()
        for frame in range(1, (count or 1) + 1)
    ]


def list_pseudonyms(*, project: Project) -> QuerySet[PseudonymEntry]:
    """Return the project's pseudonym map (managers only: check before calling)."""
    return (
        PseudonymEntry.objects.filter(patient__project=project)
        .select_related("patient")
        .order_by("patient__pseudonym")
    )
