"""Rendered slices and thumbnails: a lean view, since the browser asks for many per second.

It authenticates like the API (token or session), checks membership in the same query that
finds the stack, and answers errors in the API's JSON format.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from annotator.accounts.models import User
from annotator.accounts.services import authenticate_api_key
from annotator.core.errors import DomainError, NotFoundError
from annotator.imaging.rendering import find_stack, render, render_thumbnail

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
MAX_SIZE = 4096


def _user(request: HttpRequest) -> User | None:
    header = request.headers.get("Authorization", "").split()
    if len(header) == 2 and header[0].lower() in ("token", "bearer"):
        return authenticate_api_key(key=header[1])
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"code": code, "message": message, "errors": {field: [message]} if field else {}},
        status=status,
    )


def _int(request: HttpRequest, name: str, default: int | None) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise DomainError(f"{name} must be an integer.", field=name) from error


@require_GET
def rendered_slice(request: HttpRequest, project_pk: int, pk: int) -> HttpResponse:
    """GET ?stack=0&plane=axial|coronal|sagittal&index=N&window=Lung|header|auto|c,w
    &format=png|jpeg&size=512 → the windowed slice as an image."""
    user = _user(request)
    if user is None:
        response = _error(401, "not_authenticated", "Authentication credentials were not provided.")
        response["WWW-Authenticate"] = "Token"
        return response
    try:
        view = find_stack(
            user=user, project_id=project_pk, series_id=pk, index=_int(request, "stack", 0) or 0
        )
        fmt = request.GET.get("format", "png")
        size = _int(request, "size", None)
        if size is not None and not 16 <= size <= MAX_SIZE:
            raise DomainError(f"size must be between 16 and {MAX_SIZE}.", field="size")
        data = render(
            view,
            plane=request.GET.get("plane", "axial"),
            index=_int(request, "index", 0) or 0,
            window=request.GET.get("window"),
            fmt=fmt,
            size=size,
        )
    except NotFoundError as error:
        return _error(404, error.code, error.message)
    except DomainError as error:
        return _error(400, error.code, error.message, error.field)
    image = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    image["Cache-Control"] = "private, max-age=60"
    return image


@require_GET
def series_thumbnail(request: HttpRequest, project_pk: int, pk: int) -> HttpResponse:
    """GET → a small JPEG of the series' middle slice."""
    user = _user(request)
    if user is None:
        return _error(401, "not_authenticated", "Authentication credentials were not provided.")
    try:
        view = find_stack(user=user, project_id=project_pk, series_id=pk, index=0)
    except NotFoundError as error:
        return _error(404, error.code, error.message)
    response = HttpResponse(render_thumbnail(view), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    return response
