"""Non-DICOM images (NIfTI, NRRD, MHA, PNG, JPEG, TIFF) become DICOM series with exact geometry."""

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk  # noqa: N813 - the library's own documented alias
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pydicom.dataset import Dataset
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.convert import convert_file, is_convertible, normalized_volume
from annotator.imaging.dicom import RejectedFileError
from annotator.imaging.geometry import SliceInfo, StackGeometry, build_stacks
from annotator.imaging.models import Instance, Series
from annotator.imaging.tasks import ingest_upload_task
from annotator.imaging.volume import build_series_volumes, load_volume
from annotator.jobs.models import Job, JobState
from annotator.projects.models import Project
from tests.imaging.dicom_files import ct_files

Client = Callable[[User], APIClient]
SEED = b"test-seed"
_sitk: Any = sitk
_nib: Any = nib  # nibabel's constructors carry no type hints


def _rotation(axis: tuple[float, float, float], degrees: float) -> np.ndarray:
    """Return the rotation matrix about `axis` (Rodrigues)."""
    u = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    a = math.radians(degrees)
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    result: np.ndarray = (
        math.cos(a) * np.eye(3) + math.sin(a) * cross + (1 - math.cos(a)) * np.outer(u, u)
    )
    return result


def _nifti(data: np.ndarray, tmp_path: Path, name: str = "vol.nii.gz") -> tuple[bytes, Any]:
    """Write `data` ([i, j, k]) with an oblique anisotropic affine; return bytes and sitk image."""
    affine = np.eye(4)
    affine[:3, :3] = _rotation((1, 2, 3), 20) @ np.diag([0.7, 0.9, 2.5])
    affine[:3, 3] = (-100.0, 50.0, 30.0)
    path = tmp_path / name
    nib.save(_nib.Nifti1Image(data, affine), str(path))
    return path.read_bytes(), _sitk.ReadImage(str(path))


def _read(files: list[bytes]) -> list[Dataset]:
    return [pydicom.dcmread(io.BytesIO(data)) for data in files]


def _stack(datasets: list[Dataset]) -> StackGeometry:
    infos = [
        SliceInfo(
            key=str(ds.SOPInstanceUID),
            position=tuple(float(v) for v in ds.ImagePositionPatient),  # type: ignore[arg-type]
            orientation=tuple(float(v) for v in ds.ImageOrientationPatient),
            pixel_spacing=(float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])),
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            image_type=tuple(ds.ImageType),
            slice_thickness=float(ds.SliceThickness),
            frame_of_reference_uid=str(ds.FrameOfReferenceUID),
        )
        for ds in datasets
    ]
    stacks = build_stacks(infos)
    assert len(stacks) == 1
    return stacks[0]


def _values(datasets: list[Dataset], stack: StackGeometry) -> np.ndarray:
    """Return the stack's voxels [k, j, i] in modality units."""
    by_key = {str(ds.SOPInstanceUID): ds for ds in datasets}
    planes = []
    for key in stack.keys:
        ds = by_key[key]
        planes.append(ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    return np.stack(planes)


def _assert_geometry(size: Any, spacing: Any, origin: Any, direction: Any, image: Any) -> None:
    assert tuple(size) == tuple(image.GetSize())
    np.testing.assert_allclose(spacing, image.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(origin, image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(direction, image.GetDirection(), atol=1e-4)


def _check_volume(files: list[bytes], reference: Any, *, tolerance: float = 0.0) -> None:
    datasets = _read(files)
    stack = _stack(datasets)
    expected = normalized_volume(reference)
    _assert_geometry(stack.size, stack.spacing, stack.origin, stack.direction, expected)
    assert stack.uniform
    values = _values(datasets, stack)
    original = _sitk.GetArrayFromImage(expected).astype(np.float64)
    np.testing.assert_allclose(values, original, atol=tolerance, rtol=0)


def test_oblique_int16_nifti_round_trips_exactly(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(-1024, 3000, size=(12, 10, 7)).astype(np.int16)
    raw, reference = _nifti(data, tmp_path)
    files = convert_file("scans/head.nii.gz", raw, modality="CT", uid_root_seed=SEED)
    assert len(files) == 7
    _check_volume(files, reference)
    first = _read(files)[0]
    assert first.SOPClassUID == pydicom.uid.CTImageStorage
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert first.PatientID.startswith("IMPORTED-")
    assert first.SeriesDescription == "head"
    np.testing.assert_allclose(  # the NIfTI's voxels in the file's own [k, j, i] order
        _values(_read(files), _stack(_read(files))), data.transpose(2, 1, 0)
    )


def test_float_nifti_round_trips_within_half_a_step(tmp_path: Path) -> None:
    data = (np.random.default_rng(2).standard_normal((9, 8, 5)) * 1234.5 + 17).astype(np.float32)
    raw, reference = _nifti(data, tmp_path, "float.nii")
    files = convert_file("float.nii", raw, modality="MR", uid_root_seed=SEED)
    first = _read(files)[0]
    assert first.SOPClassUID == pydicom.uid.MRImageStorage
    slope = float(first.RescaleSlope)
    assert slope != 1.0
    _check_volume(files, reference, tolerance=slope / 2 + 1e-9)


def test_same_file_converts_to_the_same_objects(tmp_path: Path) -> None:
    raw, _ = _nifti(np.arange(60, dtype=np.uint8).reshape(5, 4, 3), tmp_path)
    once = convert_file("a.nii.gz", raw, uid_root_seed=SEED)
    assert once == convert_file("a.nii.gz", raw, uid_root_seed=SEED)
    other = convert_file("a.nii.gz", raw, uid_root_seed=b"other project")
    assert _read(other)[0].SeriesInstanceUID != _read(once)[0].SeriesInstanceUID
    assert _read(once)[0].SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
@pytest.mark.parametrize(
    "direction",
    [(-1, 0, 0, 0, -1, 0, 0, 0, 1), (1, 0, 0, 0, 0, 1, 0, -1, 0), (1, 0, 0, 0, 1, 0, 0, 0, -1)],
)
def test_nrrd_and_mha_keep_their_direction(
    tmp_path: Path, suffix: str, direction: tuple[int, ...]
) -> None:
    data = np.random.default_rng(3).integers(0, 60000, size=(6, 11, 13)).astype(np.uint16)
    image = _sitk.GetImageFromArray(data)  # [k, j, i] -> size (13, 11, 6)
    image.SetSpacing((0.5, 0.8, 3.0))
    image.SetOrigin((10.0, -20.0, 5.5))
    image.SetDirection([float(v) for v in direction])
    path = tmp_path / f"label{suffix}"
    _sitk.WriteImage(image, str(path))
    files = convert_file(path.name, path.read_bytes(), uid_root_seed=SEED)
    assert len(files) == 6
    _check_volume(files, _sitk.ReadImage(str(path)))


def _picture(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_pictures_become_one_secondary_capture_each() -> None:
    rng = np.random.default_rng(4)
    gray = rng.integers(0, 256, size=(20, 30)).astype(np.uint8)
    deep = rng.integers(0, 65536, size=(20, 30)).astype(np.uint16)
    rgb = rng.integers(0, 256, size=(20, 30, 3)).astype(np.uint8)
    cases = [
        ("gray.png", _picture(Image.fromarray(gray), "PNG"), "MONOCHROME2", 8, gray),
        ("deep.png", _picture(Image.fromarray(deep), "PNG"), "MONOCHROME2", 16, deep),
        ("photo.jpg", _picture(Image.fromarray(rgb), "JPEG"), "RGB", 8, None),
        ("scan.tiff", _picture(Image.fromarray(rgb), "TIFF"), "RGB", 8, rgb),
        ("slide.tif", _picture(Image.fromarray(gray), "TIFF"), "MONOCHROME2", 8, gray),
    ]
    for name, raw, photometric, bits, expected in cases:
        assert is_convertible(name, raw[:512])
        files = convert_file(name, raw, uid_root_seed=SEED)
        assert len(files) == 1
        (ds,) = _read(files)
        assert ds.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
        assert (ds.PhotometricInterpretation, ds.BitsAllocated) == (photometric, bits), name
        assert ds.pixel_array.shape == ((20, 30, 3) if photometric == "RGB" else (20, 30))
        assert "ImagePositionPatient" not in ds
        assert "PixelSpacing" not in ds
        assert (ds.ConversionType, ds.BurnedInAnnotation) == ("WSD", "NO")
        if expected is not None:
            np.testing.assert_array_equal(ds.pixel_array, expected)


def test_bad_inputs_are_rejected_with_a_reason(tmp_path: Path) -> None:
    four_d = tmp_path / "fmri.nii.gz"
    nib.save(_nib.Nifti1Image(np.zeros((4, 4, 3, 5), dtype=np.int16), np.eye(4)), str(four_d))
    cases = [
        ("fmri.nii.gz", four_d.read_bytes(), "four_dimensional"),
        ("garbage.nii", b"this is not a volume" * 40, "not_an_image"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "not_an_image"),
        ("head.mhd", b"ObjectType = Image\nElementDataFile = head.raw\n", "detached_header"),
        ("head.nhdr", b"NRRD0004\n", "detached_header"),
    ]
    for name, raw, code in cases:
        with pytest.raises(RejectedFileError) as caught:
            convert_file(name, raw, uid_root_seed=SEED)
        assert caught.value.code == code, name
        assert caught.value.message
    assert not is_convertible("one.dcm", b"\0" * 128 + b"DICM")
    assert is_convertible("noext", b"\x89PNG\r\n\x1a\n")


@pytest.mark.django_db
def test_upload_mixes_nifti_png_and_dicom(
    client_for: Client, project: Project, manager: User, mocker: Any, tmp_path: Path
) -> None:
    data = np.random.default_rng(5).integers(-1000, 2000, size=(16, 12, 6)).astype(np.int16)
    raw, reference = _nifti(data, tmp_path, "brain.nii.gz")
    png = _picture(Image.fromarray(np.arange(600, dtype=np.uint8).reshape(20, 30)), "PNG")
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    mocker.patch("annotator.imaging.services.celery_app.send_task")
    uploads = {"brain.nii.gz": raw, "photo.png": png, "one.dcm": ct_files(slices=1)[0][1]}
    payload = {"files": [SimpleUploadedFile(name, blob) for name, blob in uploads.items()]}
    response = client_for(manager).post(
        f"/api/v1/projects/{project.pk}/uploads/", payload, format="multipart"
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    ingest_upload_task(job_id)
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result is not None
    assert (job.result["accepted"], job.result["rejected"]) == (6 + 1 + 1, 0)
    assert Series.objects.filter(project=project).count() == 3
    assert Instance.objects.filter(project=project).count() == 8

    volume_series = Series.objects.filter(project=project, instances__rows=12).distinct().get()
    (stack,) = build_series_volumes(volume_series)
    stack.refresh_from_db()
    _assert_geometry(stack.size, stack.spacing, stack.origin, stack.direction, reference)
    np.testing.assert_array_equal(load_volume(stack.volume_path), data.transpose(2, 1, 0))

    # The same files again are duplicates, not new series.
    again = {"files": [SimpleUploadedFile(n, b) for n, b in uploads.items()]}
    second = client_for(manager).post(
        f"/api/v1/projects/{project.pk}/uploads/", again, format="multipart"
    )
    ingest_upload_task(second.json()["id"])
    report = Job.objects.get(pk=second.json()["id"]).result
    assert report is not None
    assert report["duplicates"] == 8
