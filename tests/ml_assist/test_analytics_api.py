"""GET models/{id}/analytics/ and model-analytics/: figures, scoping, 404s."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.projects.models import Role
from ml_assist.models import RegisteredModel
from tests.factories import make_project
from tests.ml_assist.test_analytics import corrected, ct_project, model, two_series  # noqa: F401

pytestmark = pytest.mark.django_db


def test_model_analytics_endpoint_reports_the_figures(
    corrected: RegisteredModel,  # noqa: F811
    client_for: Callable[[User], APIClient],
    member_of: Callable[[str], User],
) -> None:
    viewer = client_for(member_of(Role.VIEWER))
    url = f"/api/v1/projects/{corrected.project_id}/models/{corrected.pk}/analytics/"
    response = viewer.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tag"] == "organs:v1"
    assert body["accepted_unchanged_share"] == 0.5
    labels = {item["label_key"]: item for item in body["labels"]}
    assert labels["nodule"]["dice_mean"] == 1.0
    assert 0 < labels["organ"]["dice_mean"] < 1
    assert body["editing_with_model"] == {
        "readings": 1,
        "median_seconds": 120.0,
        "mean_seconds": 120.0,
    }
    listing = viewer.get(f"/api/v1/projects/{corrected.project_id}/model-analytics/")
    assert listing.status_code == 200
    assert [item["model_id"] for item in listing.json()] == [corrected.pk]


def test_model_analytics_endpoint_404s(
    corrected: RegisteredModel,  # noqa: F811
    client_for: Callable[[User], APIClient],
    manager: User,
) -> None:
    client = client_for(manager)
    other = make_project(owner=manager, name="Other")
    wrong_project = f"/api/v1/projects/{other.pk}/models/{corrected.pk}/analytics/"
    assert client.get(wrong_project).status_code == 404
    missing = f"/api/v1/projects/{corrected.project_id}/models/999999/analytics/"
    assert client.get(missing).status_code == 404
    stranger = client_for(User.objects.create_user(username="stranger", password="x"))
    url = f"/api/v1/projects/{corrected.project_id}/models/{corrected.pk}/analytics/"
    assert stranger.get(url).status_code == 404
    assert (
        stranger.get(f"/api/v1/projects/{corrected.project_id}/model-analytics/").status_code == 404
    )
