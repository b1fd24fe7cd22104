"""Rasterize the closed planar contours of a DICOM RT Structure Set onto a stack's voxel grid.

Pure: a pydicom dataset and a stack geometry in, boolean volumes [k, j, i] out. Contour points
(LPS mm) are converted to voxel indices, each polygon is filled on its slice (pixel centres on
integer indices; a pixel whose centre lies inside or on the outline is in), and several contours
of one ROI on one slice combine by XOR, so an inner contour cuts a hole.
"""

from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset

from annotator.imaging.geometry import StackGeometry, index_to_lps, lps_to_index
from annotator.labeling.errors import ImportRejectedError

RTSTRUCT_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.481.3"
#: Largest distance (mm) of a contour point from the plane of its slice. Planning systems write
#: contour z to 0.01-0.1 mm; anything further is a contour drawn on other slices.
PLANE_TOLERANCE_MM = 0.1
#: A contour may reach the outer edge of the border pixels, not beyond.
EDGE = 0.5


def _roi_number(item: Any, keyword: str) -> int:
    value = item.get(keyword)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImportRejectedError(
            f"The RT Structure Set has an ROI without a valid {keyword}."
        ) from None


def read_rtstruct(dataset: Dataset, geometry: StackGeometry) -> list[tuple[int, str, np.ndarray]]:
    """Return (ROI number, ROI name, bool volume [k, j, i]) of each ROI with closed contours.

    ROIs holding only points or open polylines are skipped (they have no area).

    Raises:
        ImportRejectedError: no ROI has closed planar contours, or a contour lies off the
            slice planes or outside the image (the reason names the ROI).
    """
    names = {
        _roi_number(item, "ROINumber"): str(item.get("ROIName") or f"ROI {item.ROINumber}")
        for item in dataset.get("StructureSetROISequence") or []
    }
    columns, rows, slices = geometry.size
    found: dict[int, np.ndarray] = {}
    for roi in dataset.get("ROIContourSequence") or []:
        number = _roi_number(roi, "ReferencedROINumber")
        name = names.get(number, f"ROI {number}")
        planes: dict[int, np.ndarray] = {}
        for contour in roi.get("ContourSequence") or []:
            if str(contour.get("ContourGeometricType", "")).upper() != "CLOSED_PLANAR":
                continue
            k, ij = _contour_on_slice(contour, geometry, name)
            filled = _fill(ij, columns, rows)
            planes[k] = planes[k] ^ filled if k in planes else filled
        if not planes:
            continue
        volume = np.zeros((slices, rows, columns), dtype=bool)
        for k, plane in planes.items():
            volume[k] = plane
        found[number] = volume
    if not found:
        raise ImportRejectedError("The RT Structure Set holds no closed planar contours.")
    return [(number, names.get(number, f"ROI {number}"), found[number]) for number in sorted(found)]


def _contour_on_slice(
    contour: Dataset, geometry: StackGeometry, name: str
) -> tuple[int, np.ndarray]:
    """Return the slice k of a closed contour and its points (i, j), refusing any off the grid."""
    values = [float(v) for v in contour.get("ContourData") or []]
    if not values or len(values) % 3:
        raise ImportRejectedError(f"ROI '{name}': a contour's ContourData is not x, y, z triples.")
    points = np.asarray(values, dtype=float).reshape(-1, 3)
    index = lps_to_index(geometry, points)
    k = int(np.rint(np.median(index[:, 2])))
    snapped = index.copy()
    snapped[:, 2] = k
    off = float(np.linalg.norm(points - index_to_lps(geometry, snapped), axis=1).max())
    columns, rows, slices = geometry.size
    if not 0 <= k < slices:
        raise ImportRejectedError(
            f"ROI '{name}': a contour lies at slice k={k}, outside the series' slices "
            f"0..{slices - 1}."
        )
    if off > PLANE_TOLERANCE_MM:
        raise ImportRejectedError(
            f"ROI '{name}': a contour lies {off:.2f} mm off the plane of the nearest slice "
            f"(k={k}); its contours are not on this series' slices."
        )
    low, high = index[:, :2].min(axis=0), index[:, :2].max(axis=0)
    if (low < -EDGE).any() or (high > np.array([columns, rows]) - 1 + EDGE).any():
        raise ImportRejectedError(
            f"ROI '{name}': a contour on slice k={k} reaches outside the image "
            f"(i {low[0]:.1f}..{high[0]:.1f}, j {low[1]:.1f}..{high[1]:.1f}; "
            f"the image spans 0..{columns - 1} x 0..{rows - 1})."
        )
    return k, index[:, :2]


def _fill(ij: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """Return the pixels (rows x columns) inside or on one polygon given as (i, j) points."""
    image = Image.new("1", (columns, rows), 0)
    draw = ImageDraw.Draw(image)
    vertices = [(float(i), float(j)) for i, j in ij]
    if len(vertices) >= 3:
        draw.polygon(vertices, fill=1, outline=1)
    else:  # a degenerate contour (a dot or a segment) still marks its pixels
        draw.line(vertices + vertices[:1], fill=1)
    return np.asarray(image, dtype=bool)
