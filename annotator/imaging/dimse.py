"""The DIMSE receiver: a C-ECHO and C-STORE SCP whose *called* AE title picks the project.

Each association is served in its own thread (pynetdicom's model). Its A-ASSOCIATE-RQ is routed
by the called AE title (`ImagingSettings.ae_title`, case-sensitive): an unknown title is refused
with A-ASSOCIATE-RJ "called AE title not recognised", a sender outside the project's
DICOM_LISTENER_ALLOWED_CALLING list with "calling AE title not recognised". Each accepted
association gets one `Ingestor(source="dimse")`; every C-STORE goes through it and is committed
before its response is sent, so a success status means the object is stored. At release (or
abort) the association is summarised in one audit event and the volume builds are queued.

C-STORE statuses: 0x0000 stored or already stored (same bytes); 0xC000 (with the outcome code in
Error Comment) refused: not decodable, missing UIDs, or another object under the same SOP
Instance UID (conflict); 0xA700 out of resources: the database or the storage failed, retry.
"""

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    evt,
)
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from annotator.audit.services import record_event
from annotator.core.middleware import bind_request_id
from annotator.imaging.ingest import FileOutcome, Ingestor
from annotator.imaging.models import ImagingSettings
from annotator.imaging.services import queue_volume_builds
from annotator.projects.models import Project

logger = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000
# A-ASSOCIATE-RJ (result, source, diagnostic), PS3.8 9.3.4
REJECT_CALLED_AE = (0x01, 0x01, 0x07)  # permanent, service user, called AE not recognised
REJECT_CALLING_AE = (0x01, 0x01, 0x03)  # permanent, service user, calling AE not recognised
REJECT_TRANSIENT = (0x02, 0x01, 0x01)  # transient, service user, no reason (database down)


@dataclass
class AssociationSession:
    """What the listener knows about one accepted association."""

    project: Project
    calling_ae_title: str
    request_id: str
    ingestor: Ingestor | None = None
    stores: int = 0
    out_of_resources: int = 0


def accepted_transfer_syntaxes() -> list[str]:
    """Return every transfer syntax, in the order we prefer when a context offers several.

    Explicit VR first (it keeps the VRs of private elements), then implicit, then the
    compressed ones: a sender that offers compressed and uncompressed syntaxes in one
    context is never made to compress (perhaps lossily); one that proposes its compressed
    syntax in a context of its own gets it accepted, so its pixels arrive as they are.
    """
    first = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    return [*first, *(uid for uid in ALL_TRANSFER_SYNTAXES if uid not in first)]


def build_ae(ae_title: str) -> AE:
    """Return an AE that accepts Verification and every storage SOP class in every syntax."""
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification)
    syntaxes = accepted_transfer_syntaxes()
    for context in AllStoragePresentationContexts:
        if context.abstract_syntax is not None:
            ae.add_supported_context(context.abstract_syntax, syntaxes)
    return ae


def find_project_for_called_ae(called_ae_title: str) -> Project | None:
    """Return the project whose imaging settings claim this called AE title, if any."""
    title = called_ae_title.strip()
    if not title:
        return None
    found = ImagingSettings.objects.filter(ae_title=title).select_related("project").first()
    return found.project if found is not None else None


class _RoutingServer(ThreadedAssociationServer):
    """The association server, knowing its listener so a finished association is summarised
    even when it ended without a release or abort event."""

    listener: "DicomListener"


class _RequestHandler(RequestHandler):
    """Run the association, then make sure it is finished (idempotent)."""

    def handle(self) -> None:
        assoc = self._create_association()
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        assoc.start()
        assoc.join()
        server = cast(_RoutingServer, self.server)
        if server.listener.has_session(assoc):  # ended without EVT_RELEASED/EVT_ABORTED
            try:
                server.listener.end_association(assoc)
            finally:
                connection.close()


class DicomListener:
    """A C-ECHO/C-STORE SCP that ingests into the project named by the called AE title."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        ae_title: str,
        allowed_calling: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.ae_title = ae_title
        self.allowed_calling = {
            str(k): [str(v).strip() for v in values]
            for k, values in (allowed_calling or {}).items()
        }
        self.ae = build_ae(ae_title)
        self.server: _RoutingServer | None = None
        self._sessions: dict[Association, AssociationSession] = {}
        self._lock = threading.Lock()

    # --- server life ---------------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Bind the port and serve in a background thread; return the bound address."""
        handlers: list[evt.EventHandlerType] = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
        ]
        server = cast(
            _RoutingServer,
            self.ae.make_server(
                (self.host, self.port),
                evt_handlers=handlers,
                server_class=_RoutingServer,
                request_handler=_RequestHandler,
            ),
        )
        server.listener = self
        self.server = server
        thread = threading.Thread(target=server.serve_forever, name="dicom-listener", daemon=True)
        thread.start()
        self.ae._servers.append(server)  # as AE.start_server does: server.shutdown() expects it
        host, port = server.server_address[:2]
        logger.info("DICOM listener %s on %s:%s", self.ae_title, host, port)
        return str(host), int(port)

    def stop(self) -> None:
        """Stop accepting associations. Open ones run on to their end: their request threads
        are not daemons, so the process exits only once they have finished."""
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def has_session(self, assoc: Association) -> bool:
        """Return whether this association is open and not yet summarised."""
        with self._lock:
            return assoc in self._sessions

    # --- association negotiation --------------------------------------------------------------

    def _on_requested(self, event: Event) -> None:
        """Route the association by called AE title, or refuse it (A-ASSOCIATE-RJ)."""
        assoc = event.assoc
        request = assoc.requestor.primitive
        if request is None:  # pragma: no cover - pynetdicom always sets it before the event
            return
        called = str(request.called_ae_title).strip()
        calling = str(request.calling_ae_title).strip()
        close_old_connections()
        try:
            project = find_project_for_called_ae(called)
        except Exception:
            logger.exception("Could not route an association: database error")
            self._reject(assoc, REJECT_TRANSIENT)
            return
        if project is None:
            logger.info("Rejected association: called AE title not recognised")
            self._reject(assoc, REJECT_CALLED_AE)
            return
        allowed = self.allowed_calling.get(str(project.pk))
        if allowed is not None and calling not in allowed:
            logger.info(
                "Rejected association for project %s: calling AE title not allowed", project.pk
            )
            self._reject(assoc, REJECT_CALLING_AE)
            return
        request_id = f"dimse-{uuid.uuid4().hex}"
        with self._lock:
            self._sessions[assoc] = AssociationSession(
                project=project, calling_ae_title=calling, request_id=request_id
            )
        logger.info("Association %s accepted for project %s", request_id, project.pk)

    def _reject(self, assoc: Association, reason: tuple[int, int, int]) -> None:
        # What pynetdicom's own ACSE does when it refuses: send, notify, stop the DUL.
        try:
            assoc.acse.send_reject(*reason)
            evt.trigger(assoc, evt.EVT_REJECTED, {})
            assoc.kill()
        finally:
            connection.close()

    # --- storage --------------------------------------------------------------------------------

    def _on_store(self, event: Event) -> int | Dataset:
        """Ingest one received object; commit it before answering."""
        with self._lock:
            session = self._sessions.get(event.assoc)
        if session is None:  # pragma: no cover - every accepted association has a session
            return STATUS_OUT_OF_RESOURCES
        bind_request_id(session.request_id)
        session.stores += 1
        name = f"c-store-{session.stores}"
        try:
            if session.ingestor is None:
                session.ingestor = Ingestor(project=session.project, actor=None, source="dimse")
            ingestor = session.ingestor
            data = event.encoded_dataset(include_meta=True)
            outcome = ingestor.add(name=name, fp=BytesIO(data), size=len(data))
        except Exception:
            logger.exception("C-STORE %s of association %s failed", name, session.request_id)
            if session.ingestor is not None:
                session.ingestor.abandon()
            session.out_of_resources += 1
            return STATUS_OUT_OF_RESOURCES
        try:
            ingestor.flush()  # a success status must mean "stored": commit before answering
        except Exception:
            logger.exception(
                "C-STORE %s of association %s could not be committed", name, session.request_id
            )
            ingestor.report.accepted -= 1
            session.out_of_resources += 1
            return STATUS_OUT_OF_RESOURCES
        return _store_status(outcome)

    # --- end of an association ---------------------------------------------------------------

    def _on_end(self, event: Event) -> None:
        try:
            self.end_association(event.assoc)
        finally:
            connection.close()  # the association's thread ends here

    def end_association(self, assoc: Association) -> None:
        """Summarise a finished association once: audit event, then the volume builds."""
        with self._lock:
            session = self._sessions.pop(assoc, None)
        if session is None or session.ingestor is None:
            return
        bind_request_id(session.request_id)
        ingestor = session.ingestor
        try:
            with transaction.atomic():
                report = ingestor.finish()
                record_event(
                    actor=None,
                    action="imaging.ingest",
                    obj=session.project,
                    project=session.project,
                    changes={
                        "source": [None, "dimse"],
                        "calling_ae_title": [None, session.calling_ae_title],
                        "accepted": [None, report.accepted],
                        "duplicates": [None, report.duplicates],
                        "conflicts": [None, report.conflicts],
                        "rejected": [None, report.rejected],
                        "out_of_resources": [None, session.out_of_resources],
                    },
                )
                queue_volume_builds(series_ids=sorted(ingestor.touched))
        except Exception:
            logger.exception("Could not finish association %s", session.request_id)
            ingestor.abandon()
            return
        logger.info(
            "Association %s for project %s done: %s accepted, %s duplicates, "
            "%s conflicts, %s rejected, %s failed",
            session.request_id,
            session.project.pk,
            report.accepted,
            report.duplicates,
            report.conflicts,
            report.rejected,
            session.out_of_resources,
        )


def _store_status(outcome: FileOutcome) -> int | Dataset:
    if outcome.status in ("accepted", "duplicate"):
        return STATUS_SUCCESS
    status = Dataset()
    status.Status = STATUS_CANNOT_UNDERSTAND
    status.ErrorComment = (outcome.code or outcome.status)[:64]  # a code, never header values
    return status


def listener_from_settings(**overrides: Any) -> DicomListener:
    """Return a listener configured by the DICOM_LISTENER_* settings (overridable)."""
    options: dict[str, Any] = {
        "host": settings.DICOM_LISTENER_HOST,
        "port": settings.DICOM_LISTENER_PORT,
        "ae_title": settings.DICOM_LISTENER_AE_TITLE,
        "allowed_calling": settings.DICOM_LISTENER_ALLOWED_CALLING,
    }
    options.update({k: v for k, v in overrides.items() if v is not None})
    return DicomListener(**options)
