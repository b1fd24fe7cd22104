"""WADO-RS Retrieve Study/Series/Instance as bulk data: every frame's pixels in one response.

PS3.18 lets a study, series or instance be retrieved in the bulk data media type
(``multipart/related; type="application/octet-stream"``, or a compressed frame type): one part
per frame, each naming its resource in ``Content-Location`` (here the frame's own WADO-RS URL,
which answers the same bytes alone). A viewer loading a 300-slice series thus makes one request
and one database query instead of 300 of each; each part also carries ``Content-Length`` so a
client can cut parts without scanning for the boundary.
"""

from collections.abc import Iterator

from django.core.files.storage import default_storage
from django.http import HttpResponseBase, StreamingHttpResponse

from annotator.imaging.dicom_pixels import NoPixelDataError
from annotator.imaging.dicomweb import EXPLICIT_VR_LITTLE_ENDIAN, OCTET_STREAM, frame_media_type
from annotator.imaging.frames import FrameSource, pixel_layout
from api.dicomweb.multipart import multipart_type, new_boundary
from api.dicomweb.negotiation import MULTIPART, MediaRange, choose_frames

# (pk, file name, stored transfer syntax, series UID, SOP instance UID)
InstanceRow = tuple[int, str, str, str, str]


def wants_bulk_data(ranges: list[MediaRange]) -> bool:
    """Return whether the best acceptable range asks for pixel bulk data, not DICOM files."""
    for r in ranges:
        if r.is_default:
            return False  # the PS3.18 default of an instance retrieve is application/dicom
        if r.media_type != MULTIPART:
            continue
        if r.part_type == OCTET_STREAM or (r.part_type or "").startswith("image/"):
            return True
        if r.part_type in ("application/dicom", "application/*", "*/*"):
            return False
    return False


def bulk_data_response(
    rows: list[InstanceRow], ranges: list[MediaRange], studies_url: str, study: str
) -> HttpResponseBase:
    """Stream every frame of `rows` as multipart bulk data, negotiated per stored syntax.

    Raises:
        NotAcceptable: some instance's frames cannot be sent in any acceptable form (checked
            before the first byte is sent).
    """
    keep = {syntax: choose_frames(ranges, syntax) for syntax in {row[2] for row in rows}}
    types = {
        frame_media_type(syntax) if as_stored else OCTET_STREAM
        for syntax, as_stored in keep.items()
    }
    # Mixed compressed and native parts: each part names its own type.
    part_type = types.pop() if len(types) == 1 else "*/*"
    boundary = new_boundary()
    body = _parts(rows, keep, studies_url, study, boundary)
    return StreamingHttpResponse(body, content_type=multipart_type(part_type, boundary))


def _parts(
    rows: list[InstanceRow], keep: dict[str, bool], studies_url: str, study: str, boundary: str
) -> Iterator[bytes]:
    for pk, name, stored, series_uid, sop_uid in rows:
        with default_storage.open(name, "rb") as fp:
            try:
                layout = pixel_layout(fp, (pk, name))
            except NoPixelDataError:
                continue  # a report or a presentation state in the study: no frames
            numbers = list(range(1, layout.frames + 1))
            source = FrameSource(fp, layout)
            if keep[stored] and layout.compressed:
                syntax, media = stored, frame_media_type(stored)
                frames = source.stored_frames(numbers)
            else:
                syntax, media = EXPLICIT_VR_LITTLE_ENDIAN, OCTET_STREAM
                frames = source.native_frames(numbers)
            url = f"{studies_url}/{study}/series/{series_uid}/instances/{sop_uid}/frames/"
            for number, frame in zip(numbers, frames, strict=True):
                yield (
                    f"--{boundary}\r\nContent-Type: {media}; transfer-syntax={syntax}\r\n"
                    f"Content-Location: {url}{number}\r\nContent-Length: {len(frame)}\r\n\r\n"
                ).encode("latin-1")
                yield frame
                yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
