"""Routes of /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from api.accounts import ApiTokenViewSet, CsrfView, LoginView, LogoutView, MeView
from api.audit import AuditEventViewSet
from api.jobs import AuditExportView, JobViewSet
from api.meta import MetaView
from api.projects import LabelSchemaViewSet, MembershipViewSet, ProjectViewSet

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
    path("", include(router.urls)),
]
