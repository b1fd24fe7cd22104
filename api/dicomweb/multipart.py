"""multipart/related (RFC 2387) for DICOMweb: a streaming reader and a streaming writer.

The reader never holds more than one read chunk plus a boundary in memory: each body part is
spooled to a temporary file (in memory up to `spool_bytes`, then on disk) and handed out
before the next part is read, so a request of any size is stored one part at a time.
"""

import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

CHUNK_BYTES = 1 << 16
MAX_PREAMBLE_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 14
_BOUNDARY_CHARS = frozenset(  # RFC 2046 bchars
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)


class Readable(Protocol):
    """Anything with read(n) -> bytes (a file, Django's HttpRequest, a WSGI input)."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to `size` bytes, b"" at the end."""
        ...


class MultipartError(Exception):
    """The body is not well-formed multipart/related."""


class BodyTooLargeError(Exception):
    """The body grew past the reader's limit."""


class LimitedReader:
    """Wrap a stream and raise BodyTooLargeError once more than `limit` bytes were read."""

    def __init__(self, stream: Readable, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        """Read from the wrapped stream, counting."""
        data = self.stream.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise BodyTooLargeError
        return data


@dataclass
class BodyPart:
    """One part: its headers (lower-case names), its content in a rewound temporary file."""

    index: int
    headers: dict[str, str]
    file: IO[bytes] = field(repr=False)
    size: int
    too_large: bool = False

    @property
    def content_type(self) -> str:
        """Return the part's media type without parameters, lower-cased ("" if absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def check_boundary(boundary: str) -> str:
    """Return the boundary if RFC 2046 allows it.

    Raises:
        MultipartError: empty, longer than 70 characters or with forbidden characters.
    """
    if (
        not 1 <= len(boundary) <= 70
        or not set(boundary) <= _BOUNDARY_CHARS
        or boundary.endswith(" ")
    ):
        raise MultipartError("The multipart boundary is missing or invalid.")
    return boundary


class _Buffer:
    def __init__(self, stream: Readable, chunk_bytes: int) -> None:
        self.stream = stream
        self.chunk_bytes = chunk_bytes
        self.data = bytearray()
        self.eof = False

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_bytes)
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    def ensure(self, size: int) -> bool:
        while len(self.data) < size:
            if not self.fill():
                return False
        return True


def _skip_preamble(buf: _Buffer, dash_boundary: bytes) -> None:
    start = 0
    while True:
        index = buf.data.find(dash_boundary, start)
        while index > 0 and buf.data[max(0, index - 2) : index] != b"\r\n":
            index = buf.data.find(dash_boundary, index + 1)
        if index >= 0:
            del buf.data[: index + len(dash_boundary)]
            return
        start = max(0, len(buf.data) - len(dash_boundary) - 2)
        if len(buf.data) > MAX_PREAMBLE_BYTES or not buf.fill():
            raise MultipartError("No multipart boundary found in the body.")


def _read_headers(buf: _Buffer) -> dict[str, str] | None:
    """After a boundary: None at the close delimiter, else the part's headers."""
    if not buf.ensure(2):
        return None  # lenient: a body that ends right after a boundary has no more parts
    if buf.data[:2] == b"--":
        return None
    padding = 0
    while True:
        if not buf.ensure(padding + 2):
            raise MultipartError("The body ends inside a boundary line.")
        if buf.data[padding] in b" \t":
            padding += 1
            continue
        break
    if buf.data[padding : padding + 2] != b"\r\n":
        raise MultipartError("A boundary line must end with CRLF.")
    del buf.data[:padding]
    while (end := buf.data.find(b"\r\n\r\n")) < 0:
        if len(buf.data) > MAX_HEADER_BYTES or not buf.fill():
            raise MultipartError("A part's headers are too long or unterminated.")
    block = bytes(buf.data[2:end]).decode("latin-1")
    del buf.data[: end + 4]
    headers: dict[str, str] = {}
    for line in block.split("\r\n") if block else []:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MultipartError("A part header is malformed.")
        headers[name.strip().lower()] = value.strip()
    return headers


def iter_parts(
    stream: Readable,
    boundary: str,
    *,
    max_part_bytes: int,
    spool_bytes: int,
    temp_dir: str | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[BodyPart]:
    """Yield the body parts of a multipart stream one by one; close each part's file.

    A part above `max_part_bytes` is read to its end but not kept (`too_large`).

    Raises:
        MultipartError: no boundary, malformed headers, or a body that ends inside a part.
        BodyTooLargeError: from a LimitedReader stream.
    """
    check_boundary(boundary)
    dash_boundary = b"--" + boundary.encode("latin-1")
    delimiter = b"\r\n" + dash_boundary
    keep = len(delimiter) - 1
    buf = _Buffer(stream, chunk_bytes)
    _skip_preamble(buf, dash_boundary)
    index = 0
    while (headers := _read_headers(buf)) is not None:
        out = tempfile.SpooledTemporaryFile(max_size=spool_bytes, dir=temp_dir)  # noqa: SIM115
        size, too_large = 0, False
        while True:
            end = buf.data.find(delimiter)
            piece = buf.data[:end] if end >= 0 else buf.data[: max(0, len(buf.data) - keep)]
            size += len(piece)
            too_large = too_large or size > max_part_bytes
            if piece and not too_large:
                out.write(piece)
            if end >= 0:
                del buf.data[: end + len(delimiter)]
                break
            del buf.data[: len(piece)]
            if not buf.fill():
                out.close()
                raise MultipartError("The body ends inside a part (no closing boundary).")
        out.seek(0)
        yield BodyPart(index, headers, out, size, too_large)
        out.close()
        index += 1


# --- writing ---------------------------------------------------------------------------------


def new_boundary() -> str:
    """Return a fresh boundary that cannot occur in DICOM content by chance."""
    return uuid.uuid4().hex


def multipart_type(part_type: str, boundary: str) -> str:
    """Return the Content-Type of a multipart/related response."""
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def encode_parts(parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """Yield a multipart/related body from (content type, content chunks) pairs, lazily."""
    opening = f"--{boundary}\r\nContent-Type: ".encode()
    for content_type, chunks in parts:
        yield opening + content_type.encode("latin-1") + b"\r\n\r\n"
        yield from chunks
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
