from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from annotator.audit.models import AuditEvent
from annotator.audit.services import record_event

if TYPE_CHECKING:
    from annotator.accounts.models import User
    from annotator.projects.models import Project

M = TypeVar("M", bound=Model)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: nobody adds, edits or deletes audit events by hand."""

    list_display = ["created_at", "action", "actor", "project", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "request_id", "actor__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin[M]):
    """Admin whose saves and deletes are audited like the services' writes."""

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        before = {name: form.initial.get(name) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        after = {name: form.cleaned_data.get(name) for name in form.changed_data}
        record_event(
            actor=_actor(request),
            action="admin.update" if change else "admin.create",
            obj=obj,
            project=_project_of(obj),
            changes={name: [before[name], after[name]] for name in form.changed_data},
        )

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        record_event(
            actor=_actor(request), action="admin.delete", obj=obj, project=_project_of(obj)
        )
        super().delete_model(request, obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for obj in [*formset.new_objects, *(o for o, _ in formset.changed_objects)]:
            record_event(
                actor=_actor(request), action="admin.update", obj=obj, project=_project_of(obj)
            )
        for obj in formset.deleted_objects:
            record_event(
                actor=_actor(request), action="admin.delete", obj=obj, project=_project_of(obj)
            )


def _actor(request: HttpRequest) -> "User | None":
    return request.user if request.user.is_authenticated else None


def _project_of(obj: Model) -> "Project | None":
    from annotator.projects.models import Project

    if isinstance(obj, Project):
        return obj
    project = getattr(obj, "project", None)
    return project if isinstance(project, Project) else None
