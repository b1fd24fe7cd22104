"""Correction analytics of model versions (definitions in ml_assist/analytics.py).

Routes under /api/v1/projects/{project_pk}/:

- ``models/{pk}/analytics/``: one model version.
- ``model-analytics/``: every model version of the project, newest version of each name first.

Members read (figures are aggregates over done tasks, which every member may see).
"""

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.projects.access import Action
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.permissions import require_action
from ml_assist.analytics import model_analytics
from ml_assist.selectors import list_models


class LabelOverlapSerializer(serializers.Serializer[Any]):
    """Dice and HD95 of one mask label between the model's output and the final masks."""

    label_key = serializers.CharField(source="label")
    cases = serializers.IntegerField(help_text="Task stacks where either side has the label.")
    dice_mean = serializers.FloatField(allow_null=True)
    dice_median = serializers.FloatField(allow_null=True)
    hd95_mean_mm = serializers.FloatField(allow_null=True)
    hd95_median_mm = serializers.FloatField(allow_null=True)
    hd95_cases = serializers.IntegerField(help_text="Cases where both sides are non-empty.")
    missed = serializers.IntegerField(help_text="The truth has the label, the model nothing.")
    spurious = serializers.IntegerField(help_text="The model drew it, the truth has nothing.")


class EditingTimeSerializer(serializers.Serializer[Any]):
    """Active seconds of handed-in readings."""

    readings = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    mean_seconds = serializers.FloatField(allow_null=True)


class ModelAnalyticsSerializer(serializers.Serializer[Any]):
    """How the experts corrected one model version's pre-annotations."""

    model_id = serializers.IntegerField()
    tag = serializers.CharField()
    tasks_predicted = serializers.IntegerField()
    tasks_done = serializers.IntegerField(help_text="Predicted tasks that are done.")
    tasks_compared = serializers.IntegerField(help_text="Done tasks with a final truth.")
    findings_seeded = serializers.IntegerField()
    findings_unchanged = serializers.IntegerField()
    accepted_unchanged_share = serializers.FloatField(allow_null=True)
    labels = LabelOverlapSerializer(many=True)
    editing_with_model = EditingTimeSerializer()
    editing_without_model = EditingTimeSerializer()


def _project(request: Request, project_pk: int) -> Project:
    project = get_object_or_404(list_projects_for_user(user=request_user(request)), pk=project_pk)
    require_action(request, project, Action.VIEW_PROJECT)
    return project


@extend_schema(tags=["ml"])
class ModelAnalyticsView(APIView):
    """Correction analytics of one model version."""

    @extend_schema(responses={200: ModelAnalyticsSerializer})
    def get(self, request: Request, project_pk: int, pk: int) -> Response:
        model = get_object_or_404(list_models(project=_project(request, project_pk)), pk=pk)
        return Response(ModelAnalyticsSerializer(asdict(model_analytics(model=model))).data)


@extend_schema(tags=["ml"])
class ProjectModelAnalyticsView(APIView):
    """Correction analytics of every model version of a project."""

    @extend_schema(responses={200: ModelAnalyticsSerializer(many=True)})
    def get(self, request: Request, project_pk: int) -> Response:
        models = list_models(project=_project(request, project_pk))
        figures = [asdict(model_analytics(model=model)) for model in models]
        return Response(ModelAnalyticsSerializer(figures, many=True).data)


urlpatterns: list[URLPattern] = [
    path("models/<int:pk>/analytics/", ModelAnalyticsView.as_view(), name="model-analytics"),
    path("model-analytics/", ProjectModelAnalyticsView.as_view(), name="project-model-analytics"),
]
