"""The trained network: a small MONAI 2D UNet, its input preparation, and its TorchScript export
in the registry's contract ((N, 1, H, W) float32 in, (N, C, H, W) logits out, channel 0 is
background).

Small on purpose: it trains on two CPU cores in minutes and pre-annotates a 300-slice CT at
128x128 in seconds; capacity grows with `channels` where GPUs are available.
"""

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.networks.nets.unet import UNet
from torch.nn import functional

from ml_assist.predictors.base import PredictorError

#: The architecture a trained model records in its metrics; fine-tuning rebuilds it from there.
DEFAULT_ARCHITECTURE: dict[str, Any] = {
    "net": "monai.networks.nets.UNet",
    "spatial_dims": 2,
    "channels": [16, 32, 64, 128],
    "strides": [2, 2, 2],
    "num_res_units": 1,
    "norm": "batch",
}
#: Slices normalized and resized per step while preparing a volume (bounds memory).
PREPARE_BATCH = 32


def build_network(*, out_channels: int, architecture: dict[str, Any] | None = None) -> UNet:
    """Return an untrained 2D UNet with one grey input channel and `out_channels` classes."""
    arch = architecture or DEFAULT_ARCHITECTURE
    return UNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=out_channels,
        channels=tuple(arch["channels"]),
        strides=tuple(arch["strides"]),
        num_res_units=int(arch["num_res_units"]),
        norm=str(arch["norm"]),
    )


def volume_statistics(voxels: np.ndarray) -> tuple[float, float]:
    """Return the mean and standard deviation a z-scored volume is normalized with (as the
    TorchScript runner computes them: over the whole volume, 1 for a flat one)."""
    values = np.asarray(voxels, dtype=np.float32)
    std = float(values.std())
    return float(values.mean()), std if std > 1e-6 else 1.0


def normalize(
    voxels: np.ndarray, *, window: Sequence[float] | None, stats: tuple[float, float]
) -> np.ndarray:
    """Return float32 intensities as the contract's input_spec says: clipped to the window and
    scaled to 0..1, or z-scored with the whole volume's `stats` when there is no window."""
    values = np.asarray(voxels, dtype=np.float32)
    if window is not None:
        lo, hi = float(window[0]), float(window[1])
        return (np.clip(values, lo, hi) - lo) / (hi - lo)
    mean, std = stats
    return (values - mean) / std


def prepare_slices(
    voxels: np.ndarray,
    slices: Sequence[int] | np.ndarray,
    *,
    window: Sequence[float] | None,
    size: Sequence[int],
    stats: tuple[float, float],
) -> torch.Tensor:
    """Return the chosen slices normalized and resized (bilinear) to `size`, (n, 1, rows, cols)."""
    rows, columns = int(size[0]), int(size[1])
    out = torch.empty((len(slices), 1, rows, columns), dtype=torch.float32)
    for start in range(0, len(slices), PREPARE_BATCH):
        chosen = np.asarray(slices[start : start + PREPARE_BATCH], dtype=np.int64)
        batch = torch.from_numpy(normalize(voxels[chosen], window=window, stats=stats))
        out[start : start + len(chosen)] = resize_images(batch[:, None], (rows, columns))
    return out


def resize_images(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (n, 1, h, w) intensities bilinearly (a no-op at the same size)."""
    if tuple(images.shape[-2:]) == size:
        return images
    return functional.interpolate(images, size=size, mode="bilinear", align_corners=False)


def resize_classes(target: np.ndarray, size: Sequence[int]) -> torch.Tensor:
    """Resize a class map (n, h, w) to `size` by nearest neighbour, as int64 (n, rows, cols)."""
    rows, columns = int(size[0]), int(size[1])
    classes = torch.from_numpy(np.ascontiguousarray(target, dtype=np.uint8))
    if tuple(classes.shape[-2:]) == (rows, columns):
        return classes.long()
    resized = functional.interpolate(
        classes[:, None].float(), size=(rows, columns), mode="nearest-exact"
    )
    return resized[:, 0].long()


def export_torchscript(network: torch.nn.Module, *, size: Sequence[int], classes: int) -> bytes:
    """Trace the network on the CPU, save it, load it back and check it gives the same logits
    in the contract's shape.

    Raises:
        PredictorError: the reloaded module's output differs or has the wrong shape.
    """
    network = network.to("cpu").eval()
    example = torch.rand(
        (2, 1, int(size[0]), int(size[1])), generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        expected = network(example)
    with torch.no_grad():
        traced = torch.jit.trace(network, example)  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    data = buffer.getvalue()
    reloaded = torch.jit.load(  # type: ignore[no-untyped-call]
        io.BytesIO(data), map_location="cpu"
    ).eval()
    with torch.inference_mode():
        got = reloaded(example)
    if tuple(got.shape) != (2, classes, int(size[0]), int(size[1])):
        raise PredictorError(f"The exported network returns {list(got.shape)}, not logits.")
    if not torch.allclose(got, expected, atol=1e-4, rtol=1e-4):
        raise PredictorError("The exported network does not reproduce the trained one.")
    return data


def load_weights(network: torch.nn.Module, weights: bytes) -> None:
    """Copy a TorchScript file's parameters into `network` (fine-tuning from an earlier version).

    Raises:
        PredictorError: the file is not TorchScript or its parameters do not fit the network.
    """
    try:
        module = torch.jit.load(io.BytesIO(weights), map_location="cpu")  # type: ignore[no-untyped-call]
        network.load_state_dict(module.state_dict())
    except (RuntimeError, ValueError) as error:
        raise PredictorError(
            f"The base model's weights do not fit this network: {error}"
        ) from error
