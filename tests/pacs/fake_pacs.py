"""Remote PACS for tests: a small DICOMweb server and a pynetdicom Q/R SCP, both in threads.

They hold a few synthetic studies, record what they were asked, and serve QIDO-RS/WADO-RS or
C-FIND/C-GET/C-MOVE from memory.
"""

import io
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from tests.imaging.dicom_files import ct_files


@dataclass
class Study:
    """A study the fake PACS holds: its objects as Part 10 bytes."""

    uid: str
    files: list[bytes]

    def summary(self) -> Dataset:
        """Return the study-level attributes a QIDO/C-FIND answer carries."""
        first = dcmread(io.BytesIO(self.files[0]), stop_before_pixels=True)
        ds = Dataset()
        ds.StudyInstanceUID = first.StudyInstanceUID
        ds.PatientID = first.PatientID
        ds.PatientName = first.PatientName
        ds.StudyDate = first.get("StudyDate", "")
        ds.StudyTime = first.get("StudyTime", "")
        ds.AccessionNumber = first.get("AccessionNumber", "")
        ds.StudyDescription = first.get("StudyDescription", "")
        ds.ModalitiesInStudy = [first.Modality]
        ds.NumberOfStudyRelatedSeries = 1
        ds.NumberOfStudyRelatedInstances = len(self.files)
        return ds


def make_studies() -> list[Study]:
    """Two small CT studies of two (synthetic) patients."""
    studies = []
    for seed, patient_id, name, slices in (
        ("pacs-a", "PAT-A", "ALPHA^ANNA", 3),
        ("pacs-b", "PAT-B", "BETA^BORIS", 2),
    ):
        files = [
            data
            for _, data in ct_files(
                slices=slices, uid_seed=seed, patient_id=patient_id, patient_name=name
            )
        ]
        uid = dcmread(io.BytesIO(files[0]), stop_before_pixels=True).StudyInstanceUID
        studies.append(Study(uid=str(uid), files=files))
    return studies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- DICOMweb -------------------------------------------------------------------------------


@dataclass
class DicomwebPacs:
    """What the fake DICOMweb server holds and was asked."""

    studies: list[Study]
    token: str = ""
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""


def _handler(pacs: DicomwebPacs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if pacs.token and self.headers.get("Authorization") != pacs.token:
                self._send(401, b"{}", "application/json")
                return
            url = urlparse(self.path)
            parts = [p for p in url.path.split("/") if p][1:]  # after the /dicom-web prefix
            if parts == ["studies"]:
                query = parse_qs(url.query)
                pacs.queries.append(query)
                found = [s.summary() for s in pacs.studies]
                if "StudyInstanceUID" in query:
                    found = [d for d in found if d.StudyInstanceUID in query["StudyInstanceUID"]]
                if "PatientID" in query:
                    found = [d for d in found if d.PatientID in query["PatientID"]]
                body = json.dumps([d.to_json_dict() for d in found]).encode()
                self._send(200, body, "application/dicom+json")
                return
            if len(parts) == 2 and parts[0] == "studies":
                study = next((s for s in pacs.studies if s.uid == parts[1]), None)
                if study is None:
                    self._send(404, b"", "text/plain")
                    return
                boundary = "fake-pacs-boundary"
                body = (
                    b"".join(
                        b"--"
                        + boundary.encode()
                        + b"\r\nContent-Type: application/dicom\r\n\r\n"
                        + data
                        + b"\r\n"
                        for data in study.files
                    )
                    + b"--"
                    + boundary.encode()
                    + b"--"
                )
                self._send(
                    200, body, f'multipart/related; type="application/dicom"; boundary={boundary}'
                )
                return
            self._send(404, b"", "text/plain")

    return Handler


@contextmanager
def dicomweb_pacs(studies: list[Study], *, token: str = "") -> Iterator[DicomwebPacs]:
    """Serve QIDO-RS /studies and WADO-RS /studies/{uid} on a free port."""
    pacs = DicomwebPacs(studies=studies, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pacs))
    pacs.url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pacs
    finally:
        server.shutdown()
        server.server_close()


# --- DIMSE ----------------------------------------------------------------------------------


@dataclass
class DimsePacs:
    """What the fake Q/R SCP holds and was asked; `destinations` maps move AE → address."""

    studies: list[Study]
    port: int = 0
    ae_title: str = "FAKEPACS"
    identifiers: list[Dataset] = field(default_factory=list)
    destinations: dict[str, tuple[str, int]] = field(default_factory=dict)


def _matches(study: Dataset, query: Dataset) -> bool:
    for keyword in ("StudyInstanceUID", "PatientID", "AccessionNumber"):
        wanted = str(query.get(keyword, "") or "")
        if wanted and str(study.get(keyword, "")) != wanted:
            return False
    return True


def _datasets(study: Study) -> list[Dataset]:
    return [dcmread(io.BytesIO(data)) for data in study.files]


@contextmanager
def dimse_pacs(studies: list[Study], *, require_called_aet: bool = False) -> Iterator[DimsePacs]:
    """Serve C-FIND, C-GET and C-MOVE (Study Root) on a free port."""
    pacs = DimsePacs(studies=studies)

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        pacs.identifiers.append(query)
        for study in pacs.studies:
            summary = study.summary()
            if _matches(summary, query):
                answer = Dataset()
                answer.QueryRetrieveLevel = "STUDY"
                for element in query:
                    if element.keyword in summary:
                        answer[element.tag] = summary[element.tag]
                yield 0xFF00, answer

    def wanted(event: Any) -> list[Dataset]:
        uid = str(event.identifier.StudyInstanceUID)
        return [ds for s in pacs.studies if s.uid == uid for ds in _datasets(s)]

    def on_get(event: Any) -> Iterator[Any]:
        datasets = wanted(event)
        yield len(datasets)
        for ds in datasets:
            yield 0xFF00, ds

    def on_move(event: Any) -> Iterator[Any]:
        destination = pacs.destinations.get(event.move_destination.strip())
        if destination is None:
            yield None, None
            return
        datasets = wanted(event)
        yield destination  # pynetdicom calls it with the move destination as called AE
        yield len(datasets)
        for ds in datasets:
            yield 0xFF00, ds

    ae = AE(ae_title=pacs.ae_title)
    ae.require_called_aet = require_called_aet
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, scu_role=True, scp_role=True)
        ae.add_requested_context(context.abstract_syntax)  # C-MOVE sub-associations
    handlers = [(evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get), (evt.EVT_C_MOVE, on_move)]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    pacs.port = int(server.server_address[1])
    try:
        yield pacs
    finally:
        server.shutdown()
