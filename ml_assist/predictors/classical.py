"""Built-in classical predictors: Hounsfield thresholds, morphology and connected components on
SimpleITK for CT; Otsu foreground for MR, ultrasound and X-ray.

They need no weights and no download, so every project can pre-annotate from day one. Each
built-in has named outputs ("body", "lungs", ...); a registered model's label map sends each
output to a mask label of the project's schema. Morphology radii are in voxels in-plane only:
slices are often thick and few (a single CT slice must work too).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK

from ml_assist.predictors.base import (
    PredictionResult,
    PredictorError,
    ProgressCallback,
    VolumeInput,
)

#: Above this (HU) is the patient (and whatever lies on the table, dropped as smaller).
BODY_HU = -500.0
#: Air inside the body in this range (HU) is lung.
LUNG_HU = (-1000.0, -400.0)
#: Above this (HU) is bone (contrast-filled vessels stay below about 250 HU).
BONE_HU = 250.0
#: Bone fragments smaller than this (mm³) are noise or calcifications, not bone.
MIN_BONE_MM3 = 30.0
#: A second lung (or foreground part) is kept only when at least this share of the largest.
MIN_PART_SHARE = 0.1

Outputs = dict[str, np.ndarray]
sitk: Any = SimpleITK  # SimpleITK ships no type hints
Image = Any  # a SimpleITK image


def _image(array: np.ndarray, spacing: tuple[float, float, float]) -> Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(tuple(float(s) for s in spacing))
    return image


def _array(image: Image) -> np.ndarray:
    array: np.ndarray = sitk.GetArrayFromImage(image).astype(bool)
    return array


def _largest(mask: Image, *, keep: int = 1, min_share: float = 0.0) -> Image:
    """Keep the `keep` largest connected components (each at least `min_share` of the first)."""
    labels = sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True)
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(labels)
    if not stats.GetLabels():
        return mask * 0
    first = stats.GetNumberOfPixels(1)
    kept = [
        n
        for n in range(1, min(keep, len(stats.GetLabels())) + 1)
        if stats.GetNumberOfPixels(n) >= min_share * first
    ]
    return sitk.BinaryThreshold(labels, 1, float(max(kept)), 1, 0)


def _box_in_plane(mask: np.ndarray, radius: int, *, grow: bool) -> np.ndarray:
    """Dilate (grow) or erode a (k, j, i) bool volume by a square of `radius` in each slice.

    Separable shifted ORs/ANDs in numpy: SimpleITK's binary morphology is ten times slower on
    a 512x512x300 CT, and a square in-plane element is all these masks need. Outside the
    volume counts as neither foreground nor background (edges do not erode).
    """
    reduce = np.logical_or if grow else np.logical_and
    out = mask
    for axis in (1, 2):
        acc = out.copy()
        for d in range(1, radius + 1):
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis], behind[axis] = slice(d, None), slice(None, -d)
            reduce(acc[tuple(ahead)], out[tuple(behind)], out=acc[tuple(ahead)])
            reduce(acc[tuple(behind)], out[tuple(ahead)], out=acc[tuple(behind)])
        out = acc
    return out


def _components(mask: np.ndarray) -> np.ndarray:
    labels: np.ndarray = sitk.GetArrayFromImage(
        sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)))
    )
    return labels


def _fill_holes_per_slice(mask: Image) -> Image:
    """Fill holes slice by slice: in 3D the lungs reach the top slice and would stay open."""
    array = sitk.GetArrayFromImage(mask)
    for k in range(array.shape[0]):
        array[k] = sitk.GetArrayFromImage(sitk.BinaryFillhole(sitk.GetImageFromArray(array[k])))
    filled = sitk.GetImageFromArray(array)
    filled.CopyInformation(mask)
    return filled


def ct_body_mask(hu: Image) -> Image:
    """The patient: above -500 HU, the largest component, holes (lungs, bowel gas) filled."""
    body = sitk.BinaryThreshold(hu, BODY_HU, 1e9, 1, 0)
    return _fill_holes_per_slice(_largest(body))


def ct_lungs_mask(hu: Image, body: Image) -> np.ndarray:
    """Air inside the body not connected to the outside air: the two largest parts, closed."""
    air = sitk.BinaryThreshold(hu, LUNG_HU[0], LUNG_HU[1], 1, 0)
    # Outside air touches the body only through the skin, which the filled body mask covers.
    inside = sitk.And(air, body)
    lungs = _array(_largest(inside, keep=2, min_share=MIN_PART_SHARE))
    closed = _box_in_plane(_box_in_plane(lungs, 2, grow=True), 2, grow=False)
    inside_body: np.ndarray = closed & _array(body)
    return inside_body


def ct_bone_mask(hu: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """At least 250 HU, opened by one voxel by reconstruction, parts under MIN_BONE_MM3
    dropped."""
    bone = hu >= BONE_HU
    labels = _components(bone)
    # By reconstruction: a part vanishing under erosion is a speck and goes; a thin rib that
    # survives keeps its full shape.
    survivors = np.unique(labels[_box_in_plane(bone, 1, grow=False)])
    sizes = np.bincount(labels.ravel())
    min_voxels = max(int(MIN_BONE_MM3 / float(np.prod(spacing))), 1)
    keep = np.zeros(sizes.size, dtype=bool)
    keep[survivors[(survivors > 0) & (sizes[survivors] >= min_voxels)]] = True
    mask: np.ndarray = keep[labels]
    return mask


def otsu_foreground_mask(image: Image) -> Image:
    """Otsu's threshold over the volume, the largest parts kept, holes filled per slice."""
    smooth = sitk.Cast(image, sitk.sitkFloat32)
    # insideValue 0 / outsideValue 1: voxels above the threshold become 1 (the foreground).
    foreground = _array(sitk.OtsuThreshold(smooth, 0, 1))
    opened = _box_in_plane(_box_in_plane(foreground, 1, grow=False), 1, grow=True)
    kept = _largest(
        _image(opened.astype(np.uint8), image.GetSpacing()), keep=2, min_share=MIN_PART_SHARE
    )
    return _fill_holes_per_slice(kept)


def _ct_thorax(volume: VolumeInput, outputs: tuple[str, ...]) -> Outputs:
    hu = _image(volume.array.astype(np.float32, copy=False), volume.spacing)
    result: Outputs = {}
    body = ct_body_mask(hu) if {"body", "lungs"} & set(outputs) else None
    if body is not None and "body" in outputs:
        result["body"] = _array(body)
    if body is not None and "lungs" in outputs:
        result["lungs"] = ct_lungs_mask(hu, body)
    if "bone" in outputs:
        result["bone"] = ct_bone_mask(volume.array, volume.spacing)
    return result


def _otsu(volume: VolumeInput, outputs: tuple[str, ...]) -> Outputs:
    image = _image(volume.array.astype(np.float32, copy=False), volume.spacing)
    return {"foreground": _array(otsu_foreground_mask(image))}


@dataclass(frozen=True)
class Builtin:
    """A built-in predictor: its outputs, the modalities it reads, and how it computes."""

    key: str
    outputs: tuple[str, ...]
    modalities: tuple[str, ...]
    description: str
    compute: Callable[[VolumeInput, tuple[str, ...]], Outputs]


_CT = ("CT",)
_PROJECTION = ("MR", "US", "DX", "CR", "XA", "RF", "MG", "OT", "NM", "PT")
BUILTINS: dict[str, Builtin] = {
    b.key: b
    for b in (
        Builtin(
            "ct_body", ("body",), _CT, "CT body: > -500 HU, largest part, holes filled.", _ct_thorax
        ),
        Builtin(
            "ct_lungs",
            ("lungs",),
            _CT,
            "CT lungs: air (-1000..-400 HU) inside the body, two largest parts.",
            _ct_thorax,
        ),
        Builtin(
            "ct_bone", ("bone",), _CT, "CT bone: > 250 HU, opened, small parts dropped.", _ct_thorax
        ),
        Builtin(
            "ct_thorax",
            ("body", "lungs", "bone"),
            _CT,
            "CT body, lungs and bone at once.",
            _ct_thorax,
        ),
        Builtin(
            "otsu_foreground",
            ("foreground",),
            _PROJECTION,
            "Foreground by Otsu's threshold (MR, ultrasound, X-ray).",
            _otsu,
        ),
    )
}


class ClassicalPredictor:
    """Run one built-in and name its outputs with the model's label map."""

    def __init__(self, builtin: str, label_map: Mapping[str, str]) -> None:
        spec = BUILTINS.get(builtin)
        if spec is None:
            raise PredictorError(f"Unknown built-in predictor {builtin!r}.")
        unknown = sorted(set(label_map) - set(spec.outputs))
        if unknown:
            raise PredictorError(
                f"Built-in {builtin!r} has outputs {list(spec.outputs)}, not {unknown}."
            )
        self.spec = spec
        self.label_map = dict(label_map)

    def predict(
        self, volume: VolumeInput, *, progress: ProgressCallback | None = None
    ) -> PredictionResult:
        """Compute the mapped outputs; the whole volume is one step (SimpleITK is 3D)."""
        if volume.array.ndim != 3 or 0 in volume.array.shape:
            raise PredictorError(
                f"Expected a (slices, rows, columns) volume, got shape {list(volume.array.shape)}."
            )
        slices = volume.shape[0]
        if progress is not None:
            progress(0, slices)
        wanted = tuple(name for name in self.spec.outputs if name in self.label_map)
        outputs = self.spec.compute(volume, wanted)
        masks: dict[str, np.ndarray] = {}
        for name in wanted:
            key = self.label_map[name]
            # Two outputs mapped to one label are united (e.g. body and bone into "tissue").
            masks[key] = masks[key] | outputs[name] if key in masks else outputs[name]
        if progress is not None:
            progress(slices, slices)
        return PredictionResult(masks=masks)
