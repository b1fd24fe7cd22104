"""What every DICOMweb view shares: DRF authentication, project scoping, lookups, URLs.

Views are DRF `APIView`s so authentication (token or session), 401/403/404 and the error JSON
are the API's own. DRF's content negotiation and parsers are switched off: errors always render
as JSON, and each view negotiates its DICOMweb media types itself (see `negotiation`).
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from annotator.imaging.dicomweb import DICOM_JSON
from annotator.imaging.models import Instance, Series, Study
from annotator.projects.access import Action, projects_where
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user


@dataclass(frozen=True)
class StoredInstance:
    """What serving an instance's pixel data needs from its row."""

    pk: int
    file_name: str
    transfer_syntax_uid: str


class JsonErrorsNegotiation(BaseContentNegotiation):
    """Render errors as JSON whatever the Accept header asks; never parse bodies."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> None:
        return None

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, str(first.media_type)


class PayloadTooLarge(exceptions.APIException):
    """The request body is larger than IMAGING_MAX_UPLOAD_BYTES."""

    status_code = 413
    default_detail = "The request body is larger than the upload limit."
    default_code = "upload_too_large"


class LengthRequired(exceptions.APIException):
    """A chunked body on a server that cannot read one (Django's development server)."""

    status_code = 411
    default_detail = "Send a Content-Length header (this server cannot read chunked bodies)."
    default_code = "length_required"


@extend_schema(exclude=True)  # DICOMweb is described by PS3.18, not by our OpenAPI schema
class DicomWebView(APIView):
    """Base of the DICOMweb views: auth as the API, JSON errors, the project from the URL."""

    content_negotiation_class = JsonErrorsNegotiation
    renderer_classes = [JSONRenderer]
    parser_classes: list[type[BaseParser]] = []

    def get_project(self) -> Project:
        """Return the project in the URL, or 404 if the user is not a member."""
        return get_object_or_404(
            list_projects_for_user(user=request_user(self.request)), pk=self.kwargs["project_pk"]
        )

    def get_stored_instance(self, study: str, series: str, instance: str) -> StoredInstance:
        """Return the instance at these UIDs in the URL's project, in one cheap query.

        The frame endpoints are called once per slice, so the membership check rides along
        as a subquery instead of loading the project (and its annotations) first.

        Raises:
            Http404: the user is not a member of the project, or nothing matches.
        """
        visible = projects_where(user=request_user(self.request), action=Action.VIEW_PROJECT)
        row = (
            Instance.objects.filter(
                project_id=self.kwargs["project_pk"],
                project__in=visible.values("pk"),
                series__study__study_instance_uid=study,
                series__series_instance_uid=series,
                sop_instance_uid=instance,
            )
            .order_by()
            .values_list("pk", "file", "transfer_syntax_uid")[:1]
        )
        found = next(iter(row), None)
        if found is None:
            raise Http404
        return StoredInstance(*found)

    def studies_url(self, project: Project) -> str:
        """Return the absolute URL of this project's /studies resource."""
        path = reverse("dicomweb:studies", kwargs={"project_pk": project.pk})
        return self.request.build_absolute_uri(path)


def get_study(project: Project, study: str) -> Study:
    """Return the project's study with this (stored) UID, or raise 404."""
    return get_object_or_404(Study.objects.filter(project=project), study_instance_uid=study)


def get_series(project: Project, study: str, series: str) -> Series:
    """Return the project's series with these UIDs, or raise 404."""
    return get_object_or_404(
        Series.objects.filter(project=project).select_related("study"),
        study__study_instance_uid=study,
        series_instance_uid=series,
    )


def get_instance(project: Project, study: str, series: str, instance: str) -> Instance:
    """Return the project's instance with these UIDs, or raise 404."""
    return get_object_or_404(
        Instance.objects.filter(project=project).select_related("series", "series__study"),
        series__study__study_instance_uid=study,
        series__series_instance_uid=series,
        sop_instance_uid=instance,
    )


def instances_of(
    project: Project, study: str, series: str | None = None, instance: str | None = None
) -> QuerySet[Instance]:
    """Return the instances under a study/series/instance path in retrieve order; 404 if none.

    Raises:
        Http404: the path names nothing stored in the project.
    """
    qs = Instance.objects.filter(project=project, series__study__study_instance_uid=study)
    if series is not None:
        qs = qs.filter(series__series_instance_uid=series)
    if instance is not None:
        qs = qs.filter(sop_instance_uid=instance)
    qs = qs.order_by(
        "series__series_number", "series_id", "stack_position", "instance_number", "pk"
    )
    if not qs.exists():
        raise exceptions.NotFound()
    return qs


def instance_url(studies_url: str, study: str, series: str, instance: str) -> str:
    """Return the WADO-RS URL of an instance."""
    return f"{studies_url}/{study}/series/{series}/instances/{instance}"


def dicom_json_response(
    data: Any, status: int = 200, warnings: list[str] | None = None
) -> HttpResponse:
    """Return `data` as application/dicom+json."""
    response = HttpResponse(
        json.dumps(data, separators=(",", ":")), content_type=DICOM_JSON, status=status
    )
    if warnings:
        response["Warning"] = ", ".join(warnings)
    return response


def dicom_json_stream(items: Iterator[str]) -> StreamingHttpResponse:
    """Stream a JSON array of encoded datasets as application/dicom+json, one at a time."""

    def chunks() -> Iterator[bytes]:
        yield b"["
        for index, item in enumerate(items):
            yield (b"," if index else b"") + item.encode()
        yield b"]"

    return StreamingHttpResponse(chunks(), content_type=DICOM_JSON)
