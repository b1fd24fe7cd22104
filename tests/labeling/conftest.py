"""Fixtures for labeling: a built CT series with its task, readers and their reading sets."""

import io
from collections.abc import Callable

import pytest

from annotator.accounts.models import User
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Series, Stack
from annotator.imaging.volume import build_series_volumes
from annotator.labeling.models import AnnotationSet, Assignment, LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from annotator.projects.services import update_label_schema
from tests.factories import CT_LABELS
from tests.imaging.dicom_files import ct_files

LABELS = [
    *CT_LABELS,
    {"key": "lesion_box", "name": "Lesion box", "kind": "bounding_box", "scope": "image"},
    {"key": "lesion_box3d", "name": "Lesion box 3D", "kind": "bounding_box", "scope": "series"},
    {"key": "outline", "name": "Outline", "kind": "polygon", "scope": "image"},
    {"key": "path", "name": "Path", "kind": "polyline", "scope": "image"},
    {"key": "marker", "name": "Marker", "kind": "point", "scope": "image"},
    {"key": "diameter", "name": "Diameter", "kind": "length", "scope": "image"},
    {"key": "recist", "name": "RECIST", "kind": "bidirectional", "scope": "image"},
    {"key": "organ", "name": "Organ", "kind": "mask", "scope": "series"},
    {"key": "note", "name": "Note", "kind": "free_text", "scope": "study"},
    {
        "key": "findings",
        "name": "Findings",
        "kind": "classification_multi",
        "scope": "study",
        "options": [
            {"value": "nodule", "label": "Nodule"},
            {"value": "effusion", "label": "Effusion"},
        ],
    },
]


def ingest_and_build(project: Project, files: list[tuple[str, bytes]]) -> list[Series]:
    """Ingest DICOM bytes into the project and build volumes (which opens tasks)."""
    ingestor = Ingestor(project=project, actor=project.owner, source="test")
    for name, data in files:
        ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    series = list(Series.objects.filter(pk__in=ingestor.touched).order_by("pk"))
    for item in series:
        build_series_volumes(item)
    return series


@pytest.fixture
def labeled_project(project: Project, manager: User) -> Project:
    """The 'Chest CT' project with every label kind, dealing off (tests assign by hand)."""
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    return project


@pytest.fixture
def ct_series(labeled_project: Project) -> Series:
    """An 8-slice 32x32 synthetic CT, ingested and built (its task is open)."""
    [series] = ingest_and_build(labeled_project, ct_files(slices=8, size=32))
    return series


@pytest.fixture
def ct_stack(ct_series: Series) -> Stack:
    return Stack.objects.get(series=ct_series, index=0)


@pytest.fixture
def task(ct_series: Series) -> LabelingTask:
    return LabelingTask.objects.get(series=ct_series)


@pytest.fixture
def reader(member_of: Callable[[str], User]) -> User:
    return member_of(Role.ANNOTATOR)


@pytest.fixture
def reviewer(member_of: Callable[[str], User]) -> User:
    return member_of(Role.REVIEWER)


@pytest.fixture
def assignment(task: LabelingTask, reader: User, manager: User) -> Assignment:
    """The reader's slot on the CT task (assigned by the manager)."""
    return assign_reader(task=task, actor=manager, reader=reader)


@pytest.fixture
def reader_set(assignment: Assignment) -> AnnotationSet:
    return assignment.annotation_set
