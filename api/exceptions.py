"""One error format for the whole API: {"code", "message", "errors"}.

Domain errors are mapped to statuses in one table; DRF's own errors are reshaped.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.core.errors import ConflictError, DomainError, NotFoundError
from annotator.projects.access import PermissionDeniedError

STATUS_FOR: list[tuple[type[DomainError], int]] = [
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (PermissionDeniedError, status.HTTP_403_FORBIDDEN),
    (ConflictError, status.HTTP_409_CONFLICT),
    (DomainError, status.HTTP_400_BAD_REQUEST),
]
CurrentView = Callable[[Any, Request], dict[str, Any]]
_current_views: dict[type[models.Model], CurrentView] = {}


def register_current_view(model: type[models.Model], view: CurrentView) -> None:
    """Say how to show the stored object (as the user sees it) in a 409 for a stale edit."""
    _current_views[model] = view


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"labels.2.kind": ["..."]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]} if detail else {}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _domain_response(error: DomainError, request: Request | None) -> Response:
    code = next(code for cls, code in STATUS_FOR if isinstance(error, cls))
    errors = error.extra.get("errors") or ({error.field: [error.message]} if error.field else {})
    body: dict[str, Any] = {"code": error.code, "message": error.message, "errors": errors}
    current = error.extra.get("current")
    if current is not None:
        view = _current_views.get(type(current))
        body["current"] = view(current, request) if view and request is not None else None
    return Response(body, status=code)


def _code(exc: exceptions.APIException, status_code: int) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}.get(
        status_code, "error"
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every error as {"code", "message", "errors"} with the right status."""
    if isinstance(exc, DomainError):
        return _domain_response(exc, context.get("request"))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    assert isinstance(exc, exceptions.APIException)  # noqa: S101 - DRF handled it, so it is one
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        first = next(iter(errors.items()), ("", ["Invalid input."]))
        message = (
            f"{first[0]}: {first[1][0]}"
            if first[0] not in ("", "non_field_errors")
            else first[1][0]
        )
    else:
        errors, message = {}, str(exc.detail)
    response.data = {"code": _code(exc, response.status_code), "message": message, "errors": errors}
    return response
