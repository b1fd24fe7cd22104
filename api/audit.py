"""The audit log, read-only: no endpoint can change or delete an event."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.audit.selectors import list_audit_events_for_user
from api.accounts import UserRefSerializer
from api.scoping import ScopedViewSet


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    """One recorded write."""

    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "project",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "request_id",
        ]
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    """?project=&actor=&action=&object_type=&object_id=&since=&until=&request_id="""

    action = django_filters.CharFilter(
        lookup_expr="startswith", help_text="Exact action or a prefix such as 'member.'"
    )
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["project", "actor", "action", "object_type", "object_id", "request_id"]


@extend_schema(tags=["audit"])
class AuditEventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedViewSet[AuditEvent],
):
    """Audit events of the projects the user manages, newest first."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter

    def scoped_queryset(self, user: User) -> QuerySet[AuditEvent]:
        return list_audit_events_for_user(user=user)
