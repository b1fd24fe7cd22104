"""What a model run needs: a task's built stacks as predictor input, and the predictor of a
registered model version (built once per worker process for TorchScript weights)."""

from typing import Any

import numpy as np

from annotator.imaging.models import Stack
from annotator.imaging.volume import load_volume
from annotator.labeling.models import LabelingTask
from ml_assist.models import ModelSource, RegisteredModel
from ml_assist.predictors.base import Predictor, PredictorError, VolumeInput


def task_stacks(task: LabelingTask) -> list[Stack]:
    """Return the built image stacks a task covers (its series', or its study's)."""
    stacks = (
        Stack.objects.exclude(volume_path="")
        .select_related("series")
        .order_by("series_id", "index")
    )
    if task.series_id is not None:
        return list(stacks.filter(series_id=task.series_id))
    return list(stacks.filter(series__study_id=task.study_id, series__is_image=True))


def stack_input(stack: Stack) -> VolumeInput:
    """Load a stack's voxel cache as the predictors' input (colour becomes luminance)."""
    voxels = load_volume(stack.volume_path)
    if voxels.ndim == 4:  # RGB ultrasound and secondary captures: (k, j, i, 3) uint8
        weights = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
        array = (voxels[..., :3].astype(np.float32) @ weights).astype(np.float32)
    else:
        array = np.asarray(voxels, dtype=np.float32)
    spacing = (float(stack.spacing[0]), float(stack.spacing[1]), float(stack.spacing[2]))
    return VolumeInput(array=array, spacing=spacing, modality=stack.series.modality.upper())


def reads_modality(model: RegisteredModel, modality: str) -> bool:
    """Return whether the model declares it reads `modality` (no declaration: any)."""
    wanted = [str(m).upper() for m in model.input_spec.get("modalities") or []]
    return not wanted or modality.upper() in wanted


def build_model_predictor(model: RegisteredModel, device: Any) -> Predictor:
    """Build (or fetch from the worker's cache) the predictor of a model version.

    Raises:
        PredictorError: the weights are missing, altered or do not load.
    """
    from ml_assist.predictors.loading import ModelRecipe, build_predictor

    path = None
    if model.source != ModelSource.BUILTIN and model.weights:
        try:
            path = model.weights.path
        except NotImplementedError as error:  # remote storage: no local path
            raise PredictorError("The weights are not on local storage.") from error
    recipe = ModelRecipe(
        model_id=model.pk,
        source=model.source,
        builtin=model.builtin,
        label_map=dict(model.label_map),
        input_spec=dict(model.input_spec),
        weights_path=path,
        weights_sha256=model.weights_sha256,
    )
    return build_predictor(recipe, device)
