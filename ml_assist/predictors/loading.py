"""Build the predictor of a registered model from plain values (no Django here).

TorchScript weights are loaded once per worker process and device (see
`torchscript.load_cached_module`); built-ins are cheap to build every time.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml_assist.predictors.base import Predictor, PredictorError
from ml_assist.predictors.classical import ClassicalPredictor

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ModelRecipe:
    """What is needed to build one model version's predictor."""

    model_id: int
    source: str
    builtin: str
    label_map: Mapping[str, str]
    input_spec: Mapping[str, Any]
    weights_path: str | None
    weights_sha256: str


def build_predictor(recipe: ModelRecipe, device: "torch.device") -> Predictor:
    """Return a ready predictor for the recipe on `device`.

    Raises:
        PredictorError: unknown built-in, no weights, or weights that do not load.
    """
    if recipe.source == "builtin":
        return ClassicalPredictor(recipe.builtin, recipe.label_map)
    from ml_assist.predictors.torchscript import TorchScriptPredictor, load_cached_module

    if not recipe.weights_path:
        raise PredictorError(f"Model {recipe.model_id} has no weights file.")
    module = load_cached_module(
        recipe.model_id, recipe.weights_sha256, recipe.weights_path, str(device)
    )
    return TorchScriptPredictor(
        module, input_spec=recipe.input_spec, label_map=recipe.label_map, device=device
    )
