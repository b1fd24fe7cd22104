"""Which torch device a worker computes on: CUDA when present and allowed, else the CPU."""

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    import torch


def select_device(preference: str | None = None) -> "torch.device":
    """Return the device named by ML_DEVICE: auto (CUDA if available), cpu, cuda or cuda:N.

    A request for CUDA on a machine without it falls back to the CPU rather than failing,
    so one configuration works on GPU and CPU workers alike.
    """
    import torch

    wanted = (preference or settings.ML_DEVICE or "auto").strip().lower()
    if wanted == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if wanted == "auto":
        return torch.device("cuda")
    return torch.device(wanted)
