"""The TorchScript runner of pre-annotation: batching, resizing, normalisation, the per-process
cache, and errors turned into clear PredictorErrors. GPU tests skip cleanly without CUDA."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml_assist.predictors.base import PredictorError, VolumeInput
from ml_assist.predictors.torchscript import (
    TorchScriptPredictor,
    load_cached_module,
    load_module_bytes,
)
from tests.ml_assist.registry_helpers import SPEC, Threshold, scripted, torch

CPU = torch.device("cpu")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _volume(slices: int = 10, size: int = 64, seed: int = 0) -> VolumeInput:
    rng = np.random.default_rng(seed)
    array = rng.uniform(-1000, 1000, size=(slices, size, size)).astype(np.float32)
    return VolumeInput(array=array, spacing=(1.0, 1.0, 2.0), modality="CT")


def _predictor(module: Any, device: Any = CPU, **spec: Any) -> TorchScriptPredictor:
    return TorchScriptPredictor(
        module, input_spec={**SPEC, **spec}, label_map={"1": "body"}, device=device
    )


def test_slices_are_batched_with_progress_and_labelled_by_argmax() -> None:
    volume = _volume()
    steps: list[tuple[int, int]] = []
    result = _predictor(load_module_bytes(scripted(Threshold()), CPU)).predict(
        volume, progress=lambda done, total: steps.append((done, total))
    )
    assert steps == [(4, 10), (8, 10), (10, 10)]  # batch 4
    assert np.array_equal(result.masks["body"], volume.array > 0)
    assert result.uncertainty is not None
    assert 0 < result.uncertainty < 0.5


class Recorder(torch.nn.Module):  # type: ignore[misc]
    """Remembers what it was given; answers like Threshold."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[tuple[int, ...], Any]] = []
        self.autocast: list[bool] = []
        self.half: list[Any] = []

    def forward(self, x: Any) -> Any:
        self.seen.append((tuple(x.shape), x.dtype))
        self.autocast.append(torch.is_autocast_enabled(x.device.type))
        self.half.append((x @ x.transpose(-1, -2)).dtype)  # what a layer computes in
        v = x[:, :1]
        return torch.cat([0.5 - v, v - 0.5], dim=1) * 20


def test_size_channels_and_dtype_follow_the_spec() -> None:
    recorder = Recorder()
    volume = _volume(slices=3, size=64)
    result = _predictor(recorder, size=[32, 48], in_channels=3, batch=16).predict(volume)
    assert recorder.seen == [((3, 3, 32, 48), torch.float32)]
    assert recorder.autocast == [False]  # mixed precision is for CUDA only
    assert recorder.half == [torch.float32]
    mask = result.masks["body"]
    assert mask.shape == (3, 64, 64)  # resized back to the stack's grid
    agreement = float((mask == (volume.array > 0)).mean())
    assert agreement > 0.6  # a coarse grid of random noise, but the same rule


def test_null_window_z_scores_the_volume() -> None:
    recorder = Recorder()
    volume = VolumeInput(
        array=np.linspace(100, 300, 2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16),
        spacing=(1.0, 1.0, 1.0),
        modality="MR",
    )
    result = _predictor(recorder, window=None).predict(volume)
    # z-scored: the brighter values above mean + 0.5 std are foreground
    z = (volume.array - volume.array.mean()) / volume.array.std()
    assert np.array_equal(result.masks["body"], z > 0.5)


class Pair(torch.nn.Module):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        return (x, x)


class OutOfMemory(torch.nn.Module):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


class OneChannel(torch.nn.Module):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        return x[:, :1]


@pytest.mark.parametrize(
    ("module", "words"),
    [
        (Pair(), "returned tuple; expected one logits tensor"),
        (OutOfMemory(), "CUDA out of memory on slices 0-3 (batch 4); lower input_spec.batch"),
        (OneChannel(), "returned 1 channels; the label map needs at least 2"),
    ],
)
def test_model_errors_become_clear_predictor_errors(module: Any, words: str) -> None:
    with pytest.raises(PredictorError) as caught:
        _predictor(module).predict(_volume())
    assert words in str(caught.value)


def test_bad_bytes_and_bad_label_maps_are_refused() -> None:
    with pytest.raises(PredictorError, match="not a loadable TorchScript model"):
        load_module_bytes(b"\x00" * 64, CPU)
    module = load_module_bytes(scripted(Threshold()), CPU)
    with pytest.raises(PredictorError, match="channel numbers"):
        TorchScriptPredictor(module, input_spec=SPEC, label_map={"one": "body"}, device=CPU)
    with pytest.raises(PredictorError, match="channels 1 and up"):
        TorchScriptPredictor(module, input_spec=SPEC, label_map={"0": "body"}, device=CPU)


def test_weights_are_loaded_once_per_process_and_checked(tmp_path: Path, mocker: Any) -> None:
    import hashlib

    data = scripted(Threshold())
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    spy = mocker.spy(torch.jit, "load")
    load_cached_module.cache_clear()
    first = load_cached_module(41, digest, str(path), "cpu")
    second = load_cached_module(41, digest, str(path), "cpu")
    assert first is second
    assert spy.call_count == 1
    with pytest.raises(PredictorError, match="changed since registration"):
        load_cached_module(42, "0" * 64, str(path), "cpu")
    with pytest.raises(PredictorError, match="cannot be read"):
        load_cached_module(43, digest, str(tmp_path / "missing.pt"), "cpu")
    load_cached_module.cache_clear()


@needs_cuda
def test_cuda_autocast_path_matches_the_cpu() -> None:
    cuda = torch.device("cuda")
    recorder = Recorder()
    volume = _volume(slices=6, size=64)
    on_gpu = _predictor(recorder.to(cuda), device=cuda).predict(volume)
    assert recorder.autocast == [True, True]  # 6 slices in batches of 4
    assert set(recorder.half) <= {torch.bfloat16, torch.float16}
    assert len(set(recorder.half)) == 1
    on_cpu = _predictor(load_module_bytes(scripted(Threshold()), CPU)).predict(volume)
    agreement = float((on_gpu.masks["body"] == on_cpu.masks["body"]).mean())
    assert agreement > 0.99


@needs_cuda
def test_cuda_scripted_model_runs_in_mixed_precision() -> None:
    cuda = torch.device("cuda")
    module = load_module_bytes(scripted(Threshold()), cuda)
    volume = _volume(slices=40, size=128)
    result = _predictor(module, device=cuda, batch=16).predict(volume)
    assert result.masks["body"].shape == (40, 128, 128)
    assert float((result.masks["body"] == (volume.array > 0)).mean()) > 0.99
