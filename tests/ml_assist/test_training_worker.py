"""Training by a real Celery worker over the real Redis broker, then pre-annotation with the
model it registered (the gpu queue end to end)."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.jobs.models import Job, JobState
from annotator.labeling.models import Annotation, SetKind
from annotator.projects.models import Project, Role
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from tests.ml_assist.training_phantoms import ingest_phantom, read_and_submit, set_training_schema

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
Client = Callable[[User], APIClient]


def _finished(job_id: Any, timeout: float = 240.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} is still {Job.objects.get(pk=job_id).state}")


def test_worker_trains_a_model_that_then_preannotates(
    celery_worker: str,
    project: Project,
    manager: User,
    member_of: Callable[[str], User],
    client_for: Client,
) -> None:
    set_training_schema(project, manager)
    reader = member_of(Role.ANNOTATOR)
    for n in range(3):
        phantom = ingest_phantom(project, patient=f"W{n}", seed=n, slices=8, size=32)
        read_and_submit(phantom, reader=reader, manager=manager)
    unseen = ingest_phantom(project, patient="W-NEW", seed=42, slices=8, size=32)
    client = client_for(manager)

    response = client.post(
        f"/api/v1/projects/{project.pk}/models/train/",
        {"name": "organ-unet", "labels": ["organ"], "epochs": 2, "patience": 2, "size": [32, 32]},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job = _finished(response.json()["id"])

    assert job.state == JobState.SUCCEEDED, job.error
    assert job.worker
    assert job.message.startswith("epoch ")
    model = RegisteredModel.objects.get(pk=job.result["model"])
    assert model.training_job_id == job.pk
    assert len(model.metrics["val_dice_per_epoch"]) == model.metrics["epochs_run"] >= 1
    body = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["result"]["tag"] == "organ-unet:v1"

    predict = client.post(
        f"/api/v1/projects/{project.pk}/models/{model.pk}/predict/",
        {"task_ids": [unseen.task.pk]},
        format="json",
    )
    assert predict.status_code == 202, predict.json()
    preannotation = _finished(predict.json()["id"])
    assert preannotation.state == JobState.SUCCEEDED, preannotation.error
    prediction = Prediction.objects.get(model=model, task=unseen.task)
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error
    masks = Annotation.objects.filter(
        annotation_set__task=unseen.task, annotation_set__kind=SetKind.MODEL, kind="mask"
    )
    assert masks.exists()
    assert {a.model_version for a in masks} == {"organ-unet:v1"}
