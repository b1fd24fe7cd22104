"""Root URLs: the API, its schema and docs, the admin, and the browser app for the rest."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from annotator.core.views import healthz, spa_index

admin.site.site_header = "Annotator administration"

urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Everything else is a route of the browser app, except API/static/media paths.
    re_path(r"^(?!api/|static/|media/|admin/)(?P<path>.*)$", spa_index, name="spa"),
]
