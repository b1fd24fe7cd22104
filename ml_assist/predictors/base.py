"""What every predictor receives and returns.

Predictors know nothing of Django: a runner loads the voxels of a stack into a `VolumeInput`,
calls `predict`, and saves the `PredictionResult` through the labeling services. Arrays are in
the stack's voxel index order (slices k, rows j, columns i), like every stored mask.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

ProgressCallback = Callable[[int, int], None]
"""Called with (done, total) slices or steps while a predictor works."""


class PredictorError(Exception):
    """A model could not produce a usable result (bad weights, wrong output shape, no memory).

    The message is shown on the failed job, so it names what went wrong in the user's terms.
    """


@dataclass(frozen=True)
class VolumeInput:
    """The voxels of one stack with what a predictor needs to interpret them."""

    array: np.ndarray
    """float32, shape (slices, rows, columns), modality values (CT in Hounsfield units)."""
    spacing: tuple[float, float, float]
    """Millimetres between columns, rows and slices (i, j, k)."""
    modality: str

    @property
    def shape(self) -> tuple[int, int, int]:
        k, j, i = self.array.shape
        return (k, j, i)


@dataclass
class PredictionResult:
    """What a model said about one stack."""

    masks: dict[str, np.ndarray] = field(default_factory=dict)
    """Schema label key -> bool array shaped like the input volume."""
    score: float | None = None
    """A triage score in [0, 1] (higher = more urgent), when the model gives one."""
    uncertainty: float | None = None
    """How unsure the model is in [0, 1] (for active-learning ordering), when known."""
    classes: dict[str, str] = field(default_factory=dict)
    """Schema question key -> chosen option, for classification models."""


class Predictor(Protocol):
    """Anything that turns a volume into a prediction."""

    def predict(
        self, volume: VolumeInput, *, progress: ProgressCallback | None = None
    ) -> PredictionResult: ...
