from django.contrib import admin

from annotator.audit.admin import AuditedAdmin
from annotator.pacs.models import PacsConnection


@admin.register(PacsConnection)
class PacsConnectionAdmin(AuditedAdmin[PacsConnection]):
    """PACS connections; the auth header is left out (set it through the API only)."""

    list_display = ["name", "project", "kind", "host", "base_url", "created_at"]
    list_filter = ["kind"]
    exclude = ["auth_header"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
