"""A project's labeling progress: tasks by status, queue depth, completions per day and
per-reader throughput (definitions in annotator/labeling/progress.py).

Routes under /api/v1/projects/{project_pk}/.
"""

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.labeling.progress import DEFAULT_DAYS, MAX_DAYS, project_progress
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user


class ProgressQuerySerializer(serializers.Serializer[Any]):
    """?days= window of the per-day series and throughput figures."""

    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS)


class TasksByStatusSerializer(serializers.Serializer[Any]):
    """Task counts by status."""

    new = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    in_review = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()


class DayCountSerializer(serializers.Serializer[Any]):
    """Tasks done and readings completed on one day (UTC)."""

    day = serializers.DateField()
    tasks_done = serializers.IntegerField()
    readings_completed = serializers.IntegerField()


class ReaderProgressSerializer(serializers.Serializer[Any]):
    """A reader's current assignments by status and throughput over the window."""

    reader_id = serializers.IntegerField()
    username = serializers.CharField()
    assigned = serializers.IntegerField(help_text="Assigned, not started.")
    in_progress = serializers.IntegerField()
    submitted = serializers.IntegerField(help_text="Waiting for review.")
    accepted = serializers.IntegerField()
    returned = serializers.IntegerField()
    completed = serializers.IntegerField(help_text="Readings submitted or accepted in the window.")
    active_days = serializers.IntegerField(help_text="Days in the window with a submission.")
    tasks_per_day = serializers.FloatField(help_text="completed / days in the window.")
    tasks_per_active_day = serializers.FloatField(
        allow_null=True, help_text="completed / active_days."
    )
    median_active_seconds = serializers.FloatField(allow_null=True)
    mean_seconds_to_submit = serializers.FloatField(
        allow_null=True, help_text="Mean time from assignment to submission."
    )


class ProgressSerializer(serializers.Serializer[Any]):
    """A project's progress; `readers` lists every reader only when `all_readers` is true."""

    days = serializers.IntegerField()
    since = serializers.DateField()
    until = serializers.DateField()
    tasks_by_status = TasksByStatusSerializer()
    total_tasks = serializers.IntegerField()
    open_slots = serializers.IntegerField(help_text="Reader slots on open tasks nobody holds.")
    not_started = serializers.IntegerField(help_text="Assigned readings not started yet.")
    queue_depth = serializers.IntegerField(help_text="open_slots + not_started.")
    per_day = DayCountSerializer(many=True)
    readers = ReaderProgressSerializer(many=True)
    all_readers = serializers.BooleanField()


@extend_schema(tags=["labeling"])
class ProgressView(APIView):
    """Tasks by status, queue depth, completions per day and per-reader throughput."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "days", int, description=f"Window in days, 1 to {MAX_DAYS} (default 30)."
            )
        ],
        responses={200: ProgressSerializer},
    )
    def get(self, request: Request, project_pk: int) -> Response:
        project = get_object_or_404(
            list_projects_for_user(user=request_user(request)), pk=project_pk
        )
        query = ProgressQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        progress = project_progress(
            project=project, user=request_user(request), days=query.validated_data["days"]
        )
        return Response(ProgressSerializer(asdict(progress)).data)


urlpatterns: list[URLPattern] = [
    path("progress/", ProgressView.as_view(), name="project-progress"),
]
