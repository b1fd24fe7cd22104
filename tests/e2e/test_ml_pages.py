"""The Models tab in a real browser: a manager adds a built-in model, pre-annotates the
project's unlabeled tasks on a real Celery worker (the job's progress bar reaches done), sees
the prediction and the version's correction analytics; a reader opening the task starts from
the model's masks, marked as such."""

from typing import Any

import pytest

from annotator.labeling.models import Annotation, Assignment, LabelingTask, Source
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member, update_label_schema
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from tests.e2e.browser import log_in
from tests.factories import UserFactory, make_project
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e

LABELS = [
    {"key": "lungs", "name": "Lungs", "kind": "mask", "scope": "series", "color": "#4cc2ff"},
    {"key": "body", "name": "Body", "kind": "mask", "scope": "series", "color": "#e6194b"},
]
JOB_MS = 120_000  # a cold worker imports torch and SimpleITK first


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.mark.worker
def test_manager_preannotates_with_a_builtin_model_and_the_reader_starts_from_it(
    page: Any, browser: Any, live_server: Any, transactional_db: None, celery_worker: str
) -> None:
    expect = _expect()
    manager = UserFactory.create(username="pm")
    project = make_project(owner=manager, name="Chest CT", auto_assign=False)
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(project, ct_files(slices=8, size=64))
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)

    log_in(page, live_server, manager.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/models")
    expect(page.get_by_test_id("no-models")).to_be_visible()

    # Add the built-in lung predictor, its "lungs" output mapped to the Lungs label.
    form = page.get_by_test_id("builtin-form")
    form.get_by_test_id("builtin-key").select_option("ct_lungs")
    form.get_by_test_id("builtin-name").fill("lungs-hu")
    form.get_by_test_id("builtin-map-lungs").select_option("lungs")
    form.get_by_test_id("builtin-submit").click()
    row = page.get_by_test_id("model-row")
    expect(row).to_have_attribute("data-tag", "lungs-hu:v1")
    model = RegisteredModel.objects.get(project=project, name="lungs-hu")
    assert model.label_map == {"lungs": "lungs"}

    # Activate it (the toggle round-trips through the API).
    page.get_by_test_id(f"model-active-{model.pk}").click()  # controlled: checked once saved
    expect(page.get_by_test_id(f"model-active-{model.pk}")).to_be_checked()
    model.refresh_from_db()
    assert model.active

    # Pre-annotate the unlabeled tasks: the job runs on the worker, the bar reaches done.
    page.get_by_test_id(f"preannotate-unlabeled-{model.pk}").click()
    job = page.get_by_test_id(f"preannotate-job-{model.pk}")
    expect(job.get_by_role("progressbar")).to_be_visible()
    expect(page.get_by_test_id(f"preannotate-job-{model.pk}-state")).to_have_text(
        "Succeeded", timeout=JOB_MS
    )
    expect(job.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    prediction = Prediction.objects.get(model=model, task=task)
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error

    # The prediction is listed, and the version has an analytics row (nothing done yet).
    page.get_by_test_id(f"model-open-{model.pk}").click()
    listed = page.get_by_test_id(f"predictions-{model.pk}").get_by_test_id("prediction")
    expect(listed).to_have_count(1)
    expect(listed).to_have_attribute("data-status", "succeeded")
    analytics = page.get_by_test_id("analytics-row")
    expect(analytics).to_have_attribute("data-model-id", str(model.pk))
    expect(analytics.get_by_test_id("analytics-unchanged")).to_contain_text("—")

    # The reader's reading starts from the model's lungs, marked "model" in the workspace.
    reading = Assignment.objects.get(task=task, reader=reader).annotation_set
    seeded = Annotation.objects.get(annotation_set=reading, label_key="lungs")
    assert (seeded.source, seeded.model_version) == (Source.MODEL, "lungs-hu:v1")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    try:
        other = context.new_page()
        log_in(other, live_server, reader.username)
        other.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
        expect(other.get_by_test_id("viewport")).to_have_attribute(
            "data-stack-loaded", "true", timeout=60_000
        )
        segment = other.get_by_test_id("segment-lungs")
        expect(segment).to_be_visible()
        expect(segment.locator(".ws-model")).to_have_text("model")

        # Members read the Models tab; only managers get the forms and the switches.
        other.goto(f"{live_server.url}/projects/{project.pk}/models")
        expect(other.get_by_test_id("model-row")).to_have_attribute("data-tag", "lungs-hu:v1")
        expect(other.get_by_test_id(f"model-active-{model.pk}")).to_be_disabled()
        expect(other.get_by_test_id("builtin-form")).to_have_count(0)
        expect(other.get_by_test_id(f"preannotate-{model.pk}")).to_have_count(0)
    finally:
        context.close()
