"""Pre-annotation by a real Celery worker over the real Redis broker: a real CT from pydicom's
test files end to end (upload -> ingest -> volumes -> tasks -> pre-annotation on the gpu
queue), redelivery without a second prediction, and failing models that leave the worker
serving."""

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.celery import app as celery_app
from annotator.jobs.models import Job, JobKind, JobState
from annotator.labeling.masks import merge_masks
from annotator.labeling.models import Annotation, AnnotationSet, LabelingTask, SetKind, Source
from annotator.projects.models import Project
from ml_assist.models import Prediction, PredictionStatus
from tests.imaging.dicom_files import ct_files, real_file
from tests.labeling.conftest import ingest_and_build
from tests.ml_assist.registry_helpers import (
    HalfSize,
    builtin_model,
    torch_model,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
Client = Callable[[User], APIClient]


def _wait(condition: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("the worker did not get there in time")


def _finished(job_id: Any) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.state in (JobState.SUCCEEDED, JobState.FAILED) else None


def _predict(client: APIClient, project: Project, model_id: int, task: LabelingTask) -> Job:
    response = client.post(
        f"/api/v1/projects/{project.pk}/models/{model_id}/predict/",
        {"task_ids": [task.pk]},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job: Job = _wait(lambda: _finished(response.json()["id"]))
    return job


def test_worker_preannotates_an_uploaded_real_ct_on_ingest(
    celery_worker: str, ml_project: Project, manager: User, client_for: Client
) -> None:
    builtin_model(ml_project, active=True)
    ml_project.preannotate_on_ingest = True
    ml_project.save(update_fields=["preannotate_on_ingest"])
    data = real_file("CT_small.dcm").read_bytes()
    upload = client_for(manager).post(
        f"/api/v1/projects/{ml_project.pk}/uploads/",
        {"files": [SimpleUploadedFile("CT_small.dcm", data)]},
        format="multipart",
    )
    assert upload.status_code == 202, upload.json()
    ingest = _wait(lambda: _finished(upload.json()["id"]))
    assert ingest.state == JobState.SUCCEEDED, ingest.error
    job = _wait(lambda: Job.objects.filter(kind=JobKind.PREANNOTATE).first())
    job = _wait(lambda: _finished(job.pk))
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.params["trigger"] == "ingest"
    assert job.result["succeeded"] == 1
    assert job.result["device"] in ("cpu", "cuda")
    task = LabelingTask.objects.get(project=ml_project)
    prediction = Prediction.objects.get(task=task)
    assert prediction.status == PredictionStatus.SUCCEEDED
    assert prediction.job_id == job.pk
    assert prediction.seconds is not None
    body = Annotation.objects.get(annotation_set__kind=SetKind.MODEL, label_key="body")
    assert (body.source, body.model_version) == (Source.MODEL, "thorax:v1")
    mask = merge_masks([body])["body"]
    assert mask.shape == (1, 128, 128)
    assert 0.05 < float(mask.mean()) < 0.98  # a body, neither empty nor everything
    client = client_for(manager)
    listed = client.get(
        f"/api/v1/projects/{ml_project.pk}/models/{prediction.model_id}/predictions/"
    ).json()
    assert [(p["task"], p["status"], p["model_tag"]) for p in listed["results"]] == [
        (task.pk, "succeeded", "thorax:v1")
    ]


def test_redelivered_task_does_not_duplicate_the_prediction(
    celery_worker: str, ml_project: Project, manager: User, client_for: Client
) -> None:
    [series] = ingest_and_build(ml_project, ct_files(slices=6, size=64))
    task = LabelingTask.objects.get(series=series)
    model = builtin_model(ml_project)
    job = _predict(client_for(manager), ml_project, model.pk, task)
    assert job.state == JobState.SUCCEEDED, job.error
    # The broker delivers the same message again (a worker died before acking): twice, once
    # with the job already finished and once as if it had died after saving.
    celery_app.send_task(
        "ml_assist.preannotate", args=[str(job.pk)], task_id=str(job.pk), queue="gpu"
    )
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, result=None)
    celery_app.send_task(
        "ml_assist.preannotate", args=[str(job.pk)], task_id=str(job.pk), queue="gpu"
    )
    again = _wait(lambda: _finished(job.pk))
    assert again.state == JobState.SUCCEEDED, again.error
    assert again.result["skipped"] == 1
    assert again.result["succeeded"] == 0
    assert Prediction.objects.filter(task=task).count() == 1
    assert AnnotationSet.objects.filter(task=task, kind=SetKind.MODEL).count() == 1


def test_failing_models_fail_their_jobs_and_the_worker_keeps_serving(
    celery_worker: str, ml_project: Project, manager: User, client_for: Client
) -> None:
    [series] = ingest_and_build(ml_project, ct_files(slices=6, size=64))
    task = LabelingTask.objects.get(series=series)
    client = client_for(manager)
    bad_file = torch_model(ml_project, data=b"PK\x03\x04 truncated archive")
    job = _predict(client, ml_project, bad_file.pk, task)
    assert job.state == JobState.FAILED
    assert "Model net:v1 cannot run" in job.error
    assert "TorchScript" in job.error
    wrong_shape = torch_model(ml_project, HalfSize(), version=2)
    job = _predict(client, ml_project, wrong_shape.pk, task)
    assert job.state == JobState.FAILED
    assert "returned shape" in job.error
    assert "expected logits" in job.error
    assert not AnnotationSet.objects.filter(task=task, kind=SetKind.MODEL).exists()
    good = torch_model(ml_project, version=3)
    job = _predict(client, ml_project, good.pk, task)
    assert job.state == JobState.SUCCEEDED, job.error
    model_set = AnnotationSet.objects.get(task=task, kind=SetKind.MODEL)
    assert model_set.model_version == "net:v3"
    mask = merge_masks([model_set.annotations.get()])["body"]
    assert np.count_nonzero(mask) > 0
