from django.contrib import admin

from annotator.audit.admin import AuditedAdmin
from annotator.projects.models import LabelSchema, Membership, Project


class MembershipInline(admin.TabularInline[Membership, Project]):
    """Members of a project."""

    model = Membership
    extra = 0
    fk_name = "project"
    autocomplete_fields = ["user"]
    readonly_fields = ["added_by", "created_at"]


@admin.register(Project)
class ProjectAdmin(AuditedAdmin[Project]):
    """Projects; admin edits are audited (as admin.*), but prefer the app or the API."""

    list_display = [
        "name",
        "owner",
        "readers_per_item",
        "review_required",
        "archived",
        "created_at",
    ]
    list_filter = ["archived", "review_required"]
    search_fields = ["name", "owner__username"]
    inlines = [MembershipInline]
    readonly_fields = ["version", "created_at", "updated_at"]


@admin.register(LabelSchema)
class LabelSchemaAdmin(admin.ModelAdmin[LabelSchema]):
    """Label schema versions (read-only: history must not be rewritten by hand)."""

    list_display = ["project", "version", "revision", "in_use", "created_at"]
    list_filter = ["in_use"]
    search_fields = ["project__name"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in LabelSchema._meta.fields]
