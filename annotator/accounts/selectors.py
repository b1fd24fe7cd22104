"""Reads for users and API tokens."""

from django.db.models import QuerySet

from annotator.accounts.models import ApiToken, User


def list_tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    """Return the user's own tokens, newest first, revoked ones included."""
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def get_active_user_by_username(*, username: str) -> User | None:
    """Return the active user with this username (case-insensitive), if any."""
    return User.objects.filter(username__iexact=username, is_active=True).first()
