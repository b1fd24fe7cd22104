"""A reader follows one lesion of a patient across three studies and reads the RECIST
response the server computes, in the browser."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from annotator.imaging.models import Patient, Study
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.e2e.browser import log_in
from tests.factories import make_project
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e
PASSWORD = "correct-horse-battery-staple"


def test_reader_tracks_a_lesion_and_reads_the_recist_response(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    from playwright.sync_api import expect

    users = get_user_model().objects
    manager = users.create_user(username="pm", password=PASSWORD)
    reader = users.create_user(username="reader", password=PASSWORD)
    project = make_project(owner=manager, name="Liver follow-up")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    for seed in (1, 2, 3):  # one patient, three studies
        ingest_and_build(project, ct_files(slices=2, size=16, seed=seed))
    patient = Patient.objects.get(project=project)
    studies = list(Study.objects.filter(patient=patient).order_by("study_date", "pk"))
    assert len(studies) == 3

    log_in(page, live_server, "reader")
    page.goto(f"{live_server.url}/projects/{project.pk}")
    page.get_by_test_id("project-patients").click()
    page.get_by_test_id(f"patient-link-{patient.pk}").click()
    expect(page.get_by_test_id("tracking-patient")).to_have_text(patient.pseudonym)
    expect(page.get_by_test_id("recist-empty")).to_be_visible()

    page.get_by_test_id("track-new-name").fill("Liver segment 7")
    page.get_by_test_id("track-new-submit").click()
    track = page.locator("[data-testid^=track-name-]")
    expect(track).to_have_text("Liver segment 7")
    track_id = (track.get_attribute("data-testid") or "").rsplit("-", 1)[-1]
    for study, long_axis in zip(studies, ("30", "20", "26"), strict=True):
        page.get_by_test_id(f"track-study-{track_id}").select_option(str(study.pk))
        page.get_by_test_id(f"track-long-{track_id}").fill(long_axis)
        page.get_by_test_id(f"track-measure-submit-{track_id}").click()
        expect(page.get_by_test_id(f"recist-cell-{track_id}-{study.pk}")).to_contain_text(
            f"{long_axis}.0"
        )
    expect(page.get_by_test_id(f"recist-sum-{studies[0].pk}")).to_have_text("30.0 mm")
    expect(page.get_by_test_id(f"recist-response-{studies[1].pk}")).to_have_text("PR")  # -33 %
    expect(page.get_by_test_id(f"recist-response-{studies[2].pk}")).to_have_text("PD")  # +6 mm
