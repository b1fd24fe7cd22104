"""Schema versions and stale edits in the browser: nothing the user typed is lost on a 409."""

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from annotator.projects.models import LabelSchema, Project
from annotator.projects.services import (
    create_project,
    mark_label_schema_in_use,
    update_label_schema,
    update_project,
)

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"
NODULE = {
    "key": "nodule",
    "name": "Nodule",
    "color": "#e6194b",
    "kind": "mask",
    "scope": "series",
    "description": "",
    "required": False,
    "options": [],
    "attributes": [],
}


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _current_schema(project: Project) -> LabelSchema:
    schema = LabelSchema.objects.filter(project=project).order_by("-version").first()
    assert schema is not None
    return schema


def _log_in_to(page: Any, live_server: Any, path: str) -> None:
    page.goto(f"{live_server.url}/login?next={path}")
    page.get_by_test_id("login-username").fill("pm")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()


def test_breaking_change_saves_new_version_and_old_one_stays_readable(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    expect = _expect()
    pm = get_user_model().objects.create_user(username="pm", password=PASSWORD)
    project = create_project(owner=pm, name="Chest CT", modalities=["CT"], labels=[NODULE])
    mark_label_schema_in_use(schema=_current_schema(project))

    _log_in_to(page, live_server, f"/projects/{project.pk}/schema")
    expect(page.get_by_test_id("schema-in-use")).to_have_text("In use")
    card = page.get_by_test_id("label-card").first
    card.get_by_test_id("label-toggle").click()
    expect(card.get_by_test_id("label-key")).to_have_attribute("readonly", "")
    card.get_by_test_id("label-kind").select_option("bounding_box")
    page.get_by_test_id("schema-save").click()

    result = page.get_by_test_id("schema-save-result")
    expect(result).to_contain_text("Saved as version 2 because of breaking changes")
    expect(result).to_contain_text("kind changed from mask to bounding_box")
    expect(page.get_by_test_id("schema-version")).to_have_text("Version 2")
    assert _current_schema(project).version == 2

    page.get_by_test_id("schema-history").select_option("1")
    expect(page.get_by_test_id("schema-viewing-old")).to_be_visible()
    old = page.get_by_test_id("label-card").first
    old.get_by_test_id("label-toggle").click()
    expect(old.get_by_test_id("label-kind")).to_have_value("mask")
    expect(old.get_by_test_id("label-kind")).to_be_disabled()
    expect(page.get_by_test_id("schema-save")).to_have_count(0)


def test_stale_schema_save_keeps_edits_until_the_user_chooses(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    expect = _expect()
    pm = get_user_model().objects.create_user(username="pm", password=PASSWORD)
    project = create_project(owner=pm, name="Chest CT", modalities=["CT"], labels=[NODULE])
    browser_errors.allow_response(f"/api/v1/projects/{project.pk}/schema/", 409)

    _log_in_to(page, live_server, f"/projects/{project.pk}/schema")
    card = page.get_by_test_id("label-card").first
    card.get_by_test_id("label-toggle").click()
    card.get_by_test_id("label-name").fill("Solid nodule")
    # Someone else saves meanwhile.
    update_label_schema(
        project=project,
        actor=pm,
        base_revision=_current_schema(project).revision,
        labels=[dict(NODULE, color="#00ff00")],
    )
    page.get_by_test_id("schema-save").click()

    expect(page.get_by_test_id("schema-conflict")).to_contain_text(
        "Someone else changed the schema"
    )
    expect(card.get_by_test_id("label-name")).to_have_value("Solid nodule")
    page.get_by_test_id("schema-keep-mine").click()
    page.get_by_test_id("schema-save").click()
    expect(page.get_by_test_id("schema-save-result")).to_have_text(re.compile("^Saved"))
    assert _current_schema(project).labels[0]["name"] == "Solid nodule"


def test_stale_settings_save_offers_reload_and_archive_makes_read_only(
    page: Any, live_server: Any, transactional_db: None, browser_errors: Any
) -> None:
    expect = _expect()
    pm = get_user_model().objects.create_user(username="pm", password=PASSWORD)
    project = create_project(owner=pm, name="Chest CT", modalities=["CT"])
    browser_errors.allow_response(f"/api/v1/projects/{project.pk}/", 409)

    _log_in_to(page, live_server, f"/projects/{project.pk}/settings")
    page.get_by_test_id("project-description").fill("mine")
    update_project(
        project=project,
        actor=pm,
        expected_version=project.version,
        changes={"description": "theirs"},
    )
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-stale")).to_be_visible()
    expect(page.get_by_test_id("project-description")).to_have_value("mine")
    page.get_by_test_id("settings-reload").click()
    expect(page.get_by_test_id("project-description")).to_have_value("theirs")

    page.get_by_test_id("archive-toggle").click()
    expect(page.get_by_test_id("project-title")).to_contain_text("Archived")
    expect(page.get_by_test_id("settings-readonly")).to_be_visible()
    assert Project.objects.get(pk=project.pk).archived
    page.get_by_test_id("tab-schema").click()
    expect(page.get_by_test_id("schema-readonly")).to_be_visible()

    page.get_by_test_id("nav-projects").click()
    expect(page.get_by_test_id("project-list-empty")).to_be_visible()
    page.get_by_test_id("show-archived").check()
    expect(page.get_by_test_id("project-row")).to_have_count(1)
