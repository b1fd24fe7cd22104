"""Labeling over REST: tasks, the work queue, assignments, submission, review, adjudication.

Annotations, revisions and comments live in api/annotations.py; masks, imports, lesion
tracking and progress in api/labeling_*.py. All under /api/v1/projects/{project_pk}/.
"""

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from annotator.accounts.models import User
from annotator.labeling.adjudication import finalize_reference, start_reference
from annotator.labeling.models import (
    Assignment,
    AssignmentStatus,
    LabelingTask,
    TaskStatus,
)
from annotator.labeling.reading import record_activity, review_assignment, submit_assignment
from annotator.labeling.selectors import (
    list_assignments_for_user,
    list_tasks_for_user,
    list_visible_sets,
)
from annotator.labeling.task_state import update_task
from annotator.labeling.workflow import (
    assign_reader,
    claim_next_task,
    distribute_tasks,
    reassign,
    set_exclusion,
    unassign,
)
from annotator.projects.access import Action, can, roles_allowed
from annotator.projects.models import Project
from api.accounts import UserRefSerializer
from api.annotations import AnnotationSetSerializer
from api.annotations import urlpatterns as annotation_urls
from api.auth import request_user
from api.exceptions import register_current_view
from api.permissions import require_action
from api.scoping import ProjectScopedViewSet


def _member(project: Project, user_id: int) -> User:
    return get_object_or_404(User, pk=user_id, memberships__project=project, is_active=True)


# --- serializers ----------------------------------------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer[Assignment]):
    """One reader's slot on a task."""

    reader = UserRefSerializer(read_only=True)
    annotation_set = serializers.IntegerField(source="annotation_set.pk", read_only=True)
    task = serializers.IntegerField(source="task_id", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "task",
            "reader",
            "status",
            "method",
            "annotation_set",
            "active_seconds",
            "started_at",
            "submitted_at",
            "reviewed_at",
            "review_comment",
            "version",
            "created_at",
        ]
        read_only_fields = fields


register_current_view(Assignment, lambda a, _: dict(AssignmentSerializer(a).data))


class TaskSerializer(serializers.ModelSerializer[LabelingTask]):
    """A labeling task with what a worklist shows; readers see only their own slot."""

    study = serializers.SerializerMethodField()
    series = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    assignments = serializers.SerializerMethodField()
    my_assignment = serializers.SerializerMethodField()

    class Meta:
        model = LabelingTask
        fields = [
            "id",
            "unit",
            "status",
            "priority",
            "triage_score",
            "uncertainty",
            "due_date",
            "readers_required",
            "study",
            "series",
            "instance",
            "image",
            "assignments",
            "my_assignment",
            "version",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def _user(self) -> User:
        return request_user(self.context["request"])

    def get_study(self, task: LabelingTask) -> dict[str, Any]:
        study = task.study
        return {
            "id": study.pk,
            "study_instance_uid": study.study_instance_uid,
            "study_date": study.study_date,
            "description": study.description,
            "patient": study.patient_id,
        }

    def get_series(self, task: LabelingTask) -> dict[str, Any] | None:
        series = task.series
        if series is None:
            return None
        return {
            "id": series.pk,
            "modality": series.modality,
            "description": series.description,
            "series_number": series.series_number,
        }

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_image(self, task: LabelingTask) -> dict[str, Any] | None:
        """For an image task: where its image sits (stack index and slice k) and its UID."""
        instance = task.instance
        if instance is None or instance.stack is None:
            return None
        return {
            "sop_instance_uid": instance.sop_instance_uid,
            "stack_index": instance.stack.index,
            "slice_index": instance.stack_position,
        }

    def get_assignments(self, task: LabelingTask) -> list[dict[str, Any]]:
        sees_all = self.context.get("sees_all", False)
        user = self._user()
        return [
            dict(AssignmentSerializer(a).data)
            for a in task.assignments.all()
            if sees_all or a.reader_id == user.pk
        ]

    def get_my_assignment(self, task: LabelingTask) -> dict[str, Any] | None:
        user = self._user()
        mine = next((a for a in task.assignments.all() if a.reader_id == user.pk), None)
        return None if mine is None else dict(AssignmentSerializer(mine).data)


register_current_view(
    LabelingTask, lambda t, r: dict(TaskSerializer(t, context={"request": r}).data)
)


class TaskUpdateSerializer(serializers.Serializer[Any]):
    """Manager edits of a task; `version` is the one the editor saw."""

    version = serializers.IntegerField(min_value=1)
    priority = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)
    due_date = serializers.DateField(required=False, allow_null=True)
    readers_required = serializers.IntegerField(required=False, min_value=1, max_value=10)
    skipped = serializers.BooleanField(required=False)


class ReaderSerializer(serializers.Serializer[Any]):
    """A member to give a slot to."""

    reader = serializers.IntegerField()


class SubmitSerializer(serializers.Serializer[Any]):
    """Hand in a reading (version optional: the one the reader saw)."""

    version = serializers.IntegerField(required=False, min_value=1)


class ReviewSerializer(serializers.Serializer[Any]):
    """A reviewer's decision on a submitted reading."""

    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    version = serializers.IntegerField(required=False, min_value=1)


class ReferenceSerializer(serializers.Serializer[Any]):
    """Start the reference from one reading, or from a merge of all when left out."""

    from_set = serializers.IntegerField(required=False, allow_null=True)


class ExclusionSerializer(serializers.Serializer[Any]):
    """Keep a member off a project's dealing or off one task (or lift it)."""

    user = serializers.IntegerField()
    task = serializers.IntegerField(required=False, allow_null=True)
    excluded = serializers.BooleanField(default=True)


class DistributeResultSerializer(serializers.Serializer[Any]):
    """How many slots were dealt."""

    assigned = serializers.IntegerField()


# --- views ---------------------------------------------------------------------------------------


class TaskFilter(django_filters.FilterSet):
    """Worklist filters."""

    status = django_filters.MultipleChoiceFilter(choices=TaskStatus.choices)
    mine = django_filters.BooleanFilter(method="filter_mine")
    reader = django_filters.NumberFilter(method="filter_reader")
    series = django_filters.NumberFilter(field_name="series")
    study = django_filters.NumberFilter(field_name="study")
    modality = django_filters.CharFilter(field_name="series__modality")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    ordering = django_filters.OrderingFilter(
        fields=["priority", "created_at", "due_date", "uncertainty", "triage_score", "id"]
    )

    class Meta:
        model = LabelingTask
        fields = ["status", "series", "study"]

    def filter_reader(
        self, queryset: QuerySet[LabelingTask], name: str, value: int
    ) -> QuerySet[LabelingTask]:
        """Tasks a given reader holds; readers may only ask about themselves (blinding)."""
        user = request_user(self.request)
        if value != user.pk and not user.is_superuser:
            sees_all = queryset.filter(
                project__memberships__user=user,
                project__memberships__role__in=roles_allowed(Action.SEE_ALL_READERS),
            )
            return sees_all.filter(assignments__reader=value).distinct()
        return queryset.filter(assignments__reader=value).distinct()

    def filter_mine(
        self, queryset: QuerySet[LabelingTask], name: str, value: bool
    ) -> QuerySet[LabelingTask]:
        """Only tasks where the asking reader holds a slot (or the others)."""
        user = request_user(self.request)
        mine = Q(assignments__reader=user)
        return queryset.filter(mine).distinct() if value else queryset.exclude(mine)


class TaskViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[LabelingTask]
):
    """The project's labeling tasks (the worklist), the work queue and adjudication."""

    queryset = LabelingTask.objects.none()
    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def scoped_queryset(self, user: User) -> QuerySet[LabelingTask]:
        return list_tasks_for_user(user=user, project=self.get_project())

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["sees_all"] = can(
                user=request_user(self.request),
                project=self.get_project(),
                action=Action.SEE_ALL_READERS,
            )
        return context

    def _task_response(self, task: LabelingTask, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=task.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=TaskUpdateSerializer, responses={200: TaskSerializer})
    def partial_update(self, request: Request, **_: Any) -> Response:
        task = self.get_object()
        payload = TaskUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        task = update_task(
            task=task,
            actor=request_user(request),
            expected_version=data.pop("version"),
            priority=data.get("priority"),
            due_date=data.get("due_date", ""),
            readers_required=data.get("readers_required"),
            skipped=data.get("skipped"),
        )
        return self._task_response(task)

    @extend_schema(
        request=None,
        responses={
            200: AssignmentSerializer,
            204: OpenApiResponse(description="Nothing left to read."),
        },
    )
    @action(detail=False, methods=["post"])
    def next(self, request: Request, **_: Any) -> Response:
        """Claim (or resume) the asking reader's next task: highest priority, oldest first."""
        assignment = claim_next_task(project=self.get_project(), reader=request_user(request))
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(AssignmentSerializer(assignment).data)

    @extend_schema(request=None, responses={200: DistributeResultSerializer})
    @action(detail=False, methods=["post"])
    def distribute(self, request: Request, **_: Any) -> Response:
        """Deal every open slot to eligible readers, balanced (managers)."""
        project = self.get_project()
        require_action(request, project, Action.EDIT_PROJECT)
        made = distribute_tasks(project=project, actor=request_user(request))
        return Response({"assigned": len(made)})

    @extend_schema(request=ReaderSerializer, responses={201: AssignmentSerializer})
    @action(detail=True, methods=["post"])
    def assignments(self, request: Request, **_: Any) -> Response:
        """Give a reader a slot on this task by hand (managers)."""
        task = self.get_object()
        payload = ReaderSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        reader = _member(task.project, payload.validated_data["reader"])
        made = assign_reader(task=task, actor=request_user(request), reader=reader)
        return Response(AssignmentSerializer(made).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AnnotationSetSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def sets(self, request: Request, **_: Any) -> Response:
        """The annotation sets of this task the user may see, with their findings."""
        task = self.get_object()
        sets = list_visible_sets(user=request_user(request), project=task.project).filter(task=task)
        return Response(
            AnnotationSetSerializer(
                sets.prefetch_related("annotations__stack", "annotations__annotation_set"),
                many=True,
                context={"request": request},
            ).data
        )

    @extend_schema(request=ReferenceSerializer, responses={201: AnnotationSetSerializer})
    @action(detail=True, methods=["post"])
    def reference(self, request: Request, **_: Any) -> Response:
        """Start the adjudicated reference from one reading or a merge of all (reviewers)."""
        task = self.get_object()
        payload = ReferenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source_id = payload.validated_data.get("from_set")
        source = (
            None
            if source_id is None
            else get_object_or_404(
                list_visible_sets(user=request_user(request), project=task.project),
                pk=source_id,
                task=task,
            )
        )
        made = start_reference(task=task, actor=request_user(request), from_set=source)
        return Response(
            AnnotationSetSerializer(made, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"], url_path="reference/finalize")
    def finalize(self, request: Request, **_: Any) -> Response:
        """Close adjudication: the reference is final and the task done (reviewers)."""
        task = finalize_reference(task=self.get_object(), actor=request_user(request))
        return self._task_response(task)

    @extend_schema(request=ExclusionSerializer, responses={204: None})
    @action(detail=False, methods=["post"])
    def exclusions(self, request: Request, **_: Any) -> Response:
        """Exclude a member from dealing (project-wide or one task), or lift it (managers)."""
        project = self.get_project()
        payload = ExclusionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        task = (
            None
            if data.get("task") is None
            else get_object_or_404(LabelingTask, pk=data["task"], project=project)
        )
        set_exclusion(
            project=project,
            actor=request_user(request),
            user=_member(project, data["user"]),
            task=task,
            excluded=data["excluded"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentFilter(django_filters.FilterSet):
    """Filter assignments by status, reader or task."""

    status = django_filters.MultipleChoiceFilter(choices=AssignmentStatus.choices)

    class Meta:
        model = Assignment
        fields = ["status", "reader", "task"]


class AssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[Assignment]
):
    """Readers' slots: their own for readers, all for reviewers and managers."""

    queryset = Assignment.objects.none()
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter

    def scoped_queryset(self, user: User) -> QuerySet[Assignment]:
        return list_assignments_for_user(user=user, project=self.get_project())

    @extend_schema(request=ReaderSerializer, responses={200: AssignmentSerializer})
    def partial_update(self, request: Request, **_: Any) -> Response:
        """Move an unsubmitted slot to another reader (managers)."""
        assignment = self.get_object()
        payload = ReaderSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        reader = _member(assignment.task.project, payload.validated_data["reader"])
        moved = reassign(assignment=assignment, actor=request_user(request), reader=reader)
        return Response(AssignmentSerializer(moved).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, **_: Any) -> Response:
        """Remove an unsubmitted slot (managers)."""
        unassign(assignment=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: AssignmentSerializer})
    @action(detail=True, methods=["post"])
    def heartbeat(self, request: Request, **_: Any) -> Response:
        """Count active time (the workspace calls this every minute while the reader works)."""
        made = record_activity(assignment=self.get_object(), actor=request_user(request))
        return Response(AssignmentSerializer(made).data)

    @extend_schema(request=SubmitSerializer, responses={200: AssignmentSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, **_: Any) -> Response:
        """Hand in the reading (to review, or final when the project has no review)."""
        payload = SubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        made = submit_assignment(
            assignment=self.get_object(),
            actor=request_user(request),
            expected_version=payload.validated_data.get("version"),
        )
        return Response(AssignmentSerializer(made).data)

    @extend_schema(request=ReviewSerializer, responses={200: AssignmentSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, **_: Any) -> Response:
        """Accept a submitted reading, or reject it with a comment (reviewers)."""
        payload = ReviewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        made = review_assignment(
            assignment=self.get_object(),
            actor=request_user(request),
            decision=data["decision"],
            comment=data.get("comment", ""),
            expected_version=data.get("version"),
        )
        return Response(AssignmentSerializer(made).data)


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tasks", TaskViewSet, basename="task")
router.register("assignments", AssignmentViewSet, basename="assignment")

urlpatterns = [*router.urls, *annotation_urls]
