"""The one place that decides who may do what in a project.

Non-members see nothing of a project: selectors filter it out, so the API answers 404.
Members lacking a right get 403. Superusers may do everything.
"""

from enum import StrEnum

from django.db.models import QuerySet

from annotator.accounts.models import User
from annotator.core.errors import DomainError, NotFoundError
from annotator.projects.models import Membership, Project, Role


class Action(StrEnum):
    """Things a member can do in a project."""

    VIEW_PROJECT = "view_project"
    EDIT_PROJECT = "edit_project"
    MANAGE_MEMBERS = "manage_members"
    EDIT_SCHEMA = "edit_schema"
    VIEW_AUDIT = "view_audit"
    IMPORT_DATA = "import_data"
    EXPORT_DATA = "export_data"
    ANNOTATE = "annotate"
    REVIEW = "review"
    SEE_ALL_READERS = "see_all_readers"


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.MANAGER: frozenset(Action),
    Role.REVIEWER: frozenset(
        {Action.VIEW_PROJECT, Action.ANNOTATE, Action.REVIEW, Action.SEE_ALL_READERS}
    ),
    Role.ANNOTATOR: frozenset({Action.VIEW_PROJECT, Action.ANNOTATE}),
    Role.VIEWER: frozenset({Action.VIEW_PROJECT}),
}


class PermissionDeniedError(DomainError):
    """A member asked for something their role does not allow."""

    code = "permission_denied"


def role_of(*, user: User, project: Project) -> str | None:
    """Return the user's role in the project, or None for a non-member."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    )


def can(*, user: User, project: Project, action: Action) -> bool:
    """Return whether the user may take `action` in the project."""
    if user.is_active and user.is_superuser:
        return True
    role = role_of(user=user, project=project)
    return role is not None and action in ROLE_ACTIONS[role]


def require(*, user: User, project: Project, action: Action) -> None:
    """Return if allowed.

    Raises:
        NotFoundError: the user is not a member (the project must look absent).
        PermissionDeniedError: the user is a member whose role lacks the right.
    """
    if can(user=user, project=project, action=action):
        return
    if role_of(user=user, project=project) is None:
        raise NotFoundError("Not found.")
    raise PermissionDeniedError(f"Your role in this project does not allow {action.value}.")


def roles_allowed(action: Action) -> list[str]:
    """Return the roles that may take `action`."""
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def projects_where(*, user: User, action: Action) -> QuerySet[Project]:
    """Return the projects in which the user may take `action`."""
    if user.is_active and user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(
        memberships__user=user, memberships__role__in=roles_allowed(action)
    )
