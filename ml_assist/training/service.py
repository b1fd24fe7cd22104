"""Training requests and the training job: validate what a manager asked for, then (on a gpu
worker) learn from the accepted masks and register the result as a new model version."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import DomainError, NotFoundError
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import enqueue_job, report_progress
from annotator.projects.access import Action, require
from annotator.projects.models import Project
from annotator.projects.schema import LabelKind
from annotator.projects.selectors import get_current_label_schema
from ml_assist.models import ModelKind, ModelSource, RegisteredModel
from ml_assist.services import NAME_PATTERN
from ml_assist.training.dataset import (
    TrainingCase,
    count_by_truth,
    select_training_cases,
    split_by_patient,
)

#: Window of CT models (Hounsfield units): air to dense bone, so one model sees every tissue.
CT_WINDOW = (-1000.0, 1000.0)
DEFAULT_SIZE = (128, 128)
MAX_EPOCHS = 500
#: Slice sizes must halve cleanly through the UNet's three downsamplings.
SIZE_MULTIPLE = 8
SIZE_RANGE = (32, 512)
SEED = 0


class TrainingRequestError(DomainError):
    """A training request names labels, sizes or a base model that cannot be trained."""

    code = "invalid_training_request"


@dataclass(frozen=True)
class TrainingPlan:
    """A validated training request: what the job's params hold."""

    name: str
    labels: list[str]
    epochs: int
    patience: int
    size: list[int]
    window: list[float] | None
    base_model: int | None
    seed: int = SEED

    def params(self) -> dict[str, Any]:
        """Return the plan as JSON job params."""
        return {
            "name": self.name,
            "labels": self.labels,
            "epochs": self.epochs,
            "patience": self.patience,
            "size": self.size,
            "window": self.window,
            "base_model": self.base_model,
            "seed": self.seed,
        }


def request_training(
    *,
    project: Project,
    actor: User,
    name: str,
    labels: Sequence[str],
    epochs: int,
    patience: int,
    size: Sequence[int] | None = None,
    base_model_id: int | None = None,
) -> Job:
    """Check a training request against the schema and the accepted data, then queue the
    training job on the gpu queue.

    Raises:
        PermissionDeniedError / NotFoundError: the actor does not manage the project, or the
            base model is not one of its models.
        TrainingRequestError: a label, size, epoch count or base model that cannot be used.
        NotEnoughTrainingDataError: too few accepted cases or patients for the labels.
    """
    require(user=actor, project=project, action=Action.EDIT_PROJECT)
    plan = plan_training(
        project=project,
        name=name,
        labels=labels,
        epochs=epochs,
        patience=patience,
        size=size,
        base_model_id=base_model_id,
    )
    cases = select_training_cases(project=project, labels=plan.labels)
    split_by_patient(cases, seed=plan.seed)  # refuse now rather than fail on the worker
    return enqueue_job(
        kind=JobKind.TRAIN_MODEL,
        created_by=actor,
        project=project,
        queue="gpu",
        params=plan.params(),
    )


def plan_training(
    *,
    project: Project,
    name: str,
    labels: Sequence[str],
    epochs: int,
    patience: int,
    size: Sequence[int] | None,
    base_model_id: int | None,
) -> TrainingPlan:
    """Validate a request's fields; return the plan with defaults filled in.

    Raises:
        TrainingRequestError, NotFoundError: see `request_training`.
    """
    errors: dict[str, list[str]] = {}
    if not NAME_PATTERN.match(name):
        errors["name"] = [
            "Use 1-100 lower-case letters, digits, '.', '_' or '-', starting with one letter or "
            "digit."
        ]
    schema_labels = {
        str(label["key"]): str(label["kind"])
        for label in get_current_label_schema(project=project).labels
    }
    if not labels:
        errors["labels"] = ["Name at least one mask label."]
    elif len(set(labels)) != len(labels):
        errors["labels"] = ["A label is named twice."]
    else:
        bad = [
            f"{key!r} is not a label of this project."
            if key not in schema_labels
            else f"{key!r} is a label of kind {schema_labels[key]}; only masks can be trained."
            for key in labels
            if schema_labels.get(key) != LabelKind.MASK
        ]
        if bad:
            errors["labels"] = bad
    if not 1 <= epochs <= MAX_EPOCHS:
        errors["epochs"] = [f"Train for 1 to {MAX_EPOCHS} epochs."]
    if not 1 <= patience <= max(epochs, 1):
        errors["patience"] = ["Patience is 1 to the number of epochs."]
    base = _base_model(project, base_model_id) if base_model_id is not None else None
    chosen_size = list(size) if size is not None else _default_size(base)
    if len(chosen_size) != 2 or not all(
        SIZE_RANGE[0] <= n <= SIZE_RANGE[1] and n % SIZE_MULTIPLE == 0 for n in chosen_size
    ):
        errors["size"] = [
            f"Give [rows, columns], each {SIZE_RANGE[0]} to {SIZE_RANGE[1]} and a multiple of "
            f"{SIZE_MULTIPLE}."
        ]
    if base is not None:
        errors.update(_base_model_errors(base, labels=list(labels), size=chosen_size))
    if errors:
        field, messages = next(iter(errors.items()))
        raise TrainingRequestError(messages[0], field=field, errors=errors)
    modalities = [str(m) for m in project.modalities]
    return TrainingPlan(
        name=name,
        labels=list(labels),
        epochs=epochs,
        patience=patience,
        size=[int(n) for n in chosen_size],
        window=list(CT_WINDOW) if modalities == ["CT"] else None,
        base_model=base.pk if base is not None else None,
    )


def _base_model(project: Project, model_id: int) -> RegisteredModel:
    model = RegisteredModel.objects.filter(project=project, pk=model_id).first()
    if model is None:
        raise NotFoundError("No such model in this project.", field="base_model")
    return model


def _default_size(base: RegisteredModel | None) -> list[int]:
    if base is not None and isinstance(base.input_spec.get("size"), list):
        return [int(n) for n in base.input_spec["size"]]
    return list(DEFAULT_SIZE)


def _base_model_errors(
    base: RegisteredModel, *, labels: list[str], size: list[int]
) -> dict[str, list[str]]:
    if base.source != ModelSource.TRAINED or not base.weights:
        return {"base_model": [f"{base.tag} was not trained here; fine-tune a trained version."]}
    base_labels = [base.label_map[key] for key in sorted(base.label_map, key=int)]
    if base_labels != labels:
        return {
            "base_model": [
                f"{base.tag} predicts {base_labels}; fine-tuning keeps the labels and their order."
            ]
        }
    if base.input_spec.get("size") != size:
        return {"size": [f"{base.tag} was trained at {base.input_spec.get('size')}."]}
    return {}


# --- the job ----------------------------------------------------------------------------------


def train_model(job: Job) -> tuple[dict[str, Any], None]:
    """Train on the project's accepted masks and register the best epoch as a new version.

    Raises:
        NotEnoughTrainingDataError: the data changed since the request and is now too little.
        NotFoundError: the base model was deleted since the request.
        PredictorError: the base model's weights do not fit, or the export does not reload.
    """
    from ml_assist.training.runner import run_training  # torch is loaded on workers only

    if job.project is None:
        raise TrainingRequestError("A training job belongs to a project.")
    plan = TrainingPlan(**job.params)
    project = job.project
    cases = select_training_cases(project=project, labels=plan.labels)
    split = split_by_patient(cases, seed=plan.seed)
    report_progress(
        job=job,
        done=0,
        total=plan.epochs,
        message=f"Reading {len(split.train)} training and {len(split.validation)} validation cases",
    )
    base = None
    if plan.base_model is not None:
        base = RegisteredModel.objects.filter(pk=plan.base_model, project=project).first()
        if base is None:
            raise NotFoundError("The base model was deleted after training was requested.")
    trained = run_training(
        plan=plan,
        split=split,
        base_weights=_read_weights(base) if base is not None else None,
        on_epoch=lambda epoch, epochs, dice: report_progress(
            job=job,
            done=epoch,
            total=epochs,
            message=f"epoch {epoch}/{epochs}, val Dice {dice:.2f}",
        ),
    )
    metrics = {
        **trained.metrics,
        **split.summary(),
        "truth_sources": count_by_truth([*split.train, *split.validation]),
        "validation_tasks": sorted({c.task_id for c in split.validation}),
    }
    model = register_trained_model(
        project=project,
        plan=plan,
        weights=trained.weights,
        metrics=metrics,
        modalities=_modalities(split.train),
        parent=base,
        job=job,
    )
    return {
        "model": model.pk,
        "tag": model.tag,
        "best_epoch": metrics["best_epoch"],
        "best_val_dice": metrics["best_val_dice"],
        "baseline_val_dice": metrics["baseline_val_dice"],
        "val_dice_per_epoch": metrics["val_dice_per_epoch"],
    }, None


def _read_weights(model: RegisteredModel) -> bytes:
    with model.weights.open("rb") as handle:
        data: bytes = handle.read()
    return data


def _modalities(cases: Sequence[TrainingCase]) -> list[str]:
    return sorted({c.modality for c in cases})


@transaction.atomic
def register_trained_model(
    *,
    project: Project,
    plan: TrainingPlan,
    weights: bytes,
    metrics: dict[str, Any],
    modalities: list[str],
    parent: RegisteredModel | None,
    job: Job | None,
) -> RegisteredModel:
    """Store a trained network as the next version of `plan.name` in the project (inactive
    until a manager activates it)."""
    Project.objects.select_for_update().filter(pk=project.pk).first()  # serialize versioning
    latest = RegisteredModel.objects.filter(project=project, name=plan.name).aggregate(
        latest=Max("version")
    )["latest"]
    model = RegisteredModel(
        project=project,
        name=plan.name,
        version=(latest or 0) + 1,
        kind=ModelKind.SEGMENTATION_2D,
        source=ModelSource.TRAINED,
        label_map={str(channel): key for channel, key in enumerate(plan.labels, start=1)},
        input_spec={
            "modalities": modalities,
            "dims": 2,
            "in_channels": 1,
            "window": plan.window,
            "size": plan.size,
            "batch": 16,
            "out_channels": len(plan.labels) + 1,
        },
        weights_sha256=hashlib.sha256(weights).hexdigest(),
        metrics=metrics,
        description=f"Trained in the project on {', '.join(plan.labels)}.",
        parent=parent,
        training_job=job,
        created_by=job.created_by if job is not None else None,
    )
    model.weights.save(
        f"{project.pk}-{plan.name}-v{model.version}.pt", ContentFile(weights), save=False
    )
    model.full_clean()
    model.save()
    record_event(
        actor=model.created_by,
        action="ml_model.train",
        obj=model,
        project=project,
        changes={
            "version": [None, model.version],
            "best_val_dice": [None, metrics["best_val_dice"]],
        },
    )
    return model
