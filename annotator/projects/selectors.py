"""Reads for projects, members and label schemas, scoped to the asking user."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from annotator.accounts.models import User
from annotator.core.errors import NotFoundError
from annotator.projects.access import Action, projects_where
from annotator.projects.models import LabelSchema, Membership, Project


def list_projects_for_user(*, user: User) -> QuerySet[Project]:
    """Return the projects the user may see, with their role, member count and schema version."""
    my_role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    members = (
        Membership.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    schema_version = (
        LabelSchema.objects.filter(project=OuterRef("pk"))
        .order_by("-version")
        .values("version")[:1]
    )
    return (
        projects_where(user=user, action=Action.VIEW_PROJECT)
        .select_related("owner")
        .annotate(
            my_role=Subquery(my_role),
            member_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0)),
            schema_version=Subquery(schema_version),
        )
        .distinct()
    )


def list_members(*, project: Project) -> QuerySet[Membership]:
    """Return the project's memberships with their users."""
    return Membership.objects.filter(project=project).select_related("user")


def list_label_schemas(*, project: Project) -> QuerySet[LabelSchema]:
    """Return every schema version of the project, newest first."""
    return LabelSchema.objects.filter(project=project).select_related("created_by")


def get_current_label_schema(*, project: Project) -> LabelSchema:
    """Return the project's newest schema version.

    Raises:
        NotFoundError: the project has no schema (never true for projects made by services).
    """
    schema = list_label_schemas(project=project).order_by("-version").first()
    if schema is None:
        raise NotFoundError("This project has no label schema.")
    return schema
