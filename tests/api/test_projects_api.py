"""/api/v1/projects/ with members and label schemas."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.projects.models import LabelSchema, Project, Role
from annotator.projects.services import mark_label_schema_in_use
from tests.factories import CT_LABELS, UserFactory, make_project

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def test_create_project_returns_it_with_my_role(client_for: Client, user: User) -> None:
    response = client_for(user).post(
        "/api/v1/projects/",
        {
            "name": "Lung nodules",
            "modalities": ["CT"],
            "readers_per_item": 2,
            "review_required": True,
            "labels": CT_LABELS,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["my_role"] == "manager"
    assert (body["member_count"], body["schema_version"], body["version"]) == (1, 1, 1)
    assert body["display"]["CT"]["window_presets"][0] == {
        "name": "Soft tissue",
        "center": 40,
        "width": 400,
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X"}, "modalities"),
        ({"name": "X", "modalities": ["XA"]}, "modalities.0"),
        ({"name": "X", "modalities": ["CT"], "readers_per_item": 11}, "readers_per_item"),
        (
            {
                "name": "X",
                "modalities": ["CT"],
                "labels": [{"key": "a", "name": "A", "kind": "ordinal", "options": []}],
            },
            "labels.0.options",
        ),
        ({"name": "X", "modalities": ["CT"], "labels": "nodule"}, "labels"),
        (
            {"name": "X", "modalities": ["CT"], "display_settings": {"CT": {"zoom": 3}}},
            "display_settings",
        ),
    ],
)
def test_create_project_invalid_is_400_naming_field(
    client_for: Client, user: User, payload: dict[str, Any], field: str
) -> None:
    response = client_for(user).post("/api/v1/projects/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["errors"], body
    assert body["message"]
    assert not Project.objects.exists()


def test_create_project_duplicate_name_is_409(
    client_for: Client, manager: User, project: Project
) -> None:
    response = client_for(manager).post(
        "/api/v1/projects/", {"name": "chest ct", "modalities": ["CT"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_project_name"
    assert Project.objects.count() == 1


def test_list_projects_shows_only_mine_within_query_budget(
    client_for: Client, manager: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(5):
        make_project(owner=manager, name=f"P{i}", modalities=["CT", "MR"])
    make_project(owner=UserFactory.create(), name="Someone else's")
    client = client_for(manager)
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/projects/")
    assert response.json()["count"] == 5
    assert {p["my_role"] for p in response.json()["results"]} == {"manager"}


def test_list_projects_filters(client_for: Client, manager: User) -> None:
    make_project(owner=manager, name="Breast", modalities=["MG"])
    ct = make_project(owner=manager, name="Thorax", modalities=["CT"])
    client = client_for(manager)
    client.patch(f"/api/v1/projects/{ct.pk}/", {"version": 1, "archived": True}, format="json")

    def names(query: str) -> list[str]:
        return [p["name"] for p in client.get(f"/api/v1/projects/?{query}").json()["results"]]

    assert names("modality=MG") == ["Breast"]
    assert names("archived=true") == ["Thorax"]
    assert names("search=hor") == ["Thorax"]
    assert names("role=viewer") == []


def test_another_users_project_is_404_everywhere(
    client_for: Client, project: Project, user: User
) -> None:
    client = client_for(user)
    base = f"/api/v1/projects/{project.pk}"
    assert client.get(f"{base}/").status_code == 404
    assert client.patch(f"{base}/", {"version": 1, "name": "x"}, format="json").status_code == 404
    assert client.get(f"{base}/members/").status_code == 404
    assert (
        client.post(
            f"{base}/members/", {"username": user.username, "role": "manager"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(f"{base}/schema/").status_code == 404
    assert (
        client.put(f"{base}/schema/", {"base_revision": 1, "labels": []}, format="json").status_code
        == 404
    )
    assert client.get(f"{base}/schemas/1/").status_code == 404
    assert client.post(f"{base}/audit-export/").status_code == 404
    project.refresh_from_db()
    assert project.name == "Chest CT"


def test_annotator_can_read_but_not_edit(
    client_for: Client, project: Project, annotator_user: User
) -> None:
    client = client_for(annotator_user)
    base = f"/api/v1/projects/{project.pk}"
    assert client.get(f"{base}/").json()["my_role"] == "annotator"
    assert client.get(f"{base}/schema/").status_code == 200
    response = client.patch(f"{base}/", {"version": 1, "name": "Mine"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert (
        client.put(
            f"{base}/schema/", {"base_revision": 1, "labels": CT_LABELS}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{base}/members/", {"username": "manager", "role": "viewer"}, format="json"
        ).status_code
        == 403
    )


def test_patch_stale_version_is_409_with_current(
    client_for: Client, project: Project, manager: User
) -> None:
    client = client_for(manager)
    url = f"/api/v1/projects/{project.pk}/"
    assert client.patch(url, {"version": 1, "description": "a"}, format="json").status_code == 200
    response = client.patch(url, {"version": 1, "description": "b"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_version"
    assert (body["current"]["description"], body["current"]["version"]) == ("a", 2)
    assert (body["current"]["my_role"], body["current"]["member_count"]) == ("manager", 1)
    assert body["current"]["schema_version"] == 1


def test_patch_requires_version(client_for: Client, project: Project, manager: User) -> None:
    response = client_for(manager).patch(
        f"/api/v1/projects/{project.pk}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "version" in response.json()["errors"]


def test_members_endpoints(client_for: Client, project: Project, manager: User) -> None:
    reader = UserFactory.create(username="reader1")
    client = client_for(manager)
    base = f"/api/v1/projects/{project.pk}/members/"
    response = client.post(base, {"username": "READER1", "role": "annotator"}, format="json")
    assert response.status_code == 201, response.json()
    member_id = response.json()["id"]
    assert (
        client.post(base, {"username": "reader1", "role": "viewer"}, format="json").status_code
        == 409
    )
    unknown = client.post(base, {"username": "ghost", "role": "viewer"}, format="json")
    assert (unknown.status_code, unknown.json()["errors"]) == (
        400,
        {"username": ["No active user has this username."]},
    )
    assert (
        client.patch(f"{base}{member_id}/", {"role": "reviewer"}, format="json").json()["role"]
        == "reviewer"
    )
    assert client_for(reader).get(f"/api/v1/projects/{project.pk}/").status_code == 200
    own = next(m for m in client.get(base).json()["results"] if m["user"]["id"] == manager.pk)
    last = client.delete(f"{base}{own['id']}/")
    assert (last.status_code, last.json()["code"]) == (400, "last_manager")
    assert client.delete(f"{base}{member_id}/").status_code == 204
    assert client_for(reader).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_member_of_other_project_is_404(
    client_for: Client, project: Project, manager: User
) -> None:
    other = make_project(owner=UserFactory.create(), name="Other")
    other_member = other.memberships.get()
    response = client_for(manager).patch(
        f"/api/v1/projects/{project.pk}/members/{other_member.pk}/",
        {"role": "viewer"},
        format="json",
    )
    assert response.status_code == 404


def test_schema_put_and_versions(client_for: Client, project: Project, manager: User) -> None:
    client = client_for(manager)
    base = f"/api/v1/projects/{project.pk}"
    saved = client.put(f"{base}/schema/", {"base_revision": 1, "labels": CT_LABELS}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["new_version"] is False
    assert saved.json()["schema"]["revision"] == 2
    mark_label_schema_in_use(schema=LabelSchema.objects.get(project=project))
    forked = client.put(
        f"{base}/schema/", {"base_revision": 2, "labels": CT_LABELS[1:]}, format="json"
    ).json()
    assert forked["new_version"] is True
    assert forked["schema"]["version"] == 2
    assert forked["changes"] == [{"label": "nodule", "change": "label removed", "breaking": True}]
    versions = client.get(f"{base}/schemas/").json()
    assert [v["version"] for v in versions["results"]] == [2, 1]
    assert len(client.get(f"{base}/schemas/1/").json()["labels"]) == 2
    assert client.get(f"{base}/schema/").json()["version"] == 2


def test_schema_put_invalid_and_stale(client_for: Client, project: Project, manager: User) -> None:
    client = client_for(manager)
    url = f"/api/v1/projects/{project.pk}/schema/"
    bad = client.put(
        url,
        {
            "base_revision": 1,
            "labels": [
                {"key": "ok", "name": "Ok", "kind": "point"},
                {"key": "box", "name": "Box", "kind": "bounding_box", "scope": "study"},
            ],
        },
        format="json",
    )
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["labels.1.scope"]
    assert (
        client.put(url, {"base_revision": 1, "labels": CT_LABELS}, format="json").status_code == 200
    )
    stale = client.put(url, {"base_revision": 1, "labels": []}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"]["revision"] == 2
    assert len(client.get(url).json()["labels"]) == 2


def test_meta_lists_vocabularies(client_for: Client, user: User) -> None:
    meta = client_for(user).get("/api/v1/meta/").json()
    assert [m["code"] for m in meta["modalities"]] == ["CT", "MR", "CR", "DX", "MG", "US"]
    kinds = {k["code"]: k for k in meta["label_kinds"]}
    assert kinds["ordinal"]["needs_options"] is True
    assert kinds["polygon"]["allowed_scopes"] == ["image"]
    assert {r["code"] for r in meta["roles"]} == set(Role.values)
