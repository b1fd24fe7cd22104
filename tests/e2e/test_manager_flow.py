"""A project manager's first steps in the browser: log in, create a project, define labels."""

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from annotator.projects.models import LabelSchema, Project

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _make_manager() -> Any:
    return get_user_model().objects.create_user(username="pm", password=PASSWORD)


def _log_in(page: Any, live_server: Any, password: str = PASSWORD) -> None:
    page.goto(live_server.url + "/login")
    page.get_by_test_id("login-username").fill("pm")
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def test_manager_creates_project_and_label_schema(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    _make_manager()

    _log_in(page, live_server)
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.get_by_test_id("current-user")).to_have_text("pm")
    expect(page.get_by_test_id("project-list-empty")).to_be_visible()

    page.get_by_test_id("new-project").click()
    page.get_by_test_id("project-name").fill("Lung CT study")
    page.get_by_test_id("project-description").fill("Pulmonary nodules on screening CT.")
    page.get_by_test_id("modality-CT").check()
    page.get_by_test_id("project-submit").click()
    expect(page.get_by_test_id("project-title")).to_contain_text("Lung CT study")
    project = Project.objects.get(name="Lung CT study")
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}$"))

    page.get_by_test_id("tab-schema").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/schema$"))
    expect(page.get_by_test_id("schema-version")).to_have_text("Version 1")
    expect(page.get_by_test_id("schema-templates")).to_be_visible()

    cards = page.get_by_test_id("label-card")
    page.get_by_test_id("add-label").click()
    nodule = cards.nth(0)
    nodule.get_by_test_id("label-name").fill("Nodule")
    expect(nodule.get_by_test_id("label-key")).to_have_value("nodule")  # suggested from the name
    nodule.get_by_test_id("label-kind").select_option("mask")

    page.get_by_test_id("add-label").click()
    malignancy = cards.nth(1)
    malignancy.get_by_test_id("label-name").fill("Malignancy")
    malignancy.get_by_test_id("label-kind").select_option("classification_single")
    malignancy.get_by_test_id("label-scope").select_option("study")
    options = malignancy.get_by_test_id("option-row")
    expect(options).to_have_count(2)  # a choice label starts with two empty options
    options.nth(0).get_by_test_id("option-label").fill("Benign")
    options.nth(1).get_by_test_id("option-label").fill("Malignant")
    expect(options.nth(1).get_by_test_id("option-value")).to_have_value("malignant")

    page.get_by_test_id("schema-save").click()
    expect(page.get_by_test_id("schema-save-result")).to_contain_text("Saved")
    expect(page.get_by_test_id("schema-dirty")).to_have_count(0)

    page.reload()
    expect(page.get_by_test_id("label-title")).to_have_text(["Nodule", "Malignancy"])
    expect(cards.nth(0)).to_have_attribute("data-label-key", "nodule")
    expect(cards.nth(1)).to_have_attribute("data-label-key", "malignancy")

    schema = LabelSchema.objects.filter(project=project).order_by("-version").first()
    assert schema is not None
    assert schema.version == 1  # nothing used the empty schema, so it was edited in place
    assert [(label["key"], label["name"], label["kind"]) for label in schema.labels] == [
        ("nodule", "Nodule", "mask"),
        ("malignancy", "Malignancy", "classification_single"),
    ]
    assert schema.labels[1]["scope"] == "study"
    assert schema.labels[0]["options"] == []
    assert [(o["value"], o["label"]) for o in schema.labels[1]["options"]] == [
        ("benign", "Benign"),
        ("malignant", "Malignant"),
    ]


def test_login_with_wrong_password_shows_the_api_message(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    expect = _expect()
    _make_manager()
    browser_errors.allow_response("/api/v1/auth/login/", 400)  # the wrong password itself

    _log_in(page, live_server, password="not-the-password")

    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile("password", re.IGNORECASE))
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("login-password")).to_be_visible()


def test_logged_out_visitor_is_sent_to_login_and_back(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    _make_manager()

    page.goto(live_server.url + "/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    page.get_by_test_id("login-username").fill("pm")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("tokens-section")).to_be_visible()

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(live_server.url + "/projects")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects$"))
