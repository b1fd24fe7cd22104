"""Non-API pages: the browser app's entry page and a health check."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

MISSING_BUILD = (
    "<!doctype html><title>Annotator</title><h1>The browser app is not built</h1>"
    "<p>Run <code>make run</code> (or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build"
    "</code>). The API is at <a href='/api/docs/'>/api/docs/</a>.</p>"
)


@never_cache
@ensure_csrf_cookie
def spa_index(request: HttpRequest, path: str = "") -> HttpResponse:
    """Serve the built single-page app for every browser route (it routes on the client)."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.is_file():
        return HttpResponse(MISSING_BUILD, status=503)
    return HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers (for load balancers and compose healthchecks)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
