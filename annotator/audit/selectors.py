"""Reads of the audit log, scoped to what a user may see."""

from django.db.models import Q, QuerySet

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.projects.access import Action, projects_where


def list_audit_events_for_user(*, user: User) -> QuerySet[AuditEvent]:
    """Return events of projects the user may audit, plus the user's own project-less events."""
    events = AuditEvent.objects.select_related("actor")
    if user.is_superuser:
        return events
    return events.filter(
        Q(project__in=projects_where(user=user, action=Action.VIEW_AUDIT))
        | Q(project__isnull=True, actor=user)
    )
