"""Turn a split of training cases into tensors, train, and export: the torch half of the job
(ml_assist.training.service imports it on workers only)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ml_assist.device import select_device
from ml_assist.training.dataset import CaseSplit, TrainingCase, load_case, sample_slices
from ml_assist.training.loop import EpochCallback, FitConfig, ValidationVolume, fit
from ml_assist.training.network import (
    DEFAULT_ARCHITECTURE,
    build_network,
    export_torchscript,
    load_weights,
    prepare_slices,
    resize_classes,
    volume_statistics,
)

if TYPE_CHECKING:
    from ml_assist.training.service import TrainingPlan


@dataclass(frozen=True)
class TrainedNetwork:
    """A finished run: the TorchScript file and what to record about it."""

    weights: bytes
    metrics: dict[str, Any]


def run_training(
    *,
    plan: "TrainingPlan",
    split: CaseSplit,
    base_weights: bytes | None,
    on_epoch: EpochCallback | None = None,
) -> TrainedNetwork:
    """Prepare the slices, train from scratch or from `base_weights`, export the best epoch."""
    rng = np.random.default_rng(plan.seed)
    images, targets = training_slices(split.train, plan=plan, rng=rng)
    validation = [validation_volume(case, plan=plan) for case in split.validation]
    classes = len(plan.labels) + 1
    torch.manual_seed(plan.seed)
    network = build_network(out_channels=classes)
    if base_weights is not None:
        load_weights(network, base_weights)
    device = select_device()
    outcome = fit(
        network,
        images=images,
        targets=targets,
        validation=validation,
        config=FitConfig(
            classes=classes, epochs=plan.epochs, patience=plan.patience, seed=plan.seed
        ),
        device=device,
        on_epoch=on_epoch,
    )
    weights = export_torchscript(network, size=plan.size, classes=classes)
    return TrainedNetwork(
        weights=weights,
        metrics={
            "val_dice_per_epoch": [round(d, 4) for d in outcome.epoch_dice],
            "best_epoch": outcome.best_epoch,
            "best_val_dice": round(outcome.best_dice, 4),
            "baseline_val_dice": round(outcome.baseline_dice, 4),
            "baseline": "base model" if base_weights is not None else "untrained network",
            "epochs_run": len(outcome.epoch_dice),
            "stopped_early": outcome.stopped_early,
            "train_slices": len(images),
            "validation_slices": sum(len(v.images) for v in validation),
            "seconds": round(outcome.seconds, 1),
            "device": str(device),
            "architecture": DEFAULT_ARCHITECTURE,
            "loss": "monai.losses.DiceCELoss",
            "optimizer": "Adam lr=3e-3",
        },
    )


def training_slices(
    cases: Sequence[TrainingCase], *, plan: "TrainingPlan", rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the sampled slices of every training case, prepared, and their class maps."""
    images, targets = [], []
    for case in cases:
        voxels, target = load_case(case, labels=plan.labels)
        chosen = sample_slices(target, rng=rng)
        stats = volume_statistics(voxels) if plan.window is None else (0.0, 1.0)
        images.append(
            prepare_slices(voxels, chosen, window=plan.window, size=plan.size, stats=stats)
        )
        targets.append(resize_classes(target[chosen], plan.size))
    return torch.cat(images), torch.cat(targets)


def validation_volume(case: TrainingCase, *, plan: "TrainingPlan") -> ValidationVolume:
    """Return every slice of a held-out case, prepared, with its class map at the same size."""
    voxels, target = load_case(case, labels=plan.labels)
    stats = volume_statistics(voxels) if plan.window is None else (0.0, 1.0)
    every = np.arange(voxels.shape[0])
    return ValidationVolume(
        images=prepare_slices(voxels, every, window=plan.window, size=plan.size, stats=stats),
        target=resize_classes(target, plan.size),
    )
