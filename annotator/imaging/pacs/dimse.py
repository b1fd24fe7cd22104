"""Search and retrieve over DIMSE (C-FIND, C-GET, C-MOVE) with pynetdicom."""

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, build_role, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from annotator.imaging.pacs.common import (
    PENDING,
    STATUS_OUT_OF_RESOURCES,
    STATUS_SUCCESS,
    STUDY_FIELDS,
    InstanceCallback,
    PacsRequestError,
    PacsSpec,
    PacsUnavailableError,
    ProgressCallback,
    RetrieveResult,
    StudyQuery,
)

logger = logging.getLogger(__name__)


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
