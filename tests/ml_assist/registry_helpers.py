"""Helpers of the model registry tests: the ML label schema, tiny TorchScript models (good,
wrong-shaped, failing, non-finite) made in the test itself, and registered-model builders."""

import hashlib
import io
from typing import Any

import pytest
from django.core.files.base import ContentFile

from annotator.projects.models import Project
from ml_assist.models import ModelKind, ModelSource, RegisteredModel
from tests.ml_assist.conftest import ML_LABELS

torch = pytest.importorskip("torch")
__all__ = ["ML_LABELS", "SPEC", "builtin_model", "scripted", "torch_model"]

#: Window of the tiny models: 0 HU maps to 0.5, where they switch to foreground.
WINDOW = [-1000, 1000]
SPEC = {
    "modalities": ["CT"],
    "dims": 2,
    "in_channels": 1,
    "window": WINDOW,
    "size": None,
    "batch": 4,
}


class Threshold(torch.nn.Module):  # type: ignore[misc]
    """Two channels: foreground where the windowed input is above 0.5 (about 0 HU)."""

    def __init__(self, sharpness: float = 20.0) -> None:
        super().__init__()
        self.sharpness = sharpness

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x[:, :1]
        return torch.cat([(0.5 - v) * self.sharpness, (v - 0.5) * self.sharpness], dim=1)


class HalfSize(torch.nn.Module):  # type: ignore[misc]
    """Returns logits at half the input size: the wrong shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x[:, :1, ::2, ::2]
        return torch.cat([v, -v], dim=1)


class Failing(torch.nn.Module):  # type: ignore[misc]
    """Raises inside the network, as a model with a bug does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 0:
            raise RuntimeError("layer 3 exploded")
        return x


class NotFinite(torch.nn.Module):  # type: ignore[misc]
    """Returns NaN logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[:, :1], x[:, :1]], dim=1) * float("nan")


def scripted(module: Any) -> bytes:
    """Return the TorchScript archive of a module as bytes."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def builtin_model(project: Project, *, active: bool = False, **extra: Any) -> RegisteredModel:
    values: dict[str, Any] = {
        "name": "thorax",
        "version": 1,
        "kind": ModelKind.SEGMENTATION_3D,
        "source": ModelSource.BUILTIN,
        "builtin": "ct_thorax",
        "label_map": {"body": "body", "lungs": "lung", "bone": "bone"},
        "input_spec": {"modalities": ["CT"]},
        "active": active,
        **extra,
    }
    return RegisteredModel.objects.create(project=project, **values)


def torch_model(
    project: Project,
    module: Any = None,
    *,
    data: bytes | None = None,
    version: int = 1,
    **extra: Any,
) -> RegisteredModel:
    """Store a TorchScript model directly (registration's checks are the API tests' job)."""
    weights = data if data is not None else scripted(module if module is not None else Threshold())
    model = RegisteredModel(
        project=project,
        name="net",
        version=version,
        kind=ModelKind.SEGMENTATION_2D,
        source=ModelSource.TORCHSCRIPT,
        label_map={"1": "body"},
        input_spec=SPEC,
        weights_sha256=hashlib.sha256(weights).hexdigest(),
        **extra,
    )
    model.weights.save(f"net-v{version}.pt", ContentFile(weights), save=False)
    model.save()
    return model
