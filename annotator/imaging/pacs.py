"""Talking to a remote PACS: search studies (QIDO-RS or C-FIND) and retrieve them (WADO-RS,
C-GET or C-MOVE). Plain data in and out: no models, no database.

Callbacks (`on_instance`, `on_progress`) always run in the calling thread, even for C-GET
(whose C-STOREs arrive on pynetdicom's association thread and are handed over through a
queue), so a caller may use the database from them.
"""

import io
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, build_role, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from annotator.core.errors import DomainError

logger = logging.getLogger(__name__)
# dicomweb_client logs request headers (our Authorization value) and query URLs (patient
# names) at DEBUG; keep it at WARNING whatever the root level is.
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)

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


# --- entry points -------------------------------------------------------------------------------


def search_studies(
    spec: PacsSpec,
    *,
    patient_id: str | None = None,
    patient_name: str | None = None,
    study_date_from: date | None = None,
    study_date_to: date | None = None,
    modality: str | None = None,
    accession_number: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Search the PACS for studies (QIDO-RS or C-FIND at STUDY level).

    Raises:
        PacsUnavailableError: unreachable, timed out, or refused us.
        PacsRequestError: it answered with a failure.
    """
    query = StudyQuery(
        patient_id=patient_id,
        patient_name=patient_name,
        study_date_from=study_date_from,
        study_date_to=study_date_to,
        modality=modality,
        accession_number=accession_number,
    )
    limit = max(1, min(limit, MAX_LIMIT))
    if spec.kind == DICOMWEB:
        return [study_result(ds) for ds in _qido_studies(spec, query, limit)]
    return [study_result(ds) for ds in _c_find_studies(spec, query, limit)]


def count_study_instances(spec: PacsSpec, study_instance_uid: str) -> int | None:
    """Return NumberOfStudyRelatedInstances as the PACS reports it (None when it does not).

    Raises:
        PacsError: as `search_studies`.
    """
    query = StudyQuery(study_instance_uid=study_instance_uid)
    found = (
        _qido_studies(spec, query, 1) if spec.kind == DICOMWEB else _c_find_studies(spec, query, 1)
    )
    return _int(found[0], "NumberOfStudyRelatedInstances") if found else None


def retrieve_study(
    spec: PacsSpec,
    study_instance_uid: str,
    *,
    on_instance: InstanceCallback,
    on_progress: ProgressCallback,
) -> RetrieveResult:
    """Retrieve one study: WADO-RS or C-GET hand each object to `on_instance` (Part 10 bytes);
    C-MOVE sends them to `spec.move_destination` and only reports progress.

    `on_progress(done, total)` follows the PACS's sub-operation counts (or, for WADO-RS,
    NumberOfStudyRelatedInstances). An exception from `on_instance` fails that object only.

    Raises:
        PacsError: as `search_studies`.
    """
    if spec.kind == DICOMWEB:
        return _wado_study(spec, study_instance_uid, on_instance, on_progress)
    if spec.retrieve_method == C_MOVE:
        return _c_move_study(spec, study_instance_uid, on_progress)
    return _c_get_study(spec, study_instance_uid, on_instance, on_progress)


# --- DICOMweb -----------------------------------------------------------------------------------


def _client(spec: PacsSpec) -> DICOMwebClient:
    headers = {"Authorization": spec.auth_header} if spec.auth_header else None
    client = DICOMwebClient(url=spec.base_url.rstrip("/"), headers=headers, timeout=spec.timeout)
    client.set_http_retry_params(retry=False)  # a person or a job retries; never block here
    return client


def _http_error(error: requests.RequestException) -> PacsError:
    if isinstance(error, requests.HTTPError) and error.response is not None:
        code = error.response.status_code
        if code in (401, 403):
            return PacsUnavailableError(f"The PACS refused our credentials (HTTP {code}).")
        if code >= 500:
            return PacsUnavailableError(f"The PACS failed to answer (HTTP {code}).")
        return PacsRequestError(f"The PACS refused the request (HTTP {code}).")
    if isinstance(error, requests.Timeout):
        return PacsUnavailableError("The PACS did not answer in time.")
    return PacsUnavailableError("The PACS cannot be reached.")


def _qido_studies(spec: PacsSpec, query: StudyQuery, limit: int) -> list[Dataset]:
    try:
        found = _client(spec).search_for_studies(
            limit=limit, fields=list(STUDY_FIELDS), search_filters=dict(query.filters())
        )
    except requests.RequestException as error:
        raise _http_error(error) from error
    except ValueError as error:  # a body that is not DICOM JSON
        raise PacsRequestError("The PACS answered with something that is not DICOM JSON.") from (
            error
        )
    return [Dataset.from_json(item) for item in found[:limit]]


def _wado_study(
    spec: PacsSpec, study_uid: str, on_instance: InstanceCallback, on_progress: ProgressCallback
) -> RetrieveResult:
    total = count_study_instances(spec, study_uid)
    result = RetrieveResult()
    on_progress(0, total)
    try:
        for ds in _client(spec).iter_study(study_uid):
            result.received += 1
            try:
                on_instance(encode_dataset(ds))
                result.completed += 1
            except Exception:
                logger.exception("Handling a retrieved object failed")
                result.failed += 1
            total = max(total or 0, result.received) if total is not None else None
            on_progress(result.received, total)
    except requests.RequestException as error:
        raise _http_error(error) from error
    result.status = STATUS_SUCCESS
    return result


# --- DIMSE --------------------------------------------------------------------------------------


def _ae(spec: PacsSpec) -> AE:
    ae = AE(ae_title=spec.calling_ae_title or "ANNOTATOR")
    ae.acse_timeout = spec.timeout
    ae.dimse_timeout = spec.timeout
    ae.network_timeout = spec.timeout
    ae.connection_timeout = spec.timeout
    return ae


def _associate(ae: AE, spec: PacsSpec, **kwargs: Any) -> Association:
    assoc = ae.associate(spec.host, spec.port, ae_title=spec.called_ae_title, **kwargs)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise PacsUnavailableError("The PACS refused the association (check the AE titles).")
    raise PacsUnavailableError("The PACS cannot be reached.")


def _identifier(query: StudyQuery) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for keyword in STUDY_FIELDS:
        setattr(ds, keyword, "")
    for keyword, value in query.filters().items():
        setattr(ds, keyword, value)
    return ds


def _check_final(status: Dataset | None, what: str) -> int:
    if status is None or "Status" not in status:
        raise PacsUnavailableError(f"The PACS did not finish the {what} (no final status).")
    code = int(status.Status)
    if code in (STATUS_SUCCESS, 0xFE00) or 0xB000 <= code <= 0xBFFF:
        return code
    raise PacsRequestError(f"The PACS failed the {what} (status 0x{code:04X}).")


def _c_find_studies(spec: PacsSpec, query: StudyQuery, limit: int) -> list[Dataset]:
    ae = _ae(spec)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(ae, spec)
    found: list[Dataset] = []
    final: Dataset | None = None
    try:
        responses = assoc.send_c_find(
            _identifier(query), StudyRootQueryRetrieveInformationModelFind
        )
        for status, identifier in responses:
            if not status:  # timeout, abort or bad response: pynetdicom yields an empty Dataset
                break
            if int(status.Status) in PENDING:
                if identifier is not None and len(found) < limit:
                    found.append(identifier)
                continue
            final = status
    finally:
        if assoc.is_established:
            assoc.release()
    _check_final(final, "search")
    return found


def _counts(status: Dataset) -> tuple[int, int | None]:
    done = sum(
        int(status.get(k, 0) or 0)
        for k in (
            "NumberOfCompletedSuboperations",
            "NumberOfFailedSuboperations",
            "NumberOfWarningSuboperations",
        )
    )
    remaining = status.get("NumberOfRemainingSuboperations")
    return done, (done + int(remaining) if remaining not in (None, "") else None)


def _fill(result: RetrieveResult, status: Dataset) -> None:
    result.completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
    result.failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
    result.warning = int(status.get("NumberOfWarningSuboperations", 0) or 0)


def _study_identifier(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    return ds


def _c_move_study(spec: PacsSpec, study_uid: str, on_progress: ProgressCallback) -> RetrieveResult:
    ae = _ae(spec)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = _associate(ae, spec)
    result = RetrieveResult()
    final: Dataset | None = None
    try:
        responses = assoc.send_c_move(
            _study_identifier(study_uid),
            spec.move_destination,
            StudyRootQueryRetrieveInformationModelMove,
        )
        for status, _identifier in responses:
            if not status:
                break
            _fill(result, status)
            on_progress(*_counts(status))
            if int(status.Status) not in PENDING:
                final = status
    finally:
        if assoc.is_established:
            assoc.release()
    result.status = _check_final(final, "move")
    return result


@dataclass
class _Stored:
    data: bytes
    answer: "Future[int]"


@dataclass
class _Progress:
    status: Dataset


@dataclass
class _Finished:
    status: Dataset | None = None
    error: BaseException | None = None


_GetItem = _Stored | _Progress | _Finished


def _c_get_study(
    spec: PacsSpec, study_uid: str, on_instance: InstanceCallback, on_progress: ProgressCallback
) -> RetrieveResult:
    items: queue.Queue[_GetItem] = queue.Queue()
    cancelled = threading.Event()
    opened: list[Association] = []

    def handle_store(event: Event) -> int:
        if cancelled.is_set():
            return STATUS_OUT_OF_RESOURCES
        stored = _Stored(event.encoded_dataset(include_meta=True), Future())
        items.put(stored)
        while True:  # wait for the calling thread to handle it, so our status tells the truth
            try:
                return stored.answer.result(timeout=1.0)
            except TimeoutError:
                if cancelled.is_set():
                    return STATUS_OUT_OF_RESOURCES

    def run() -> None:
        ae = _ae(spec)
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        # 128 presentation contexts at most, one of them the query
        classes = [c.abstract_syntax for c in StoragePresentationContexts if c.abstract_syntax]
        for sop_class in classes[:127]:
            ae.add_requested_context(sop_class, ALL_TRANSFER_SYNTAXES)
        roles = [build_role(sop_class, scp_role=True) for sop_class in classes[:127]]
        final: Dataset | None = None
        try:
            assoc = _associate(
                ae, spec, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, handle_store)]
            )
            opened.append(assoc)
            try:
                responses = assoc.send_c_get(
                    _study_identifier(study_uid), StudyRootQueryRetrieveInformationModelGet
                )
                for status, _identifier in responses:
                    if not status:
                        break
                    items.put(_Progress(status))
                    if int(status.Status) not in PENDING:
                        final = status
            finally:
                if assoc.is_established:
                    assoc.release()
            items.put(_Finished(status=final))
        except BaseException as error:
            items.put(_Finished(error=error))

    worker = threading.Thread(target=run, name="pacs-c-get", daemon=True)
    worker.start()
    result = RetrieveResult()
    try:
        finished = _consume(items, result, on_instance, on_progress)
    except BaseException:
        cancelled.set()  # stores still arriving are refused; pynetdicom's thread winds down
        for assoc in opened:
            assoc.abort()
        _drain(items)
        raise
    worker.join()  # it has put _Finished: it is ending
    if finished.error is not None:
        raise finished.error
    result.status = _check_final(finished.status, "retrieve")
    return result


def _consume(
    items: "queue.Queue[_GetItem]",
    result: RetrieveResult,
    on_instance: InstanceCallback,
    on_progress: ProgressCallback,
) -> _Finished:
    """Handle what the C-GET thread hands over, in this thread, until it finishes."""
    while True:
        item = items.get()
        if isinstance(item, _Finished):
            return item
        if isinstance(item, _Progress):
            _fill(result, item.status)
            on_progress(*_counts(item.status))
            continue
        result.received += 1
        try:
            on_instance(item.data)
        except Exception:
            logger.exception("Handling a retrieved object failed")
            item.answer.set_result(STATUS_OUT_OF_RESOURCES)
        else:
            item.answer.set_result(STATUS_SUCCESS)


def _drain(items: "queue.Queue[_GetItem]") -> None:
    """Answer any store still waiting, so pynetdicom's thread can end."""
    while True:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Stored) and not item.answer.done():
            item.answer.set_result(STATUS_OUT_OF_RESOURCES)
