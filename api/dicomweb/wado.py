"""WADO-RS: instances (multipart application/dicom), metadata, frames and bulk data.

Instances stream straight from storage, one file at a time, so a study of any size is served
in constant memory. Metadata is read per request from each file's header (pixels skipped).
"""

from collections.abc import Callable, Iterable, Iterator
from typing import IO

from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from rest_framework.request import Request

from annotator.imaging.dicom_pixels import PIXEL_DATA, read_bulk_data, transcoder
from annotator.imaging.dicomweb import (
    DICOM,
    EXPLICIT_VR_LITTLE_ENDIAN,
    OCTET_STREAM,
    frame_media_type,
    parse_frame_list,
)
from annotator.imaging.frames import FrameSource, pixel_layout
from annotator.imaging.metadata import BULK_TOKEN, metadata_texts
from api.dicomweb.base import (
    DicomWebView,
    StoredInstance,
    dicom_json_stream,
    instance_url,
    instances_of,
)
from api.dicomweb.bulk import bulk_data_response, wants_bulk_data
from api.dicomweb.multipart import encode_parts, multipart_type, new_boundary
from api.dicomweb.negotiation import (
    MediaRange,
    choose_dicom,
    choose_frames,
    parse_accept,
    require_json,
    require_octet_stream,
)

READ_BYTES = 1 << 18


def accept_ranges(request: Request) -> list[MediaRange]:
    """Return the acceptable media ranges (the `accept` query parameter overrides the header,
    as PS3.18 8.3.3.1 allows for browsers)."""
    return parse_accept(request.query_params.get("accept") or request.headers.get("Accept"))


def _file_chunks(name: str, convert: Callable[[IO[bytes]], bytes] | None) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as fp:
        if convert is not None:
            yield convert(fp)
            return
        while chunk := fp.read(READ_BYTES):
            yield chunk


class RetrieveInstancesView(DicomWebView):
    """GET a study, series or instance: DICOM files, or every frame's pixels as bulk data."""

    def get(
        self,
        request: Request,
        project_pk: int,
        study: str,
        series: str | None = None,
        instance: str | None = None,
    ) -> HttpResponseBase:
        project = self.get_project()
        ranges = accept_ranges(request)
        if wants_bulk_data(ranges):
            located = instances_of(project, study, series, instance).values_list(
                "pk",
                "file",
                "transfer_syntax_uid",
                "series__series_instance_uid",
                "sop_instance_uid",
            )
            return bulk_data_response(list(located), ranges, self.studies_url(project), study)
        rows = list(
            instances_of(project, study, series, instance).values_list(
                "file", "transfer_syntax_uid"
            )
        )
        choice = choose_dicom(ranges, {ts for _, ts in rows}, single=instance is not None)
        target = choice.transfer_syntax
        convert = transcoder(target)
        if not choice.multipart:
            name, stored = rows[0]
            body = b"".join(_file_chunks(name, None if stored == target else convert))
            return HttpResponse(body, content_type=f"{DICOM}; transfer-syntax={target or stored}")
        boundary = new_boundary()
        parts = (
            (
                f"{DICOM}; transfer-syntax={target or stored}",
                _file_chunks(name, None if stored == target else convert),
            )
            for name, stored in rows
        )
        return StreamingHttpResponse(
            encode_parts(parts, boundary), content_type=multipart_type(DICOM, boundary)
        )


class RetrieveMetadataView(DicomWebView):
    """GET the DICOM JSON of every instance of a study, series or instance."""

    def get(
        self,
        request: Request,
        project_pk: int,
        study: str,
        series: str | None = None,
        instance: str | None = None,
    ) -> HttpResponseBase:
        require_json(accept_ranges(request))
        project = self.get_project()
        rows = list(
            instances_of(project, study, series, instance).values_list(
                "pk",
                "content_digest",
                "file",
                "transfer_syntax_uid",
                "series__series_instance_uid",
                "sop_instance_uid",
            )
        )
        studies_url = self.studies_url(project)
        texts = metadata_texts(
            (pk, digest, name, syntax) for pk, digest, name, syntax, _, _ in rows
        )

        def items() -> Iterator[str]:
            for text, (_, _, _, _, series_uid, sop_uid) in zip(texts, rows, strict=True):
                url = instance_url(studies_url, study, series_uid, sop_uid)
                yield text.replace(BULK_TOKEN, f"{url}/bulkdata")

        return dicom_json_stream(items())


def frames_response(
    instance: StoredInstance, numbers: list[int] | None, ranges: list[MediaRange]
) -> HttpResponseBase:
    """Answer frames of an instance (all of them for None) as multipart/related."""
    keep = choose_frames(ranges, instance.transfer_syntax_uid)
    fp = default_storage.open(instance.file_name, "rb")
    try:
        layout = pixel_layout(fp, (instance.pk, instance.file_name))
        wanted = numbers or list(range(1, layout.frames + 1))
        layout.check(wanted)
        source = FrameSource(fp, layout)
        if keep and layout.compressed:
            syntax = layout.transfer_syntax
            part_type, frames = frame_media_type(syntax), source.stored_frames(wanted)
        else:
            syntax, part_type = EXPLICIT_VR_LITTLE_ENDIAN, OCTET_STREAM
            frames = source.native_frames(wanted)
        content_type = f"{part_type}; transfer-syntax={syntax}"
        boundary = new_boundary()
        response: HttpResponseBase
        if len(wanted) == 1:  # one frame (a viewer's every request): plain, with Content-Length
            with fp:
                body = b"".join(encode_parts([(content_type, frames)], boundary))
            response = HttpResponse(body, content_type=multipart_type(part_type, boundary))
        else:
            body_chunks = encode_parts(((content_type, [frame]) for frame in frames), boundary)
            response = StreamingHttpResponse(
                _closing(body_chunks, fp), content_type=multipart_type(part_type, boundary)
            )
    except BaseException:
        fp.close()
        raise
    response["Cache-Control"] = "private, max-age=86400"  # stored files never change
    response["Vary"] = "Accept"
    return response


def _closing(chunks: Iterable[bytes], fp: IO[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        fp.close()


class RetrieveFramesView(DicomWebView):
    """GET frames (1-based, comma-separated) of an instance: native or as stored."""

    def get(
        self, request: Request, project_pk: int, study: str, series: str, instance: str, frames: str
    ) -> HttpResponseBase:
        numbers = parse_frame_list(frames)
        ranges = accept_ranges(request)
        found = self.get_stored_instance(study, series, instance)
        return frames_response(found, numbers, ranges)


class RetrieveBulkDataView(DicomWebView):
    """GET a BulkDataURI of the metadata: pixel data (as frames) or another binary value."""

    def get(
        self, request: Request, project_pk: int, study: str, series: str, instance: str, path: str
    ) -> HttpResponseBase:
        ranges = accept_ranges(request)
        found = self.get_stored_instance(study, series, instance)
        if path.strip("/").upper() == PIXEL_DATA:
            return frames_response(found, None, ranges)
        require_octet_stream(ranges)
        with default_storage.open(found.file_name, "rb") as fp:
            data = read_bulk_data(fp, path)
        boundary = new_boundary()
        body = b"".join(encode_parts([(OCTET_STREAM, [data])], boundary))
        return HttpResponse(body, content_type=multipart_type(OCTET_STREAM, boundary))
