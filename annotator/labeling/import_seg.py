"""Read a DICOM Segmentation (binary, fractional or label map) onto a stack's voxel grid.

Pure: a pydicom dataset and a stack geometry in, boolean volumes [k, j, i] out. Frames are
placed by their plane position (ImagePositionPatient of the per-frame functional groups), never
by the referenced SOP Instance UIDs: ingest de-identifies and remaps UIDs, so the references of
a SEG made elsewhere point at nothing here.
"""

from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from annotator.imaging.geometry import (
    ORIENTATION_TOLERANCE,
    StackGeometry,
    index_to_lps,
    lps_to_index,
    slice_normal,
)
from annotator.labeling.errors import ImportRejectedError

SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
#: Largest distance (mm) between a frame's first pixel and a voxel centre of the series: far
#: below any pixel or slice spacing, far above the rounding of positions written as DS strings.
POSITION_TOLERANCE_MM = 0.1
#: Fractional (probability or occupancy) segmentations count a voxel in from this fraction.
FRACTION_THRESHOLD = 0.5

SourceSegments = list[tuple[int, str, np.ndarray]]


def read_seg(dataset: Dataset, geometry: StackGeometry) -> SourceSegments:
    """Return (segment number, segment label, bool volume [k, j, i]) of each segment of a SEG.

    Raises:
        ImportRejectedError: not a readable SEG, or its frames do not lie on the stack's grid
            (orientation, pixel spacing, plane positions, extent); the reason says what differs.
    """
    try:
        seg = hd.seg.Segmentation.from_dataset(dataset, copy=False)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ImportRejectedError(
            f"The DICOM SEG could not be read ({type(exc).__name__})."
        ) from exc
    columns, rows, slices = geometry.size
    names = {
        int(item.SegmentNumber): str(item.get("SegmentLabel") or f"Segment {item.SegmentNumber}")
        for item in dataset.SegmentSequence
    }
    volumes = {number: np.zeros((slices, rows, columns), dtype=bool) for number in names}
    kind = str(dataset.SegmentationType).upper()
    maximum = float(dataset.get("MaximumFractionalValue") or 255)
    frame_rows, frame_columns = int(dataset.Rows), int(dataset.Columns)
    for index in range(int(dataset.get("NumberOfFrames") or 1)):
        frame = _frame_groups(dataset, index)
        _check_plane(frame, geometry, index)
        i0, j0, k = _place_frame(frame, geometry, index, (frame_columns, frame_rows))
        try:
            pixels = np.asarray(seg.get_stored_frame(index + 1))
        except Exception as exc:  # any decoder failure (codec missing, truncated data)
            raise ImportRejectedError(
                f"Frame {index + 1} of the DICOM SEG could not be decoded ({type(exc).__name__})."
            ) from exc
        window = (k, slice(j0, j0 + frame_rows), slice(i0, i0 + frame_columns))
        if kind == "LABELMAP":
            for number, volume in volumes.items():
                volume[window] |= pixels == number
            continue
        number = _segment_of(frame, index)
        if number not in volumes:
            raise ImportRejectedError(
                f"Frame {index + 1} of the DICOM SEG refers to segment {number}, "
                "which its SegmentSequence does not describe."
            )
        if kind == "FRACTIONAL":
            volumes[number][window] |= pixels >= FRACTION_THRESHOLD * maximum
        else:
            volumes[number][window] |= pixels > 0
    return [(number, names[number], volumes[number]) for number in sorted(volumes)]


def _frame_groups(dataset: Dataset, index: int) -> dict[str, Any]:
    """Return the functional group items of one frame: per-frame ones over the shared ones."""
    groups: dict[str, Any] = {}
    shared = dataset.get("SharedFunctionalGroupsSequence")
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    for source in (shared[0] if shared else None, per_frame[index] if per_frame else None):
        if source is None:
            continue
        for name in (
            "PlaneOrientationSequence",
            "PixelMeasuresSequence",
            "PlanePositionSequence",
            "SegmentIdentificationSequence",
        ):
            if name in source and source[name].value:
                groups[name] = source[name].value[0]
    return groups


def _check_plane(frame: dict[str, Any], geometry: StackGeometry, index: int) -> None:
    """Refuse a frame whose orientation or pixel spacing differs from the stack's."""
    orientation = frame.get("PlaneOrientationSequence")
    measures = frame.get("PixelMeasuresSequence")
    if orientation is None or measures is None or "PixelSpacing" not in measures:
        raise ImportRejectedError(
            f"Frame {index + 1} of the DICOM SEG has no plane orientation or pixel spacing."
        )
    cosines = np.asarray([float(v) for v in orientation.ImageOrientationPatient], dtype=float)
    axes = np.asarray(geometry.direction, dtype=float).reshape(3, 3)
    expected = np.concatenate([axes[:, 0], axes[:, 1]])
    if cosines.shape != (6,) or np.abs(cosines - expected).max() > ORIENTATION_TOLERANCE:
        raise ImportRejectedError(
            f"The DICOM SEG's orientation {_fmt(cosines)} differs from the series' "
            f"{_fmt(expected)}."
        )
    row_spacing, column_spacing = (float(v) for v in measures.PixelSpacing)
    spacing = np.array([column_spacing, row_spacing])
    wanted = np.asarray(geometry.spacing[:2], dtype=float)
    extent = np.asarray(geometry.size[:2], dtype=float)
    # Compare where it matters: the drift the difference causes across the whole image.
    if (np.abs(spacing - wanted) * extent).max() > POSITION_TOLERANCE_MM:
        raise ImportRejectedError(
            f"The DICOM SEG's pixel spacing {row_spacing:g} x {column_spacing:g} mm "
            f"(rows x columns) differs from the series' {wanted[1]:g} x {wanted[0]:g} mm."
        )


def _place_frame(
    frame: dict[str, Any], geometry: StackGeometry, index: int, frame_size: tuple[int, int]
) -> tuple[int, int, int]:
    """Return the voxel (i, j, k) of a frame's first pixel, refusing frames off the grid."""
    position = frame.get("PlanePositionSequence")
    if position is None or "ImagePositionPatient" not in position:
        raise ImportRejectedError(f"Frame {index + 1} of the DICOM SEG has no plane position.")
    lps = np.asarray([float(v) for v in position.ImagePositionPatient], dtype=float)
    nearest = np.rint(lps_to_index(geometry, lps))
    offset = lps - index_to_lps(geometry, nearest)
    across = abs(float(offset @ slice_normal(geometry)))
    within = float(
        np.linalg.norm(offset - (offset @ slice_normal(geometry)) * slice_normal(geometry))
    )
    i0, j0, k = (int(v) for v in nearest)
    columns, rows, slices = geometry.size
    if not 0 <= k < slices:
        raise ImportRejectedError(
            f"Frame {index + 1} of the DICOM SEG lies outside the series: slice k={k}, "
            f"the series has slices 0..{slices - 1}."
        )
    if across > POSITION_TOLERANCE_MM:
        raise ImportRejectedError(
            f"Frame {index + 1} of the DICOM SEG lies {across:.2f} mm from the nearest slice of "
            f"the series (k={k}): its planes are not this series' slices."
        )
    if within > POSITION_TOLERANCE_MM:
        raise ImportRejectedError(
            f"Frame {index + 1} of the DICOM SEG is shifted {within:.2f} mm off the series' "
            "pixel grid."
        )
    width, height = frame_size
    if i0 < 0 or j0 < 0 or i0 + width > columns or j0 + height > rows:
        raise ImportRejectedError(
            f"Frame {index + 1} of the DICOM SEG ({width} x {height} pixels at i={i0}, j={j0}) "
            f"reaches outside the series' {columns} x {rows} image."
        )
    return i0, j0, k


def _segment_of(frame: dict[str, Any], index: int) -> int:
    identification = frame.get("SegmentIdentificationSequence")
    if identification is None or "ReferencedSegmentNumber" not in identification:
        raise ImportRejectedError(f"Frame {index + 1} of the DICOM SEG names no segment.")
    return int(identification.ReferencedSegmentNumber)


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"
