"""The training loop: DiceCE loss, Adam, validation Dice per epoch on whole held-out volumes,
early stopping with patience, and the best epoch's weights kept.

Pure torch and MONAI on tensors (no Django), seeded so that a run repeats on the same device.
"""

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from monai.losses.dice import DiceCELoss
from monai.metrics.meandice import DiceMetric
from monai.utils.misc import set_determinism
from torch.nn import functional

EpochCallback = Callable[[int, int, float], None]
"""Called after each epoch with (epoch, epochs, validation Dice)."""


@dataclass(frozen=True)
class FitConfig:
    """How long and how fast to train."""

    classes: int
    """Output channels, background included."""
    epochs: int
    patience: int
    batch_size: int = 16
    learning_rate: float = 3e-3
    min_steps: int = 25
    """Steps per epoch at least (small projects pass over their slices several times), so
    that patience and the epoch count mean the same amount of learning at any data size."""
    seed: int = 0


@dataclass(frozen=True)
class ValidationVolume:
    """One held-out stack: all its slices, prepared, and its class map at the same size."""

    images: torch.Tensor
    """(k, 1, rows, cols) float32."""
    target: torch.Tensor
    """(k, rows, cols) int64."""


@dataclass
class FitOutcome:
    """What a run learnt and how well."""

    state: dict[str, torch.Tensor]
    """The best epoch's weights (CPU)."""
    baseline_dice: float
    """Validation Dice of the network before any training (the untrained or base model)."""
    epoch_dice: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_dice: float = 0.0
    stopped_early: bool = False
    seconds: float = 0.0


def fit(
    network: torch.nn.Module,
    *,
    images: torch.Tensor,
    targets: torch.Tensor,
    validation: list[ValidationVolume],
    config: FitConfig,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
) -> FitOutcome:
    """Train `network` on (n, 1, rows, cols) images with (n, rows, cols) class maps; keep the
    weights of the epoch with the best validation Dice, stop after `patience` epochs without
    improvement."""
    started = time.perf_counter()
    set_determinism(seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    network = network.to(device)
    amp = device.type == "cuda"  # mixed precision only where it pays and is safe
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    baseline = evaluate(network, validation, classes=config.classes, device=device)
    outcome = FitOutcome(
        state=_cpu_state(network), baseline_dice=baseline, best_dice=baseline, best_epoch=0
    )
    since_best = 0
    for epoch in range(1, config.epochs + 1):
        network.train()
        for batch in _epoch_batches(len(images), config, generator):
            x = images[batch].to(device)
            y = targets[batch][:, None].to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                loss = loss_function(network(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        dice = evaluate(network, validation, classes=config.classes, device=device)
        outcome.epoch_dice.append(dice)
        if on_epoch is not None:
            on_epoch(epoch, config.epochs, dice)
        if dice > outcome.best_dice or outcome.best_epoch == 0:
            outcome.best_dice, outcome.best_epoch = dice, epoch
            outcome.state = _cpu_state(network)
            since_best = 0
        else:
            since_best += 1
            if since_best >= config.patience:
                outcome.stopped_early = epoch < config.epochs
                break
    network.load_state_dict(outcome.state)
    outcome.seconds = time.perf_counter() - started
    return outcome


def evaluate(
    network: torch.nn.Module,
    volumes: list[ValidationVolume],
    *,
    classes: int,
    device: torch.device,
    batch_size: int = 32,
) -> float:
    """Return the mean Dice over held-out volumes and foreground classes (3D, per volume;
    a class absent from a volume's truth is left out rather than scored)."""
    network.eval()
    metric = DiceMetric(include_background=False, reduction="mean", ignore_empty=True)
    with torch.inference_mode():
        for volume in volumes:
            predicted = torch.cat(
                [
                    network(volume.images[start : start + batch_size].to(device))
                    .argmax(dim=1)
                    .cpu()
                    for start in range(0, len(volume.images), batch_size)
                ]
            )
            metric(_one_hot_volume(predicted, classes), _one_hot_volume(volume.target, classes))
    value = metric.aggregate()
    score = float(value.item()) if isinstance(value, torch.Tensor) else float(value[0].item())
    return 0.0 if score != score else score  # NaN: nothing to score (no foreground anywhere)


def _epoch_batches(count: int, config: FitConfig, generator: torch.Generator) -> list[torch.Tensor]:
    """Return the index batches of one epoch: whole shuffled passes over the slices until
    `min_steps` batches; a last batch of one is dropped (batch norm needs two samples)."""
    steps = max(math.ceil(count / config.batch_size), config.min_steps)
    order = torch.cat(
        [
            torch.randperm(count, generator=generator)
            for _ in range(math.ceil(steps * config.batch_size / count))
        ]
    )
    batches = [
        order[start : start + config.batch_size]
        for start in range(0, steps * config.batch_size, config.batch_size)
    ]
    return [b for b in batches if len(b) > 1 or count == 1]


def _one_hot_volume(classes_map: torch.Tensor, classes: int) -> torch.Tensor:
    """(k, h, w) class indices -> (1, C, k, h, w) one-hot, the layout DiceMetric scores in 3D."""
    return functional.one_hot(classes_map.long(), classes).permute(3, 0, 1, 2)[None].float()


def _cpu_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in copy.copy(network.state_dict()).items()}
