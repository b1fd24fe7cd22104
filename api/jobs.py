"""Jobs: state and progress of long work, plus starting the jobs the foundation offers."""

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.accounts.models import User
from annotator.core.errors import NotFoundError
from annotator.jobs.models import Job, JobKind
from annotator.jobs.names import QUEUES
from annotator.jobs.selectors import list_jobs_for_user
from annotator.jobs.services import enqueue_job
from annotator.projects.access import Action
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.permissions import require_action
from api.scoping import ScopedViewSet


class JobSerializer(serializers.ModelSerializer[Job]):
    """A job's state and progress."""

    progress = serializers.FloatField(read_only=True, allow_null=True)
    has_file = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "queue",
            "state",
            "done",
            "total",
            "progress",
            "message",
            "result",
            "error",
            "has_file",
            "project",
            "params",
            "worker",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_has_file(self, job: Job) -> bool:
        return bool(job.result_file)


class WorkerCheckSerializer(serializers.Serializer[Any]):
    """Which queue's workers to check."""

    queue = serializers.ChoiceField(choices=[(q, q) for q in QUEUES], default="default")


@extend_schema(tags=["jobs"])
class JobViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedViewSet[Job],
):
    """Jobs the user started or whose project they manage."""

    queryset = Job.objects.none()
    serializer_class = JobSerializer
    filterset_fields = ["kind", "state", "project"]

    def scoped_queryset(self, user: User) -> QuerySet[Job]:
        return list_jobs_for_user(user=user)

    @extend_schema(request=WorkerCheckSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"], url_path="worker-check")
    def worker_check(self, request: Request) -> Response:
        """Send a tiny job to a queue and report the worker's device (is a GPU worker up?)."""
        payload = WorkerCheckSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = enqueue_job(
            kind=JobKind.WORKER_CHECK,
            created_by=request_user(request),
            queue=payload.validated_data["queue"],
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        """Download the file a finished job produced."""
        job = self.get_object()
        if not job.result_file:
            raise NotFoundError("This job has no file.")
        return FileResponse(
            job.result_file.open("rb"),
            as_attachment=True,
            filename=(job.result_file.name or "job-result").rsplit("/", 1)[-1],
        )


@extend_schema(tags=["audit"])
class AuditExportView(APIView):
    """Start a CSV export of a project's audit log (managers); follow it at /jobs/{id}/."""

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request: Request, project_pk: str) -> Response:
        user = request_user(request)
        project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
        require_action(request, project, Action.VIEW_AUDIT)
        job = enqueue_job(kind=JobKind.AUDIT_EXPORT, created_by=user, project=project)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
