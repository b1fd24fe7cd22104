"""POST /projects/{id}/tasks/{id}/imports/: label files in, an import mask annotation out."""

import json
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.geometry import StackGeometry, nifti_affine
from annotator.imaging.models import Series, Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.mask_reads import read_annotation_segments
from annotator.labeling.models import Annotation, LabelingTask, SetKind, Source
from tests.factories import make_project
from tests.imaging.dicom_files import ct_files, to_bytes
from tests.labeling.conftest import ingest_and_build
from tests.labeling.test_imports import (
    contour,
    make_rtstruct,
    make_seg,
    nifti_bytes,
    seg_bytes,
    square,
    stored_datasets,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:The string .* person name:UserWarning"),
]


def url(project_id: int, task_id: int) -> str:
    return f"/api/v1/projects/{project_id}/tasks/{task_id}/imports/"


def upload(data: bytes, name: str = "labels.dcm") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def geometry(ct_stack: Stack) -> StackGeometry:
    return stack_geometry(ct_stack)


@pytest.fixture
def seg_file(ct_series: Series) -> bytes:
    masks = np.zeros((8, 32, 32, 2), dtype=bool)
    masks[1, 3:6, 3:7, 0] = True
    masks[4, 10, 10:13, 1] = True
    return seg_bytes(make_seg(stored_datasets(ct_series), masks, ["Nodule", "Tumour"]))


@pytest.fixture
def as_manager(client_for: Callable[[User], APIClient], manager: User) -> APIClient:
    return client_for(manager)


def test_import_returns_the_annotation_and_its_segments(
    as_manager: APIClient, task: LabelingTask, seg_file: bytes
) -> None:
    response = as_manager.post(
        url(task.project_id, task.pk),
        {"file": upload(seg_file), "label_map": json.dumps({"Tumour": "organ"})},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    annotation = Annotation.objects.get(pk=body["annotation"])
    assert body == {
        "annotation": annotation.pk,
        "version": annotation.version,
        "format": "seg",
        "segments": [
            {
                "number": 1,
                "label": "nodule",
                "source_number": 1,
                "source_name": "Nodule",
                "voxels": 12,
            },
            {
                "number": 2,
                "label": "organ",
                "source_number": 2,
                "source_name": "Tumour",
                "voxels": 3,
            },
        ],
    }
    assert annotation.source == Source.IMPORT
    assert annotation.annotation_set.kind == SetKind.IMPORT
    assert read_annotation_segments(annotation)[2][4, 10, 10:13].all()


def test_import_accepts_an_rtstruct_and_a_nifti(
    as_manager: APIClient, task: LabelingTask, geometry: StackGeometry
) -> None:
    rtstruct = to_bytes(make_rtstruct({2: ("Organ", [contour(geometry, square(1, 3), 0)])}))
    labels = np.zeros((32, 32, 8), dtype=np.uint8)
    labels[0, 0, 0] = 4

    first = as_manager.post(
        url(task.project_id, task.pk), {"file": upload(rtstruct)}, format="multipart"
    )
    second = as_manager.post(
        url(task.project_id, task.pk),
        {
            "file": upload(nifti_bytes(labels, nifti_affine(geometry)), "l.nii.gz"),
            "label_map": '{"4": "nodule"}',
        },
        format="multipart",
    )

    assert first.status_code == 201, first.json()
    assert first.json()["segments"] == [
        {"number": 1, "label": "organ", "source_number": 2, "source_name": "Organ", "voxels": 9}
    ]
    assert second.status_code == 201, second.json()
    assert second.json()["format"] == "nifti"
    assert second.json()["segments"][0]["voxels"] == 1


def test_import_refuses_a_mismatched_geometry_with_the_reason(
    as_manager: APIClient, task: LabelingTask, geometry: StackGeometry
) -> None:
    affine = nifti_affine(geometry)
    affine[:3, 0] *= 1.25  # 1 mm columns instead of 0.8 mm
    labels = np.ones((32, 32, 8), dtype=np.uint8)

    response = as_manager.post(
        url(task.project_id, task.pk),
        {"file": upload(nifti_bytes(labels, affine), "l.nii.gz"), "label_map": '{"1": "organ"}'},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "import_rejected"
    assert (
        "spacing (1.000, 0.800, 2.500) mm instead of the series' (0.800, 0.800, 2.500)"
        in (response.json()["message"])
    )
    assert not Annotation.objects.exists()


def test_import_lists_mask_labels_for_unmapped_segments(
    as_manager: APIClient, task: LabelingTask, seg_file: bytes
) -> None:
    response = as_manager.post(
        url(task.project_id, task.pk), {"file": upload(seg_file)}, format="multipart"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("No mask label for segment(s) 2 'Tumour'.")
    assert "nodule (Nodule), organ (Organ)" in body["message"]
    assert list(body["errors"]) == ["label_map"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("label_map", "reason"),
    [
        ("{not json", "label_map: Not valid JSON"),
        ('["organ"]', "label_map: Must be a JSON object of strings"),
        ('{"1": 2}', "label_map: Must be a JSON object of strings"),
    ],
)
def test_import_validates_the_label_map(
    as_manager: APIClient, task: LabelingTask, seg_file: bytes, label_map: str, reason: str
) -> None:
    response = as_manager.post(
        url(task.project_id, task.pk),
        {"file": upload(seg_file), "label_map": label_map},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith(reason)


def test_import_requires_a_file(as_manager: APIClient, task: LabelingTask) -> None:
    response = as_manager.post(url(task.project_id, task.pk), {}, format="multipart")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["file"]


def test_import_refuses_unknown_files(as_manager: APIClient, task: LabelingTask) -> None:
    response = as_manager.post(
        url(task.project_id, task.pk), {"file": upload(b"just text", "a.txt")}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("Unrecognized file")


def test_import_is_forbidden_to_annotators(
    client_for: Callable[[User], APIClient], reader: User, task: LabelingTask, seg_file: bytes
) -> None:
    response = client_for(reader).post(
        url(task.project_id, task.pk), {"file": upload(seg_file)}, format="multipart"
    )

    assert response.status_code == 403
    assert not Annotation.objects.exists()


def test_import_hides_other_projects_tasks(
    as_manager: APIClient,
    client_for: Callable[[User], APIClient],
    user: User,
    task: LabelingTask,
    manager: User,
    seg_file: bytes,
) -> None:
    other = make_project(owner=manager, name="Other")
    [other_series] = ingest_and_build(other, ct_files(slices=2, size=16, uid_seed="other"))
    other_task = LabelingTask.objects.get(series=other_series)

    wrong_project = as_manager.post(
        url(task.project_id, other_task.pk), {"file": upload(seg_file)}, format="multipart"
    )
    stranger = client_for(user).post(
        url(task.project_id, task.pk), {"file": upload(seg_file)}, format="multipart"
    )

    assert wrong_project.status_code == 404
    assert stranger.status_code == 404
    assert not Annotation.objects.exists()


def test_import_refuses_files_over_the_limit_with_413(
    as_manager: APIClient, task: LabelingTask, seg_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.labeling_imports.MAX_IMPORT_BYTES", len(seg_file) - 1)

    response = as_manager.post(
        url(task.project_id, task.pk), {"file": upload(seg_file)}, format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "import_too_large"
    assert not Annotation.objects.exists()
