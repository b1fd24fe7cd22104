"""The one way to append to the audit log."""

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models

from annotator.audit.models import AuditEvent
from annotator.core.middleware import current_request_id

if TYPE_CHECKING:
    from annotator.accounts.models import User
    from annotator.projects.models import Project

Changes = dict[str, list[Any]]


def _plain(value: Any) -> Any:
    """Return a JSON-safe copy of a field value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """Return the JSON-safe values of `fields` on `obj`, to diff after an update."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    """Return {field: [before, after]} for the fields whose value changed."""
    return {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}


def record_event(
    *,
    actor: "User | None",
    action: str,
    obj: models.Model,
    project: "Project | None" = None,
    changes: Changes | None = None,
) -> AuditEvent:
    """Append one audit event for a write a service just made (inside its transaction)."""
    event = AuditEvent(
        actor=actor,
        project=project,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes={k: [_plain(v) for v in pair] for k, pair in (changes or {}).items()},
        request_id=current_request_id(),
    )
    event.full_clean()
    event.save()
    return event
