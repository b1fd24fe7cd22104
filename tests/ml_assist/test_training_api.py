"""POST /projects/{p}/models/train/: managers queue training on the gpu queue; bad requests get
400 with reasons and queue nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.jobs.models import Job, JobKind
from annotator.jobs.names import TRAIN_MODEL_TASK
from annotator.projects.models import Project, Role
from ml_assist.models import ModelKind, ModelSource, RegisteredModel
from tests.factories import UserFactory, make_project
from tests.ml_assist.training_phantoms import ingest_phantom, read_and_submit, set_training_schema

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


@pytest.fixture
def training_project(project: Project, manager: User) -> Project:
    set_training_schema(project, manager)
    return project


@pytest.fixture
def two_patients(
    training_project: Project, manager: User, member_of: Callable[[str], User]
) -> Project:
    reader = member_of(Role.ANNOTATOR)
    for n in range(2):
        phantom = ingest_phantom(training_project, patient=f"P{n}", seed=n, slices=4, size=32)
        read_and_submit(phantom, reader=reader, manager=manager)
    return training_project


def _url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/models/train/"


def _post(client: APIClient, project: Project, **body: Any) -> Any:
    payload = {"name": "organ-unet", "labels": ["organ"], "epochs": 5, "patience": 2, **body}
    return client.post(_url(project), payload, format="json")


def test_manager_queues_training_on_the_gpu_queue(
    two_patients: Project,
    manager: User,
    client_for: Client,
    mocker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    send_task = mocker.patch("annotator.jobs.services.celery_app.send_task")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_for(manager), two_patients, size=[64, 96])

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["queue"], body["state"]) == (JobKind.TRAIN_MODEL, "gpu", "queued")
    assert body["params"] == {
        "name": "organ-unet",
        "labels": ["organ"],
        "epochs": 5,
        "patience": 2,
        "size": [64, 96],
        "window": [-1000.0, 1000.0],
        "base_model": None,
        "seed": 0,
    }
    send_task.assert_called_once_with(
        TRAIN_MODEL_TASK, args=[body["id"]], task_id=body["id"], queue="gpu"
    )


def test_too_little_accepted_data_is_refused_with_the_counts(
    training_project: Project, manager: User, client_for: Client, member_of: Callable[[str], User]
) -> None:
    phantom = ingest_phantom(training_project, patient="ONLY", seed=0, slices=4, size=32)
    read_and_submit(phantom, reader=member_of(Role.ANNOTATOR), manager=manager)

    response = _post(client_for(manager), training_project)

    assert response.status_code == 400
    assert response.json()["code"] == "not_enough_training_data"
    assert "Found 1 accepted case(s) from 1 patient(s)" in response.json()["message"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"labels": ["spleen"]}, "labels", "'spleen' is not a label of this project."),
        ({"labels": ["quality"]}, "labels", "'quality' is a label of kind ordinal; only masks"),
        ({"labels": ["outline"]}, "labels", "'outline' is a label of kind polygon"),
        ({"labels": ["organ", "organ"]}, "labels", "A label is named twice."),
        ({"labels": []}, "labels", "Name at least one mask label."),
        ({"name": "Organ UNet"}, "name", "lower-case"),
        ({"size": [100, 128]}, "size", "multiple of 8"),
        ({"size": [16, 16]}, "size", "32 to 512"),
        ({"epochs": 3, "patience": 4}, "patience", "Patience is 1 to the number of epochs."),
        ({"epochs": 0}, "epochs", ""),
        ({"size": [128]}, "size", ""),
    ],
)
def test_invalid_requests_are_refused_with_reasons(
    two_patients: Project,
    manager: User,
    client_for: Client,
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    response = _post(client_for(manager), two_patients, **body)

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors
    assert says in " ".join(errors[field])
    assert not Job.objects.exists()


def _model(project: Project, **fields: Any) -> RegisteredModel:
    defaults: dict[str, Any] = {
        "name": "organ-unet",
        "version": 1,
        "kind": ModelKind.SEGMENTATION_2D,
        "source": ModelSource.TRAINED,
        "label_map": {"1": "organ"},
        "input_spec": {"size": [64, 64]},
        "weights": "ml-models/organ.pt",
    }
    return RegisteredModel.objects.create(project=project, **{**defaults, **fields})


def test_base_model_must_be_a_trained_version_of_this_project_with_the_same_labels(
    two_patients: Project, manager: User, client_for: Client
) -> None:
    client = client_for(manager)
    elsewhere = _model(make_project(owner=UserFactory.create(), name="Other"))
    builtin = _model(two_patients, name="ct-body", source=ModelSource.BUILTIN, weights="")
    other_labels = _model(two_patients, version=2, label_map={"1": "lesion"})
    fits = _model(two_patients, version=3)

    assert _post(client, two_patients, base_model=elsewhere.pk).status_code == 404
    refused = _post(client, two_patients, base_model=builtin.pk)
    assert refused.status_code == 400
    assert "was not trained here" in refused.json()["errors"]["base_model"][0]
    refused = _post(client, two_patients, base_model=other_labels.pk)
    assert "fine-tuning keeps the labels" in refused.json()["errors"]["base_model"][0]
    refused = _post(client, two_patients, base_model=fits.pk, size=[128, 128])
    assert refused.json()["errors"]["size"] == ["organ-unet:v3 was trained at [64, 64]."]
    assert not Job.objects.exists()

    accepted = _post(client, two_patients, base_model=fits.pk)
    assert accepted.status_code == 202, accepted.json()
    assert accepted.json()["params"]["size"] == [64, 64]  # the base model's, by default
    assert accepted.json()["params"]["base_model"] == fits.pk


def test_only_managers_train_and_other_projects_are_not_found(
    two_patients: Project, client_for: Client, member_of: Callable[[str], User]
) -> None:
    reviewer = member_of(Role.REVIEWER)
    assert _post(client_for(reviewer), two_patients).status_code == 403
    outsider = UserFactory.create()
    assert _post(client_for(outsider), two_patients).status_code == 404
    assert not Job.objects.exists()


def test_a_job_whose_data_went_away_fails_with_the_reason_and_registers_nothing(
    two_patients: Project, manager: User
) -> None:
    from annotator.imaging.models import Series
    from annotator.jobs.models import JobState
    from ml_assist.training.service import request_training
    from ml_assist.training.tasks import train_model_task

    job = request_training(
        project=two_patients, actor=manager, name="organ", labels=["organ"], epochs=1, patience=1
    )
    Series.objects.filter(study__project=two_patients).first().delete()  # type: ignore[union-attr]

    train_model_task(str(job.pk))

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "Found 1 accepted case(s) from 1 patient(s)" in job.error
    assert not RegisteredModel.objects.exists()
