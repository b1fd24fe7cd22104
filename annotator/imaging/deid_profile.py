"""Policy for `annotator.imaging.deid`: PS3.15 Table E.1-1, our options, and value rules.

The Basic Application Level Confidentiality Profile column of Table E.1-1 is not typed in here:
it comes from the ``dicom-anonymizer`` package (Kitware), which generates its tables from the
standard's own XML; we pin its 2026c edition. Only the handful of option columns we offer (and a
few things outside Table E.1-1) are listed by hand below, each citing where it comes from.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

from dicomanonymizer.dicom_anonymization_databases import (  # type: ignore[import-untyped]
    dicomfields_2026c as _table_e1_1,
)
from pydicom import uid
from pydicom.datadict import dictionary_VR, tag_for_keyword

# Basic profile action codes as PS3.15 E.1.1 writes them, by category name in the library.
_CATEGORY_ACTIONS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}


def _load_basic_profile() -> dict[int, str]:
    """Map each tag of Table E.1-1 to its Basic Profile action code."""
    actions: dict[int, str] = {}
    for category, action in _CATEGORY_ACTIONS.items():
        for entry in getattr(_table_e1_1, category):
            # 4-tuples are masked repeating groups (curves 50xx, overlays 60xx); deid.py drops
            # those whole groups instead.
            if len(entry) == 2:
                actions[(entry[0] << 16) | entry[1]] = action
    return actions


def _tags(*keywords: str) -> frozenset[int]:
    """Return the tags of the given pydicom keywords."""
    tags = {tag_for_keyword(keyword) for keyword in keywords}
    if None in tags:
        raise ValueError("Unknown DICOM keyword in the de-identification tables.")
    return frozenset(int(tag) for tag in tags if tag is not None)


BASIC_PROFILE: MappingProxyType[int, str] = MappingProxyType(_load_basic_profile())

# Repeating groups removed whole: Curve Data (50xx) and overlays (60xx), Table E.1-1 "X".
REMOVED_REPEATING_GROUPS = frozenset({0x5000, 0x6000})

# Retain Patient Characteristics Option ("K" in its column): the structured ones only. The free
# text ones of that column (Allergies, Medical Alerts, Additional Patient History…) stay removed,
# and so does Ethnic Group, a strong quasi-identifier in small cohorts.
PATIENT_CHARACTERISTICS = _tags(
    "PatientAge",
    "PatientSex",
    "PatientSize",
    "PatientWeight",
    "PatientSexNeutered",
    "PregnancyStatus",
    "SmokingStatus",
)

# Clean Descriptors Option ("C" in its column): short descriptors that labeling and hanging
# protocols use are kept after cleaning. Narrative text (Image/Study/Patient Comments, Additional
# Patient History, Reason for Study…) cannot be cleaned reliably and stays removed.
CLEANABLE_DESCRIPTORS = _tags(
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "PerformedProcedureStepDescription",
    "RequestedProcedureDescription",
    "ScheduledProcedureStepDescription",
    "AcquisitionDeviceProcessingDescription",
    "DerivationDescription",
    "ContrastBolusAgent",
)

# Values scrubbed out of cleaned descriptors when they appear there verbatim.
IDENTIFIER_SOURCES = _tags(
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "RequestingPhysician",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "StationName",
    "DeviceSerialNumber",
)

# Name these tags hold (split into words); the others are scrubbed as whole values.
PERSON_NAME_SOURCES = _tags(
    "PatientName",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "RequestingPhysician",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
)

# UI attributes outside Table E.1-1 that name a class, scheme or syntax, not an instance, so
# they are never remapped (every other UI value that is not a registry UID is).
NON_INSTANCE_UIDS = _tags(
    "TransferSyntaxUID",
    "CodingSchemeUID",
    "ContextUID",
    "MappingResourceUID",
    "ContextGroupExtensionCreatorUID",
)

# File meta attributes that name the sending systems or carry private data (PS3.10 7.1).
FILE_META_REMOVED = _tags(
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "SourcePresentationAddress",
    "SendingPresentationAddress",
    "ReceivingPresentationAddress",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
)

# Emptied / removed even when other dates are shifted: the age is retained instead.
PATIENT_BIRTH_DATE = int(tag_for_keyword("PatientBirthDate") or 0)
PATIENT_BIRTH_TIME = int(tag_for_keyword("PatientBirthTime") or 0)

# Dates from which Patient's Age is computed when it is absent, in order of preference.
AGE_REFERENCE_DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")

# PS3.16 CID 7050 "De-identification Method": (code value, code meaning).
CODE_BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
CODE_RETAIN_MODIFIED_DATES = (
    "113107",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)
CODE_RETAIN_PATIENT_CHARACTERISTICS = ("113108", "Retain Patient Characteristics Option")
CODE_CLEAN_DESCRIPTORS = ("113105", "Clean Descriptors Option")
CODE_RETAIN_SAFE_PRIVATE = ("113111", "Retain Safe Private Option")

# Pixel data that may show identifying text or features (see deid.burned_in_risk).
BURNED_IN_MODALITIES = frozenset({"US", "IVUS", "XC", "ES", "DOC"})
SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        uid.SecondaryCaptureImageStorage,
        uid.MultiFrameSingleBitSecondaryCaptureImageStorage,
        uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
        uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
        uid.MultiFrameTrueColorSecondaryCaptureImageStorage,
    }
)

# Dummy values for the "D" action, by VR; other VRs (binary, UR…) are emptied instead.
DUMMIES: Mapping[str, Any] = MappingProxyType(
    {
        **dict.fromkeys(("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"), "ANONYMIZED"),
        **dict.fromkeys(("IS", "DS"), "0"),
        **dict.fromkeys(("US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"), 0),
        "DA": "19000101",
        "DT": "19000101000000",
        "TM": "000000",
        "AS": "000D",
    }
)

_SAFE_PRIVATE = re.compile(r"([0-9A-Fa-f]{4}),[xX]{2}([0-9A-Fa-f]{2})@(.+)")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


@cache
def actions_for(retain_dates: bool, keep_traits: bool, clean: bool) -> Mapping[int, str]:
    """Resolve Table E.1-1 and the options into one action code (K X Z D U M C R) per tag.

    Where the standard offers a choice, take the one valid for any attribute type: X/Z → Z,
    Z/D, X/D and X/Z/D → D, X/Z/U* → R (keep the sequence, clean its items).
    """
    actions: dict[int, str] = {}
    for tag, code in BASIC_PROFILE.items():
        vr = dictionary_vr(tag)
        action = "R" if code == "X/Z/U*" else code[-1]
        if retain_dates and vr in ("DA", "DT"):
            action = "M"
        elif retain_dates and vr == "TM":
            action = "K"  # whole-day shifts leave times of day as they were
        actions[tag] = action
    actions.update(dict.fromkeys(NON_INSTANCE_UIDS, "K"))
    actions[PATIENT_BIRTH_DATE] = "Z"  # kept, empty: Type 2 in the Patient module
    actions[PATIENT_BIRTH_TIME] = "X"
    if keep_traits:
        actions.update(dict.fromkeys(PATIENT_CHARACTERISTICS, "K"))
    if clean:
        actions.update(dict.fromkeys(CLEANABLE_DESCRIPTORS, "C"))
    return MappingProxyType(actions)


@cache
def fallback_for(retain_dates: bool) -> Mapping[str, str]:
    """Return the action, by VR, for standard attributes outside Table E.1-1."""
    dates = "M" if retain_dates else "Z"
    return MappingProxyType({"UI": "U", "PN": "Z", "SQ": "R", "DA": dates, "DT": dates})


@cache
def parse_safe_private(entries: tuple[str, ...]) -> frozenset[tuple[int, str, int]]:
    """Parse "gggg,xxEE@CREATOR" entries into (group, creator, element offset).

    Raises:
        ValueError: an entry is malformed or names an even group.
    """
    parsed = set()
    for entry in entries:
        match = _SAFE_PRIVATE.fullmatch(entry.strip())
        if match is None or not int(match[1], 16) & 1:
            raise ValueError(f"Malformed safe private tag {entry!r}: use 'gggg,xxEE@CREATOR'.")
        parsed.add((int(match[1], 16), match[3].strip(), int(match[2], 16)))
    return frozenset(parsed)


@cache
def dictionary_vr(tag: int) -> str:
    """Return the first dictionary VR of a tag, or "" when pydicom does not know it."""
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return ""


# --- value rules ------------------------------------------------------------------------------


def parse_date(text: str) -> date | None:
    """Parse the YYYYMMDD start of a DA/DT value (ACR-NEMA dots allowed); None if invalid."""
    text = text.strip()
    text = text.replace(".", "") if len(text) == 10 else text
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def shift_date(text: str, vr: str, days: int) -> str:
    """Shift a DA or DT value by whole days, keeping a DT's time; "" when not a full date."""
    day = parse_date(text)
    if day is None:
        return ""
    try:
        day += timedelta(days=days)
    except OverflowError:
        return ""
    rest = text.strip()[8:] if vr == "DT" else ""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}{rest}"


def date_forms(text: str) -> tuple[str, ...]:
    """Return the ways a DA value may be written in free text."""
    day = parse_date(text)
    if day is None:
        return (text,)
    y, m, d = f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
    return (text, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}")


def patient_age(birth_date: str, reference_dates: Iterable[str]) -> str | None:
    """Compute Patient's Age (AS) at the first valid reference date, or None."""
    birth = parse_date(birth_date)
    when = next((d for d in map(parse_date, reference_dates) if d and birth and d >= birth), None)
    if birth is None or when is None:
        return None
    months = (when.year - birth.year) * 12 + when.month - birth.month - (when.day < birth.day)
    if months >= 12:
        return f"{min(months // 12, 999):03d}Y"
    return f"{months:03d}M" if months else f"{(when - birth).days:03d}D"


@lru_cache(maxsize=256)
def scrub_pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Compile a pattern matching the tokens as whole words, or any run of 6+ digits."""
    words = "|".join(re.escape(token) for token in sorted(tokens, key=len, reverse=True))
    alternatives = rf"(?<!\w)(?:{words})(?!\w)|\d{{6,}}" if words else r"\d{6,}"
    return re.compile(alternatives, re.IGNORECASE)


def scrub(text: str, pattern: re.Pattern[str]) -> str:
    """Remove identifying words from a descriptor and tidy what is left."""
    text = _EMPTY_BRACKETS.sub(" ", pattern.sub(" ", text))
    return " ".join(text.split()).strip(" -_^,;:/.")
