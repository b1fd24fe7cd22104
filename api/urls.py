"""Routes of /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from api.accounts import ApiTokenViewSet, CsrfView, LoginView, LogoutView, MeView
from api.audit import AuditEventViewSet
from api.imaging import (
    ImagingSettingsView,
    PseudonymViewSet,
    SeriesViewSet,
    StudyViewSet,
    UploadView,
)
from api.jobs import AuditExportView, JobViewSet
from api.meta import MetaView
from api.ml_models import MlSettingsView, RegisteredModelViewSet
from api.ml_training import ModelTrainingView
from api.pacs import PacsConnectionViewSet
from api.patients import PatientViewSet
from api.projects import LabelSchemaViewSet, MembershipViewSet, ProjectViewSet
from api.rendering import rendered_slice, series_thumbnail

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("projects", ProjectViewSet, basename="project")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("jobs", JobViewSet, basename="job")

members = MembershipViewSet.as_view({"get": "list", "post": "create"})
member = MembershipViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
schema_current = LabelSchemaViewSet.as_view({"get": "current", "put": "replace_current"})
schema_versions = LabelSchemaViewSet.as_view({"get": "list"})
schema_version = LabelSchemaViewSet.as_view({"get": "retrieve"})
pacs_connections = PacsConnectionViewSet.as_view({"get": "list", "post": "create"})
pacs_connection = PacsConnectionViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path("auth/csrf/", CsrfView.as_view(), name="auth-csrf"),
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("meta/", MetaView.as_view(), name="meta"),
    path("projects/<int:project_pk>/members/", members, name="project-members"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    path("projects/<int:project_pk>/schema/", schema_current, name="project-schema"),
    path("projects/<int:project_pk>/schemas/", schema_versions, name="project-schemas"),
    path(
        "projects/<int:project_pk>/schemas/<int:version>/",
        schema_version,
        name="project-schema-version",
    ),
    path(
        "projects/<int:project_pk>/audit-export/",
        AuditExportView.as_view(),
        name="project-audit-export",
    ),
    path("projects/<int:project_pk>/uploads/", UploadView.as_view(), name="project-uploads"),
    path(
        "projects/<int:project_pk>/studies/",
        StudyViewSet.as_view({"get": "list"}),
        name="project-studies",
    ),
    path(
        "projects/<int:project_pk>/studies/<int:pk>/",
        StudyViewSet.as_view({"get": "retrieve"}),
        name="project-study",
    ),
    path(
        "projects/<int:project_pk>/series/",
        SeriesViewSet.as_view({"get": "list"}),
        name="project-series-list",
    ),
    path(
        "projects/<int:project_pk>/series/<int:pk>/",
        SeriesViewSet.as_view({"get": "retrieve"}),
        name="project-series",
    ),
    path(
        "projects/<int:project_pk>/series/<int:pk>/stacks/<int:index>/frames/",
        SeriesViewSet.as_view({"get": "frames"}),
        name="project-series-stack-frames",
    ),
    path(
        "projects/<int:project_pk>/series/<int:pk>/render/",
        rendered_slice,
        name="project-series-render",
    ),
    path(
        "projects/<int:project_pk>/series/<int:pk>/thumbnail/",
        series_thumbnail,
        name="project-series-thumbnail",
    ),
    path(
        "projects/<int:project_pk>/imaging-settings/",
        ImagingSettingsView.as_view(),
        name="project-imaging-settings",
    ),
    path(
        "projects/<int:project_pk>/pseudonyms/",
        PseudonymViewSet.as_view({"get": "list"}),
        name="project-pseudonyms",
    ),
    path("projects/<int:project_pk>/pacs/", pacs_connections, name="project-pacs-list"),
    path("projects/<int:project_pk>/pacs/<int:pk>/", pacs_connection, name="project-pacs"),
    path(
        "projects/<int:project_pk>/pacs/<int:pk>/search/",
        PacsConnectionViewSet.as_view({"post": "search"}),
        name="project-pacs-search",
    ),
    path(
        "projects/<int:project_pk>/pacs/<int:pk>/pull/",
        PacsConnectionViewSet.as_view({"post": "pull"}),
        name="project-pacs-pull",
    ),
    path("projects/<int:project_pk>/dicomweb/", include("api.dicomweb.urls")),
    path("projects/<int:project_pk>/", include("api.labeling")),
    path("projects/<int:project_pk>/", include("api.labeling_masks")),
    path("projects/<int:project_pk>/", include("api.labeling_imports")),
    path("projects/<int:project_pk>/", include("api.labeling_tracking")),
    path("projects/<int:project_pk>/", include("api.labeling_progress")),
    path("projects/<int:project_pk>/", include("api.ml_interactive")),
    path("projects/<int:project_pk>/", include("api.ml_analytics")),
    path(
        "projects/<int:project_pk>/models/",
        RegisteredModelViewSet.as_view({"get": "list", "post": "create"}),
        name="project-models",
    ),
    path(
        "projects/<int:project_pk>/models/builtin/",
        RegisteredModelViewSet.as_view({"post": "register_builtin"}),
        name="project-models-builtin",
    ),
    path(
        "projects/<int:project_pk>/models/builtins/",
        RegisteredModelViewSet.as_view({"get": "builtins"}),
        name="project-models-builtins",
    ),
    path(
        "projects/<int:project_pk>/models/train/",
        ModelTrainingView.as_view(),
        name="project-models-train",
    ),
    path(
        "projects/<int:project_pk>/models/<int:pk>/",
        RegisteredModelViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="project-model",
    ),
    path(
        "projects/<int:project_pk>/models/<int:pk>/deactivate/",
        RegisteredModelViewSet.as_view({"post": "deactivate"}),
        name="project-model-deactivate",
    ),
    path(
        "projects/<int:project_pk>/models/<int:pk>/predict/",
        RegisteredModelViewSet.as_view({"post": "predict"}),
        name="project-model-predict",
    ),
    path(
        "projects/<int:project_pk>/models/<int:pk>/predictions/",
        RegisteredModelViewSet.as_view({"get": "predictions"}),
        name="project-model-predictions",
    ),
    path(
        "projects/<int:project_pk>/ml-settings/",
        MlSettingsView.as_view(),
        name="project-ml-settings",
    ),
    path(
        "projects/<int:project_pk>/patients/",
        PatientViewSet.as_view({"get": "list"}),
        name="project-patients",
    ),
    path(
        "projects/<int:project_pk>/patients/<int:pk>/",
        PatientViewSet.as_view({"get": "retrieve"}),
        name="project-patient",
    ),
    path("", include(router.urls)),
]
