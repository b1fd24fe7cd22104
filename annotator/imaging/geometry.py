"""Slice geometry of a DICOM series: stacks, spacing, tilt, and voxel <-> patient conversion.

Pure functions over plain data (no Django, no file access). Conventions, spelled out because
orientation mistakes are silent:

* Patient coordinates are DICOM LPS in mm (+x patient left, +y posterior, +z head). NIfTI and
  nibabel world coordinates are RAS: x and y negated, z unchanged (`lps_to_ras`).
* A voxel index is (i, j, k) = (column, row, slice), continuous, integers at voxel centres: i runs
  along a row (ImageOrientationPatient[0:3], "r"), j down a column (IOP[3:6], "c"), k through the
  stack. This is SimpleITK's (x, y, z) and nibabel's [i, j, k] order; the numpy array of
  ``sitk.GetArrayFromImage`` is indexed [k, j, i].
* PixelSpacing is (row spacing, column spacing), so the spacing along i is PixelSpacing[1].
* Slices are sorted by the projection of ImagePositionPatient on n = r x c, ascending, never by
  instance number or file name (ties: input order). k = 0 is the slice furthest towards -n,
  direction column 3 is n (det +1) and the slice spacing is positive, as SimpleITK's
  ImageSeriesReader does.
* `direction` is the row-major 3x3 matrix whose columns are the i, j, k axes (SimpleITK's
  GetDirection); `origin` is the centre of voxel (0, 0, 0), i.e. the first slice's position.
* Exactness: `index_to_lps` puts slice k at origin + slice_positions[k] measured along n, moving
  along direction column 3 (linear between slices, one median step per slice beyond the ends).
  That is the slice's own ImagePositionPatient whenever the positions lie on one line, as in any
  real stack, tilted or not, so conversions stay exact with uneven gaps; size, origin, spacing,
  direction and slice_positions (what the Stack model stores) are all they need.
  origin/spacing/direction alone describe the regular grid SimpleITK and NIfTI can hold
  (spacing[2] = median step): exact only when `uniform` is true. For uneven stacks SimpleITK's
  series reader uses (last - first) / (n - 1) instead; neither grid is right, so resample.
* Gantry tilt: when the positions step off the normal, direction column 3 is the actual unit step
  direction (a sheared, non-orthogonal matrix) and spacing[2] is the step length along it, so the
  grid stays exact. SimpleITK images accept such a direction (ITK's series reader builds the same
  one with ForceOrthogonalDirection off; by default it forces column 3 to n, which misplaces
  every slice but the first); nibabel keeps the shear in the sform but not the qform. Resample
  to an orthogonal grid before handing a tilted volume to tools that assume orthogonality.
* Duplicated or overlapping positions within one orientation mean several acquisitions: they are
  split by AcquisitionNumber when that separates them, otherwise into alternating sets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the library's own documented alias
from numpy.typing import ArrayLike

#: Largest difference of one direction cosine for two images to count as parallel.
ORIENTATION_TOLERANCE = 1e-3
#: Positions closer than this along the normal (mm) are duplicates.
DUPLICATE_TOLERANCE_MM = 0.01
#: A gap differing from the median by more than this fraction makes a stack non-uniform; positions
#: are written with ~6 decimals, so 1% is far above rounding noise yet flags any skipped slice.
UNIFORM_TOLERANCE = 0.01
#: In-plane drift (fraction of the smallest pixel spacing) over the stack that counts as tilt.
TILT_TOLERANCE = 0.01
_LOCALIZER_TYPES = frozenset({"LOCALIZER", "SCOUT"})


class GeometryError(ValueError):
    """The requested conversion does not exist for this geometry."""


@dataclass(frozen=True)
class SliceInfo:
    """Geometry-relevant header values of one image (one frame of a multi-frame image)."""

    key: str
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None  # DICOM order: (row spacing, column spacing)
    rows: int
    columns: int
    image_type: tuple[str, ...] = ()
    slice_thickness: float | None = None
    acquisition_number: int | None = None
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True)
class StackGeometry:
    """Geometry of one stack of parallel images, in SimpleITK conventions (see module doc)."""

    keys: tuple[str, ...]  # slice keys in order of increasing k
    size: tuple[int, int, int]  # (columns, rows, slices)
    spacing: tuple[float, float, float]  # (along i, along j, median step along k) in mm
    origin: tuple[float, float, float]  # LPS of voxel (0, 0, 0)
    direction: tuple[float, ...]  # row-major 3x3, columns = unit i, j, k axes
    uniform: bool  # slice gaps equal within UNIFORM_TOLERANCE
    slice_positions: tuple[float, ...]  # distance of each slice along n from the first (mm)
    gantry_tilt_deg: float | None  # angle between step direction and n; None when not tilted
    role: str  # "volume", "single" or "localizer"
    missing_slices: int = 0  # estimated slices absent from gaps > 1.5 x the median step
    slice_thickness: float | None = None  # median SliceThickness


def build_stacks(slices: Sequence[SliceInfo]) -> list[StackGeometry]:
    """Split a series' images into stacks of parallel slices and compute each one's geometry.

    Images are grouped by frame of reference, orientation, image size, pixel spacing and the
    localizer image type; images without a usable position and orientation become "single"
    stacks each. Duplicate positions without distinguishing AcquisitionNumbers are dealt out in
    input order, so pass images in instance-number order. Stacks come back biggest volume
    first, then singles, then localizers.
    """
    groups: list[tuple[tuple[object, ...], np.ndarray, list[SliceInfo]]] = []
    stacks: list[StackGeometry] = []
    for info in slices:
        if not _has_geometry(info):
            stacks.append(_single_without_geometry(info))
            continue
        cosines = np.asarray(info.orientation, dtype=float)
        pixel = (
            None if info.pixel_spacing is None else tuple(round(s, 4) for s in info.pixel_spacing)
        )
        label = (info.frame_of_reference_uid, info.rows, info.columns, pixel, _is_localizer(info))
        for group_label, group_cosines, members in groups:
            if group_label == label and np.abs(group_cosines - cosines).max() <= (
                ORIENTATION_TOLERANCE
            ):
                members.append(info)
                break
        else:
            groups.append((label, cosines, [info]))
    for group_label, _, members in groups:
        for part in _split_acquisitions(members, _unit_axes(members)[2]):
            stacks.append(_stack_geometry(part, localizer=bool(group_label[-1])))
    order = {"volume": 0, "single": 1, "localizer": 2}
    return sorted(stacks, key=lambda s: (order[s.role], -s.size[2]))


def index_to_lps(geometry: StackGeometry, ijk: ArrayLike) -> np.ndarray:
    """Convert continuous voxel indices (..., 3) = (i, j, k) to LPS points in mm (..., 3)."""
    points = np.asarray(ijk, dtype=float)
    flat = points.reshape(-1, 3)
    axes = _direction_matrix(geometry)
    depth = _depth_of_k(geometry, flat[:, 2])
    inplane = flat[:, :2] * np.asarray(geometry.spacing[:2])
    lps = _slice_corner(geometry, depth) + inplane @ axes[:, :2].T
    return np.asarray(lps.reshape(points.shape))


def lps_to_index(geometry: StackGeometry, lps: ArrayLike) -> np.ndarray:
    """Convert LPS points in mm (..., 3) to continuous voxel indices (i, j, k) (..., 3)."""
    points = np.asarray(lps, dtype=float)
    flat = points.reshape(-1, 3)
    axes = _direction_matrix(geometry)
    depth = (flat - np.asarray(geometry.origin)) @ slice_normal(geometry)
    known, gap = _known_depths(geometry)
    k = np.interp(depth, known, np.arange(known.size, dtype=float))
    k = np.where(depth < known[0], (depth - known[0]) / gap, k)
    k = np.where(depth > known[-1], known.size - 1 + (depth - known[-1]) / gap, k)
    offset = flat - _slice_corner(geometry, depth)  # in the slice plane: the inverse is exact
    ij = offset @ np.linalg.pinv(axes[:, :2] * np.asarray(geometry.spacing[:2])).T
    return np.asarray(np.column_stack([ij, k]).reshape(points.shape))


def slice_normal(geometry: StackGeometry) -> np.ndarray:
    """Return the unit slice normal n = row direction x column direction."""
    axes = _direction_matrix(geometry)
    return _unit(np.cross(axes[:, 0], axes[:, 1]))


def lps_to_ras(points: ArrayLike) -> np.ndarray:
    """Convert LPS points (..., 3) to RAS by negating x and y."""
    flipped: np.ndarray = np.asarray(points, dtype=float) * np.array([-1.0, -1.0, 1.0])
    return flipped


def ras_to_lps(points: ArrayLike) -> np.ndarray:
    """Convert RAS points (..., 3) to LPS by negating x and y."""
    return lps_to_ras(points)


def lps_affine(geometry: StackGeometry) -> np.ndarray:
    """Return the 4x4 index (i, j, k, 1) -> LPS affine of the stack's regular grid."""
    affine = np.eye(4)
    affine[:3, :3] = _direction_matrix(geometry) * np.asarray(geometry.spacing)
    affine[:3, 3] = geometry.origin
    return affine


def nifti_affine(geometry: StackGeometry) -> np.ndarray:
    """Return the 4x4 RAS affine for nibabel of an array stored as [i, j, k].

    Exact when `geometry.uniform`; otherwise it is the median-step grid (resample first).
    """
    affine: np.ndarray = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps_affine(geometry)
    return affine


def sitk_reference_image(geometry: StackGeometry, pixel_type: int = sitk.sitkUInt8) -> sitk.Image:
    """Return an empty SimpleITK image with the stack's regular grid (for resampling).

    Exact when `geometry.uniform`; a tilted stack keeps its sheared direction (see module doc).
    """
    # SimpleITK ships without annotations, hence the ignores.
    image = sitk.Image([int(n) for n in geometry.size], pixel_type)  # type: ignore[no-untyped-call]
    image.SetOrigin(geometry.origin)  # type: ignore[no-untyped-call]
    image.SetSpacing(geometry.spacing)  # type: ignore[no-untyped-call]
    image.SetDirection(geometry.direction)  # type: ignore[no-untyped-call]
    return image


def _has_geometry(info: SliceInfo) -> bool:
    """Tell whether the image has a position and two unit, orthogonal direction cosines."""
    if info.position is None or info.orientation is None or len(info.orientation) != 6:
        return False
    cosines = np.asarray(info.orientation, dtype=float)
    row, column = cosines[:3], cosines[3:]
    lengths = np.array([np.linalg.norm(row), np.linalg.norm(column)])
    finite = bool(np.isfinite(cosines).all() and np.isfinite(info.position).all())
    return finite and bool(np.all(np.abs(lengths - 1) < 0.01) and abs(row @ column) < 0.01)


def _is_localizer(info: SliceInfo) -> bool:
    return any(part.strip().upper() in _LOCALIZER_TYPES for part in info.image_type)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm < 1e-6:
        raise GeometryError("Degenerate ImageOrientationPatient.")
    return np.asarray(vector / norm)


def _unit_axes(members: Sequence[SliceInfo]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the unit row, column and normal directions averaged over parallel images."""
    mean = np.mean([np.asarray(m.orientation, dtype=float) for m in members], axis=0)
    row, column = _unit(mean[:3]), _unit(mean[3:])
    return row, column, _unit(np.cross(row, column))


def _split_acquisitions(members: list[SliceInfo], normal: np.ndarray) -> list[list[SliceInfo]]:
    """Split parallel images whose positions overlap into separate stacks."""
    depth = {id(m): float(np.asarray(m.position) @ normal) for m in members}
    by_acquisition: dict[int | None, list[SliceInfo]] = {}
    for member in members:
        by_acquisition.setdefault(member.acquisition_number, []).append(member)
    extents = sorted(
        (min(depth[id(m)] for m in g), max(depth[id(m)] for m in g))
        for g in by_acquisition.values()
    )
    overlapping = any(b[0] < a[1] - DUPLICATE_TOLERANCE_MM for a, b in itertools.pairwise(extents))
    numbers = sorted(by_acquisition, key=lambda n: (n is None, n or 0))
    parts = [by_acquisition[n] for n in numbers] if overlapping else [members]
    result: list[list[SliceInfo]] = []
    for part in parts:
        ordered = sorted(part, key=lambda m: depth[id(m)])  # stable: ties keep input order
        sets: list[list[SliceInfo]] = []
        rank, previous = 0, -math.inf
        for member in ordered:
            here = depth[id(member)]
            rank = rank + 1 if here - previous <= DUPLICATE_TOLERANCE_MM else 0
            previous = here if rank == 0 else previous
            if rank == len(sets):
                sets.append([])
            sets[rank].append(member)
        result.extend(sets)
    return result


def _stack_geometry(members: list[SliceInfo], *, localizer: bool) -> StackGeometry:
    """Compute the geometry of parallel, distinct, sorted slices (see module doc)."""
    first = members[0]
    row, column, normal = _unit_axes(members)
    positions = np.array([m.position for m in members], dtype=float)
    depths = (positions - positions[0]) @ normal
    pixel = first.pixel_spacing or (1.0, 1.0)
    spacing_ij = (float(pixel[1]), float(pixel[0]))
    thicknesses = [m.slice_thickness for m in members if m.slice_thickness]
    thickness = float(np.median(thicknesses)) if thicknesses else None
    third, step, tilt, uniform, missing = normal, thickness or 1.0, None, True, 0
    if len(members) > 1:
        gaps = np.diff(depths)
        median_gap = float(np.median(gaps))
        uniform = bool(np.all(np.abs(gaps - median_gap) <= UNIFORM_TOLERANCE * median_gap))
        missing = int(sum(round(g / median_gap) - 1 for g in gaps if g > 1.5 * median_gap))
        travel = positions[-1] - positions[0]
        drift = float(np.linalg.norm(travel - (travel @ normal) * normal))
        step = median_gap
        if drift > TILT_TOLERANCE * min(spacing_ij):
            third = _unit(travel)
            cosine = float(third @ normal)
            tilt = math.degrees(math.acos(min(cosine, 1.0)))
            step = median_gap / cosine
    matrix = np.column_stack([row, column, third])
    role = "localizer" if localizer else ("volume" if len(members) > 1 else "single")
    return StackGeometry(
        keys=tuple(m.key for m in members),
        size=(first.columns, first.rows, len(members)),
        spacing=(*spacing_ij, float(step)),
        origin=_triple(positions[0]),
        direction=tuple(float(v) for v in matrix.ravel()),
        uniform=uniform,
        slice_positions=tuple(float(d) for d in depths),
        gantry_tilt_deg=tilt,
        role=role,
        missing_slices=missing,
        slice_thickness=thickness,
    )


def _single_without_geometry(info: SliceInfo) -> StackGeometry:
    """Give an image without position/orientation an identity geometry at the origin."""
    pixel = info.pixel_spacing or (1.0, 1.0)
    return StackGeometry(
        keys=(info.key,),
        size=(info.columns, info.rows, 1),
        spacing=(float(pixel[1]), float(pixel[0]), 1.0),
        origin=(0.0, 0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        uniform=True,
        slice_positions=(0.0,),
        gantry_tilt_deg=None,
        role="localizer" if _is_localizer(info) else "single",
        slice_thickness=info.slice_thickness,
    )


def _triple(vector: np.ndarray) -> tuple[float, float, float]:
    return (float(vector[0]), float(vector[1]), float(vector[2]))


def _direction_matrix(geometry: StackGeometry) -> np.ndarray:
    return np.asarray(geometry.direction, dtype=float).reshape(3, 3)


def _known_depths(geometry: StackGeometry) -> tuple[np.ndarray, float]:
    """Return each slice's distance along n and the regular gap along n used beyond the ends."""
    axes = _direction_matrix(geometry)
    gap = geometry.spacing[2] * float(axes[:, 2] @ slice_normal(geometry))
    if geometry.slice_positions:
        return np.asarray(geometry.slice_positions, dtype=float), gap
    return np.arange(geometry.size[2], dtype=float) * gap, gap


def _depth_of_k(geometry: StackGeometry, k: np.ndarray) -> np.ndarray:
    """Return the distance along n of continuous slice index k (linear between slices)."""
    known, gap = _known_depths(geometry)
    depth = np.interp(k, np.arange(known.size, dtype=float), known)
    depth = np.where(k < 0, known[0] + k * gap, depth)
    return np.asarray(np.where(k > known.size - 1, known[-1] + (k - known.size + 1) * gap, depth))


def _slice_corner(geometry: StackGeometry, depth: np.ndarray) -> np.ndarray:
    """Return the LPS of voxel (0, 0, k) for the slice at `depth` along n, k stepping on axis 3.

    Slices lie on a line from the origin along direction column 3 (n, or the tilted step).
    """
    axes = _direction_matrix(geometry)
    along = axes[:, 2] / float(axes[:, 2] @ slice_normal(geometry))
    return np.asarray(geometry.origin) + depth[:, None] * along
