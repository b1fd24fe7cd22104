"""Pre-annotation: run a registered model on labeling tasks and save what it found.

Per task: claim the `Prediction` row (model + task is unique, so a redelivered Celery task or a
second request finds it), predict outside any transaction, then save in ONE transaction the
model's annotation set (kind model, model_version = the model's tag), one mask annotation per
label and stack (revisions with source "model"), the readers' seeded starting state, the task's
triage score and uncertainty, and the prediction's success. A failure rolls all of that back
and marks the prediction failed with its error; the worker goes on with the next task.

Triage: with the project's `triage_sets_priority`, priority = round(score * 100), so a score
of 0.87 outranks every manual priority below 87. A segmentation model gets a score from
`input_spec.triage = {"label": key, "full_ml": v}`: min(1, that label's volume in ml / v).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotator.core.errors import DomainError
from annotator.imaging.models import Stack
from annotator.jobs.models import Job, JobState
from annotator.jobs.services import report_progress
from annotator.labeling.adjudication import seed_from_model
from annotator.labeling.annotations import create_annotation
from annotator.labeling.mask_reads import voxel_volume_ml
from annotator.labeling.masks import write_segments
from annotator.labeling.models import AnnotationSet, LabelingTask, SetKind, Source
from annotator.labeling.task_state import set_task_scores
from annotator.projects.models import Project
from ml_assist.device import select_device
from ml_assist.inputs import build_model_predictor, reads_modality, stack_input, task_stacks
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from ml_assist.predictors.base import PredictionResult, Predictor, PredictorError
from ml_assist.selectors import list_active_models

logger = logging.getLogger(__name__)

#: Largest share of any prediction error kept on the prediction row.
MAX_ERROR = 2000
#: The Celery task's hard time limit: a prediction running longer has lost its worker.
TIME_LIMIT_SECONDS = 3900


class PreannotationFailedError(DomainError):
    """Some predictions of a job failed; the job carries the first reason."""

    code = "preannotation_failed"


@dataclass
class _Progress:
    """Slices done over the whole job, reported per slice batch."""

    job: Job | None
    total: int
    done: int = 0
    task_number: int = 0
    task_count: int = 0

    def callback(self, base: int) -> Callable[[int, int], None]:
        """Return the predictor's (done, slices) callback for a task starting at `base`."""

        def report(done: int, slices: int) -> None:
            self.report(base, done, slices)

        return report

    def report(self, base: int, done: int, slices: int) -> None:
        if self.job is None:
            return
        report_progress(
            job=self.job,
            done=min(base + done, self.total),
            total=self.total,
            message=f"Task {self.task_number} of {self.task_count}: slice {done} of {slices}",
        )


def claim_prediction(
    *, model: RegisteredModel, task: LabelingTask, job: Job | None
) -> Prediction | None:
    """Return the model's prediction row for the task claimed for this run, or None when it
    succeeded already or another job is running it (so nothing is predicted twice).

    A failed row is retried; a running row is taken over when it is this same job's (its
    worker died and Celery redelivered the task) or abandoned (its job ended, or started
    longer ago than the task's hard time limit: its worker died for good).
    """
    job_id = job.pk if job is not None else None
    try:
        with transaction.atomic():
            return Prediction.objects.create(
                model=model, task=task, job_id=job_id, status=PredictionStatus.RUNNING
            )
    except IntegrityError:
        pass
    running = Q(status=PredictionStatus.RUNNING)
    abandoned = running & (
        Q(job__isnull=True)
        | Q(job__state__in=[JobState.SUCCEEDED, JobState.FAILED])
        | Q(job__started_at__lt=timezone.now() - timedelta(seconds=TIME_LIMIT_SECONDS))
    )
    mine = running & Q(job=job) if job is not None else Q(pk__in=[])
    fresh = {"status": PredictionStatus.RUNNING, "job_id": job_id, "error": ""}
    claimed = Prediction.objects.filter(
        Q(status=PredictionStatus.FAILED) | abandoned | mine, model=model, task=task
    ).update(**fresh)
    if not claimed:
        return None
    return Prediction.objects.get(model=model, task=task)


def _triage_score(
    model: RegisteredModel, result: PredictionResult, voxel_ml: float
) -> float | None:
    if result.score is not None:
        return float(min(max(result.score, 0.0), 1.0))
    triage = model.input_spec.get("triage")
    if not isinstance(triage, dict) or triage.get("label") not in result.masks:
        return None
    volume_ml = float(np.count_nonzero(result.masks[triage["label"]])) * voxel_ml
    return min(volume_ml / float(triage["full_ml"]), 1.0)


def _store(
    *,
    model: RegisteredModel,
    task: LabelingTask,
    prediction: Prediction,
    results: list[tuple[Stack, PredictionResult]],
    seconds_before_store: float,
    started: float,
    device: str,
) -> Prediction:
    """Save everything a prediction produced in one transaction (see the module docstring)."""
    tag = model.tag
    with transaction.atomic():
        model_set = AnnotationSet(task=task, kind=SetKind.MODEL, model_version=tag)
        model_set.full_clean()
        model_set.save()
        scores: list[float] = []
        unsure: list[float] = []
        for stack, result in results:
            for key, mask in sorted(result.masks.items()):
                if not mask.any():
                    continue  # an empty finding is no finding: readers start blank there
                try:
                    annotation = create_annotation(
                        annotation_set=model_set,
                        actor=None,
                        label_key=key,
                        data={"segments": [{"number": 1, "label": key, "attributes": {}}]},
                        stack=stack,
                        source=Source.MODEL,
                        model_version=tag,
                    )
                    write_segments(
                        annotation=annotation,
                        actor=None,
                        expected_version=annotation.version,
                        segments={1: np.ascontiguousarray(mask, dtype=bool)},
                        source=Source.MODEL,
                        model_version=tag,
                        note=f"Pre-annotation by {tag}.",
                    )
                except DomainError as error:
                    raise PredictorError(
                        f"Saving the {key} mask failed: {error.message}"
                    ) from error
            score = _triage_score(model, result, voxel_volume_ml(stack))
            if score is not None:
                scores.append(score)
            if result.uncertainty is not None:
                unsure.append(result.uncertainty)
        seed_from_model(task=task, model_set=model_set)
        score = max(scores) if scores else None
        uncertainty = max(unsure) if unsure else None
        priority = (
            round(score * 100) if score is not None and task.project.triage_sets_priority else None
        )
        set_task_scores(task=task, triage_score=score, uncertainty=uncertainty, priority=priority)
        prediction.status = PredictionStatus.SUCCEEDED
        prediction.annotation_set = model_set
        prediction.score, prediction.uncertainty = score, uncertainty
        prediction.device = device
        prediction.seconds = time.perf_counter() - started
        prediction.finished_at = timezone.now()
        prediction.error = ""
        prediction.save()
    logger.info(
        "Prediction %s of model %s on task %s: %.2f s (%.2f s predicting)",
        prediction.pk,
        model.pk,
        task.pk,
        prediction.seconds,
        seconds_before_store,
    )
    return prediction


def predict_task(
    *,
    model: RegisteredModel,
    task: LabelingTask,
    predictor: Predictor,
    device: str,
    job: Job | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prediction | None:
    """Run the model on one task and save the result; None when already predicted (or being
    predicted by another job). A model or storage error marks the prediction failed."""
    prediction = claim_prediction(model=model, task=task, job=job)
    if prediction is None:
        return None
    started = time.perf_counter()
    try:
        stacks = [s for s in task_stacks(task) if reads_modality(model, s.series.modality)]
        if not stacks:
            raise PredictorError(
                f"Task {task.pk} has no built image stack of a modality {model.tag} reads "
                f"({', '.join(model.input_spec.get('modalities') or [])})."
            )
        results: list[tuple[Stack, PredictionResult]] = []
        for stack in stacks:
            result = predictor.predict(stack_input(stack), progress=progress)
            results.append((stack, result))
        return _store(
            model=model,
            task=task,
            prediction=prediction,
            results=results,
            seconds_before_store=time.perf_counter() - started,
            started=started,
            device=device,
        )
    except Exception as error:  # any failure fails this prediction only; the worker goes on
        logger.exception(
            "Prediction %s of model %s on task %s failed", prediction.pk, model.pk, task.pk
        )
        message = (
            str(error) if isinstance(error, PredictorError) else f"{type(error).__name__}: {error}"
        )
        Prediction.objects.filter(pk=prediction.pk).update(
            status=PredictionStatus.FAILED,
            error=message[:MAX_ERROR],
            seconds=time.perf_counter() - started,
            device=device,
            finished_at=timezone.now(),
        )
        prediction.refresh_from_db()
        return prediction


def _models_for(job: Job, project: Project) -> list[RegisteredModel]:
    model_id = job.params.get("model_id")
    if model_id is not None:
        model = (
            RegisteredModel.objects.select_related("project")
            .filter(pk=model_id, project=project)
            .first()
        )
        if model is None:
            raise PreannotationFailedError(f"Model {model_id} no longer exists in this project.")
        return [model]
    return list(list_active_models(project=project).select_related("project"))


def preannotate_job(job: Job) -> tuple[dict[str, Any], None]:
    """The work of an `ml_assist.preannotate` job: params {"model_id" (or none: every active
    model), "task_ids", "trigger": "request" | "ingest"}.

    Raises:
        PreannotationFailedError: no model to run, or some predictions failed (the first
            error is in the message; the rest are on their prediction rows).
    """
    project = job.project
    if project is None:
        raise PreannotationFailedError("The job names no project.")
    models = _models_for(job, project)
    if not models:
        raise PreannotationFailedError(
            "The project has no active model; activate one or turn off pre-annotation on ingest."
        )
    tasks = list(
        LabelingTask.objects.filter(pk__in=job.params.get("task_ids") or [], project=project)
        .select_related("project", "series")
        .order_by("pk")
    )
    on_ingest = job.params.get("trigger") == "ingest"
    pairs = [
        (model, task)
        for model in models
        for task in tasks
        if not on_ingest  # an ingest runs each active model only on what it reads
        or any(reads_modality(model, s.series.modality) for s in task_stacks(task))
    ]
    device = select_device()
    total_slices = sum(int(s.size[2]) for _, task in pairs for s in task_stacks(task)) or 1
    progress = _Progress(job=job, total=total_slices, task_count=len(pairs))
    counts = {"succeeded": 0, "failed": 0, "skipped": 0}
    first_error = ""
    predictors: dict[int, Predictor] = {}
    for number, (model, task) in enumerate(pairs, start=1):
        progress.task_number = number
        base = progress.done
        slices = sum(int(s.size[2]) for s in task_stacks(task))
        try:
            predictor = predictors.get(model.pk) or build_model_predictor(model, device)
        except PredictorError as error:
            raise PreannotationFailedError(f"Model {model.tag} cannot run: {error}") from error
        predictors[model.pk] = predictor
        prediction = predict_task(
            model=model,
            task=task,
            predictor=predictor,
            device=str(device),
            job=job,
            progress=progress.callback(base),
        )
        progress.done = base + slices
        progress.report(base, slices, slices)
        if prediction is None:
            counts["skipped"] += 1
        elif prediction.status == PredictionStatus.SUCCEEDED:
            counts["succeeded"] += 1
        else:
            counts["failed"] += 1
            first_error = first_error or f"task {task.pk}: {prediction.error}"
    if counts["failed"]:
        raise PreannotationFailedError(
            f"{counts['failed']} of {len(pairs)} predictions failed; {first_error}"
        )
    return {
        **counts,
        "tasks": len(tasks),
        "models": [m.tag for m in models],
        "device": str(device),
    }, None
