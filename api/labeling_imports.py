"""Import of existing labels (DICOM SEG, RTSTRUCT, NIfTI) onto a task's series.

``POST /api/v1/projects/{project_pk}/tasks/{task_pk}/imports/`` (multipart: ``file``, optional
``label_map`` as a JSON object string ``{"<source name or number>": "<mask label key>"}``)
creates a mask annotation with source "import" in the task's import set.
"""

import json
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.labeling.imports import MAX_IMPORT_BYTES, LabelFormat, LabelImport, import_label_file
from annotator.labeling.models import LabelingTask
from annotator.labeling.selectors import list_tasks_for_user
from annotator.projects.access import Action
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.permissions import require_action

#: Multipart overhead allowed on top of the file itself before the body counts as too large.
_FORM_OVERHEAD = 64 * 1024


class ImportTooLargeError(exceptions.APIException):
    """The label file is larger than the import limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "import_too_large"
    default_detail = f"The label file is larger than {MAX_IMPORT_BYTES >> 20} MiB."


class LabelImportRequestSerializer(serializers.Serializer[Any]):
    """A label file and, optionally, which mask label each of its segments becomes."""

    file = serializers.FileField(help_text="DICOM SEG, DICOM RTSTRUCT, .nii or .nii.gz.")
    label_map = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='JSON object {"<source segment name or number>": "<mask label key>"}; '
        "unlisted segments match a mask label by key or name (case-insensitive).",
    )

    def validate_label_map(self, value: str) -> dict[str, str]:
        """Parse the JSON object of source segment -> label key."""
        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise serializers.ValidationError(f"Not valid JSON: {exc.msg}.") from exc
        if not isinstance(parsed, dict) or not all(
            isinstance(key, str) and isinstance(label, str) for key, label in parsed.items()
        ):
            raise serializers.ValidationError(
                'Must be a JSON object of strings: {"<source name or number>": "<label key>"}.'
            )
        return parsed


class ImportedSegmentSerializer(serializers.Serializer[Any]):
    """One imported segment: its number in the annotation and where it came from."""

    number = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # field named like a Field attribute
    source_number = serializers.IntegerField(
        help_text="Segment number, ROI number or label value in the file."
    )
    source_name = serializers.CharField()
    voxels = serializers.IntegerField()


class LabelImportSerializer(serializers.Serializer[LabelImport]):
    """The mask annotation an import made and its segments."""

    annotation = serializers.IntegerField(source="annotation.pk")
    version = serializers.IntegerField(source="annotation.version")
    format = serializers.ChoiceField(choices=[(f.value, f.display_name) for f in LabelFormat])
    segments = ImportedSegmentSerializer(many=True)


class LabelImportView(APIView):
    """Import a label file onto a task's series as a mask annotation (source "import")."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["labeling"],
        request={"multipart/form-data": LabelImportRequestSerializer},
        responses={
            201: LabelImportSerializer,
            400: OpenApiResponse(description="The file was refused; `message` says why."),
            403: OpenApiResponse(description="Your role may not import data."),
            404: OpenApiResponse(description="No such task in a project of yours."),
            413: OpenApiResponse(description="The file is larger than the import limit."),
        },
    )
    def post(self, request: Request, project_pk: int, task_pk: int) -> Response:
        """Import a DICOM SEG, RTSTRUCT or NIfTI label map; nothing is stored if it is refused."""
        user = request_user(request)
        project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
        task: LabelingTask = get_object_or_404(
            list_tasks_for_user(user=user, project=project), pk=task_pk
        )
        require_action(request, project, Action.IMPORT_DATA)
        if int(request.headers.get("Content-Length") or 0) > MAX_IMPORT_BYTES + _FORM_OVERHEAD:
            raise ImportTooLargeError
        payload = LabelImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ImportTooLargeError
        made = import_label_file(
            task=task,
            actor=user,
            name=upload.name or "",
            data=upload.read(),
            label_map=payload.validated_data.get("label_map") or None,
        )
        return Response(LabelImportSerializer(made).data, status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path("tasks/<int:task_pk>/imports/", LabelImportView.as_view(), name="task-imports"),
]
