from django.contrib import admin

from annotator.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    """Jobs and their progress (read-only)."""

    list_display = ["id", "kind", "queue", "state", "done", "total", "created_by", "created_at"]
    list_filter = ["kind", "state", "queue"]
    readonly_fields = [f.name for f in Job._meta.fields]
