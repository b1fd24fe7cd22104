"""Start in-project training: managers ask for a network that learns the project's mask labels
from its accepted annotations; the job runs on the gpu queue and ends in a new model version
(follow it at /jobs/{id}/)."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.projects.access import Action
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.jobs import JobSerializer
from api.permissions import require_action
from ml_assist.training.service import MAX_EPOCHS, request_training


class TrainingRequestSerializer(serializers.Serializer[Any]):
    """What to train: a model name (its next version), the mask labels, and how long."""

    name = serializers.CharField(max_length=100)
    labels = serializers.ListField(child=serializers.CharField(max_length=63), max_length=32)
    epochs = serializers.IntegerField(min_value=1, max_value=MAX_EPOCHS, default=30)
    patience = serializers.IntegerField(min_value=1, max_value=MAX_EPOCHS, default=5)
    size = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=2,
        max_length=2,
        required=False,
        allow_null=True,
        help_text="[rows, columns] slices are resized to (default 128x128, or the base model's).",
    )
    base_model = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Fine-tune from this trained model version (same labels and size).",
    )


@extend_schema(tags=["models"])
class ModelTrainingView(APIView):
    """Queue a training job (managers); 400 says why when the data or request cannot train."""

    @extend_schema(request=TrainingRequestSerializer, responses={202: JobSerializer})
    def post(self, request: Request, project_pk: str) -> Response:
        user = request_user(request)
        project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
        require_action(request, project, Action.EDIT_PROJECT)
        payload = TrainingRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = request_training(
            project=project,
            actor=user,
            name=data["name"],
            labels=data["labels"],
            epochs=data["epochs"],
            patience=data["patience"],
            size=data.get("size"),
            base_model_id=data.get("base_model"),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
