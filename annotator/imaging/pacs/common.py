"""PACS client shared pieces: connection spec, queries, results, errors."""

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydicom.dataset import Dataset

from annotator.core.errors import DomainError

logger = logging.getLogger(__name__)

DICOMWEB = "dicomweb"
DIMSE = "dimse"
C_GET = "c-get"
C_MOVE = "c-move"
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
PENDING = (0xFF00, 0xFF01)
MAX_LIMIT = 500
STUDY_FIELDS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)


class PacsError(DomainError):
    """The remote PACS could not answer the request."""

    code = "pacs_error"


class PacsUnavailableError(PacsError):
    """The PACS could not be reached, timed out, or refused the association/credentials."""

    code = "pacs_unreachable"


class PacsRequestError(PacsError):
    """The PACS answered, but with a failure."""

    code = "pacs_request_failed"


@dataclass(frozen=True)
class PacsSpec:
    """How to reach one PACS (built from a PacsConnection row, or by hand in tests)."""

    kind: str
    base_url: str = ""
    auth_header: str = field(default="", repr=False)
    host: str = ""
    port: int = 0
    called_ae_title: str = ""
    calling_ae_title: str = "ANNOTATOR"
    retrieve_method: str = C_GET
    move_destination: str = ""
    timeout: float = 20.0


@dataclass(frozen=True)
class StudyQuery:
    """Search filters; names are DICOM's. Empty filters match everything."""

    patient_id: str | None = None
    patient_name: str | None = None
    study_date_from: date | None = None
    study_date_to: date | None = None
    modality: str | None = None
    accession_number: str | None = None
    study_instance_uid: str | None = None

    def filters(self) -> dict[str, str]:
        """Return the matching keys as DICOM keyword → query value."""
        values: dict[str, str] = {}
        if self.patient_id:
            values["PatientID"] = self.patient_id
        if self.patient_name:
            name = self.patient_name
            values["PatientName"] = name if any(c in name for c in "*?") else f"{name}*"
        if self.study_date_from or self.study_date_to:
            start = self.study_date_from.strftime("%Y%m%d") if self.study_date_from else ""
            end = self.study_date_to.strftime("%Y%m%d") if self.study_date_to else ""
            values["StudyDate"] = start if start == end else f"{start}-{end}"
        if self.modality:
            values["ModalitiesInStudy"] = self.modality
        if self.accession_number:
            values["AccessionNumber"] = self.accession_number
        if self.study_instance_uid:
            values["StudyInstanceUID"] = self.study_instance_uid
        return values


@dataclass
class RetrieveResult:
    """What one study's retrieve did: sub-operation counts and instances handed over."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    received: int = 0
    status: int | None = None


ProgressCallback = Callable[[int, int | None], None]
InstanceCallback = Callable[[bytes], None]


# --- results ------------------------------------------------------------------------------------


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value)


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def study_result(ds: Dataset) -> dict[str, Any]:
    """Return a study-level match as JSON-ready data."""
    modalities = ds.get("ModalitiesInStudy")
    if modalities is None or modalities == "":
        modalities_list: list[str] = []
    elif isinstance(modalities, str):
        modalities_list = [modalities]
    else:
        modalities_list = [str(m) for m in modalities]
    study_date = _text(ds, "StudyDate")
    if len(study_date) == 8 and study_date.isdigit():
        study_date = f"{study_date[:4]}-{study_date[4:6]}-{study_date[6:]}"
    return {
        "study_instance_uid": _text(ds, "StudyInstanceUID"),
        "patient_id": _text(ds, "PatientID"),
        "patient_name": _text(ds, "PatientName"),
        "patient_birth_date": _text(ds, "PatientBirthDate"),
        "patient_sex": _text(ds, "PatientSex"),
        "study_date": study_date,
        "study_time": _text(ds, "StudyTime"),
        "accession_number": _text(ds, "AccessionNumber"),
        "study_description": _text(ds, "StudyDescription"),
        "modalities_in_study": modalities_list,
        "number_of_series": _int(ds, "NumberOfStudyRelatedSeries"),
        "number_of_instances": _int(ds, "NumberOfStudyRelatedInstances"),
    }


def encode_dataset(ds: Dataset) -> bytes:
    """Encode a retrieved dataset as a Part 10 file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
