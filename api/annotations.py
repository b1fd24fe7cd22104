"""Annotation sets, findings, their revisions and comments over REST.

Every edit names the version it started from (`version` in the body or `If-Match: "<n>"`);
a stale edit gets 409 with the stored annotation and nothing is overwritten.
"""

import re
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from annotator.accounts.models import User
from annotator.core.errors import DomainError
from annotator.imaging.models import Stack
from annotator.labeling.annotations import (
    add_comment,
    create_annotation,
    delete_annotation,
    restore_revision,
    update_annotation,
)
from annotator.labeling.errors import InvalidAnnotationError
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    Comment,
)
from annotator.labeling.selectors import (
    list_comments_for_user,
    list_revisions,
    list_tasks_for_user,
    list_visible_annotations,
    list_visible_sets,
)
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.accounts import UserRefSerializer
from api.auth import request_user
from api.exceptions import register_current_view
from api.scoping import ProjectScopedViewSet

IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False, description='"<version>"'
)


_VERSION = re.compile(r'^(?:W/)?"?(\d{1,10})"?$')


def expected_version(
    request: Request,
    body: dict[str, Any] | None = None,
    *,
    field: str = "version",
    error: type[DomainError] = InvalidAnnotationError,
) -> int:
    """Return the version an edit started from: body `<field>`, `If-Match: "<n>"` or
    `?<field>=` (the one place every versioned write of the API reads it).

    Raises:
        error (InvalidAnnotationError unless told): none was given (edits must say what they
            saw), or it is not one version number.
    """
    raw: Any = (body or {}).get(field)
    if raw is None:
        raw = request.headers.get("If-Match") or request.query_params.get(field)
    if raw is None or raw == "":
        raise error(
            f'Say which {field} you edited: a `{field}` field, If-Match: "<{field}>" (the ETag '
            f"of your last GET) or ?{field}=<{field}>.",
            field=field,
        )
    match = _VERSION.match(str(raw).strip())
    if match is None or int(match.group(1)) < 1:
        raise error(f'The {field} must be one number like "7", not {str(raw)[:40]!r}.', field=field)
    return int(match.group(1))


# --- serializers ----------------------------------------------------------------------------------


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    """A finding or answer; geometry in voxel indices of `stack`, measurements in mm."""

    annotation_set = serializers.IntegerField(source="annotation_set_id", read_only=True)
    task = serializers.IntegerField(source="annotation_set.task_id", read_only=True)
    stack = serializers.IntegerField(source="stack_id", read_only=True, allow_null=True)
    stack_index = serializers.IntegerField(source="stack.index", read_only=True, allow_null=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    updated_by = serializers.IntegerField(source="updated_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "annotation_set",
            "task",
            "label_key",
            "kind",
            "scope",
            "study",
            "series",
            "stack",
            "stack_index",
            "slice_index",
            "data",
            "attributes",
            "measurements",
            "source",
            "model_version",
            "schema_version",
            "copied_from",
            "deleted",
            "version",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


register_current_view(Annotation, lambda a, _: dict(AnnotationSerializer(a).data))


class AnnotationSetSerializer(serializers.ModelSerializer[AnnotationSet]):
    """One reader's (or the reference's, a model's, an import's) findings on a task."""

    reader = UserRefSerializer(source="assignment.reader", read_only=True, allow_null=True)
    assignment = serializers.IntegerField(source="assignment_id", read_only=True, allow_null=True)
    annotations = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationSet
        fields = [
            "id",
            "task",
            "kind",
            "assignment",
            "reader",
            "model_version",
            "final",
            "based_on",
            "version",
            "annotations",
            "updated_at",
        ]
        read_only_fields = fields

    def get_annotations(self, annotation_set: AnnotationSet) -> list[dict[str, Any]]:
        live = [a for a in annotation_set.annotations.all() if not a.deleted]
        return [dict(AnnotationSerializer(a).data) for a in live]


class AnnotationCreateSerializer(serializers.Serializer[Any]):
    """A new finding: which label, where (stack id, slice k) and its data and attributes."""

    label_key = serializers.CharField(max_length=63)
    data = serializers.JSONField()  # type: ignore[assignment]  # field named like an attribute
    attributes = serializers.JSONField(required=False)
    stack = serializers.IntegerField(required=False, allow_null=True)
    slice_index = serializers.IntegerField(required=False, allow_null=True)


class AnnotationUpdateSerializer(serializers.Serializer[Any]):
    """Changed geometry and/or attributes, with the version they were made on."""

    version = serializers.IntegerField(required=False, min_value=1)
    data = serializers.JSONField(required=False)  # type: ignore[assignment]  # as above
    attributes = serializers.JSONField(required=False)


class RestoreSerializer(serializers.Serializer[Any]):
    """Make revision `revision` current again."""

    version = serializers.IntegerField(required=False, min_value=1)
    revision = serializers.IntegerField(min_value=1)


class RevisionSerializer(serializers.ModelSerializer[AnnotationRevision]):
    """A saved state of an annotation."""

    author = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AnnotationRevision
        fields = [
            "number",
            "author",
            "source",
            "model_version",
            "schema_version",
            "data",
            "attributes",
            "measurements",
            "deleted",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer[Comment]):
    """A comment on a task or a finding."""

    author = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "task", "annotation", "author", "text", "kind", "created_at"]
        read_only_fields = fields


class CommentCreateSerializer(serializers.Serializer[Any]):
    """Text, and optionally the finding it is about."""

    text = serializers.CharField(max_length=10_000)
    annotation = serializers.IntegerField(required=False, allow_null=True)


# --- views ---------------------------------------------------------------------------------------


class AnnotationSetViewSet(ProjectScopedViewSet[AnnotationSet]):
    """A set and its findings; POST adds a finding."""

    queryset = AnnotationSet.objects.none()
    serializer_class = AnnotationSetSerializer

    def scoped_queryset(self, user: User) -> Any:
        return list_visible_sets(user=user, project=self.get_project()).prefetch_related(
            "annotations__stack", "annotations__annotation_set"
        )

    def retrieve(self, request: Request, **_: Any) -> Response:
        """Return the set with its live findings."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=AnnotationCreateSerializer, responses={201: AnnotationSerializer})
    @action(detail=True, methods=["post"])
    def annotations(self, request: Request, **_: Any) -> Response:
        """Add a finding to this set."""
        annotation_set = self.get_object()
        payload = AnnotationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        stack = None
        if data.get("stack") is not None:
            stack = get_object_or_404(
                Stack, pk=data["stack"], series__project_id=annotation_set.task.project_id
            )
        made = create_annotation(
            annotation_set=annotation_set,
            actor=request_user(request),
            label_key=data["label_key"],
            data=data["data"],
            attributes=data.get("attributes"),
            stack=stack,
            slice_index=data.get("slice_index"),
        )
        return Response(AnnotationSerializer(made).data, status=status.HTTP_201_CREATED)


class AnnotationViewSet(ProjectScopedViewSet[Annotation]):
    """One finding: read, edit with its version, delete, history and restore."""

    queryset = Annotation.objects.none()
    serializer_class = AnnotationSerializer

    def scoped_queryset(self, user: User) -> Any:
        return list_visible_annotations(user=user, project=self.get_project(), include_deleted=True)

    def _respond(self, annotation: Annotation, code: int = status.HTTP_200_OK) -> Response:
        response = Response(AnnotationSerializer(annotation).data, status=code)
        response["ETag"] = f'"{annotation.version}"'
        return response

    def retrieve(self, request: Request, **_: Any) -> Response:
        """Return the finding (ETag = its version)."""
        return self._respond(self.get_object())

    @extend_schema(
        request=AnnotationUpdateSerializer,
        responses={200: AnnotationSerializer},
        parameters=[IF_MATCH],
    )
    def partial_update(self, request: Request, **_: Any) -> Response:
        """Change geometry and/or attributes; 409 with the current state when stale."""
        annotation = self.get_object()
        payload = AnnotationUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        made = update_annotation(
            annotation=annotation,
            actor=request_user(request),
            expected_version=expected_version(request, data),
            data=data.get("data"),
            attributes=data.get("attributes"),
        )
        return self._respond(made)

    @extend_schema(responses={200: AnnotationSerializer}, parameters=[IF_MATCH])
    def destroy(self, request: Request, **_: Any) -> Response:
        """Delete the finding (kept in history; restore brings it back)."""
        made = delete_annotation(
            annotation=self.get_object(),
            actor=request_user(request),
            expected_version=expected_version(request),
        )
        return self._respond(made)

    @extend_schema(responses={200: RevisionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def revisions(self, request: Request, **_: Any) -> Response:
        """Every saved state, oldest first."""
        revisions = list_revisions(annotation=self.get_object())
        return Response(RevisionSerializer(revisions, many=True).data)

    @extend_schema(responses={200: RevisionSerializer})
    @action(detail=True, methods=["get"], url_path=r"revisions/(?P<number>\d+)")
    def revision(self, request: Request, number: str, **_: Any) -> Response:
        """One saved state."""
        revision = get_object_or_404(list_revisions(annotation=self.get_object()), number=number)
        return Response(RevisionSerializer(revision).data)

    @extend_schema(request=RestoreSerializer, responses={200: AnnotationSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, **_: Any) -> Response:
        """Make an earlier revision current (as a new revision)."""
        payload = RestoreSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        made = restore_revision(
            annotation=self.get_object(),
            actor=request_user(request),
            expected_version=expected_version(request, payload.validated_data),
            number=payload.validated_data["revision"],
        )
        return self._respond(made)


class TaskCommentsView(APIView):
    """Comments on a task (GET) and a new comment (POST), visible as blinding allows."""

    def _task(self, request: Request, project_pk: int, task_pk: int) -> Any:
        user = request_user(request)
        project: Project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
        return get_object_or_404(list_tasks_for_user(user=user, project=project), pk=task_pk)

    @extend_schema(responses={200: CommentSerializer(many=True)})
    def get(self, request: Request, project_pk: int, task_pk: int) -> Response:
        """List the task's comments, oldest first."""
        task = self._task(request, project_pk, task_pk)
        comments = list_comments_for_user(user=request_user(request), task=task)
        return Response(CommentSerializer(comments, many=True).data)

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, project_pk: int, task_pk: int) -> Response:
        """Comment on the task or one of its (visible) findings."""
        task = self._task(request, project_pk, task_pk)
        payload = CommentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = request_user(request)
        annotation = None
        if payload.validated_data.get("annotation") is not None:
            annotation = get_object_or_404(
                list_visible_annotations(user=user, project=task.project),
                pk=payload.validated_data["annotation"],
            )
        comment = add_comment(
            task=task, actor=user, text=payload.validated_data["text"], annotation=annotation
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("annotation-sets", AnnotationSetViewSet, basename="annotation-set")
router.register("annotations", AnnotationViewSet, basename="annotation")

urlpatterns = [
    path("tasks/<int:task_pk>/comments/", TaskCommentsView.as_view(), name="task-comments"),
    *router.urls,
]
