"""The audit log: append-only in the database, read-only in the API, scoped to managers."""

from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client as DjangoClient
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.projects.models import Project, Role
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def test_audit_events_cannot_be_updated_or_deleted(project: Project) -> None:
    event = AuditEvent.objects.get(project=project, action="project.create")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == "project.create"


def test_api_offers_no_write_to_audit(client_for: Client, manager: User, project: Project) -> None:
    client = client_for(manager)
    event = AuditEvent.objects.filter(project=project).first()
    assert event is not None
    url = f"/api/v1/audit-events/{event.pk}/"
    assert client.get(url).status_code == 200
    assert client.put(url, {"action": "x"}, format="json").status_code == 405
    assert client.patch(url, {"action": "x"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post("/api/v1/audit-events/", {"action": "x"}, format="json").status_code == 405


def test_audit_list_filters_and_scoping(
    client_for: Client, manager: User, project: Project, member_of: Callable[[str], User]
) -> None:
    reader = member_of(Role.ANNOTATOR)
    make_project(owner=UserFactory.create(), name="Hidden")
    client = client_for(manager)
    events = client.get(f"/api/v1/audit-events/?project={project.pk}").json()["results"]
    assert {e["action"] for e in events} == {"project.create", "member.add", "schema.create"}
    assert client.get("/api/v1/audit-events/?action=member.").json()["count"] == 2
    assert (
        client.get(f"/api/v1/audit-events/?actor={manager.pk}&object_type=projects.project").json()[
            "count"
        ]
        == 1
    )
    assert client.get("/api/v1/audit-events/?since=2999-01-01T00:00:00Z").json()["count"] == 0
    # An annotator sees no project events; nobody sees another project's.
    assert client_for(reader).get("/api/v1/audit-events/").json()["count"] == 0
    hidden = [
        e
        for e in client.get("/api/v1/audit-events/?page_size=500").json()["results"]
        if e["object_repr"] == "Hidden"
    ]
    assert hidden == []


def test_audit_event_records_request_id_and_field_changes(
    client_for: Client, manager: User, project: Project
) -> None:
    client = client_for(manager)
    response = client.patch(
        f"/api/v1/projects/{project.pk}/",
        {"version": 1, "review_required": True},
        format="json",
        HTTP_X_REQUEST_ID="req-0123456789",
    )
    assert response["X-Request-ID"] == "req-0123456789"
    event = AuditEvent.objects.get(action="project.update")
    assert event.request_id == "req-0123456789"
    assert event.changes == {"review_required": [False, True]}
    assert event.actor == manager


def test_bad_request_id_is_replaced(client_for: Client, manager: User) -> None:
    response = client_for(manager).get("/api/v1/projects/", HTTP_X_REQUEST_ID="<script>")
    assert len(response["X-Request-ID"]) == 32


def test_audit_table_cannot_be_truncated_by_default(project: Project) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE guard is PostgreSQL-specific")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL annotator.allow_audit_truncate = 'off'")
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.filter(project=project).exists()


def test_admin_edits_are_audited(project: Project) -> None:
    admin_user = UserFactory.create(is_staff=True, is_superuser=True)
    client = DjangoClient()
    client.force_login(admin_user)
    url = f"/admin/projects/project/{project.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(
        name="Chest CT (renamed)",
        modalities='["CT"]',
        display_settings="{}",
        owner=project.owner_id,
        description="",
        review_required="",
        archived="",
        **{"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="admin.update")
    assert (event.actor, event.project) == (admin_user, project)
    assert event.changes["name"] == ["Chest CT", "Chest CT (renamed)"]
