"""Projects, their members and their label schemas."""

from typing import Any

import django_filters
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.accounts.models import User
from annotator.accounts.selectors import get_active_user_by_username
from annotator.core.errors import DomainError
from annotator.projects.access import Action
from annotator.projects.modalities import Modality, effective_display
from annotator.projects.models import (
    MAX_READERS,
    LabelSchema,
    Membership,
    Project,
    Role,
    TaskUnit,
)
from annotator.projects.schema import AttributeType, LabelKind, LabelScope
from annotator.projects.selectors import (
    get_current_label_schema,
    list_label_schemas,
    list_members,
    list_projects_for_user,
)
from annotator.projects.services import (
    add_member,
    change_member_role,
    create_project,
    remove_member,
    update_label_schema,
    update_project,
)
from api.accounts import UserRefSerializer
from api.auth import request_user
from api.exceptions import register_current_view
from api.permissions import require_action
from api.scoping import ProjectScopedViewSet, ScopedViewSet

# --- label schema shapes (documented in OpenAPI; annotator/projects/schema.py validates) -------


class LabelOptionSerializer(serializers.Serializer[Any]):
    """One choice of a classification, ordinal scale or enum attribute."""

    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # field named like a Field attribute


class LabelAttributeSerializer(serializers.Serializer[Any]):
    """A typed attribute every annotation of the label carries."""

    key = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=AttributeType.choices)
    options = LabelOptionSerializer(many=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    required = serializers.BooleanField()  # type: ignore[assignment]  # field named like a Field attribute


class LabelSerializer(serializers.Serializer[Any]):
    """One label of a schema."""

    key = serializers.CharField()
    name = serializers.CharField()
    color = serializers.CharField()
    kind = serializers.ChoiceField(choices=LabelKind.choices)
    scope = serializers.ChoiceField(choices=LabelScope.choices)
    description = serializers.CharField()
    required = serializers.BooleanField()  # type: ignore[assignment]  # field named like a Field attribute
    options = LabelOptionSerializer(many=True)
    attributes = LabelAttributeSerializer(many=True)


@extend_schema_field(LabelSerializer(many=True))
class LabelsField(serializers.JSONField):
    """Labels as sent by the client; the domain validator reports problems by dotted path."""


# --- projects -------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer[Project]):
    """A project as its members see it."""

    owner = UserRefSerializer(read_only=True)
    my_role = serializers.CharField(read_only=True, allow_null=True)
    member_count = serializers.IntegerField(read_only=True)
    schema_version = serializers.IntegerField(read_only=True, allow_null=True)
    modalities = serializers.ListField(child=serializers.ChoiceField(choices=Modality.choices))
    display = serializers.SerializerMethodField(
        help_text="Display settings per modality: defaults with this project's overrides."
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "modalities",
            "readers_per_item",
            "review_required",
            "task_unit",
            "auto_assign",
            "archived",
            "display_settings",
            "display",
            "owner",
            "my_role",
            "member_count",
            "schema_version",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display(self, project: Project) -> dict[str, Any]:
        return effective_display(project.modalities, project.display_settings)


def _current_project(project: Project, request: Request) -> dict[str, Any]:
    """Show a project as the user's list does (role, member count, schema version)."""
    visible = list_projects_for_user(user=request_user(request)).get(pk=project.pk)
    return dict(ProjectSerializer(visible).data)


register_current_view(Project, _current_project)


class ProjectCreateSerializer(serializers.Serializer[Any]):
    """What a new project needs; labels are optional (the schema can be edited later)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    modalities = serializers.ListField(
        child=serializers.ChoiceField(choices=Modality.choices), allow_empty=False
    )
    readers_per_item = serializers.IntegerField(min_value=1, max_value=MAX_READERS, default=1)
    review_required = serializers.BooleanField(default=False)
    task_unit = serializers.ChoiceField(choices=TaskUnit.choices, default=TaskUnit.SERIES)
    auto_assign = serializers.BooleanField(default=True)
    display_settings = serializers.DictField(required=False, default=dict)
    labels = LabelsField(required=False, default=list)  # type: ignore[arg-type]


class ProjectUpdateSerializer(serializers.Serializer[Any]):
    """Changed fields plus the version the editor started from."""

    version = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    modalities = serializers.ListField(
        child=serializers.ChoiceField(choices=Modality.choices), allow_empty=False, required=False
    )
    readers_per_item = serializers.IntegerField(min_value=1, max_value=MAX_READERS, required=False)
    review_required = serializers.BooleanField(required=False)
    task_unit = serializers.ChoiceField(choices=TaskUnit.choices, required=False)
    auto_assign = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)
    display_settings = serializers.DictField(required=False)


class ProjectFilter(django_filters.FilterSet):
    """?archived=, ?search= (name), ?modality=, ?role= (my role)."""

    archived = django_filters.BooleanFilter()
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    modality = django_filters.ChoiceFilter(choices=Modality.choices, method="filter_modality")
    role = django_filters.ChoiceFilter(choices=Role.choices, field_name="my_role")

    class Meta:
        model = Project
        fields = ["archived", "search", "modality", "role"]

    def filter_modality(
        self, queryset: QuerySet[Project], name: str, value: str
    ) -> QuerySet[Project]:
        # Works on SQLite and PostgreSQL alike: the JSON list's text contains "CT".
        return queryset.annotate(_modalities=Cast("modalities", TextField())).filter(
            _modalities__contains=f'"{value}"'
        )


@extend_schema(tags=["projects"])
class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedViewSet[Project],
):
    """Projects the user is a member of; anyone signed in may create one and manage it."""

    queryset = Project.objects.none()
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter

    def scoped_queryset(self, user: User) -> QuerySet[Project]:
        return list_projects_for_user(user=user)

    def _fresh(self, project: Project) -> dict[str, Any]:
        return dict(ProjectSerializer(self.get_queryset().get(pk=project.pk)).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request) -> Response:
        payload = ProjectCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        project = create_project(owner=request_user(request), **payload.validated_data)
        return Response(self._fresh(project), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectUpdateSerializer, responses={200: ProjectSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        project = self.get_object()
        require_action(request, project, Action.EDIT_PROJECT)
        payload = ProjectUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        expected = changes.pop("version")
        project = update_project(
            project=project, actor=request_user(request), expected_version=expected, changes=changes
        )
        return Response(self._fresh(project))


# --- members --------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    """A member of a project and their role."""

    user = UserRefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer[Any]):
    """Who to add, by username, and in which role."""

    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleSerializer(serializers.Serializer[Any]):
    """A member's new role."""

    role = serializers.ChoiceField(choices=Role.choices)


class UnknownUserError(DomainError):
    """No active user has the given username."""

    code = "unknown_user"


@extend_schema(tags=["projects"])
class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ProjectScopedViewSet[Membership],
):
    """Members of a project; managers add, change roles and remove."""

    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer

    def scoped_queryset(self, user: User) -> QuerySet[Membership]:
        return list_members(project=self.get_project())

    @extend_schema(request=MemberAddSerializer, responses={201: MembershipSerializer})
    def create(self, request: Request, project_pk: str) -> Response:
        project = self.get_project()
        require_action(request, project, Action.MANAGE_MEMBERS)
        payload = MemberAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = get_active_user_by_username(username=payload.validated_data["username"])
        if user is None:
            raise UnknownUserError("No active user has this username.", field="username")
        membership = add_member(
            project=project,
            actor=request_user(request),
            user=user,
            role=payload.validated_data["role"],
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request: Request, project_pk: str, pk: str) -> Response:
        membership = self.get_object()
        require_action(request, membership.project, Action.MANAGE_MEMBERS)
        payload = MemberRoleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = change_member_role(
            membership=membership, actor=request_user(request), role=payload.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, project_pk: str, pk: str) -> Response:
        membership = self.get_object()
        require_action(request, membership.project, Action.MANAGE_MEMBERS)
        remove_member(membership=membership, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- label schemas --------------------------------------------------------------------------


class LabelSchemaSerializer(serializers.ModelSerializer[LabelSchema]):
    """One version of a project's labels."""

    labels = LabelsField(read_only=True)
    created_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = LabelSchema
        fields = [
            "id",
            "version",
            "revision",
            "labels",
            "in_use",
            "note",
            "created_at",
            "updated_at",
            "created_by",
        ]
        read_only_fields = fields


register_current_view(LabelSchema, lambda schema, _: dict(LabelSchemaSerializer(schema).data))


class LabelSchemaUpdateSerializer(serializers.Serializer[Any]):
    """New labels and the revision the editor started from."""

    base_revision = serializers.IntegerField(min_value=1)
    labels = LabelsField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SchemaChangeSerializer(serializers.Serializer[Any]):
    """One difference from the previous labels."""

    label = serializers.CharField()  # type: ignore[assignment]  # field named like a Field attribute
    change = serializers.CharField()
    breaking = serializers.BooleanField()


class SchemaUpdateSerializer(serializers.Serializer[Any]):
    """The schema now current, whether it is a new version, and what changed."""

    schema = LabelSchemaSerializer()
    new_version = serializers.BooleanField()
    changes = SchemaChangeSerializer(many=True)


@extend_schema(tags=["projects"])
class LabelSchemaViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ProjectScopedViewSet[LabelSchema],
):
    """All versions of a project's label schema (by version number); `current` reads and
    replaces the newest."""

    queryset = LabelSchema.objects.none()
    serializer_class = LabelSchemaSerializer
    lookup_field = "version"

    def scoped_queryset(self, user: User) -> QuerySet[LabelSchema]:
        return list_label_schemas(project=self.get_project())

    @extend_schema(responses={200: LabelSchemaSerializer})
    def current(self, request: Request, project_pk: str) -> Response:
        return Response(
            LabelSchemaSerializer(get_current_label_schema(project=self.get_project())).data
        )

    @extend_schema(request=LabelSchemaUpdateSerializer, responses={200: SchemaUpdateSerializer})
    def replace_current(self, request: Request, project_pk: str) -> Response:
        project = self.get_project()
        require_action(request, project, Action.EDIT_SCHEMA)
        payload = LabelSchemaUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        outcome = update_label_schema(
            project=project, actor=request_user(request), **payload.validated_data
        )
        return Response(SchemaUpdateSerializer(outcome).data)
