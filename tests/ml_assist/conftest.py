"""Fixtures of the ML assist tests (model registry, pre-annotation): a CT project with 3D mask
labels, a built CT task, and a private media folder."""

from typing import Any

import pytest

from annotator.accounts.models import User
from annotator.imaging.models import Series
from annotator.labeling.models import LabelingTask
from annotator.projects.models import Project
from annotator.projects.services import update_label_schema
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

ML_LABELS: list[dict[str, Any]] = [
    {"key": "body", "name": "Body", "kind": "mask", "scope": "series"},
    {"key": "lung", "name": "Lung", "kind": "mask", "scope": "series"},
    {"key": "bone", "name": "Bone", "kind": "mask", "scope": "series"},
    {"key": "outline", "name": "Outline", "kind": "mask", "scope": "image"},
    {
        "key": "quality",
        "name": "Image quality",
        "kind": "ordinal",
        "scope": "series",
        "options": [{"value": "1", "label": "Poor"}, {"value": "2", "label": "Good"}],
    },
]


@pytest.fixture
def ml_media(settings: Any, tmp_path: Any) -> None:
    """Each test stores weights and voxels in its own folder (checks that nothing was left)."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def ml_project(project: Project, manager: User) -> Project:
    """The 'Chest CT' project with 3D mask labels body, lung and bone; dealing off."""
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=ML_LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    return project


@pytest.fixture
def ml_ct_series(ml_project: Project) -> Series:
    """A 10-slice 64x64 synthetic chest CT, ingested and built (its task is open)."""
    [series] = ingest_and_build(ml_project, ct_files(slices=10, size=64))
    return series


@pytest.fixture
def ml_ct_task(ml_ct_series: Series) -> LabelingTask:
    return LabelingTask.objects.get(series=ml_ct_series)
