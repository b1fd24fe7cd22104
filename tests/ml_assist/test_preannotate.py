"""Pre-annotation service and job: what is saved, idempotency, failures that write nothing,
triage priority, active-learning order and the ingest hook."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from annotator.accounts.models import User
from annotator.imaging.models import Stack
from annotator.imaging.volume import load_volume
from annotator.jobs.models import Job, JobKind, JobState
from annotator.jobs.services import enqueue_job
from annotator.labeling.masks import merge_masks
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    LabelingTask,
    SetKind,
    Source,
)
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from annotator.projects.services import update_label_schema
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from ml_assist.preannotate import claim_prediction
from ml_assist.tasks import preannotate_task
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build
from tests.ml_assist.registry_helpers import (
    ML_LABELS,
    HalfSize,
    Threshold,
    builtin_model,
    torch_model,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_media")]


def run_job(model: RegisteredModel | None, tasks: list[LabelingTask], project: Project) -> Job:
    job = enqueue_job(
        kind=JobKind.PREANNOTATE,
        created_by=None,
        project=project,
        queue="gpu",
        params={
            "model_id": model.pk if model else None,
            "task_ids": [t.pk for t in tasks],
            "trigger": "request",
        },
    )
    preannotate_task(str(job.pk))
    job.refresh_from_db()
    return job


def _volume(task: LabelingTask) -> np.ndarray:
    stack = Stack.objects.get(series=task.series, index=0)
    return np.asarray(load_volume(stack.volume_path), dtype=np.float32)


def test_builtin_preannotation_saves_one_model_set_seeds_readers_and_reports_progress(
    ml_project: Project, ml_ct_task: LabelingTask, manager: User, member_of: Callable[[str], User]
) -> None:
    reader = member_of(Role.ANNOTATOR)
    assignment = assign_reader(task=ml_ct_task, actor=manager, reader=reader)
    model = builtin_model(ml_project)
    job = run_job(model, [ml_ct_task], ml_project)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result == {
        "succeeded": 1,
        "failed": 0,
        "skipped": 0,
        "tasks": 1,
        "models": ["thorax:v1"],
        "device": "cpu",
    }
    assert (job.done, job.total) == (10, 10)
    prediction = Prediction.objects.get()
    assert (prediction.status, prediction.device, prediction.job_id) == ("succeeded", "cpu", job.pk)
    assert prediction.seconds is not None
    assert prediction.seconds > 0
    model_set = AnnotationSet.objects.get(kind=SetKind.MODEL)
    assert prediction.annotation_set == model_set
    assert model_set.model_version == "thorax:v1"
    stored = {a.label_key: a for a in Annotation.objects.filter(annotation_set=model_set)}
    assert set(stored) == {"body", "lung", "bone"}
    for annotation in stored.values():
        assert (annotation.source, annotation.model_version) == (Source.MODEL, "thorax:v1")
        revision = AnnotationRevision.objects.get(annotation=annotation, number=annotation.version)
        assert (revision.source, revision.model_version) == (Source.MODEL, "thorax:v1")
    hu = _volume(ml_ct_task)
    body = merge_masks([stored["body"]])["body"]
    assert body.shape == hu.shape
    assert np.median(hu[body]) > -200
    assert np.median(hu[~body]) < -900
    assert stored["body"].measurements  # the mask service measured the volume
    seeded = AnnotationSet.objects.get(assignment=assignment)
    assert seeded.based_on == model_set
    assert set(seeded.annotations.values_list("label_key", flat=True)) == {"body", "lung", "bone"}
    ml_ct_task.refresh_from_db()
    assert ml_ct_task.uncertainty is None
    assert ml_ct_task.triage_score is None


def test_torchscript_preannotation_sets_uncertainty(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    job = run_job(torch_model(ml_project), [ml_ct_task], ml_project)
    assert job.state == JobState.SUCCEEDED, job.error
    prediction = Prediction.objects.get()
    assert prediction.uncertainty is not None
    assert 0.0 <= prediction.uncertainty < 0.5
    body = merge_masks([Annotation.objects.get(annotation_set__kind=SetKind.MODEL)])["body"]
    hu = _volume(ml_ct_task)
    assert np.array_equal(body, hu > 0)  # the model's rule: windowed value above 0.5
    ml_ct_task.refresh_from_db()
    assert ml_ct_task.uncertainty == pytest.approx(prediction.uncertainty)


def test_redelivered_job_does_not_predict_twice(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    model = builtin_model(ml_project)
    job = run_job(model, [ml_ct_task], ml_project)
    preannotate_task(str(job.pk))  # a plain redelivery: the job claim refuses it
    # A worker that died after saving but before finishing the job: the task comes back and
    # finds the job queued again. The prediction row stops it from predicting twice.
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
    preannotate_task(str(job.pk))
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert job.result is not None
    assert job.result["skipped"] == 1
    assert Prediction.objects.count() == 1
    assert AnnotationSet.objects.filter(kind=SetKind.MODEL).count() == 1
    # A new request for the same model and task is skipped too; another version runs.
    again = run_job(model, [ml_ct_task], ml_project)
    assert again.result is not None
    assert again.result["skipped"] == 1
    newer = run_job(builtin_model(ml_project, version=2), [ml_ct_task], ml_project)
    assert newer.result is not None
    assert newer.result["succeeded"] == 1
    assert AnnotationSet.objects.filter(kind=SetKind.MODEL).count() == 2


def test_claim_takes_over_a_running_row_of_the_same_job_only(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    model = builtin_model(ml_project)
    first = enqueue_job(kind=JobKind.PREANNOTATE, created_by=None, project=ml_project, queue="gpu")
    other = enqueue_job(kind=JobKind.PREANNOTATE, created_by=None, project=ml_project, queue="gpu")
    assert claim_prediction(model=model, task=ml_ct_task, job=first) is not None
    assert claim_prediction(model=model, task=ml_ct_task, job=other) is None  # another job runs it
    assert claim_prediction(model=model, task=ml_ct_task, job=first) is not None  # redelivery
    # A job that ended (its worker died for good and the job was failed) leaves its running
    # prediction abandoned: the next job takes it over instead of being blocked forever.
    Job.objects.filter(pk=first.pk).update(state=JobState.FAILED)
    third = enqueue_job(kind=JobKind.PREANNOTATE, created_by=None, project=ml_project, queue="gpu")
    claimed = claim_prediction(model=model, task=ml_ct_task, job=third)
    assert claimed is not None
    assert claimed.job_id == third.pk
    assert Prediction.objects.count() == 1


def test_wrong_output_shape_fails_the_job_writes_nothing_and_the_next_job_succeeds(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    broken = torch_model(ml_project, HalfSize())
    job = run_job(broken, [ml_ct_task], ml_project)
    assert job.state == JobState.FAILED
    assert "1 of 1 predictions failed" in job.error
    assert "returned shape [4, 2, 32, 32]; expected logits (N=4, C>=2, H=64, W=64)" in job.error
    failed = Prediction.objects.get()
    assert failed.status == PredictionStatus.FAILED
    assert "shape" in failed.error
    assert not AnnotationSet.objects.filter(kind=SetKind.MODEL).exists()
    assert not Annotation.objects.exists()
    ml_ct_task.refresh_from_db()
    assert ml_ct_task.uncertainty is None
    good = run_job(torch_model(ml_project, version=2), [ml_ct_task], ml_project)
    assert good.state == JobState.SUCCEEDED, good.error
    # The worker goes on: a good model version on the same task succeeds.
    assert Prediction.objects.filter(status=PredictionStatus.SUCCEEDED).count() == 1


def test_bad_weights_file_fails_the_job_with_a_clear_error(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    job = run_job(
        torch_model(ml_project, data=b"garbage, not torchscript"), [ml_ct_task], ml_project
    )
    assert job.state == JobState.FAILED
    assert "Model net:v1 cannot run" in job.error
    assert "not a loadable TorchScript model" in job.error
    assert not Prediction.objects.exists()
    assert not AnnotationSet.objects.filter(kind=SetKind.MODEL).exists()


def test_altered_weights_file_is_refused(ml_project: Project, ml_ct_task: LabelingTask) -> None:
    model = torch_model(ml_project)
    RegisteredModel.objects.filter(pk=model.pk).update(weights_sha256="0" * 64)
    job = run_job(model, [ml_ct_task], ml_project)
    assert job.state == JobState.FAILED
    assert "changed since registration" in job.error


def test_a_storage_failure_rolls_back_everything(
    ml_project: Project, ml_ct_task: LabelingTask, manager: User
) -> None:
    model = builtin_model(ml_project)
    # The schema now requires an attribute on bone masks, which a model cannot give.
    labels = [
        {**label, "attributes": [{"key": "side", "name": "Side", "type": "text", "required": True}]}
        if label["key"] == "bone"
        else label
        for label in ML_LABELS
    ]
    schema = ml_project.label_schemas.order_by("-version").first()
    assert schema is not None
    update_label_schema(
        project=ml_project, actor=manager, base_revision=schema.revision, labels=labels
    )
    job = run_job(model, [ml_ct_task], ml_project)
    assert job.state == JobState.FAILED
    assert "Saving the bone mask failed" in job.error
    assert not AnnotationSet.objects.filter(kind=SetKind.MODEL).exists()
    assert not Annotation.objects.exists()
    assert Prediction.objects.get().status == PredictionStatus.FAILED


def test_a_modality_the_model_does_not_read_fails_that_prediction(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    model = builtin_model(ml_project, input_spec={"modalities": ["MR"]}, builtin="otsu_foreground")
    model.label_map = {"foreground": "body"}
    model.save()
    job = run_job(model, [ml_ct_task], ml_project)
    assert job.state == JobState.FAILED
    assert "no built image stack of a modality thorax:v1 reads (MR)" in job.error


def test_triage_score_sets_priority_when_the_project_says_so(
    ml_project: Project, manager: User, client_for: Callable[[User], Any]
) -> None:
    small, large = (
        LabelingTask.objects.get(series=s)
        for s in (
            ingest_and_build(ml_project, ct_files(slices=4, size=64))[0],
            ingest_and_build(ml_project, ct_files(slices=12, size=64))[0],
        )
    )
    ml_project.triage_sets_priority = True
    ml_project.save(update_fields=["triage_sets_priority"])
    # score = min(1, lung volume in ml / 40 ml): the longer scan has more lung.
    model = builtin_model(
        ml_project, input_spec={"modalities": ["CT"], "triage": {"label": "lung", "full_ml": 40.0}}
    )
    job = run_job(model, [small, large], ml_project)
    assert job.state == JobState.SUCCEEDED, job.error
    for task in (small, large):
        task.refresh_from_db()
        assert task.triage_score is not None
        assert 0 < task.triage_score <= 1
        assert task.priority == round(task.triage_score * 100)
    assert large.priority > small.priority
    worklist = client_for(manager).get(f"/api/v1/projects/{ml_project.pk}/tasks/").json()
    assert [t["id"] for t in worklist["results"]][:2] == [large.pk, small.pk]


def test_triage_score_leaves_priority_alone_by_default(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    model = builtin_model(
        ml_project, input_spec={"modalities": ["CT"], "triage": {"label": "lung", "full_ml": 1.0}}
    )
    run_job(model, [ml_ct_task], ml_project)
    ml_ct_task.refresh_from_db()
    assert ml_ct_task.triage_score == 1.0
    assert ml_ct_task.priority == 0


def test_uncertainty_from_a_model_run_reorders_the_active_learning_worklist(
    ml_project: Project, manager: User, client_for: Callable[[User], Any]
) -> None:
    first, second = (
        LabelingTask.objects.get(series=s)
        for s in ingest_and_build(
            ml_project, [*ct_files(slices=4, size=64, seed=1), *ct_files(slices=4, size=64, seed=2)]
        )
    )
    url = f"/api/v1/projects/{ml_project.pk}/tasks/?ordering=-uncertainty"
    client = client_for(manager)
    before = [t["id"] for t in client.get(url).json()["results"]]
    sure = torch_model(ml_project, Threshold(200.0))
    unsure = torch_model(ml_project, Threshold(2.0), version=2)
    assert run_job(sure, [first], ml_project).state == JobState.SUCCEEDED
    assert run_job(unsure, [second], ml_project).state == JobState.SUCCEEDED
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.uncertainty is not None
    assert first.uncertainty is not None
    assert second.uncertainty > first.uncertainty
    after = [t["id"] for t in client.get(url).json()["results"]]
    assert after[0] == second.pk
    assert after.index(second.pk) < after.index(first.pk)
    assert before != after or before[0] == second.pk


def test_ingest_queues_preannotation_by_the_active_model(
    ml_project: Project, django_capture_on_commit_callbacks: Any, mocker: Any
) -> None:
    send = mocker.patch("annotator.jobs.services.celery_app.send_task")
    builtin_model(ml_project, active=True)
    ml_project.preannotate_on_ingest = True
    ml_project.save(update_fields=["preannotate_on_ingest"])
    with django_capture_on_commit_callbacks(execute=True):
        [series] = ingest_and_build(ml_project, ct_files(slices=6, size=64))
    task = LabelingTask.objects.get(series=series)
    job = Job.objects.get(kind=JobKind.PREANNOTATE)
    assert (job.queue, job.params) == ("gpu", {"task_ids": [task.pk], "trigger": "ingest"})
    assert job.created_by is None
    assert ("ml_assist.preannotate",) in [c.args for c in send.call_args_list]
    preannotate_task(str(job.pk))
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result is not None
    assert job.result["models"] == ["thorax:v1"]
    assert Prediction.objects.get().task == task


def test_ingest_without_the_setting_queues_nothing(ml_project: Project) -> None:
    builtin_model(ml_project, active=True)
    ingest_and_build(ml_project, ct_files(slices=4, size=32))
    assert not Job.objects.filter(kind=JobKind.PREANNOTATE).exists()


def test_ingest_job_without_an_active_model_fails_clearly(
    ml_project: Project, ml_ct_task: LabelingTask
) -> None:
    job = run_job(None, [ml_ct_task], ml_project)
    assert job.state == JobState.FAILED
    assert "no active model" in job.error
