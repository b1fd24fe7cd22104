"""Tests for annotator.imaging.deid: PS3.15 de-identification of pydicom datasets (no database)."""

import io
import logging
import re
import time
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_has_tag, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from annotator.imaging import deid_profile
from annotator.imaging.deid import (
    DeidOptions,
    burned_in_risk,
    deidentify,
    pseudonym_for,
    remap_uid,
)
from annotator.imaging.synthetic import make_ct_series

SECRET = b"project-secret-for-tests-0001"
OTHER_SECRET = b"another-project-secret-0002"
DATE, DATETIME, TIME = "20210304", "20210304101112.5", "101112"
NUMBERS = {"IS": "987654", "DS": "1234.5", "US": 31313, "SS": 31313, "UL": 987654, "SL": 987654}
NUMBERS |= {"FL": 1234.5, "FD": 1234.5, "UV": 987654, "SV": 987654}
UID_RE = re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))+")
STRICT = DeidOptions(
    retain_longitudinal_dates=False,
    retain_patient_characteristics=False,
    clean_descriptors=False,
)
SAFE = "0019,xx01@ACME SAFE"
# Standard attributes outside Table E.1-1 that the VR fallbacks must still catch.
OUTSIDE_TABLE = ("ExpiryDate", "StudyUpdateDateTime", "EvaluatorName")
OUTSIDE_TABLE_UID = "SOPInstanceUIDOfConcatenationSource"


def _value(vr: str, token: str, uid: str) -> Any:
    """Return an identifying value of the right VR."""
    if vr in ("DA", "DT", "TM"):
        return {"DA": DATE, "DT": DATETIME, "TM": TIME}[vr]
    if vr == "UI":
        return uid
    if vr == "AS":
        return "045Y"
    if vr in NUMBERS:
        return NUMBERS[vr]
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return token.encode() + b"X"  # even length
    if vr == "UR":
        return f"http://{token}.example"
    return token


def _nested_item(token: str, uid: str) -> Dataset:
    """Build a sequence item holding identifying values, a UID reference and a private tag."""
    item = Dataset()
    item.PatientName = f"{token}^NESTED"
    item.ReferencedSOPClassUID = CTImageStorage
    item.ReferencedSOPInstanceUID = uid + ".9"
    item.InstitutionName = f"{token}-INST"
    item.add_new(0x00290010, "LO", "ACME PHI")
    item.add_new(0x00291001, "LO", f"{token}-PRIVATE")
    return item


def _identifying_dataset(patient_id: str = "IDENTPAT", study_date: str = DATE) -> FileDataset:
    """Fill every Table E.1-1 attribute pydicom knows, plus nested, private and other PHI."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = "IDENTAE"
    ds = FileDataset("IDENT.dcm", Dataset(), file_meta=meta, preamble=b"IDENT".ljust(128, b"\0"))
    for index, tag in enumerate(sorted(deid_profile.BASIC_PROFILE)):
        if tag >> 16 in (0x0000, 0x0002) or not dictionary_has_tag(tag):
            continue
        vr = str(dictionary_VR(tag)).split(" or ")[0]
        token, uid = f"IDENT{index:04d}", f"1.2.826.0.1.3680043.99.{index}"
        if vr == "SQ":
            ds.add_new(tag, vr, [_nested_item(token, uid)])
        elif vr != "AT":
            ds.add_new(tag, vr, _value(vr, token, uid))
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.PatientID = patient_id
    ds.IssuerOfPatientID = "IDENTISSUER"
    ds.PatientName = "DOE^JOHN"
    ds.StudyDate = study_date
    ds.PatientBirthDate = "19800615"
    ds.BodyPartExamined = "CHEST"
    ds.ExpiryDate, ds.StudyUpdateDateTime, ds.EvaluatorName = DATE, DATETIME, "IDENTEVAL^X"
    ds.SOPInstanceUIDOfConcatenationSource = "1.2.826.0.1.3680043.99.77777"
    ds.ReferencedSeriesSequence = [_nested_item("IDENTREFSERIES", "1.2.826.0.1.3680043.99.5")]
    for block, creator in ((0x10, "ACME SAFE"), (0x11, "ACME PHI")):
        ds.add_new(0x00190000 | block, "LO", creator)
        ds.add_new(0x00190001 | block << 8, "LO", f"{creator}-IDENTPRIV1")
        ds.add_new(0x00190002 | block << 8, "LO", f"{creator}-IDENTPRIV2")
    ds.add_new(0x60000010, "US", 8)  # an overlay, with identifying overlay data
    ds.add_new(0x60003000, "OW", b"IDENTOVERLAY")
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _leaves(ds: Dataset) -> Iterator[tuple[str, Any]]:
    """Yield (keyword or tag, value) for every single value, recursing into sequences."""
    for elem in ds:
        name = elem.keyword or str(elem.tag)
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _leaves(item)
        elif isinstance(elem.value, MultiValue | list):
            for value in elem.value:
                yield name, value
        else:
            yield name, elem.value


def _all_leaves(ds: FileDataset) -> list[tuple[str, Any]]:
    return [*_leaves(ds.file_meta), *_leaves(ds)]


def _survivors(ds: FileDataset) -> set[str]:
    """Return the names of elements still holding an identifying token."""
    return {
        name
        for name, value in _all_leaves(ds)
        if b"IDENT" in (value if isinstance(value, bytes) else str(value).encode())
    }


def _keywords(tags: frozenset[int]) -> set[str]:
    return {keyword_for_tag(tag) for tag in tags}


# --- (1) the profile: nothing identifying survives -----------------------------------------------


def test_deidentify_default_options_leave_no_identifier_but_retained_ones() -> None:
    ds = _identifying_dataset()
    original_uids = {str(v) for name, v in _all_leaves(ds) if name.endswith("UID")}
    result = deidentify(ds, secret=SECRET, options=DeidOptions(safe_private_tags=(SAFE,)))
    out = result.dataset
    assert out is ds
    allowed = _keywords(deid_profile.PATIENT_CHARACTERISTICS | deid_profile.CLEANABLE_DESCRIPTORS)
    assert _survivors(out) - allowed == {"(0019,1001)"}  # the safe-listed private element
    assert out[0x00190010].value == "ACME SAFE"
    assert 0x00191002 not in out
    assert 0x00190011 not in out
    assert not [e for item in out.ReferencedSeriesSequence for e in item if e.tag.is_private]
    values = [str(v) for _, v in _all_leaves(out)]
    assert not original_uids & (set(values) - {CTImageStorage, ExplicitVRLittleEndian})
    assert DATE not in values
    assert not [value for value in values if "JOHN" in value or "IDENTPAT" in value]
    assert str(NUMBERS["UL"]) not in values
    assert out.preamble == b"\0" * 128
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert 0x60003000 not in out
    assert 0x60000010 not in out


def test_deidentify_strict_options_leave_no_identifier_at_all() -> None:
    ds = _identifying_dataset()
    out = deidentify(ds, secret=SECRET, options=STRICT).dataset
    assert _survivors(out) == set()
    values = {str(v) for _, v in _all_leaves(out)}
    assert not {DATE, DATETIME, "19800615", "045Y", "1234.5", "987654", "31313"} & values
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert [item.CodeValue for item in out.DeidentificationMethodCodeSequence] == ["113100"]
    assert "PatientAge" not in out
    assert out.PatientSex == ""
    assert "StudyDescription" not in out


def test_deidentify_sets_the_ps3_15_attributes() -> None:
    out = deidentify(
        _identifying_dataset(), secret=SECRET, options=DeidOptions(safe_private_tags=(SAFE,))
    ).dataset
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [
        (item.CodeValue, item.CodingSchemeDesignator)
        for item in out.DeidentificationMethodCodeSequence
    ]
    assert codes == [(code, "DCM") for code in ("113100", "113107", "113108", "113105", "113111")]
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod
    assert all(len(value) <= 64 for value in out.DeidentificationMethod)


def test_deidentify_shifts_every_date_of_a_patient_by_the_same_days() -> None:
    first = deidentify(_identifying_dataset(), secret=SECRET, options=DeidOptions())
    later = deidentify(
        _identifying_dataset(study_date="20210420"), secret=SECRET, options=DeidOptions()
    )
    other = deidentify(
        _identifying_dataset(patient_id="IDENTOTHER"), secret=SECRET, options=DeidOptions()
    )
    shift = first.date_shift_days
    assert -730 <= shift <= -30
    assert later.date_shift_days == shift
    assert other.date_shift_days != shift

    def shifted(text: str) -> str:
        return (date.fromisoformat(text) + timedelta(days=shift)).strftime("%Y%m%d")

    out = first.dataset
    assert out.StudyDate == shifted(DATE)
    assert later.dataset.StudyDate == shifted("20210420")
    assert out.ExpiryDate == shifted(DATE)  # outside Table E.1-1, caught by VR
    assert out.StudyUpdateDateTime == shifted(DATE) + DATETIME[8:]
    assert out.StudyTime == TIME  # whole-day shifts keep times
    assert out.PatientBirthDate == ""
    dates = {v for name, v in _leaves(out) if name.endswith("Date") and v}
    assert dates == {shifted(DATE)}


def test_deidentify_patient_characteristics_follow_the_option() -> None:
    kept = deidentify(_identifying_dataset(), secret=SECRET, options=DeidOptions()).dataset
    assert kept.PatientSize == NUMBERS["DS"]
    assert kept.PatientAge == "045Y"
    removed = deidentify(_identifying_dataset(), secret=SECRET, options=STRICT).dataset
    assert "PatientSize" not in removed
    assert "PatientWeight" not in removed


def test_deidentify_computes_patient_age_from_original_dates_when_absent() -> None:
    ds = _identifying_dataset()
    del ds.PatientAge
    assert deidentify(ds, secret=SECRET, options=DeidOptions()).dataset.PatientAge == "040Y"


def test_deidentify_clean_descriptors_scrubs_identifiers_and_keeps_labeling_fields() -> None:
    ds = _identifying_dataset()
    ds.StudyDescription = "CT CHEST Doe John 2021-03-04 IDENTPAT mrn 12345678"
    ds.SeriesDescription = "AXIAL 5mm (JOHN)"
    ds.ImageComments = "patient fell"
    ds.ViewPosition, ds.ImageLaterality, ds.Laterality = "PA", "L", "L"
    out = deidentify(ds, secret=SECRET, options=DeidOptions()).dataset
    assert out.StudyDescription == "CT CHEST mrn"
    assert out.SeriesDescription == "AXIAL 5mm"
    assert "ImageComments" not in out
    assert (out.BodyPartExamined, out.ViewPosition, out.Laterality) == ("CHEST", "PA", "L")
    assert out.ImageLaterality == "L"


@pytest.mark.parametrize("options", [DeidOptions(), STRICT], ids=["default", "strict"])
def test_deidentify_never_logs_or_warns_with_header_values(
    caplog: pytest.LogCaptureFixture, options: DeidOptions
) -> None:
    ds = _identifying_dataset()
    ignore = pydicom.config.IGNORE
    # Malformed values: pydicom's validation would quote them, DS conversion would raise.
    ds.add(DataElement(0x00080020, "DA", "IDENTDATE", validation_mode=ignore))
    ds.add(DataElement(0x00080050, "SH", "IDENT-ACCESSION-TOO-LONG", validation_mode=ignore))
    ds.add(DataElement(0x00100040, "CS", "identsex", validation_mode=ignore))
    for tag, vr, value in ((0x00101030, "DS", b"IDENTDS "), (0x0020000D, "UI", b"1.2.IDENT\0")):
        ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writing converts the raw UI, which warns
        ds.save_as(buffer, enforce_file_format=True)
    raw = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    caplog.clear()
    mode_before = pydicom.config.settings.reading_validation_mode
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = deidentify(raw, secret=SECRET, options=options).dataset
    assert "IDENT" not in caplog.text
    assert not [w for w in caught if "IDENT" in str(w.message)]
    assert out.StudyDate == ""
    assert out.AccessionNumber == ""
    assert pydicom.config.settings.reading_validation_mode == mode_before  # restored


def test_deidentify_keys_patients_without_id_by_name_and_birth_date() -> None:
    first, second, other = (_identifying_dataset() for _ in range(3))
    for ds in (first, second, other):
        ds.PatientID = ""
    other.PatientBirthDate = "19700101"
    pseudonyms = [
        deidentify(ds, secret=SECRET, options=DeidOptions()).pseudonym
        for ds in (first, second, other)
    ]
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]


# --- (2) determinism ------------------------------------------------------------------------------


def test_deidentify_is_deterministic_per_secret() -> None:
    one = deidentify(_identifying_dataset(), secret=SECRET, options=DeidOptions())
    two = deidentify(_identifying_dataset(), secret=SECRET, options=DeidOptions())
    other = deidentify(_identifying_dataset(), secret=OTHER_SECRET, options=DeidOptions())
    keys = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
    assert [one.dataset[k].value for k in keys] == [two.dataset[k].value for k in keys]
    assert one.pseudonym == two.pseudonym == one.dataset.PatientID == one.dataset.PatientName
    assert re.fullmatch(r"ANON-[A-Z2-7]{12}", one.pseudonym)
    assert other.pseudonym != one.pseudonym
    assert all(other.dataset[k].value != one.dataset[k].value for k in keys)
    assert one.original_patient_id == "IDENTPAT"
    assert "IDENTPAT" not in repr(one)


def test_deidentify_keeps_references_consistent() -> None:
    ds = _identifying_dataset()
    reference = ds.ReferencedSeriesSequence[0].ReferencedSOPInstanceUID
    outside = ds.SOPInstanceUIDOfConcatenationSource
    out = deidentify(ds, secret=SECRET, options=DeidOptions()).dataset
    item = out.ReferencedSeriesSequence[0]
    assert item.ReferencedSOPInstanceUID == remap_uid(reference, secret=SECRET)
    assert item.ReferencedSOPClassUID == CTImageStorage
    assert item.PatientName == ""
    assert out.SOPInstanceUIDOfConcatenationSource == remap_uid(outside, secret=SECRET)
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == CTImageStorage
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_studies_of_one_patient_weeks_apart_share_the_pseudonym() -> None:
    first, later = make_ct_series(slices=1, size=16), make_ct_series(slices=1, size=16)
    later[0].StudyDate = "20240301"
    a = deidentify(first[0], secret=SECRET, options=DeidOptions())
    b = deidentify(later[0], secret=SECRET, options=DeidOptions())
    assert a.pseudonym == b.pseudonym == pseudonym_for("PHANTOM-001", "", secret=SECRET)
    assert a.date_shift_days == b.date_shift_days
    assert a.dataset.StudyInstanceUID != b.dataset.StudyInstanceUID


def test_pseudonym_for_depends_on_issuer_and_secret() -> None:
    base = pseudonym_for("12345", "HOSP-A", secret=SECRET)
    assert pseudonym_for("12345", "HOSP-A", secret=SECRET) == base
    assert pseudonym_for("12345", "HOSP-B", secret=SECRET) != base
    assert pseudonym_for("12345", "HOSP-A", secret=OTHER_SECRET) != base


def test_deidentify_rejects_short_secrets_and_malformed_safe_private_tags() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        deidentify(_identifying_dataset(), secret=b"short", options=DeidOptions())
    with pytest.raises(ValueError, match="gggg,xxEE@CREATOR"):
        deidentify(
            _identifying_dataset(),
            secret=SECRET,
            options=DeidOptions(safe_private_tags=("0018,xx01@EVEN GROUP",)),
        )


# --- (3) UIDs -------------------------------------------------------------------------------------


def test_remap_uid_returns_valid_distinct_uids() -> None:
    sources = [f"1.2.840.113619.2.55.3.{n}.{n * 7}" for n in range(2000)]
    mapped = [remap_uid(uid, secret=SECRET) for uid in sources]
    assert len(set(mapped)) == len(sources)
    assert all(UID_RE.fullmatch(uid) and len(uid) <= 64 for uid in mapped)
    assert all(uid.startswith("2.25.") for uid in mapped)
    assert remap_uid(sources[0], secret=SECRET) == mapped[0]
    assert remap_uid(sources[0], secret=OTHER_SECRET) != mapped[0]


@pytest.mark.parametrize("uid", [CTImageStorage, ExplicitVRLittleEndian, "1.2.840.10008.1.2.4.50"])
def test_remap_uid_leaves_registry_uids_alone(uid: str) -> None:
    assert remap_uid(uid, secret=SECRET) == uid


# --- (4) burned-in text ---------------------------------------------------------------------------


def _flags(**attributes: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        (_flags(Modality="CT", SOPClassUID=CTImageStorage, BurnedInAnnotation="NO"), False),
        (_flags(Modality="CT", SOPClassUID=CTImageStorage), False),
        (_flags(Modality="CT", BurnedInAnnotation="YES"), True),
        (_flags(Modality="US", SOPClassUID=UltrasoundMultiFrameImageStorage), True),
        (_flags(Modality="OT", SOPClassUID=SecondaryCaptureImageStorage), True),
        (_flags(Modality="CT", ImageType=["DERIVED", "SECONDARY", "SCREEN SAVE"]), True),
        (_flags(Modality="MR", RecognizableVisualFeatures="YES"), True),
    ],
)
def test_burned_in_risk(dataset: Dataset, expected: bool) -> None:
    assert burned_in_risk(dataset) is expected


def test_deidentify_reports_burned_in_risk() -> None:
    ds = _identifying_dataset()
    ds.Modality = "US"
    assert deidentify(ds, secret=SECRET, options=DeidOptions()).burned_in_risk is True


# --- (5) real files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "risk"),
    [
        ("CT_small.dcm", False),
        ("MR_small.dcm", False),
        ("MR_small_implicit.dcm", False),
        ("MR_small_bigendian.dcm", False),
        ("SC_rgb_rle.dcm", True),
        ("US1_UNCR.dcm", True),
    ],
)
def test_deidentify_pydicom_test_files_round_trip(name: str, risk: bool) -> None:
    path = pydicom.data.get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    original = pydicom.dcmread(path)
    pixels = original.pixel_array.copy()
    identifiers = [
        str(original.get(k, "")) for k in ("PatientName", "PatientID", "StudyInstanceUID")
    ]
    ds = pydicom.dcmread(path)
    result = deidentify(ds, secret=SECRET, options=DeidOptions())
    buffer = io.BytesIO()
    result.dataset.save_as(buffer, enforce_file_format=True)
    written = buffer.getvalue()
    assert not [value for value in identifiers if len(value) > 3 and value.encode() in written]
    reloaded = pydicom.dcmread(io.BytesIO(written))
    np.testing.assert_array_equal(reloaded.pixel_array, pixels)
    assert reloaded.PatientID == result.pseudonym
    assert result.burned_in_risk is risk
    assert not [elem for elem in reloaded if elem.tag.is_private]
    assert reloaded.file_meta.MediaStorageSOPInstanceUID == reloaded.SOPInstanceUID


def test_deidentify_is_fast_enough_for_ingest() -> None:
    secret, options = SECRET, DeidOptions()
    best = float("inf")
    for _ in range(3):
        series = make_ct_series(slices=20, size=512, nodules=0)
        start = time.perf_counter()
        for ds in series:
            deidentify(ds, secret=secret, options=options)
        best = min(best, (time.perf_counter() - start) / len(series))
    assert best < 0.002, f"{best * 1e3:.2f} ms per dataset"


def test_outside_table_attributes_are_known_to_pydicom() -> None:
    tags = {tag_for_keyword(k) for k in (*OUTSIDE_TABLE, OUTSIDE_TABLE_UID)}
    assert None not in tags
    assert not tags & set(deid_profile.BASIC_PROFILE)
