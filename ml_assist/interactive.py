"""Interactive segmentation: from a click or a box on one slice, the region under it as a mask.

The reader clicks inside a structure (or drags a box around it) and gets a bool slice that the
browser paints into the active segment as a brush stroke, so it is edited and saved like any
other stroke; nothing is stored here.

Method (SimpleITK, CPU, a few milliseconds on a 512x512 slice):

1. Smooth the slice with a recursive Gaussian (sigma in pixels) so single noisy pixels neither
   stop nor leak the region.
2. Seed statistics: the mean and standard deviation of the smoothed intensities in a small
   neighbourhood of the click, or in the middle third of the box.
3. Confidence-connected growing: the pixels connected to the seeds whose intensity lies within
   mean +- multiplier x std, then the statistics are recomputed over that region and it grows
   again (`iterations` times). This is ITK's ConfidenceConnected algorithm written with
   ConnectedThreshold so that the standard deviation has a floor: on a noiseless phantom (or a
   saturated region) ITK's own filter sees std 0 and returns only the exactly equal pixels.
   The floor is `STD_FLOOR_FRACTION` of the slice's 1st-99th percentile intensity range.
4. Edge snap: the border moves (at most `EDGE_BAND` pixels outwards) to the level half-way
   between the region's mean and that of a ring `EDGE_BAND`-`2 x EDGE_BAND` pixels outside
   it, where a blurred step edge is.
5. Clean-up: a binary opening (radius 1) cuts one-pixel bridges through which the region
   leaked, the connected component under the click (for a box: under its centre, else the
   largest) is kept, and holes are filled.

A box restricts everything to the box: the result never leaves it.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK

from annotator.core.errors import DomainError
from annotator.imaging.models import Stack
from annotator.imaging.volume import load_volume, volume_path

sitk: Any = SimpleITK  # SimpleITK ships no type hints

#: The seed statistics' standard deviation is at least this fraction of the slice's
#: 1st-99th percentile range (about 14 HU on a CT slice spanning air to bone).
STD_FLOOR_FRACTION = 0.01
#: How far (pixels) the border may move outwards when it is snapped to the edge.
EDGE_BAND = 3
#: Pixels sampled for the percentile range (a strided subsample keeps it cheap).
_RANGE_SAMPLE_STRIDE = 4

Point = tuple[int, int]
Box = tuple[int, int, int, int]


class RegionInputError(DomainError):
    """The click or box does not fit the image, or the request names neither or both."""

    code = "invalid_region_request"


@dataclass(frozen=True)
class RegionOptions:
    """How eagerly the region grows."""

    multiplier: float = 2.5
    """Half-width of the accepted intensity range, in standard deviations of the region."""
    iterations: int = 3
    """Times the statistics are recomputed over the grown region and it grows again."""
    neighbourhood: int = 2
    """Radius in pixels of the square around a click whose pixels give the first statistics."""
    smoothing: float = 1.0
    """Gaussian sigma in pixels applied before growing; 0 switches smoothing off."""


@dataclass(frozen=True)
class RegionResult:
    """The grown region on one slice."""

    mask: np.ndarray
    """bool (rows, columns), the slice's shape."""
    pixels: int
    area_mm2: float
    bbox: Box | None
    """(i0, j0, i1, j1) inclusive, or None for an empty region."""


def _check_point(point: Point, rows: int, columns: int) -> Point:
    i, j = (int(v) for v in point)
    if not (0 <= i < columns and 0 <= j < rows):
        raise RegionInputError(
            f"The point ({i}, {j}) is outside the {columns}x{rows} image.", field="point"
        )
    return i, j


def _check_box(box: Box, rows: int, columns: int) -> Box:
    i0, j0, i1, j1 = (int(v) for v in box)
    i0, i1 = sorted((i0, i1))
    j0, j1 = sorted((j0, j1))
    if i0 < 0 or j0 < 0 or i1 >= columns or j1 >= rows:
        raise RegionInputError(
            f"The box ({i0}, {j0})-({i1}, {j1}) leaves the {columns}x{rows} image.", field="box"
        )
    if i1 - i0 < 2 or j1 - j0 < 2:
        raise RegionInputError("Drag a box at least 3 pixels wide and high.", field="box")
    return i0, j0, i1, j1


def _std_floor(image: np.ndarray) -> float:
    sample = image[::_RANGE_SAMPLE_STRIDE, ::_RANGE_SAMPLE_STRIDE]
    low, high = np.percentile(sample, [1.0, 99.0])
    return max(float(high - low) * STD_FLOOR_FRACTION, 1e-6)


def _grow(
    smoothed: Any,
    values: np.ndarray,
    seeds: list[tuple[int, int]],
    seed_values: np.ndarray,
    options: RegionOptions,
    floor: float,
) -> np.ndarray:
    """Confidence-connected growing with a floor on the standard deviation."""
    mean, std = float(seed_values.mean()), max(float(seed_values.std()), floor)
    region = np.zeros(values.shape, dtype=bool)
    for _ in range(max(options.iterations, 0) + 1):
        low, high = mean - options.multiplier * std, mean + options.multiplier * std
        inside = [(i, j) for i, j in seeds if low <= values[j, i] <= high]
        if not inside:
            break
        grown = sitk.ConnectedThreshold(
            smoothed, seedList=inside, lower=low, upper=high, replaceValue=1
        )
        region = sitk.GetArrayViewFromImage(grown).astype(bool)
        picked = values[region]
        mean, std = float(picked.mean()), max(float(picked.std()), floor)
    return region


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    dilated = sitk.BinaryDilate(
        sitk.GetImageFromArray(mask.astype(np.uint8)), [radius] * 2, sitk.sitkBall, 0, 1
    )
    grown: np.ndarray = sitk.GetArrayViewFromImage(dilated).astype(bool)
    return grown


def _snap_edges(region: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Move the border to half-way between the region's and its surroundings' intensities.

    Growing within mean +- k x std stops inside a blurred edge (the smoothing and the partial
    volume make edge pixels look like neither side); the half-way level of the step is where
    the edge is.
    """
    if not region.any() or region.all():
        return region
    zone, reach = (_dilate(region, radius) for radius in (EDGE_BAND, 2 * EDGE_BAND))
    outside = reach & ~zone  # clearly past the edge, even when growing stopped short of it
    if not outside.any():
        return region
    inner, outer = float(values[region].mean()), float(values[outside].mean())
    middle = (inner + outer) / 2
    same_side = values >= middle if inner >= outer else values <= middle
    snapped: np.ndarray = region | (zone & same_side)
    return snapped


def _component_at(mask: np.ndarray, at: Point) -> np.ndarray:
    """Keep the connected component holding pixel `at` (else the largest one)."""
    if not mask.any():
        return mask
    labels = sitk.GetArrayFromImage(
        sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)))
    )
    i, j = at
    keep = int(labels[j, i])
    if keep == 0:
        counts = np.bincount(labels.ravel())
        counts[0] = 0
        keep = int(counts.argmax())
    kept: np.ndarray = labels == keep
    return kept


def _clean(region: np.ndarray, at: Point) -> np.ndarray:
    """Open (cut one-pixel bridges), keep the component at `at`, fill holes."""
    if not region.any():
        return region
    opened = sitk.GetArrayFromImage(
        sitk.BinaryMorphologicalOpening(
            sitk.GetImageFromArray(region.astype(np.uint8)), [1, 1], sitk.sitkBall, 0, 1
        )
    ).astype(bool)
    if not opened.any():  # a region thinner than the opening: keep it as grown
        opened = region
    kept = _component_at(opened, at)
    filled = sitk.BinaryFillhole(sitk.GetImageFromArray(kept.astype(np.uint8)), False, 1)
    cleaned: np.ndarray = sitk.GetArrayViewFromImage(filled).astype(bool)
    return cleaned


def _refine(region: np.ndarray, values: np.ndarray, at: Point) -> np.ndarray:
    """Snap and clean a grown region, working only on its bounding box plus a margin (the
    morphology then costs what the region's size costs, not the slice's)."""
    box = _bbox(region)
    if box is None:
        return region
    margin = 2 * EDGE_BAND + 2
    rows, columns = region.shape
    i0, j0 = max(box[0] - margin, 0), max(box[1] - margin, 0)
    i1, j1 = min(box[2] + margin + 1, columns), min(box[3] + margin + 1, rows)
    window = (slice(j0, j1), slice(i0, i1))
    inside = (min(max(at[0] - i0, 0), i1 - i0 - 1), min(max(at[1] - j0, 0), j1 - j0 - 1))
    refined = np.zeros_like(region)
    refined[window] = _clean(_snap_edges(region[window], values[window]), inside)
    return refined


def _smooth(image: np.ndarray, sigma: float) -> Any:
    source = sitk.GetImageFromArray(np.ascontiguousarray(image, dtype=np.float32))
    if sigma <= 0:
        return source
    return sitk.SmoothingRecursiveGaussian(source, float(sigma))


def _bbox(mask: np.ndarray) -> Box | None:
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1])


def grow_region(
    image: np.ndarray,
    *,
    point: Point | None = None,
    box: Box | None = None,
    spacing: tuple[float, float] = (1.0, 1.0),
    options: RegionOptions | None = None,
) -> RegionResult:
    """Segment the region under a click `point` (i, j) or inside a `box` (i0, j0, i1, j1).

    `image` is one slice (rows, columns), or (rows, columns, 3) for colour (its luminance is
    used); `spacing` is (column, row) spacing in mm, for the area.

    Raises:
        RegionInputError: neither or both of point and box, or they do not fit the image.
    """
    options = options or RegionOptions()
    if (point is None) == (box is None):
        raise RegionInputError("Give either a point or a box.", field="point")
    values = np.asarray(image, dtype=np.float32)
    if values.ndim == 3:
        values = values[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    rows, columns = values.shape
    mask = np.zeros((rows, columns), dtype=bool)
    if point is not None:
        i, j = _check_point(point, rows, columns)
        smoothed = _smooth(values, options.smoothing)
        view = sitk.GetArrayViewFromImage(smoothed)
        r = max(options.neighbourhood, 0)
        near = view[max(j - r, 0) : j + r + 1, max(i - r, 0) : i + r + 1]
        region = _grow(smoothed, view, [(i, j)], near, options, _std_floor(values))
        mask = _refine(region, view, (i, j))
    elif box is not None:
        i0, j0, i1, j1 = _check_box(box, rows, columns)
        crop = values[j0 : j1 + 1, i0 : i1 + 1]
        smoothed = _smooth(crop, options.smoothing)
        view = sitk.GetArrayViewFromImage(smoothed)
        height, width = view.shape
        cj, ci = slice(height // 3, height - height // 3), slice(width // 3, width - width // 3)
        grid = [
            (int(i), int(j))
            for j in np.linspace(cj.start, cj.stop - 1, 3)
            for i in np.linspace(ci.start, ci.stop - 1, 3)
        ]
        region = _grow(smoothed, view, grid, view[cj, ci], options, _std_floor(values))
        mask[j0 : j1 + 1, i0 : i1 + 1] = _refine(region, view, (width // 2, height // 2))
    pixels = int(np.count_nonzero(mask))
    return RegionResult(
        mask=mask,
        pixels=pixels,
        area_mm2=pixels * float(spacing[0]) * float(spacing[1]),
        bbox=_bbox(mask),
    )


def load_slice(stack: Stack, k: int) -> np.ndarray:
    """Return slice k of a stack's cached voxels (a view of the memory map).

    Raises:
        RegionInputError: k is not a slice of the stack, or its voxels are not cached yet.
    """
    depth = int(stack.size[2])
    if not 0 <= k < depth:
        raise RegionInputError(f"Slice {k} is not in this stack (0-{depth - 1}).", field="k")
    if not stack.volume_path or not volume_path(stack).exists():
        raise RegionInputError("This stack's voxels are not ready yet.", field="stack")
    volume = load_volume(stack.volume_path)
    return np.asarray(volume[k])


def segment_region(
    *,
    stack: Stack,
    k: int,
    point: Point | None = None,
    box: Box | None = None,
    options: RegionOptions | None = None,
) -> RegionResult:
    """Segment the region under a click or inside a box on slice k of a stack.

    Raises:
        RegionInputError: bad slice, point or box (see `grow_region`).
    """
    image = load_slice(stack, k)
    spacing = (float(stack.spacing[0]), float(stack.spacing[1]))
    return grow_region(image, point=point, box=box, spacing=spacing, options=options)
