"""Remote PACS of a project: manage connections, search studies, pull them (managers only)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.accounts.models import User
from annotator.imaging.pacs import MAX_LIMIT, PacsError
from annotator.pacs.models import PacsConnection, PacsKind, RetrieveMethod
from annotator.pacs.selectors import list_pacs_connections
from annotator.pacs.services import (
    MAX_STUDIES_PER_PULL,
    create_pacs_connection,
    delete_pacs_connection,
    request_pacs_pull,
    search_pacs,
    update_pacs_connection,
)
from annotator.projects.access import Action
from api.auth import request_user
from api.jobs import JobSerializer
from api.permissions import require_action
from api.scoping import ProjectScopedViewSet

AE_TITLE = r"^[ -\[\]-~]{0,16}$"  # printable ASCII without backslash
UID = r"^[0-9.]{1,64}$"


class PacsBadGateway(exceptions.APIException):
    """The remote PACS failed: unreachable, timed out, refused us, or answered with an error."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The PACS could not answer."
    default_code = "pacs_unreachable"


class PacsConnectionSerializer(serializers.ModelSerializer[PacsConnection]):
    """A connection as managers see it; the auth header is never shown, only whether it is set."""

    has_auth_header = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = PacsConnection
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "has_auth_header",
            "host",
            "port",
            "called_ae_title",
            "calling_ae_title",
            "retrieve_method",
            "move_destination",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_auth_header(self, connection: PacsConnection) -> bool:
        return bool(connection.auth_header)


class PacsConnectionInputSerializer(serializers.Serializer[Any]):
    """A new connection (or, partially, the changes to one). `auth_header` is write-only."""

    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=PacsKind.choices)
    base_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    auth_header = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, write_only=True, trim_whitespace=False
    )
    host = serializers.CharField(max_length=255, required=False, allow_blank=True)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    called_ae_title = serializers.RegexField(AE_TITLE, required=False, allow_blank=True)
    calling_ae_title = serializers.RegexField(AE_TITLE, required=False, allow_blank=True)
    retrieve_method = serializers.ChoiceField(choices=RetrieveMethod.choices, required=False)
    move_destination = serializers.RegexField(AE_TITLE, required=False, allow_blank=True)


class PacsSearchSerializer(serializers.Serializer[Any]):
    """Study-level filters; empty ones match everything. Names may use * and ? wildcards."""

    patient_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    patient_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    study_date_from = serializers.DateField(required=False, allow_null=True)
    study_date_to = serializers.DateField(required=False, allow_null=True)
    modality = serializers.RegexField(r"^[A-Z0-9]{0,16}$", required=False, allow_blank=True)
    accession_number = serializers.CharField(max_length=16, required=False, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=50)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("study_date_from"), attrs.get("study_date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"study_date_to": ["Must not be before the start."]})
        return attrs


class PacsStudySerializer(serializers.Serializer[Any]):
    """One study the PACS matched (identifying data as the PACS holds it)."""

    study_instance_uid = serializers.CharField()
    patient_id = serializers.CharField()
    patient_name = serializers.CharField()
    patient_birth_date = serializers.CharField()
    patient_sex = serializers.CharField()
    study_date = serializers.CharField()
    study_time = serializers.CharField()
    accession_number = serializers.CharField()
    study_description = serializers.CharField()
    modalities_in_study = serializers.ListField(child=serializers.CharField())
    number_of_series = serializers.IntegerField(allow_null=True)
    number_of_instances = serializers.IntegerField(allow_null=True)


class PacsSearchResultSerializer(serializers.Serializer[Any]):
    """The matches of a search."""

    results = PacsStudySerializer(many=True)


class PacsPullSerializer(serializers.Serializer[Any]):
    """The studies to retrieve and ingest."""

    study_instance_uids = serializers.ListField(
        child=serializers.RegexField(UID),
        allow_empty=False,
        max_length=MAX_STUDIES_PER_PULL,
    )


@extend_schema(tags=["pacs"])
class PacsConnectionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[PacsConnection]
):
    """A project's remote PACS: managers list, add, change and remove them, search and pull."""

    queryset = PacsConnection.objects.none()
    serializer_class = PacsConnectionSerializer
    pagination_class = None

    def scoped_queryset(self, user: User) -> QuerySet[PacsConnection]:
        project = self.get_project()
        require_action(self.request, project, Action.IMPORT_DATA)
        return list_pacs_connections(project=project)

    @extend_schema(request=PacsConnectionInputSerializer, responses={201: PacsConnectionSerializer})
    def create(self, request: Request, project_pk: str) -> Response:
        project = self.get_project()
        require_action(request, project, Action.EDIT_PROJECT)
        payload = PacsConnectionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = create_pacs_connection(
            project=project, actor=request_user(request), **payload.validated_data
        )
        return Response(PacsConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PacsConnectionInputSerializer, responses={200: PacsConnectionSerializer})
    def partial_update(self, request: Request, project_pk: str, pk: str) -> Response:
        connection = self.get_object()
        require_action(request, connection.project, Action.EDIT_PROJECT)
        payload = PacsConnectionInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        updated = update_pacs_connection(
            connection=connection, actor=request_user(request), changes=dict(payload.validated_data)
        )
        return Response(PacsConnectionSerializer(updated).data)

    def destroy(self, request: Request, project_pk: str, pk: str) -> Response:
        connection = self.get_object()
        require_action(request, connection.project, Action.EDIT_PROJECT)
        delete_pacs_connection(connection=connection, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PacsSearchSerializer, responses={200: PacsSearchResultSerializer})
    @action(detail=True, methods=["post"])
    def search(self, request: Request, project_pk: str, pk: str) -> Response:
        """Search the PACS synchronously (502 with a message when it cannot answer)."""
        connection = self.get_object()
        payload = PacsSearchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        filters = {k: v for k, v in payload.validated_data.items() if v not in (None, "")}
        try:
            results = search_pacs(connection=connection, actor=request_user(request), **filters)
        except PacsError as error:
            raise PacsBadGateway(error.message, code=error.code) from error
        return Response(PacsSearchResultSerializer({"results": results}).data)

    @extend_schema(request=PacsPullSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def pull(self, request: Request, project_pk: str, pk: str) -> Response:
        """Queue a job that retrieves the studies and ingests them; follow it at /jobs/{id}/."""
        connection = self.get_object()
        payload = PacsPullSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = request_pacs_pull(
            connection=connection,
            actor=request_user(request),
            study_instance_uids=payload.validated_data["study_instance_uids"],
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
