"""Helpers of the DICOMweb tests: URLs, API keys, direct ingest, hand-built multipart bodies."""

import io
from collections.abc import Callable

from dicomweb_client import DICOMwebClient

from annotator.accounts.models import User
from annotator.accounts.services import create_api_token
from annotator.imaging.ingest import Ingestor
from annotator.projects.models import Project

WebClient = Callable[[User, Project], DICOMwebClient]


def dicomweb_path(project: Project) -> str:
    """Return the path of a project's DICOMweb root (no trailing slash)."""
    return f"/api/v1/projects/{project.pk}/dicomweb"


def token_for(user: User) -> str:
    """Issue an API key for `user`."""
    return create_api_token(user=user, name="dicomweb tests").key


def ingest(project: Project, files: list[tuple[str, bytes]]) -> Ingestor:
    """Store files through the ingest door directly (faster than STOW for fixtures)."""
    ingestor = Ingestor(project=project, actor=None, source="tests")
    for name, data in files:
        outcome = ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
        assert outcome.status == "accepted", outcome
    ingestor.finish()
    return ingestor


def multipart(
    parts: list[bytes | tuple[str | None, bytes]],
    boundary: str = "b0und4ry",
    *,
    preamble: bytes = b"",
    epilogue: bytes = b"",
    close: bool = True,
) -> bytes:
    """Hand-build a multipart/related body; a part is bytes or (Content-Type or None, bytes)."""
    body = bytearray(preamble)
    for part in parts:
        content_type, data = part if isinstance(part, tuple) else ("application/dicom", part)
        body += f"\r\n--{boundary}\r\n".encode() if body else f"--{boundary}\r\n".encode()
        if content_type is not None:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + data
    if close:
        body += f"\r\n--{boundary}--\r\n".encode() + epilogue
    return bytes(body)
