"""The model registry of a project: list, register (TorchScript upload or built-in), edit,
deactivate, pre-annotate on demand and follow predictions; and the project's ML settings.

Members read; managers write. Edits name the `revision` they started from (body field or
`If-Match: "<revision>"`); a stale one gets 409 with the stored model.
"""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.accounts.models import User
from annotator.core.errors import DomainError
from annotator.projects.access import Action
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.annotations import expected_version
from api.auth import request_user
from api.exceptions import register_current_view
from api.jobs import JobSerializer
from api.permissions import require_action
from api.scoping import ProjectScopedViewSet
from ml_assist.dispatch import MAX_TASKS_PER_REQUEST, request_preannotation, update_ml_settings
from ml_assist.models import ModelKind, Prediction, PredictionStatus, RegisteredModel
from ml_assist.selectors import list_models, list_predictions, resolve_prediction_tasks
from ml_assist.services import (
    deactivate_model,
    register_builtin_model,
    register_torchscript_model,
    update_model,
)


class RegisteredModelSerializer(serializers.ModelSerializer[RegisteredModel]):
    """One model version as the registry shows it (weights are never served)."""

    tag = serializers.CharField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    has_weights = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "project",
            "name",
            "version",
            "tag",
            "kind",
            "source",
            "builtin",
            "label_map",
            "input_spec",
            "metrics",
            "description",
            "active",
            "has_weights",
            "weights_sha256",
            "parent",
            "training_job",
            "created_by",
            "revision",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_weights(self, model: RegisteredModel) -> bool:
        return bool(model.weights)


class TorchScriptUploadSerializer(serializers.Serializer[Any]):
    """A TorchScript file and its metadata (multipart; JSON fields may be JSON strings)."""

    file = serializers.FileField()
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ModelKind.choices, default=ModelKind.SEGMENTATION_2D)
    label_map = serializers.JSONField(help_text='{"<output channel>": "<mask label key>"}')
    input_spec = serializers.JSONField(
        help_text='{"modalities": ["CT"], "dims": 2, "in_channels": 1, "window": [lo, hi] | '
        'null, "size": [rows, cols] | null, "batch": 16}'
    )
    metrics = serializers.JSONField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class BuiltinRegistrationSerializer(serializers.Serializer[Any]):
    """A built-in predictor registered under a name, its outputs mapped to mask labels."""

    name = serializers.CharField(max_length=100)
    builtin = serializers.CharField(max_length=64)
    label_map = serializers.JSONField(help_text='{"<output name>": "<mask label key>"}')
    input_spec = serializers.JSONField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ModelUpdateSerializer(serializers.Serializer[Any]):
    """The changes to a model version and the revision they start from."""

    revision = serializers.IntegerField(required=False, min_value=1)
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    label_map = serializers.JSONField(required=False)


class BuiltinSerializer(serializers.Serializer[Any]):
    """A built-in predictor that can be registered."""

    key = serializers.CharField()
    outputs = serializers.ListField(child=serializers.CharField())
    modalities = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()


class PredictRequestSerializer(serializers.Serializer[Any]):
    """Which tasks to pre-annotate: exactly one of task_ids, series_ids or unlabeled."""

    task_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_TASKS_PER_REQUEST,
    )
    series_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_TASKS_PER_REQUEST,
    )
    unlabeled = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in ("task_ids", "series_ids") if attrs.get(key)]
        if attrs.get("unlabeled"):
            given.append("unlabeled")
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of task_ids, series_ids or unlabeled."]}
            )
        return attrs


class PredictionSerializer(serializers.ModelSerializer[Prediction]):
    """One model version run on one task."""

    model_tag = serializers.CharField(source="model.tag", read_only=True)
    series = serializers.IntegerField(source="task.series_id", read_only=True, allow_null=True)

    class Meta:
        model = Prediction
        fields = [
            "id",
            "model",
            "model_tag",
            "task",
            "series",
            "status",
            "job",
            "annotation_set",
            "score",
            "uncertainty",
            "seconds",
            "device",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class MlSettingsSerializer(serializers.ModelSerializer[Project]):
    """A project's ML settings; `version` is the project's (edits must name it)."""

    class Meta:
        model = Project
        fields = ["preannotate_on_ingest", "triage_sets_priority", "version"]
        read_only_fields = fields


class MlSettingsUpdateSerializer(serializers.Serializer[Any]):
    """Changes to the ML settings and the project version they start from."""

    version = serializers.IntegerField(min_value=1)
    preannotate_on_ingest = serializers.BooleanField(required=False)
    triage_sets_priority = serializers.BooleanField(required=False)


IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False, description='"<revision>"'
)


@extend_schema(tags=["ml"])
class RegisteredModelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[RegisteredModel]
):
    """A project's model versions: members read, managers register, edit and run them."""

    queryset = RegisteredModel.objects.none()
    serializer_class = RegisteredModelSerializer
    filterset_fields = ["name", "active", "kind", "source"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def scoped_queryset(self, user: User) -> QuerySet[RegisteredModel]:
        return list_models(project=self.get_project())

    @extend_schema(
        request={"multipart/form-data": TorchScriptUploadSerializer},
        responses={201: RegisteredModelSerializer},
    )
    def create(self, request: Request, project_pk: str) -> Response:
        """Register an uploaded TorchScript model as the next version of its name."""
        project = self.get_project()
        require_action(request, project, Action.EDIT_PROJECT)
        payload = TorchScriptUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        model = register_torchscript_model(
            project=project,
            actor=request_user(request),
            name=data["name"],
            kind=data["kind"],
            data=data["file"].read(),
            label_map=data["label_map"],
            input_spec=data["input_spec"],
            metrics=data["metrics"],
            description=data["description"],
        )
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BuiltinRegistrationSerializer, responses={201: RegisteredModelSerializer}
    )
    @action(detail=False, methods=["post"], url_path="builtin")
    def register_builtin(self, request: Request, project_pk: str) -> Response:
        """Register a built-in classical predictor as the next version of a name."""
        project = self.get_project()
        require_action(request, project, Action.EDIT_PROJECT)
        payload = BuiltinRegistrationSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        model = register_builtin_model(
            project=project, actor=request_user(request), **payload.validated_data
        )
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: BuiltinSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def builtins(self, request: Request, project_pk: str) -> Response:
        """List the built-in predictors (their outputs are what a label map maps)."""
        from ml_assist.predictors.classical import BUILTINS

        self.get_project()
        rows = [
            {
                "key": b.key,
                "outputs": list(b.outputs),
                "modalities": list(b.modalities),
                "description": b.description,
            }
            for b in BUILTINS.values()
        ]
        return Response(BuiltinSerializer(rows, many=True).data)

    @extend_schema(
        request=ModelUpdateSerializer,
        responses={200: RegisteredModelSerializer},
        parameters=[IF_MATCH],
    )
    def partial_update(self, request: Request, project_pk: str, pk: str) -> Response:
        """Change active, description or label_map (activating one version deactivates the
        name's others)."""
        model = self.get_object()
        require_action(request, model.project, Action.EDIT_PROJECT)
        payload = ModelUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        updated = update_model(
            model=model,
            actor=request_user(request),
            expected_revision=expected_version(request, data, field="revision", error=DomainError),
            active=data.get("active"),
            description=data.get("description"),
            label_map=data.get("label_map"),
        )
        return Response(RegisteredModelSerializer(updated).data)

    @extend_schema(request=None, responses={200: RegisteredModelSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, project_pk: str, pk: str) -> Response:
        """Stop the version from running; its predictions and annotations stay."""
        model = self.get_object()
        updated = deactivate_model(model=model, actor=request_user(request))
        return Response(RegisteredModelSerializer(updated).data)

    @extend_schema(request=PredictRequestSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def predict(self, request: Request, project_pk: str, pk: str) -> Response:
        """Queue pre-annotation of tasks, of series' tasks, or of every unlabeled task."""
        model = self.get_object()
        require_action(request, model.project, Action.EDIT_PROJECT)
        payload = PredictRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        tasks = resolve_prediction_tasks(
            model=model,
            task_ids=data.get("task_ids"),
            series_ids=data.get("series_ids"),
            unlabeled=bool(data.get("unlabeled")),
            limit=MAX_TASKS_PER_REQUEST,
        )
        job = request_preannotation(model=model, actor=request_user(request), tasks=tasks)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={200: PredictionSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "status", str, enum=list(PredictionStatus.values), description="Only these."
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def predictions(self, request: Request, project_pk: str, pk: str) -> Response:
        """The version's predictions with status, error, seconds and device (paginated)."""
        model = self.get_object()
        queryset = list_predictions(model=model)
        status_filter = request.query_params.get("status")
        if status_filter:
            queryset = queryset.filter(status=status_filter)
        page: Any = self.paginate_queryset(queryset)  # type: ignore[arg-type]
        if page is not None:
            return self.get_paginated_response(PredictionSerializer(page, many=True).data)
        return Response(PredictionSerializer(queryset, many=True).data)


@extend_schema(tags=["ml"])
class MlSettingsView(APIView):
    """Read (members) or change (managers) pre-annotation on ingest and triage priority."""

    @extend_schema(responses={200: MlSettingsSerializer})
    def get(self, request: Request, project_pk: str) -> Response:
        project = get_object_or_404(
            list_projects_for_user(user=request_user(request)), pk=project_pk
        )
        return Response(MlSettingsSerializer(project).data)

    @extend_schema(request=MlSettingsUpdateSerializer, responses={200: MlSettingsSerializer})
    def patch(self, request: Request, project_pk: str) -> Response:
        project = get_object_or_404(
            list_projects_for_user(user=request_user(request)), pk=project_pk
        )
        require_action(request, project, Action.EDIT_PROJECT)
        payload = MlSettingsUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        updated = update_ml_settings(
            project=project,
            actor=request_user(request),
            expected_version=data.pop("version"),
            **data,
        )
        return Response(MlSettingsSerializer(updated).data)


register_current_view(RegisteredModel, lambda model, request: RegisteredModelSerializer(model).data)
