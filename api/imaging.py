"""Image import and the study/series hierarchy of a project."""

from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.accounts.models import User
from annotator.core.errors import DomainError
from annotator.imaging.ingest import get_imaging_settings
from annotator.imaging.models import ImagingSettings, PseudonymEntry, Series, Stack, Study
from annotator.imaging.selectors import (
    list_pseudonyms,
    list_series,
    list_stack_frames,
    list_studies,
)
from annotator.imaging.services import (
    SETTINGS_FIELDS,
    stage_stream,
    stage_upload,
    update_imaging_settings,
)
from annotator.projects.access import Action
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.exceptions import register_current_view
from api.jobs import JobSerializer
from api.permissions import require_action
from api.scoping import ProjectScopedViewSet


class UploadTooLargeError(DomainError):
    """The request body is larger than the upload limit."""

    code = "upload_too_large"


class EmptyBodyError(DomainError):
    """A raw upload without a body."""

    code = "empty_upload"


RAW_UPLOAD_TYPES = {
    "application/zip",
    "application/x-zip-compressed",
    "application/dicom",
    "application/octet-stream",
}


class RawUploadParser(BaseParser):
    """Hand a zip or DICOM request body to the view unread, to be streamed to staging."""

    media_type = "application/*"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> dict[str, Any]:
        return {"stream": stream}


class StudySerializer(serializers.ModelSerializer[Study]):
    """A study as labeling sees it (pseudonymous patient)."""

    patient = serializers.CharField(source="patient.pseudonym", read_only=True)
    series_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Study
        fields = [
            "id",
            "study_instance_uid",
            "patient",
            "study_date",
            "study_time",
            "accession_number",
            "description",
            "series_count",
            "created_at",
        ]
        read_only_fields = fields


class StackSerializer(serializers.ModelSerializer[Stack]):
    """A geometrically consistent image set of a series."""

    class Meta:
        model = Stack
        fields = [
            "id",
            "index",
            "role",
            "size",
            "spacing",
            "origin",
            "direction",
            "uniform",
            "slice_positions",
            "gantry_tilt_deg",
            "frame_time_ms",
            "dtype",
        ]
        read_only_fields = fields


class StackFrameSerializer(serializers.Serializer[Any]):
    """One image of a stack: slice k is frame `frame` of that instance."""

    k = serializers.IntegerField()
    sop_instance_uid = serializers.CharField()
    frame = serializers.IntegerField()


class StackFramesSerializer(serializers.Serializer[Any]):
    """A stack's images in slice order, with the UIDs a DICOMweb client needs."""

    stack = serializers.IntegerField()
    study_instance_uid = serializers.CharField()
    series_instance_uid = serializers.CharField()
    frames = StackFrameSerializer(many=True)


class SeriesSerializer(serializers.ModelSerializer[Series]):
    """A series with its stacks, display information and review flags."""

    study_instance_uid = serializers.CharField(source="study.study_instance_uid", read_only=True)
    patient = serializers.CharField(source="study.patient.pseudonym", read_only=True)
    stacks = StackSerializer(many=True, read_only=True)

    class Meta:
        model = Series
        fields = [
            "id",
            "study",
            "study_instance_uid",
            "patient",
            "series_instance_uid",
            "modality",
            "series_number",
            "description",
            "body_part",
            "laterality",
            "is_image",
            "source_format",
            "burned_in_risk",
            "instance_count",
            "display",
            "status",
            "status_message",
            "stacks",
            "created_at",
        ]
        read_only_fields = fields


class SeriesFilter(django_filters.FilterSet):
    """?modality=&study=&status=&burned_in_risk=&is_image="""

    class Meta:
        model = Series
        fields = ["modality", "study", "status", "burned_in_risk", "is_image"]


class UploadSerializer(serializers.Serializer[Any]):
    """DICOM files, folders (as many files) or zip archives."""

    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), allow_empty=False
    )


@extend_schema(tags=["imaging"])
class UploadView(APIView):
    """Upload files or zips into a project; ingest runs as a job (follow it at /jobs/{id}/)."""

    parser_classes = [MultiPartParser, RawUploadParser]

    @extend_schema(
        request={
            "multipart/form-data": UploadSerializer,
            "application/zip": OpenApiTypes.BINARY,
            "application/dicom": OpenApiTypes.BINARY,
        },
        parameters=[OpenApiParameter("filename", str, description="Name of a raw upload.")],
        responses={202: JobSerializer},
    )
    def post(self, request: Request, project_pk: str) -> Response:
        """Multipart `files` (many files, a folder, zips), or a raw zip / DICOM body."""
        project = _project(request, project_pk)
        require_action(request, project, Action.IMPORT_DATA)
        length = int(request.headers.get("Content-Length") or 0)
        if length > settings.IMAGING_MAX_UPLOAD_BYTES:
            raise UploadTooLargeError("The upload is larger than the limit.")
        if not request.content_type.startswith("multipart/"):
            if request.content_type.split(";")[0].strip() not in RAW_UPLOAD_TYPES:
                raise UnsupportedMediaType(
                    request.content_type, "Send multipart files, or a zip or DICOM body."
                )
            stream = request.data.get("stream") if isinstance(request.data, dict) else None
            if stream is None:
                raise EmptyBodyError("Send multipart files, or a zip or DICOM body.")
            default = "upload.zip" if "zip" in request.content_type else "upload.dcm"
            job = stage_stream(
                project=project,
                actor=request_user(request),
                stream=stream,
                name=request.query_params.get("filename") or default,
            )
            return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        payload = UploadSerializer(data={"files": request.FILES.getlist("files")})
        payload.is_valid(raise_exception=True)
        job = stage_upload(
            project=project, actor=request_user(request), files=payload.validated_data["files"]
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _project(request: Request, project_pk: str) -> Project:
    return get_object_or_404(list_projects_for_user(user=request_user(request)), pk=project_pk)


@extend_schema(tags=["imaging"])
class StudyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[Study]):
    """Studies of a project."""

    queryset = Study.objects.none()
    serializer_class = StudySerializer

    def scoped_queryset(self, user: User) -> QuerySet[Study]:
        return list_studies(project=self.get_project())


@extend_schema(tags=["imaging"])
class SeriesViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[Series]):
    """Series of a project with their stacks."""

    queryset = Series.objects.none()
    serializer_class = SeriesSerializer
    filterset_class = SeriesFilter

    def scoped_queryset(self, user: User) -> QuerySet[Series]:
        return list_series(project=self.get_project())

    @extend_schema(responses={200: StackFramesSerializer})
    def frames(self, request: Request, project_pk: str, pk: str, index: str) -> Response:
        """The images of one stack in slice order (k): what a viewer loads over WADO-RS."""
        series = self.get_object()
        stack = get_object_or_404(Stack, series=series, index=int(index))
        return Response(
            {
                "stack": stack.pk,
                "study_instance_uid": series.study.study_instance_uid,
                "series_instance_uid": series.series_instance_uid,
                "frames": [
                    {"k": k, "sop_instance_uid": sop_instance_uid, "frame": frame}
                    for k, (sop_instance_uid, frame) in enumerate(list_stack_frames(stack=stack))
                ],
            }
        )


class ImagingSettingsSerializer(serializers.ModelSerializer[ImagingSettings]):
    """A project's de-identification policy (the secret is never shown)."""

    class Meta:
        model = ImagingSettings
        fields = [*SETTINGS_FIELDS, "version", "updated_at"]
        read_only_fields = fields


register_current_view(ImagingSettings, lambda obj, _: dict(ImagingSettingsSerializer(obj).data))


class ImagingSettingsUpdateSerializer(serializers.Serializer[Any]):
    """Changed settings plus the version the editor started from."""

    version = serializers.IntegerField(min_value=1)
    deidentify = serializers.BooleanField(required=False)
    retain_longitudinal_dates = serializers.BooleanField(required=False)
    retain_patient_characteristics = serializers.BooleanField(required=False)
    clean_descriptors = serializers.BooleanField(required=False)
    keep_pseudonym_map = serializers.BooleanField(required=False)
    safe_private_tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False
    )
    ae_title = serializers.RegexField(r"^[ -~]{0,16}$", required=False, allow_blank=True)


@extend_schema(tags=["imaging"])
class ImagingSettingsView(APIView):
    """Read (members) or change (managers) a project's de-identification policy."""

    @extend_schema(responses={200: ImagingSettingsSerializer})
    def get(self, request: Request, project_pk: str) -> Response:
        project = _project(request, project_pk)
        return Response(ImagingSettingsSerializer(get_imaging_settings(project=project)).data)

    @extend_schema(
        request=ImagingSettingsUpdateSerializer, responses={200: ImagingSettingsSerializer}
    )
    def patch(self, request: Request, project_pk: str) -> Response:
        project = _project(request, project_pk)
        require_action(request, project, Action.EDIT_PROJECT)
        payload = ImagingSettingsUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        expected = changes.pop("version")
        if "ae_title" in changes:
            changes["ae_title"] = changes["ae_title"].strip()
        updated = update_imaging_settings(
            project=project, actor=request_user(request), expected_version=expected, changes=changes
        )
        return Response(ImagingSettingsSerializer(updated).data)


class PseudonymSerializer(serializers.ModelSerializer[PseudonymEntry]):
    """A pseudonym and the original patient id it stands for."""

    pseudonym = serializers.CharField(source="patient.pseudonym", read_only=True)

    class Meta:
        model = PseudonymEntry
        fields = ["pseudonym", "original_patient_id", "created_at"]
        read_only_fields = fields


@extend_schema(tags=["imaging"])
class PseudonymViewSet(mixins.ListModelMixin, ProjectScopedViewSet[PseudonymEntry]):
    """The project's pseudonym map, when it keeps one: managers only."""

    queryset = PseudonymEntry.objects.none()
    serializer_class = PseudonymSerializer

    def scoped_queryset(self, user: User) -> QuerySet[PseudonymEntry]:
        project = self.get_project()
        require_action(self.request, project, Action.EDIT_PROJECT)
        return list_pseudonyms(project=project)
