"""In-project training end to end on phantoms: accepted readings in, a registered TorchScript
model version out, which pre-annotates a patient it never saw far better than the untrained
network does."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from annotator.accounts.models import User
from annotator.jobs.models import Job, JobState
from annotator.projects.models import Project, Role
from ml_assist.models import ModelKind, ModelSource, RegisteredModel
from ml_assist.training.service import request_training
from tests.ml_assist.training_phantoms import (
    Phantom,
    ingest_phantom,
    read_and_submit,
    set_training_schema,
)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.django_db

PATIENTS = 6


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0


def _predict(model: RegisteredModel, phantom: Phantom, weights_path: str = "") -> np.ndarray:
    """Pre-annotate with the registry's TorchScript runner, unchanged (the agreed contract)."""
    from ml_assist.predictors.base import VolumeInput
    from ml_assist.predictors.loading import ModelRecipe, build_predictor

    predictor = build_predictor(
        ModelRecipe(
            model_id=model.pk if not weights_path else -1,
            source=model.source,
            builtin=model.builtin,
            label_map=model.label_map,
            input_spec=model.input_spec,
            weights_path=weights_path or model.weights.path,
            weights_sha256="" if weights_path else model.weights_sha256,
        ),
        torch.device("cpu"),
    )
    volume = VolumeInput(array=phantom.hu.astype(np.float32), spacing=(1, 1, 1), modality="CT")
    return predictor.predict(volume).masks["organ"]


@pytest.fixture
def phantoms(
    project: Project, manager: User, member_of: Callable[[str], User]
) -> tuple[list[Phantom], Phantom]:
    """Six patients read and accepted (no review), and one more nobody read (the test case)."""
    set_training_schema(project, manager)
    reader = member_of(Role.ANNOTATOR)
    read = []
    for n in range(PATIENTS):
        phantom = ingest_phantom(project, patient=f"TRAIN-{n}", seed=n)
        read_and_submit(phantom, reader=reader, manager=manager)
        read.append(phantom)
    unseen = ingest_phantom(project, patient="UNSEEN", seed=99)
    return read, unseen


def _train(project: Project, manager: User, **kwargs: object) -> Job:
    from ml_assist.training.tasks import train_model_task

    job = request_training(project=project, actor=manager, **kwargs)  # type: ignore[arg-type]
    train_model_task(str(job.pk))  # the Celery task body, in-process
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    return job


def test_training_registers_a_model_that_beats_the_untrained_network(
    project: Project, manager: User, phantoms: tuple[list[Phantom], Phantom], tmp_path: Path
) -> None:
    from ml_assist.training.network import build_network, export_torchscript

    _, unseen = phantoms
    job = _train(
        project, manager, name="organ-unet", labels=["organ"], epochs=12, patience=4, size=[64, 64]
    )
    model = RegisteredModel.objects.get(pk=job.result["model"])
    assert (model.name, model.version, model.kind, model.source) == (
        "organ-unet",
        1,
        ModelKind.SEGMENTATION_2D,
        ModelSource.TRAINED,
    )
    assert model.training_job_id == job.pk
    assert model.parent is None
    assert not model.active
    assert model.label_map == {"1": "organ"}
    assert model.input_spec == {
        "modalities": ["CT"],
        "dims": 2,
        "in_channels": 1,
        "window": [-1000.0, 1000.0],
        "size": [64, 64],
        "batch": 16,
        "out_channels": 2,
    }
    metrics = model.metrics
    assert metrics["train_patients"] + metrics["validation_patients"] == PATIENTS
    assert metrics["validation_patients"] >= 1
    assert metrics["truth_sources"] == {"reference": 0, "reading": PATIENTS}
    dice = metrics["val_dice_per_epoch"]
    assert 1 <= len(dice) <= 12
    assert metrics["epochs_run"] == len(dice)
    assert metrics["best_val_dice"] == max(dice) == dice[metrics["best_epoch"] - 1]
    assert metrics["baseline_val_dice"] < 0.3
    assert metrics["best_val_dice"] > 0.7, metrics["val_dice_per_epoch"]
    assert job.message.startswith(f"epoch {len(dice)}/12, val Dice ")

    # The patient nobody read, through the registry's own TorchScript runner.
    trained = _dice(_predict(model, unseen), unseen.truth)
    untrained_weights = export_torchscript(build_network(out_channels=2), size=[64, 64], classes=2)
    path = tmp_path / "untrained.pt"
    path.write_bytes(untrained_weights)
    baseline = _dice(_predict(model, unseen, weights_path=str(path)), unseen.truth)
    assert trained > 0.7, (trained, baseline)
    assert baseline < 0.3, (trained, baseline)


def test_training_fine_tunes_from_an_earlier_version(
    project: Project, manager: User, phantoms: tuple[list[Phantom], Phantom]
) -> None:
    first = _train(
        project, manager, name="organ", labels=["organ"], epochs=3, patience=3, size=[64, 64]
    )
    parent = RegisteredModel.objects.get(pk=first.result["model"])
    second = _train(
        project,
        manager,
        name="organ",
        labels=["organ"],
        epochs=2,
        patience=2,
        base_model_id=parent.pk,
    )
    child = RegisteredModel.objects.get(pk=second.result["model"])
    assert (child.version, child.parent_id, child.input_spec["size"]) == (2, parent.pk, [64, 64])
    assert child.metrics["baseline"] == "base model"
    # Starting from the trained weights, the baseline is the parent's best, not an untrained net.
    assert child.metrics["baseline_val_dice"] == pytest.approx(
        parent.metrics["best_val_dice"], abs=1e-3
    )
