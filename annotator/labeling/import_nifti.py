"""Read a NIfTI label map (.nii, or the bytes of a .nii.gz after gunzip) onto a stack's grid.

Pure: NIfTI bytes and a stack geometry in, boolean volumes [k, j, i] out. The file must describe
the stack's own grid: after reordering and flipping its axes to the series' (nibabel's
orientation transforms, which keep every voxel's world position), its shape must be the stack's
(columns, rows, slices) and its affine `nifti_affine(stack)` within tolerance. A 3D file's
distinct nonzero integer values are the segments; a 4D (i, j, k, n) one-hot file has n.
"""

import json
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

from annotator.imaging.geometry import ORIENTATION_TOLERANCE, StackGeometry, nifti_affine
from annotator.labeling.errors import ImportRejectedError

#: Code of the JSON comment extension in which mask_nifti's export names its segments.
COMMENT_EXTENSION = 6
NIFTI1_HEADER_SIZE = 348
NIFTI2_HEADER_SIZE = 540
#: Largest distance (mm) between where the file and the series put any corner voxel.
GRID_TOLERANCE_MM = 0.1
#: One-hot (4D) channels count a voxel in from this value (probabilities are accepted too).
CHANNEL_THRESHOLD = 0.5
MAX_LABELS = 255


def nifti_version(head: bytes) -> int | None:
    """Return 1 or 2 for the first bytes of a single-file NIfTI-1 / NIfTI-2 image, else None."""
    for order in ("little", "big"):
        size = int.from_bytes(head[:4], order) if len(head) >= 4 else 0
        if size == NIFTI1_HEADER_SIZE and head[344:348] in (b"n+1\x00", b"ni1\x00"):
            return 1
        if size == NIFTI2_HEADER_SIZE and head[4:8] in (b"n+2\x00", b"ni2\x00"):
            return 2
    return None


def read_nifti(data: bytes, geometry: StackGeometry) -> list[tuple[int, str, np.ndarray]]:
    """Return (label value or channel, its name, bool volume [k, j, i]) of each segment.

    Raises:
        ImportRejectedError: not a single-file NIfTI image, a grid other than the stack's (the
            reason gives the differing shape, spacing, direction or origin), or values that
            are not a label map.
    """
    image = _load(data)
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 5 and shape[3] == 1:  # NIfTI vector intent: (i, j, k, 1, n)
        shape = (*shape[:3], shape[4])
    if len(shape) not in (3, 4):
        raise ImportRejectedError(
            f"The NIfTI image has {len(shape)} dimensions; a label map has 3 (i, j, k) "
            "or 4 (i, j, k, segment)."
        )
    affine = np.asarray(image.affine, dtype=float)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ImportRejectedError("The NIfTI image has no usable affine.")
    expected = nifti_affine(geometry)
    stored = shape[:3]
    transform, affine, shape3 = _reorientation(affine, expected, stored)
    _check_grid(shape3, affine, expected, geometry, stored)
    try:
        values = np.asanyarray(image.dataobj).reshape(*stored, -1)
    except (OSError, ValueError) as exc:
        raise ImportRejectedError(
            f"The NIfTI voxel data could not be read ({type(exc).__name__})."
        ) from exc
    values = apply_orientation(values, transform)  # type: ignore[no-untyped-call]
    names = _segment_names(image)
    if len(shape) == 3:
        return _label_values(values[..., 0], names)
    if values.shape[3] > MAX_LABELS:
        raise ImportRejectedError(
            f"The NIfTI image has {values.shape[3]} channels; at most {MAX_LABELS} fit."
        )
    segments = []
    for channel in range(values.shape[3]):
        number, name = names.get(-channel - 1, (channel + 1, str(channel + 1)))
        segments.append((number, name, _to_kji(values[..., channel] >= CHANNEL_THRESHOLD)))
    return segments


def _reorientation(
    affine: np.ndarray, expected: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Return the axis transform that brings the file's axes to the series' (nibabel's
    orientation array), the affine and the shape after applying it."""
    transform = ornt_transform(  # type: ignore[no-untyped-call]
        io_orientation(affine),  # type: ignore[no-untyped-call]
        io_orientation(expected),  # type: ignore[no-untyped-call]
    )
    moved = affine @ inv_ornt_aff(transform, shape)  # type: ignore[no-untyped-call]
    reordered = [0, 0, 0]
    for axis, (target, _) in enumerate(transform):  # input axis `axis` becomes axis `target`
        reordered[int(target)] = shape[axis]
    return transform, np.asarray(moved, dtype=float), tuple(reordered)


def _segment_names(image: Any) -> dict[int, tuple[int, str]]:
    """Return the segment names this platform's own export writes in a JSON comment
    extension: {label value: (number, label)} for label maps, {-(channel + 1): ...} for
    one-hot files. Anything else (or nothing) gives {}."""
    for extension in getattr(image.header, "extensions", []):
        if extension.get_code() != COMMENT_EXTENSION:
            continue
        try:
            meta = json.loads(extension.get_content())
            segments = meta["segments"]
            one_hot = meta.get("layout") == "one_hot"
            return {
                (-int(s["index"]) - 1 if one_hot else int(s["number"])): (
                    int(s["number"]),
                    str(s["label"]),
                )
                for s in segments
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return {}


def _load(data: bytes) -> Any:
    version = nifti_version(data[:NIFTI2_HEADER_SIZE])
    if version is None:
        raise ImportRejectedError("The file is not a NIfTI-1 or NIfTI-2 image.")
    if data[344:348] == b"ni1\x00" or data[4:8] == b"ni2\x00":
        raise ImportRejectedError(
            "Separate .hdr/.img NIfTI pairs are not supported; send one .nii or .nii.gz file."
        )
    kind = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    try:
        return kind.from_bytes(data)
    except Exception as exc:  # nibabel raises many types for damaged headers
        raise ImportRejectedError(
            f"The NIfTI image could not be read ({type(exc).__name__})."
        ) from exc


def _check_grid(
    shape: tuple[int, ...],
    affine: np.ndarray,
    expected: np.ndarray,
    geometry: StackGeometry,
    stored: tuple[int, ...],
) -> None:
    """Refuse a file whose (reoriented) grid is not the stack's, saying what differs."""
    size = tuple(int(n) for n in geometry.size)
    if shape != size:
        as_stored = "" if stored == shape else f" (stored as {_dims(stored)})"
        raise ImportRejectedError(
            f"The NIfTI shape {_dims(shape)}{as_stored} differs from the series' {_dims(size)} "
            "(columns x rows x slices)."
        )
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in size], [1], indexing="ij"))
    corners = corners.reshape(4, -1)
    drift = float(np.linalg.norm(((affine - expected) @ corners)[:3], axis=0).max())
    if drift <= GRID_TOLERANCE_MM:
        return
    reasons = []
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    wanted_spacing = np.linalg.norm(expected[:3, :3], axis=0)
    if (np.abs(spacing - wanted_spacing) * np.asarray(size)).max() > GRID_TOLERANCE_MM / 2:
        reasons.append(f"spacing {_mm(spacing)} mm instead of the series' {_mm(wanted_spacing)} mm")
    direction = affine[:3, :3] / spacing
    wanted_direction = expected[:3, :3] / wanted_spacing
    if np.abs(direction - wanted_direction).max() > ORIENTATION_TOLERANCE:
        reasons.append(
            f"direction {_matrix(direction)} instead of the series' {_matrix(wanted_direction)}"
        )
    offset = float(np.linalg.norm(affine[:3, 3] - expected[:3, 3]))
    if offset > GRID_TOLERANCE_MM / 2:
        reasons.append(
            f"origin (RAS) {_mm(affine[:3, 3])} mm instead of the series' "
            f"{_mm(expected[:3, 3])} mm ({offset:.2f} mm apart)"
        )
    detail = "; ".join(reasons) or "small differences that add up"
    raise ImportRejectedError(
        f"The NIfTI grid is not the series' grid ({detail}): voxels would land up to "
        f"{drift:.2f} mm from their place."
    )


def _label_values(
    labels: np.ndarray, names: dict[int, tuple[int, str]]
) -> list[tuple[int, str, np.ndarray]]:
    """Split a 3D label map [i, j, k] into one boolean volume [k, j, i] per nonzero value."""
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not np.array_equal(labels, np.rint(labels)):
            raise ImportRejectedError(
                "The NIfTI image holds fractional values; a label map holds whole numbers."
            )
    elif labels.dtype.kind not in "iub":
        raise ImportRejectedError(f"The NIfTI data type {labels.dtype} is not a label map.")
    if labels.size and labels.min() < 0:
        raise ImportRejectedError("The NIfTI image holds negative values; labels are 1, 2, ...")
    values = np.unique(labels)
    values = values[values != 0]
    if values.size > MAX_LABELS:
        raise ImportRejectedError(
            f"The NIfTI image holds {values.size} distinct labels; at most {MAX_LABELS} fit."
        )
    segments = []
    for value in values:
        number, name = names.get(int(value), (int(value), str(int(value))))
        segments.append((number, name, _to_kji(labels == value)))
    return segments


def _to_kji(volume: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(volume, dtype=bool).transpose(2, 1, 0))


def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape)


def _mm(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


def _matrix(matrix: np.ndarray) -> str:
    return "[" + ", ".join(_mm(row) for row in matrix) + "]"
