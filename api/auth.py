"""Authentication: revocable API tokens for programs, sessions (with CSRF) for the browser."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from annotator.accounts.models import User
from annotator.accounts.services import authenticate_api_key

SessionAuthentication = authentication.SessionAuthentication


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Accept `Authorization: Token <key>` (or `Bearer <key>`); unknown or revoked keys get 401."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        user = authenticate_api_key(key=header[1])
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return "Token"


def request_user(request: Request) -> User:
    """Return the authenticated user of a request that passed IsAuthenticated."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise exceptions.NotAuthenticated()
    return user


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describe token authentication in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; create keys at /api/v1/tokens/.",
        }
