"""Run an uploaded or trained TorchScript 2D segmentation model slice by slice.

The contract (shared with in-project training): `input_spec` = {"modalities": ["CT"],
"dims": 2, "in_channels": 1, "window": [lo, hi] | null, "size": [rows, cols] | null,
"batch": 16}. A batch of slices (N, in_channels, H, W) float32 goes in (clipped to the window
and scaled to 0..1, or z-scored over the volume when the window is null; resized to `size`
when given); logits (N, C, H, W) come out, channel 0 being background. A voxel's class is the
argmax; `label_map` sends channel indices to schema mask labels.

Uncertainty of a prediction: the mean of (1 - the winning softmax probability) over the
"foreground-ish" voxels, those whose background probability is below 0.9 (0 when there are
none: the model is sure the volume is all background). It ranks cases for active learning.
"""

import functools
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention

from ml_assist.predictors.base import (
    PredictionResult,
    PredictorError,
    ProgressCallback,
    VolumeInput,
)

DEFAULT_BATCH = 16
MAX_BATCH = 256
#: Voxels whose background probability is below this count towards the uncertainty.
FOREGROUND_ISH = 0.9
#: Side of the square slice of the dry run at registration when the spec gives no size.
DRY_RUN_SIDE = 64


@dataclass(frozen=True)
class InputSpec:
    """A checked `input_spec`."""

    modalities: tuple[str, ...]
    in_channels: int
    window: tuple[float, float] | None
    size: tuple[int, int] | None
    batch: int
    out_channels: int | None


def parse_input_spec(raw: Mapping[str, Any]) -> InputSpec:
    """Check an `input_spec` against the contract.

    Raises:
        PredictorError: a field is missing or of the wrong form (the message names it).
    """

    def fail(field: str, message: str) -> PredictorError:
        return PredictorError(f"input_spec.{field}: {message}")

    dims = raw.get("dims", 2)
    if dims != 2:
        raise fail("dims", "only 2D (slice by slice) TorchScript models run here; use 2.")
    in_channels = raw.get("in_channels", 1)
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise fail("in_channels", "must be a positive integer.")
    window = raw.get("window")
    if window is not None:
        if (
            not isinstance(window, list | tuple)
            or len(window) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in window)
            or not window[0] < window[1]
        ):
            raise fail("window", "must be [low, high] with low < high, or null.")
        window = (float(window[0]), float(window[1]))
    size = raw.get("size")
    if size is not None:
        if (
            not isinstance(size, list | tuple)
            or len(size) != 2
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 2048 for v in size
            )
        ):
            raise fail("size", "must be [rows, columns] between 8 and 2048, or null.")
        size = (int(size[0]), int(size[1]))
    batch = raw.get("batch", DEFAULT_BATCH)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise fail("batch", f"must be an integer from 1 to {MAX_BATCH}.")
    modalities = raw.get("modalities", [])
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise fail("modalities", 'must be a list of modality codes, e.g. ["CT"].')
    out_channels = raw.get("out_channels")
    if out_channels is not None and (
        isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels < 2
    ):
        raise fail("out_channels", "must be an integer of at least 2 (background + a class).")
    return InputSpec(
        modalities=tuple(m.upper() for m in modalities),
        in_channels=in_channels,
        window=window,
        size=size,
        batch=batch,
        out_channels=out_channels,
    )


def load_module_bytes(data: bytes, device: torch.device) -> torch.jit.ScriptModule:
    """Load a TorchScript archive from bytes onto `device`, in eval mode.

    Raises:
        PredictorError: the bytes are not a TorchScript archive torch can load.
    """
    try:
        module: torch.jit.ScriptModule = torch.jit.load(  # type: ignore[no-untyped-call]
            io.BytesIO(data), map_location=device
        )
    except Exception as error:  # torch raises RuntimeError, ValueError, zipfile errors...
        raise PredictorError(
            f"The file is not a loadable TorchScript model ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200] if str(error) else 'no detail'})."
        ) from error
    module.eval()
    return module


@functools.lru_cache(maxsize=8)
def load_cached_module(
    model_id: int, sha256: str, path: str, device: str
) -> torch.jit.ScriptModule:
    """Load a model's weights once per worker process (keyed by model id and weights digest).

    Raises:
        PredictorError: the file is missing, altered since registration, or not loadable.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise PredictorError(f"The weights file of model {model_id} cannot be read.") from error
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise PredictorError(f"The weights file of model {model_id} changed since registration.")
    return load_module_bytes(data, torch.device(device))


def _autocast(device: torch.device) -> Any:
    """Mixed precision on CUDA only (bf16 where supported); a no-op context elsewhere."""
    if device.type != "cuda":
        return torch.autocast(device_type="cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


class TorchScriptPredictor:
    """A loaded TorchScript model with its spec and label map."""

    def __init__(
        self,
        module: torch.jit.ScriptModule,
        *,
        input_spec: Mapping[str, Any],
        label_map: Mapping[str, str],
        device: torch.device,
    ) -> None:
        self.module = module
        self.spec = parse_input_spec(input_spec)
        try:
            self.channels = {int(channel): key for channel, key in label_map.items()}
        except ValueError as error:
            raise PredictorError("label_map keys must be output channel numbers.") from error
        if not self.channels or min(self.channels) < 1:
            raise PredictorError("label_map must map channels 1 and up (0 is background).")
        self.device = device

    def _prepare(self, array: np.ndarray) -> torch.Tensor:
        """Normalise the whole volume once, as float32 on the device."""
        volume = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        volume = volume.to(self.device, non_blocking=True)
        if self.spec.window is not None:
            lo, hi = self.spec.window
            return (volume.clamp(lo, hi) - lo) / (hi - lo)
        std = volume.std()
        scale = std if float(std) > 1e-6 else torch.ones_like(std)
        normalised: torch.Tensor = (volume - volume.mean()) / scale
        return normalised

    def _forward(self, batch: torch.Tensor, first: int) -> torch.Tensor:
        """Run one batch (N, H, W) and return float32 logits (N, C, H, W) at the input size."""
        rows, columns = batch.shape[-2:]
        x = batch[:, None]
        if self.spec.size is not None and tuple(x.shape[-2:]) != self.spec.size:
            x = F.interpolate(x, size=self.spec.size, mode="bilinear", align_corners=False)
        if self.spec.in_channels > 1:
            x = x.expand(-1, self.spec.in_channels, -1, -1)
        net_size = tuple(x.shape[-2:])
        last = first + batch.shape[0] - 1
        try:
            with _autocast(self.device):
                out = self.module(x.contiguous())
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()
            raise PredictorError(
                f"CUDA out of memory on slices {first}-{last} (batch {batch.shape[0]}); "
                "lower input_spec.batch or free the GPU."
            ) from error
        except Exception as error:  # TorchScript raises torch.jit.Error/RuntimeError
            detail = str(error).strip().splitlines()
            raise PredictorError(
                f"The model failed on slices {first}-{last}: {type(error).__name__}: "
                f"{(detail[-1] if detail else '')[:300]}"
            ) from error
        self._check_output(out, batch.shape[0], net_size)
        logits: torch.Tensor = out.float()
        if net_size != (rows, columns):
            logits = F.interpolate(
                logits, size=(rows, columns), mode="bilinear", align_corners=False
            )
        if not torch.isfinite(logits).all():
            raise PredictorError(
                f"The model returned NaN or infinite values on slices {first}-{last}."
            )
        return logits

    def _check_output(self, out: Any, n: int, size: tuple[int, ...]) -> None:
        if not isinstance(out, torch.Tensor):
            raise PredictorError(
                f"The model returned {type(out).__name__}; expected one logits tensor (N, C, H, W)."
            )
        needed = max(self.channels) + 1
        expected = f"(N={n}, C>={needed}, H={size[0]}, W={size[1]})"
        if out.dim() != 4 or out.shape[0] != n or tuple(out.shape[2:]) != size:
            raise PredictorError(
                f"The model returned shape {list(out.shape)}; expected logits {expected}."
            )
        channels = int(out.shape[1])
        if channels < max(needed, 2) or (
            self.spec.out_channels is not None and channels != self.spec.out_channels
        ):
            raise PredictorError(
                f"The model returned {channels} channels; the label map needs at least "
                f"{needed}"
                + (
                    f" and input_spec.out_channels says {self.spec.out_channels}."
                    if self.spec.out_channels is not None
                    else "."
                )
            )

    def predict(
        self, volume: VolumeInput, *, progress: ProgressCallback | None = None
    ) -> PredictionResult:
        """Segment every slice in batches; the masks and the uncertainty come back."""
        if volume.array.ndim != 3 or 0 in volume.array.shape:
            raise PredictorError(
                f"Expected a (slices, rows, columns) volume, got shape {list(volume.array.shape)}."
            )
        slices = volume.shape[0]
        labels = np.zeros(volume.shape, dtype=np.uint8)
        unsure_sum, unsure_count = 0.0, 0
        with torch.inference_mode():
            prepared = self._prepare(volume.array)
            for first in range(0, slices, self.spec.batch):
                logits = self._forward(prepared[first : first + self.spec.batch], first)
                probabilities = torch.softmax(logits, dim=1)
                top, winner = probabilities.max(dim=1)
                foreground_ish = probabilities[:, 0] < FOREGROUND_ISH
                unsure_sum += float((1.0 - top)[foreground_ish].sum())
                unsure_count += int(foreground_ish.sum())
                winner = winner.clamp_(max=255).to(torch.uint8)
                labels[first : first + winner.shape[0]] = winner.cpu().numpy()
                if progress is not None:
                    progress(min(first + self.spec.batch, slices), slices)
        masks: dict[str, np.ndarray] = {}
        for channel, key in sorted(self.channels.items()):
            hit = labels == channel
            masks[key] = masks[key] | hit if key in masks else hit
        uncertainty = unsure_sum / unsure_count if unsure_count else 0.0
        return PredictionResult(masks=masks, uncertainty=float(uncertainty))


def dry_run(
    module: torch.jit.ScriptModule, *, input_spec: Mapping[str, Any], label_map: Mapping[str, str]
) -> None:
    """Run the model once on two tiny slices on the CPU, as registration's proof that it works.

    Raises:
        PredictorError: the spec or label map is malformed, or the model fails or returns the
            wrong shape or non-finite values.
    """
    spec = parse_input_spec(input_spec)
    side = spec.size or (DRY_RUN_SIDE, DRY_RUN_SIDE)
    predictor = TorchScriptPredictor(
        module, input_spec=input_spec, label_map=label_map, device=torch.device("cpu")
    )
    rng = np.random.default_rng(0)
    lo, hi = spec.window or (0.0, 1.0)
    array = rng.uniform(lo, hi, size=(2, *side)).astype(np.float32)
    predictor.predict(VolumeInput(array=array, spacing=(1.0, 1.0, 1.0), modality="OT"))
