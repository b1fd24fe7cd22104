"""Browser sessions (login/logout with CSRF) and API tokens."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from annotator.accounts.models import ApiToken, User
from annotator.accounts.services import create_api_token
from annotator.audit.models import AuditEvent
from annotator.projects.models import Project
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _csrf_client() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/api/v1/auth/csrf/").status_code == 204
    return client, client.cookies["csrftoken"].value


def test_login_me_logout_round_trip(user: User) -> None:
    client, csrf = _csrf_client()
    assert client.get("/api/v1/auth/me/").status_code == 401
    response = client.post(
        "/api/v1/auth/login/",
        {"username": user.username, "password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200, response.json()
    assert response.json()["username"] == user.username
    assert client.get("/api/v1/auth/me/").json()["id"] == user.pk
    assert AuditEvent.objects.filter(action="auth.login", actor=user).exists()
    csrf = client.cookies["csrftoken"].value  # rotated at login
    assert client.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_login_without_csrf_token_is_refused(user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/auth/login/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403


def test_session_writes_need_csrf(user: User) -> None:
    client, csrf = _csrf_client()
    client.post(
        "/api/v1/auth/login/",
        {"username": user.username, "password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    response = client.post("/api/v1/projects/", {"name": "X", "modalities": ["CT"]}, format="json")
    assert response.status_code == 403
    assert not Project.objects.exists()


def test_wrong_password_is_400_with_reason(user: User) -> None:
    client, csrf = _csrf_client()
    response = client.post(
        "/api/v1/auth/login/",
        {"username": user.username, "password": "nope"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Wrong username or password.",
        "errors": {},
    }


def test_login_is_throttled(user: User, mocker: Any) -> None:
    mocker.patch.dict(ScopedRateThrottle.THROTTLE_RATES, {"login": "3/min"})
    client, csrf = _csrf_client()
    codes = [
        client.post(
            "/api/v1/auth/login/",
            {"username": user.username, "password": "x"},
            format="json",
            HTTP_X_CSRFTOKEN=csrf,
        ).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_token_create_list_use_revoke(client_for: Callable[[User], APIClient], user: User) -> None:
    client = client_for(user)
    created = client.post("/api/v1/tokens/", {"name": "training box"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert listed[0]["prefix"] == key[:10]
    assert "key" not in listed[0]
    assert listed[0]["active"] is True
    assert not ApiToken.objects.filter(key_hash=key).exists()  # only the hash is stored

    bearer = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert bearer.get("/api/v1/auth/me/").json()["username"] == user.username
    assert ApiToken.objects.get().last_used_at is not None
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/auth/me/").status_code == 200

    assert client.delete(f"/api/v1/tokens/{created.json()['id']}/").status_code == 204
    revoked = bearer.get("/api/v1/auth/me/")
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "authentication_failed"
    assert client.get("/api/v1/tokens/").json()["results"][0]["active"] is False
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"token.create", "token.revoke"} <= actions


@pytest.mark.parametrize("header", ["Token ann_unknown", "Token", "Token a b"])
def test_unknown_or_malformed_token_is_401(header: str) -> None:
    assert APIClient(HTTP_AUTHORIZATION=header).get("/api/v1/projects/").status_code == 401


def test_expired_token_and_inactive_user_are_401(user: User) -> None:
    issued = create_api_token(
        user=user, name="short", expires_at=timezone.now() + timedelta(minutes=5)
    )
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = APIClient(HTTP_AUTHORIZATION=f"Token {issued.key}")
    assert client.get("/api/v1/auth/me/").status_code == 401
    other = create_api_token(user=user, name="long")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert (
        APIClient(HTTP_AUTHORIZATION=f"Token {other.key}").get("/api/v1/auth/me/").status_code
        == 401
    )


def test_token_expiry_in_past_is_400(client_for: Callable[[User], APIClient], user: User) -> None:
    response = client_for(user).post(
        "/api/v1/tokens/", {"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, format="json"
    )
    assert (response.status_code, list(response.json()["errors"])) == (400, ["expires_at"])


def test_someone_elses_token_is_404(client_for: Callable[[User], APIClient], user: User) -> None:
    theirs = create_api_token(user=UserFactory.create(), name="theirs")
    response = client_for(user).delete(f"/api/v1/tokens/{theirs.token.pk}/")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=theirs.token.pk).revoked_at is None


def test_token_creation_is_throttled(
    client_for: Callable[[User], APIClient], user: User, mocker: Any
) -> None:
    mocker.patch.dict(ScopedRateThrottle.THROTTLE_RATES, {"tokens": "2/hour"})
    client = client_for(user)
    codes = [
        client.post("/api/v1/tokens/", {"name": f"t{i}"}, format="json").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    assert (
        client.post("/api/v1/tokens/", {"name": "t"}, format="json").json()["code"] == "throttled"
    )
    assert client.get("/api/v1/tokens/").status_code == 200  # listing is not throttled
