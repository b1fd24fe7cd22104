"""The ingest service: validation, de-identification, dedupe, grouping, bad input."""

import io
from pathlib import Path

import pydicom
import pytest
from django.core.files.storage import default_storage

from annotator.imaging.ingest import Ingestor, get_imaging_settings
from annotator.imaging.models import Instance, Patient, PseudonymEntry, Series, Study
from annotator.projects.models import Project
from tests.imaging.dicom_files import ct_files, real_file, to_bytes

pytestmark = pytest.mark.django_db


def _ingest(project: Project, files: list[tuple[str, bytes]]) -> Ingestor:
    ingestor = Ingestor(project=project, actor=project.owner, source="test")
    for name, data in files:
        ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    return ingestor


def test_ingest_ct_series_builds_hierarchy_and_deidentifies(project: Project) -> None:
    files = ct_files(slices=6)
    report = _ingest(project, files).report
    assert (report.accepted, report.rejected, report.duplicates) == (6, 0, 0)
    series = Series.objects.get(project=project)
    assert (series.modality, series.instance_count, series.is_image) == ("CT", 6, True)
    patient = Patient.objects.get(project=project)
    assert patient.pseudonym != "PHANTOM-001"
    original = pydicom.dcmread(io.BytesIO(files[0][1]))
    assert series.series_instance_uid != original.SeriesInstanceUID  # remapped
    stored = pydicom.dcmread(default_storage.path(Instance.objects.first().file.name))
    assert stored.PatientID == patient.pseudonym
    assert "PHANTOM" not in str(stored.PatientName)
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.SOPInstanceUID == stored.file_meta.MediaStorageSOPInstanceUID
    assert (stored.pixel_array == original.pixel_array).all()
    assert report.series == [
        {"id": series.pk, "modality": "CT", "instances": 6, "burned_in_risk": False}
    ]


def test_same_files_again_are_duplicates_and_other_content_is_a_conflict(project: Project) -> None:
    files = ct_files(slices=3)
    _ingest(project, files)
    again = _ingest(project, files).report
    assert (again.accepted, again.duplicates) == (0, 3)
    tampered = pydicom.dcmread(io.BytesIO(files[0][1]))
    tampered.SeriesDescription = "something else"
    before = Instance.objects.get(
        sop_instance_uid=Instance.objects.order_by("pk").first().sop_instance_uid
    )  # type: ignore[union-attr]
    conflict = _ingest(project, [("tampered.dcm", to_bytes(tampered))]).report
    assert (conflict.conflicts, conflict.accepted) == (1, 0)
    assert conflict.files[0]["code"] == "conflict"
    assert Instance.objects.count() == 3
    before.refresh_from_db()
    assert default_storage.exists(before.file.name)


def test_studies_of_one_patient_weeks_apart_group_under_one_pseudonym(project: Project) -> None:
    _ingest(project, ct_files(slices=2, seed=1))
    _ingest(project, ct_files(slices=2, seed=2))
    assert Study.objects.filter(project=project).count() == 2
    assert Patient.objects.filter(project=project).count() == 1


def test_deidentification_off_keeps_identifiers(project: Project) -> None:
    settings = get_imaging_settings(project=project)
    settings.deidentify = False
    settings.save()
    files = ct_files(slices=2)
    _ingest(project, files)
    original = pydicom.dcmread(io.BytesIO(files[0][1]))
    assert Patient.objects.get().pseudonym == "PHANTOM-001"
    assert Series.objects.get().series_instance_uid == original.SeriesInstanceUID


def test_pseudonym_map_is_kept_only_when_asked(project: Project) -> None:
    _ingest(project, ct_files(slices=1, seed=3))
    assert not PseudonymEntry.objects.exists()
    settings = get_imaging_settings(project=project)
    settings.keep_pseudonym_map = True
    settings.save()
    _ingest(project, ct_files(slices=1, seed=4, patient_id="OTHER-7"))
    entry = PseudonymEntry.objects.get()
    assert entry.original_patient_id == "OTHER-7"


@pytest.mark.parametrize(
    ("name", "image", "modality"),
    [
        ("CT_small.dcm", True, "CT"),
        ("MR_small.dcm", True, "MR"),
        ("JPEG2000.dcm", True, "NM"),
        ("SC_rgb_jpeg_gdcm.dcm", True, "OT"),
        ("MR_small_RLE.dcm", True, "MR"),
        ("rtstruct.dcm", False, "RTSTRUCT"),
    ],
)
def test_real_pydicom_files_are_accepted(
    project: Project, name: str, image: bool, modality: str
) -> None:
    data = real_file(name).read_bytes()
    report = _ingest(project, [(name, data)]).report
    assert report.accepted == 1, report.files
    series = Series.objects.get()
    assert (series.is_image, series.modality) == (image, modality)


def test_same_uid_in_two_different_real_files_is_a_conflict(project: Project) -> None:
    # pydicom ships MR_small.dcm and its RLE-compressed copy with the same SOP Instance UID.
    report = _ingest(
        project, [(n, real_file(n).read_bytes()) for n in ("MR_small.dcm", "MR_small_RLE.dcm")]
    ).report
    assert (report.accepted, report.conflicts) == (1, 1)


def _without_pixels() -> bytes:
    ds = pydicom.dcmread(real_file("CT_small.dcm"))
    del ds.PixelData
    return to_bytes(ds)


def _unsupported_syntax() -> bytes:
    ds = pydicom.dcmread(real_file("JPEG2000.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder here
    return to_bytes(ds)


def _missing_uid() -> bytes:
    ds = pydicom.dcmread(real_file("CT_small.dcm"))
    del ds.StudyInstanceUID
    return to_bytes(ds)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (lambda: b"", "empty_file"),
        (lambda: b"hello, I am a text file" * 50, "not_dicom"),
        (lambda: real_file("CT_small.dcm").read_bytes()[:-1000], "truncated"),
        (lambda: real_file("CT_small.dcm").read_bytes()[:5000], "no_pixel_data"),
        (_without_pixels, "no_pixel_data"),
        (_unsupported_syntax, "unsupported_transfer_syntax"),
        (_missing_uid, "missing_uid"),
    ],
    ids=[
        "zero-byte",
        "not-dicom",
        "truncated",
        "truncated-before-pixels",
        "no-pixels",
        "unsupported-syntax",
        "missing-uid",
    ],
)
def test_bad_files_are_rejected_with_reason_and_rest_is_ingested(
    project: Project, data: object, code: str
) -> None:
    good = ct_files(slices=2)
    report = _ingest(project, [good[0], ("bad.dcm", data()), good[1]]).report  # type: ignore[operator]
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.files == [
        {"name": "bad.dcm", "status": "rejected", "code": code, "reason": report.files[0]["reason"]}
    ]
    assert Instance.objects.count() == 2


def test_series_mixing_frames_of_reference_rejects_the_odd_file(project: Project) -> None:
    files = ct_files(slices=3)
    odd = pydicom.dcmread(io.BytesIO(files[2][1]))
    odd.FrameOfReferenceUID = pydicom.uid.generate_uid()
    report = _ingest(project, [*files[:2], ("odd.dcm", to_bytes(odd))]).report
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.files[0]["code"] == "mixed_frame_of_reference"


def test_burned_in_risk_is_flagged_for_ultrasound(project: Project) -> None:
    from annotator.imaging.synthetic import make_ultrasound_cine

    _ingest(project, [("us.dcm", to_bytes(make_ultrasound_cine(frames=3)))])
    assert Series.objects.get().burned_in_risk is True


def test_no_original_identifier_reaches_disk(project: Project, tmp_path: Path) -> None:
    files = ct_files(slices=2, patient_id="SECRET-ID-42", patient_name="Doe^Jane")
    _ingest(project, files)
    for instance in Instance.objects.all():
        content = Path(default_storage.path(instance.file.name)).read_bytes()
        assert b"SECRET-ID-42" not in content
        assert b"Doe^Jane" not in content
