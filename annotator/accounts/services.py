"""Writes for users and API tokens."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from annotator.accounts.models import ApiToken, User
from annotator.audit.services import record_event
from annotator.core.errors import DomainError

KEY_PREFIX = "ann_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenExpiryError(DomainError):
    """An expiry date in the past was asked for."""

    code = "invalid_expiry"


@dataclass(frozen=True)
class IssuedToken:
    """A token just created, with the only copy of its key."""

    token: ApiToken
    key: str


def hash_key(key: str) -> str:
    """Return the stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, user: User, name: str, expires_at: datetime | None = None) -> IssuedToken:
    """Issue a new API key for `user`; the key is returned once and never stored.

    Raises:
        TokenExpiryError: `expires_at` is not in the future.
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenExpiryError("The expiry date must be in the future.", field="expires_at")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        prefix=key[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(key),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    record_event(
        actor=user,
        action="token.create",
        obj=token,
        changes={"name": [None, name], "prefix": [None, token.prefix]},
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def revoke_api_token(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke a token; revoking twice is harmless and records nothing new."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event(
            actor=actor,
            action="token.revoke",
            obj=token,
            changes={"revoked_at": [None, token.revoked_at.isoformat()]},
        )
    return token


def authenticate_api_key(*, key: str) -> User | None:
    """Return the active user owning a valid, unrevoked, unexpired key, else None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    # Write the last-use time at most once a minute: a busy client should not mean a write per call.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def record_login(*, user: User) -> None:
    """Note a successful sign-in in the audit log (who opened a session, and when)."""
    record_event(actor=user, action="auth.login", obj=user)
