"""Mask bits of one annotation over HTTP: a compact binary format both ways, NIfTI for export.

``/api/v1/projects/{project_pk}/annotations/{pk}/mask/``

GET returns Content-Type ``application/vnd.annotator.mask`` (stored chunks streamed as they
are), or a .nii.gz attachment with ``?format=nifti`` or ``Accept: application/gzip``. PATCH
replaces the slices it carries (a 0-length chunk clears one); PUT replaces the whole mask
(slices it does not carry become empty). Both name the version they edit with
``If-Match: "<version>"`` (the ETag of the GET) or ``?version=``; a stale version gets 409 with
the current annotation.

Wire format (all integers little-endian)::

    b"AMSK" | uint8 version = 1 | 3 zero bytes | uint32 N | N bytes UTF-8 JSON header | chunks

    header = {"shape": [slices, rows, columns], "encoding": "packbits-zlib",
              "bitorder": "little", "chunks": [{"segment": 1, "k": 42, "length": 1234}, ...]}

The chunks follow the header back to back in header order. A chunk is one segment's slice k:
``zlib(packbits(bool[rows, columns] row-major, bitorder="little"))``; length 0 is an empty
slice. A GET adds "version" and "segments" ([{"number", "label"}]) to the header. In a browser:
DataView for the prefix, TextDecoder + JSON.parse for the header, and
``DecompressionStream("deflate")`` per chunk.
"""

import itertools
import re
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.imaging.volume import stack_geometry
from annotator.labeling.errors import ImportRejectedError, InvalidAnnotationError
from annotator.labeling.import_nifti import read_nifti
from annotator.labeling.imports import gunzip_bounded
from annotator.labeling.mask_codec import MEDIA_TYPE, decode_message, message_header
from annotator.labeling.mask_nifti import NIFTI_MEDIA_TYPE, mask_to_nifti
from annotator.labeling.mask_reads import (
    iter_chunk_data,
    list_chunk_refs,
    mask_shape,
    mask_stack,
    segment_labels,
)
from annotator.labeling.masks import apply_mask_patch, write_segments
from annotator.labeling.models import Annotation, Source
from annotator.labeling.selectors import get_annotation_for_user
from annotator.projects.selectors import list_projects_for_user
from api.annotations import expected_version
from api.auth import request_user

#: Largest mask body accepted (a dense 512x512x300 segment packs to under 10 MB).
MAX_BODY_BYTES = 64 * 1024 * 1024
_K_RANGE = re.compile(r"^(\d{1,6})(?:-(\d{1,6}))?$")

WIRE_DOC = (__doc__ or "").split("Wire format", 1)[-1]


class MaskBodyTooLargeError(exceptions.APIException):
    """The mask body is larger than MAX_BODY_BYTES."""

    status_code = 413
    default_detail = f"The mask body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB."
    default_code = "mask_too_large"


class MaskParser(BaseParser):
    """Hand an application/vnd.annotator.mask body to the view as bytes (bounded read)."""

    media_type = MEDIA_TYPE

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = bytes(stream.read(MAX_BODY_BYTES + 1))
        if len(data) > MAX_BODY_BYTES:
            raise MaskBodyTooLargeError
        return data


class NiftiParser(MaskParser):
    """Hand a .nii.gz body (a label map on the stack's grid) to the view as bytes."""

    media_type = NIFTI_MEDIA_TYPE


class MaskSavedSerializer(serializers.ModelSerializer[Annotation]):
    """The annotation after a mask save: its new version and server-computed measurements."""

    class Meta:
        model = Annotation
        fields = ["id", "version", "measurements"]
        read_only_fields = fields


def _annotation(request: Request, project_pk: int, pk: int) -> Annotation:
    user = request_user(request)
    project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
    try:
        return get_annotation_for_user(user=user, project=project, annotation_id=pk)
    except Annotation.DoesNotExist as error:
        raise exceptions.NotFound from error


def _as_of_revision(request: Request, annotation: Annotation) -> Annotation:
    """Return the annotation as revision ?revision=n stored it (unsaved), or as it is now."""
    raw = request.query_params.get("revision")
    if raw is None:
        return annotation
    if not raw.isdigit():
        raise InvalidAnnotationError("revision must be a revision number.", field="revision")
    revision = annotation.revisions.filter(number=int(raw)).first()
    if revision is None:
        raise NotFound(f"Annotation {annotation.pk} has no revision {raw}.")
    annotation.data = revision.data
    annotation.mask_manifest = revision.mask_manifest
    annotation.version = revision.number
    return annotation


def _etag(annotation: Annotation) -> str:
    return f'"{annotation.version}"'


def _segments_filter(request: Request, labels: dict[int, str]) -> list[int] | None:
    raw = [part for value in request.query_params.getlist("segment") for part in value.split(",")]
    if not raw:
        return None
    try:
        numbers = sorted({int(part) for part in raw})
    except ValueError as error:
        raise InvalidAnnotationError("segment must be an integer.", field="segment") from error
    unknown = [n for n in numbers if n not in labels]
    if unknown:
        raise InvalidAnnotationError(
            f"Segment(s) {unknown} are not in this annotation's segments {sorted(labels)}.",
            field="segment",
        )
    return numbers


def _k_filter(request: Request) -> tuple[int, int | None]:
    raw = request.query_params.get("k")
    if not raw:
        return 0, None
    match = _K_RANGE.match(raw.strip())
    if match is None:
        raise InvalidAnnotationError("k must be a slice index or a range like 10-20.", field="k")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    if last < first:
        raise InvalidAnnotationError("k range must run upwards, like 10-20.", field="k")
    return first, last + 1


def _wants_nifti(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt not in (None, "", "nifti", "mask"):
        raise InvalidAnnotationError('format must be "mask" or "nifti".', field="format")
    if fmt:
        return fmt == "nifti"
    accept = request.headers.get("Accept", "")
    return NIFTI_MEDIA_TYPE in accept and MEDIA_TYPE not in accept


def _not_modified(request: Request, etag: str) -> bool:
    tags = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    return etag in tags or f"W/{etag}" in tags


@extend_schema(tags=["labeling"])
class AnnotationMaskView(APIView):
    """The bits of a mask annotation: binary wire format (GET, PATCH, PUT) and NIfTI (GET)."""

    parser_classes = [MaskParser, NiftiParser]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # Bodies are binary HttpResponses; only JSON answers (saves, errors) use a renderer,
        # and ?format= is ours (mask or nifti), not DRF's renderer override.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        summary="Fetch a mask's bits (binary wire format or NIfTI)",
        description=(
            "Every stored (non-empty) slice of every segment, or those selected by ?segment= "
            "and ?k=, as `application/vnd.annotator.mask`; `?format=nifti` (or "
            "`Accept: application/gzip`) returns a .nii.gz attachment instead: a uint8 label "
            "map [i, j, k] when segments do not overlap, else one-hot [i, j, k, segment], on "
            "the stack's RAS grid. The ETag is the annotation version.\n\nWire format" + WIRE_DOC
        ),
        parameters=[
            OpenApiParameter(
                "segment",
                int,
                many=True,
                description="Only these segment numbers (repeat or comma-separate).",
            ),
            OpenApiParameter("k", str, description="Only slice k, or slices a-b (inclusive)."),
            OpenApiParameter(
                "revision", int, description="The mask as that revision stored it (history)."
            ),
            OpenApiParameter("format", str, enum=["mask", "nifti"], description="Default mask."),
        ],
        responses={
            (200, MEDIA_TYPE): OpenApiTypes.BINARY,
            (200, NIFTI_MEDIA_TYPE): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="Not modified (If-None-Match had the ETag)."),
        },
    )
    def get(self, request: Request, project_pk: int, pk: int) -> HttpResponseBase:
        """Stream the stored chunks (no decoding), or export NIfTI; ?revision=n for an old one."""
        annotation = _as_of_revision(request, _annotation(request, project_pk, pk))
        shape = mask_shape(annotation)
        etag = _etag(annotation)
        response: HttpResponseBase
        if _wants_nifti(request):
            response = HttpResponse(mask_to_nifti(annotation), content_type=NIFTI_MEDIA_TYPE)
            response["Content-Disposition"] = (
                f'attachment; filename="annotation-{annotation.pk}-v{annotation.version}.nii.gz"'
            )
        else:
            labels = segment_labels(annotation)
            segments = _segments_filter(request, labels)
            start, stop = _k_filter(request)
            if segments is None and (start, stop) == (0, None) and _not_modified(request, etag):
                response = HttpResponse(status=304)
            else:
                refs = list_chunk_refs(annotation, segments=segments, start=start, stop=stop)
                head = message_header(
                    shape,
                    ((ref.segment, ref.k, ref.length) for ref in refs),
                    version=annotation.version,
                    segments=[{"number": n, "label": label} for n, label in labels.items()],
                )
                response = StreamingHttpResponse(
                    itertools.chain([head], iter_chunk_data(refs)), content_type=MEDIA_TYPE
                )
                response["Content-Length"] = str(len(head) + sum(ref.length for ref in refs))
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Accept"
        return response

    def _save(self, request: Request, project_pk: int, pk: int, *, replace: bool) -> Response:
        annotation = _annotation(request, project_pk, pk)
        mask_shape(annotation)  # 400 for a non-mask before anything else is read
        version = expected_version(request)
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            raise MaskBodyTooLargeError
        body = request.data
        if not isinstance(body, bytes):
            raise InvalidAnnotationError(f"Send the mask as {MEDIA_TYPE}.", field="body")
        if request.content_type.split(";")[0].strip() == NIFTI_MEDIA_TYPE:
            if not replace:
                raise InvalidAnnotationError(
                    "A NIfTI label map replaces the whole mask: send it with PUT.", field="body"
                )
            return self._save_nifti(request, annotation, version, body)
        message = decode_message(body)
        saved = apply_mask_patch(
            annotation=annotation,
            actor=request_user(request),
            expected_version=version,
            chunks=[(chunk.segment, chunk.k, chunk.data) for chunk in message.chunks],
            shape=message.shape,
            replace=replace,
        )
        response = Response(MaskSavedSerializer(saved).data)
        response["ETag"] = _etag(saved)
        return response

    def _save_nifti(
        self, request: Request, annotation: Annotation, version: int, body: bytes
    ) -> Response:
        """Replace every segment from a label map checked against the stack's geometry."""
        try:
            found = read_nifti(gunzip_bounded(body), stack_geometry(mask_stack(annotation)))
        except ImportRejectedError as error:
            raise InvalidAnnotationError(error.message, field="body") from error
        known = set(segment_labels(annotation))
        unknown = sorted({number for number, _, _ in found} - known)
        if unknown:
            raise InvalidAnnotationError(
                f"The label map holds values {unknown}; this mask's segments are {sorted(known)}.",
                field="body",
            )
        saved = write_segments(
            annotation=annotation,
            actor=request_user(request),
            expected_version=version,
            segments={number: volume for number, _, volume in found},
            source=Source.HUMAN,
            note="NIfTI label map",
        )
        response = Response(MaskSavedSerializer(saved).data)
        response["ETag"] = _etag(saved)
        return response

    @extend_schema(
        summary="Replace some slices of a mask",
        description=(
            "Body in the wire format: each chunk replaces that segment's slice k (length 0 "
            'clears it); other slices keep their bits. `If-Match: "<version>"` (or '
            "?version=) is required: a stale one gets 409 with the current annotation. "
            f"At most {MAX_BODY_BYTES // (1024 * 1024)} MB (413).\n\nWire format" + WIRE_DOC
        ),
        request={MEDIA_TYPE: OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                location=OpenApiParameter.HEADER,
                description='The version edited, e.g. "7" (the ETag of the GET).',
            ),
            OpenApiParameter("version", int, description="Instead of If-Match."),
        ],
        responses={200: MaskSavedSerializer},
    )
    def patch(self, request: Request, project_pk: int, pk: int) -> Response:
        """Replace the slices the body carries."""
        return self._save(request, project_pk, pk, replace=False)

    @extend_schema(
        summary="Replace a whole mask",
        description=(
            "Like PATCH, but every slice the body does not carry becomes empty. A NIfTI label "
            f"map (`Content-Type: {NIFTI_MEDIA_TYPE}`, .nii.gz with values = segment numbers "
            "or one-hot [i, j, k, segment]) is accepted too when its grid matches the stack "
            "(flipped axes are reoriented; any other difference is a 400 naming it)."
            "\n\nWire format" + WIRE_DOC
        ),
        request={MEDIA_TYPE: OpenApiTypes.BINARY, NIFTI_MEDIA_TYPE: OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                location=OpenApiParameter.HEADER,
                description='The version edited, e.g. "7" (the ETag of the GET).',
            ),
            OpenApiParameter("version", int, description="Instead of If-Match."),
        ],
        responses={200: MaskSavedSerializer},
    )
    def put(self, request: Request, project_pk: int, pk: int) -> Response:
        """Replace the whole mask with the body's slices."""
        return self._save(request, project_pk, pk, replace=True)


urlpatterns: list[URLPattern] = [
    path("annotations/<int:pk>/mask/", AnnotationMaskView.as_view(), name="annotation-mask"),
]
