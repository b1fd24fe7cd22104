from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from annotator.accounts.models import ApiToken, User
from annotator.audit.admin import AuditedAdmin


@admin.register(User)
class AuditedUserAdmin(UserAdmin, AuditedAdmin[User]):  # type: ignore[type-arg]
    """Users; every admin change (roles, activation, password) is audited."""


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are issued by their owners through the API; the admin can only look."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
