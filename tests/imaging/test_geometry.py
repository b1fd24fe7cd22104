"""Tests for slice geometry: stacking, spacing, tilt and voxel <-> LPS/RAS conversion (no database).

Expected numbers are worked out by hand in the comments, from the headers, independently of the
module; SimpleITK's own DICOM series reader and NIfTI writer are the second opinion.
"""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 - the library's own documented alias
from pydicom.dataset import FileDataset

from annotator.imaging.geometry import (
    SliceInfo,
    StackGeometry,
    build_stacks,
    index_to_lps,
    lps_to_index,
    lps_to_ras,
    nifti_affine,
    ras_to_lps,
    sitk_reference_image,
)
from annotator.imaging.synthetic import make_ct_series, make_xray, write_datasets

STORED_FIELDS = (
    "keys",
    "size",
    "spacing",
    "origin",
    "direction",
    "uniform",
    "slice_positions",
    "gantry_tilt_deg",
    "role",
)
ROWS, COLUMNS = 12, 16  # never square, so a row/column swap cannot pass
PIXEL_SPACING = (0.7, 0.9)  # DICOM order: 0.7 mm between rows (along j), 0.9 mm along i
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
S3 = math.sqrt(3.0)
# Axial rotated 30 degrees about x, then 30 degrees about y (R = Ry(30) Rx(30)), worked by hand:
# row r = R e_x = (S3/2, 0, -1/2), column c = R e_y = (1/4, S3/2, S3/4),
# normal n = R e_z = r x c = (S3/4, -1/2, 3/4).
OBLIQUE_R = (S3 / 2, 0.0, -0.5)
OBLIQUE_C = (0.25, S3 / 2, S3 / 4)
OBLIQUE_N = (S3 / 4, -0.5, 0.75)
OBLIQUE = (*OBLIQUE_R, *OBLIQUE_C)


def _stack_datasets(
    orientation: Sequence[float],
    positions: Sequence[Sequence[float]],
    *,
    acquisitions: Sequence[int] | None = None,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
) -> list[FileDataset]:
    """Return CT datasets with these positions; pixel [j, i] = i + 100 j + 1000 instance."""
    datasets = make_ct_series(slices=len(positions), size=16, nodules=0, seed=1)
    for number, (ds, position) in enumerate(zip(datasets, positions, strict=True), start=1):
        j, i = np.mgrid[0:ROWS, 0:COLUMNS]
        ds.set_pixel_data((i + 100 * j + 1000 * number).astype(np.int16), "MONOCHROME2", 16)
        ds.RescaleIntercept = "0"
        ds.ImageOrientationPatient = [f"{v:.8f}"[:16] for v in orientation]
        ds.ImagePositionPatient = [f"{v:.6f}"[:16] for v in position]
        ds.PixelSpacing = [str(v) for v in PIXEL_SPACING]
        ds.ImageType = list(image_type)
        if acquisitions is not None:
            ds.AcquisitionNumber = acquisitions[number - 1]
        del ds.SliceLocation
    return datasets


def _info(ds: FileDataset) -> SliceInfo:
    """Read a SliceInfo from a dataset the way the ingest does."""
    has_geometry = "ImageOrientationPatient" in ds
    return SliceInfo(
        key=str(ds.SOPInstanceUID),
        position=tuple(float(v) for v in ds.ImagePositionPatient) if has_geometry else None,
        orientation=tuple(float(v) for v in ds.ImageOrientationPatient) if has_geometry else None,
        pixel_spacing=tuple(float(v) for v in ds.PixelSpacing) if "PixelSpacing" in ds else None,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        image_type=(ds.ImageType,) if isinstance(ds.ImageType, str) else tuple(ds.ImageType),
        slice_thickness=float(ds.SliceThickness) if "SliceThickness" in ds else None,
        acquisition_number=int(ds.AcquisitionNumber) if "AcquisitionNumber" in ds else None,
        frame_of_reference_uid=ds.get("FrameOfReferenceUID"),
    )


def _build_one(datasets: Sequence[FileDataset]) -> StackGeometry:
    """Build stacks from the datasets in shuffled order and return the only one."""
    shuffled = [datasets[n] for n in np.random.default_rng(7).permutation(len(datasets))]
    stacks = build_stacks([_info(ds) for ds in shuffled])
    assert len(stacks) == 1
    return stacks[0]


def _corners(size: Sequence[int]) -> np.ndarray:
    columns, rows, slices = size
    return np.array(
        [(i, j, k) for i in (0, columns - 1) for j in (0, rows - 1) for k in (0, slices - 1)],
        dtype=float,
    )


def _expected_lps(
    geometry: StackGeometry, datasets: Sequence[FileDataset], ijk: np.ndarray
) -> np.ndarray:
    """Compute LPS from the headers alone: IPP of slice k + i * column spacing * row direction..."""
    by_key = {str(ds.SOPInstanceUID): ds for ds in datasets}
    out = []
    for i, j, k in ijk:
        ds = by_key[geometry.keys[int(k)]]
        iop = np.array(ds.ImageOrientationPatient, dtype=float)
        row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
        ipp = np.array(ds.ImagePositionPatient, dtype=float)
        out.append(ipp + i * column_spacing * iop[:3] + j * row_spacing * iop[3:])
    return np.array(out)


def _read_with_sitk(datasets: Sequence[FileDataset], folder: Path, **options: bool) -> sitk.Image:
    write_datasets(datasets, folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    for name, value in options.items():
        getattr(reader, f"Set{name}")(value)
    return reader.Execute()


def _numbers_in_k_order(geometry: StackGeometry, datasets: Sequence[FileDataset]) -> list[int]:
    by_key = {str(ds.SOPInstanceUID): int(ds.InstanceNumber) for ds in datasets}
    return [by_key[key] for key in geometry.keys]


# Each case: orientation, IPPs in instance order, then by hand: the instance numbers in k order,
# origin, direction (row-major, columns r, c, n), slice spacing and the LPS of the far corner
# (i, j, k) = (15, 11, last) = IPP(last) + 15 * 0.9 * r + 11 * 0.7 * c.
_OB = np.array(OBLIQUE_N) * 3.0
CASES: dict[str, dict[str, Any]] = {
    "sagittal": {  # n = (0,1,0) x (0,0,-1) = (-1,0,0): k runs towards patient right
        "orientation": (0, 1, 0, 0, 0, -1),
        "positions": [(-4, -20, 30), (0, -20, 30), (4, -20, 30), (8, -20, 30)],
        "order": [4, 3, 2, 1],
        "origin": (8, -20, 30),
        "direction": (0, 0, -1, 1, 0, 0, 0, -1, 0),
        "step": 4.0,
        "far": (-4, -20 + 13.5, 30 - 7.7),
    },
    "coronal": {  # n = (1,0,0) x (0,0,-1) = (0,1,0): k runs posterior
        "orientation": (1, 0, 0, 0, 0, -1),
        "positions": [(-50, 16, 100), (-50, 13, 100), (-50, 10, 100)],
        "order": [3, 2, 1],
        "origin": (-50, 10, 100),
        "direction": (1, 0, 0, 0, 0, 1, 0, -1, 0),
        "step": 3.0,
        "far": (-50 + 13.5, 16, 100 - 7.7),
    },
    "flipped": {  # rows run to patient right; n = (-1,0,0) x (0,1,0) = (0,0,-1): k runs feet-wards
        "orientation": (-1, 0, 0, 0, 1, 0),
        "positions": [(30, -10, 14), (30, -10, 16), (30, -10, 18), (30, -10, 20)],
        "order": [4, 3, 2, 1],
        "origin": (30, -10, 20),
        "direction": (-1, 0, 0, 0, 1, 0, 0, 0, -1),
        "step": 2.0,
        "far": (30 - 13.5, -10 + 7.7, 14),
    },
    "oblique": {  # IPPs step 3 mm along n, listed from the last slice back to the first
        "orientation": OBLIQUE,
        "positions": [tuple(np.array([12.5, -30.25, 40]) + k * _OB) for k in (4, 3, 2, 1, 0)],
        "order": [5, 4, 3, 2, 1],
        "origin": (12.5, -30.25, 40),
        "direction": tuple(np.column_stack([OBLIQUE_R, OBLIQUE_C, OBLIQUE_N]).ravel()),
        "step": 3.0,
        "far": tuple(
            np.array([12.5, -30.25, 40])
            + 4 * _OB
            + 13.5 * np.array(OBLIQUE_R)
            + 7.7 * np.array(OBLIQUE_C)
        ),
    },
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    spec = dict(CASES[request.param])
    spec["datasets"] = _stack_datasets(spec["orientation"], spec["positions"])
    spec["geometry"] = _build_one(spec["datasets"])
    return spec


def test_build_stacks_axial_ct_sorts_by_position_not_instance_number() -> None:
    datasets = make_ct_series(slices=6, size=16, spacing=PIXEL_SPACING, nodules=0, seed=2)
    geometry = _build_one(datasets)
    # make_ct_series: x0 = -7.5 * 0.9, y0 = -7.5 * 0.7, z = 6.25 - 2.5 * (instance - 1).
    assert _numbers_in_k_order(geometry, datasets) == [6, 5, 4, 3, 2, 1]
    assert geometry.size == (16, 16, 6)
    assert geometry.spacing == pytest.approx((0.9, 0.7, 2.5))
    assert geometry.origin == pytest.approx((-6.75, -5.25, -6.25))
    assert geometry.direction == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert geometry.slice_positions == pytest.approx((0, 2.5, 5, 7.5, 10, 12.5))
    assert (geometry.uniform, geometry.gantry_tilt_deg, geometry.role) == (True, None, "volume")
    assert geometry.slice_thickness == pytest.approx(2.5)
    lps = index_to_lps(geometry, [[0, 0, 0], [15, 0, 0], [0, 15, 0], [15, 15, 5]])
    expected = [
        [-6.75, -5.25, -6.25],
        [6.75, -5.25, -6.25],
        [-6.75, 5.25, -6.25],
        [6.75, 5.25, 6.25],
    ]
    assert lps == pytest.approx(np.array(expected))


def test_build_stacks_matches_hand_computed_geometry(case: dict[str, Any]) -> None:
    geometry, datasets = case["geometry"], case["datasets"]
    assert _numbers_in_k_order(geometry, datasets) == case["order"]
    assert geometry.size == (COLUMNS, ROWS, len(case["order"]))
    assert geometry.spacing == pytest.approx((0.9, 0.7, case["step"]))
    assert geometry.origin == pytest.approx(case["origin"], abs=1e-5)
    assert geometry.direction == pytest.approx(case["direction"], abs=1e-6)
    assert (geometry.uniform, geometry.gantry_tilt_deg, geometry.role) == (True, None, "volume")
    assert np.linalg.det(np.reshape(geometry.direction, (3, 3))) == pytest.approx(1.0)
    far = index_to_lps(geometry, [COLUMNS - 1, ROWS - 1, geometry.size[2] - 1])
    assert far == pytest.approx(np.array(case["far"]), abs=1e-5)


def test_index_to_lps_corners_match_headers_and_invert(case: dict[str, Any]) -> None:
    geometry, datasets = case["geometry"], case["datasets"]
    corners = _corners(geometry.size)
    lps = index_to_lps(geometry, corners)
    assert lps == pytest.approx(_expected_lps(geometry, datasets, corners), abs=1e-5)
    points = np.random.default_rng(0).uniform(-3, 20, size=(50, 3))  # inside and beyond
    assert lps_to_index(geometry, index_to_lps(geometry, points)) == pytest.approx(points)
    assert lps_to_index(geometry, lps) == pytest.approx(corners, abs=1e-6)


def test_geometry_agrees_with_simpleitk_series_reader(case: dict[str, Any], tmp_path: Path) -> None:
    geometry, datasets = case["geometry"], case["datasets"]
    image = _read_with_sitk(datasets, tmp_path)
    assert image.GetSize() == geometry.size
    assert image.GetOrigin() == pytest.approx(geometry.origin, abs=1e-5)
    assert image.GetSpacing() == pytest.approx(geometry.spacing, abs=1e-5)
    assert image.GetDirection() == pytest.approx(geometry.direction, abs=1e-5)
    points = np.vstack([_corners(geometry.size), [[2.5, 3.25, 1.5], [-1, 20, -0.5]]])
    theirs = [image.TransformContinuousIndexToPhysicalPoint(p.tolist()) for p in points]
    assert index_to_lps(geometry, points) == pytest.approx(np.array(theirs), abs=1e-5)
    # Same slice order and axes: voxel [k, j, i] holds i + 100 j + 1000 * instance number.
    voxels = sitk.GetArrayFromImage(image)
    for k, number in enumerate(_numbers_in_k_order(geometry, datasets)):
        assert voxels[k, 5, 7] == 7 + 100 * 5 + 1000 * number
    reference = sitk_reference_image(geometry)
    assert reference.GetSize() == image.GetSize()
    assert reference.GetDirection() == pytest.approx(image.GetDirection(), abs=1e-5)
    assert reference.GetOrigin() == pytest.approx(image.GetOrigin(), abs=1e-5)


def test_nifti_affine_round_trips_through_nibabel_and_simpleitk(
    case: dict[str, Any], tmp_path: Path
) -> None:
    geometry = case["geometry"]
    path = tmp_path / "ours.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(geometry.size, np.int16), nifti_affine(geometry)), path)
    points = np.vstack([_corners(geometry.size), [[2.5, 3.25, 1.5]]])
    world = nib.affines.apply_affine(nib.load(path).affine, points)
    assert world == pytest.approx(lps_to_ras(index_to_lps(geometry, points)), abs=1e-4)
    # SimpleITK's own NIfTI writer (LPS -> RAS, array [i, j, k]) gives the same affine and axes.
    image = sitk.GetImageFromArray(np.arange(np.prod(geometry.size)).reshape(geometry.size[::-1]))
    image.CopyInformation(sitk_reference_image(geometry))
    sitk.WriteImage(image, str(tmp_path / "sitk.nii.gz"))
    written = nib.load(tmp_path / "sitk.nii.gz")
    assert written.affine == pytest.approx(nifti_affine(geometry), abs=1e-4)
    data = np.asarray(written.dataobj)
    assert data[7, 5, 1] == sitk.GetArrayFromImage(image)[1, 5, 7]


def test_gantry_tilt_is_recorded_and_index_to_lps_stays_exact(tmp_path: Path) -> None:
    # Tilted CT: image plane rotated 15 degrees about x, the table steps 5 mm along +z.
    # n = (1,0,0) x (0,cos,sin) = (0,-sin,cos): gap along n = 5 cos 15 = 4.8296 mm.
    tilt = math.radians(15)
    orientation = (1, 0, 0, 0, math.cos(tilt), math.sin(tilt))
    datasets = _stack_datasets(orientation, [(-5, -4, 5.0 * n) for n in range(5)])
    geometry = _build_one(datasets)
    assert geometry.gantry_tilt_deg == pytest.approx(15.0, abs=1e-4)
    assert geometry.spacing == pytest.approx((0.9, 0.7, 5.0))  # along the step, not along n
    assert geometry.slice_positions == pytest.approx([k * 5 * math.cos(tilt) for k in range(5)])
    column_k = np.reshape(geometry.direction, (3, 3))[:, 2]
    assert column_k == pytest.approx([0, 0, 1])  # the table's direction: sheared matrix
    assert geometry.uniform
    corners = _corners(geometry.size)
    lps = index_to_lps(geometry, corners)
    assert lps == pytest.approx(_expected_lps(geometry, datasets, corners), abs=1e-5)
    assert lps_to_index(geometry, lps) == pytest.approx(corners, abs=1e-6)
    # What the Stack model keeps (JSON) is enough to convert the same way.
    stored = json.loads(json.dumps({f: getattr(geometry, f) for f in STORED_FIELDS}))
    rebuilt = StackGeometry(
        **{f: tuple(v) if isinstance(v, list) else v for f, v in stored.items()}
    )
    assert index_to_lps(rebuilt, corners) == pytest.approx(lps)
    # SimpleITK agrees only with ForceOrthogonalDirection off; its default forces the third
    # axis onto n, so the last slice lands 20 mm along n instead of along z: 40 sin 7.5 = 5.22 mm.
    exact = _read_with_sitk(datasets, tmp_path / "a", ForceOrthogonalDirection=False)
    assert exact.GetDirection() == pytest.approx(geometry.direction, abs=1e-6)
    assert exact.GetSpacing() == pytest.approx(geometry.spacing)
    last = [0.0, 0.0, 4.0]
    assert exact.TransformContinuousIndexToPhysicalPoint(last) == pytest.approx(lps[1], abs=1e-5)
    forced = _read_with_sitk(datasets, tmp_path / "b")
    error = np.subtract(forced.TransformContinuousIndexToPhysicalPoint(last), lps[1])
    assert np.linalg.norm(error) == pytest.approx(40 * math.sin(tilt / 2), abs=1e-3)
    reference = sitk_reference_image(geometry)
    assert reference.TransformContinuousIndexToPhysicalPoint(last) == pytest.approx(lps[1])
    nib.save(nib.Nifti1Image(np.zeros(geometry.size), nifti_affine(geometry)), tmp_path / "t.nii")
    world = nib.affines.apply_affine(nib.load(tmp_path / "t.nii").affine, corners)
    assert world == pytest.approx(lps_to_ras(lps), abs=1e-4)


def test_uneven_gaps_are_detected_and_slices_stay_exact() -> None:
    # z = 0, 2.5, 5, 10, 12.5: one slice (7.5) missing. Median gap 2.5.
    datasets = _stack_datasets(AXIAL, [(-5, -4, z) for z in (0, 2.5, 5, 10, 12.5)])
    geometry = _build_one(datasets)
    assert not geometry.uniform
    assert geometry.missing_slices == 1
    assert geometry.spacing[2] == pytest.approx(2.5)
    assert geometry.slice_positions == pytest.approx((0, 2.5, 5, 10, 12.5))
    # Slice 3 is at z = 10 (a regular grid would say 7.5); k = 2.5 is halfway, z = 7.5;
    # beyond the ends one median step per slice.
    ijk = [[0, 0, 3], [0, 0, 2.5], [0, 0, 4], [0, 0, 5], [0, 0, -1], [2, 1, 3.2]]
    lps = index_to_lps(geometry, ijk)
    assert lps[:, 2] == pytest.approx([10, 7.5, 12.5, 15, -2.5, 10.5])
    assert lps[5, :2] == pytest.approx([-5 + 1.8, -4 + 0.7])
    assert lps_to_index(geometry, lps) == pytest.approx(np.array(ijk, dtype=float))


@pytest.mark.parametrize(("last_gap", "uniform"), [(2.52, True), (2.53, False)])
def test_uniform_tolerance_is_one_percent_of_the_median_gap(last_gap: float, uniform: bool) -> None:
    positions = [(0, 0, z) for z in (0, 2.5, 5, 7.5, 7.5 + last_gap)]
    assert _build_one(_stack_datasets(AXIAL, positions)).uniform is uniform


def test_localizers_are_split_off_the_volume() -> None:
    volume = _stack_datasets(AXIAL, [(0, 0, z) for z in (0, 5, 10, 15)])
    coronal = _stack_datasets((1, 0, 0, 0, 0, -1), [(0, 0, 50)], image_type=["LOCALIZER"])
    axial_scout = _stack_datasets(AXIAL, [(0, 0, 7)], image_type=["ORIGINAL", "LOCALIZER"])
    other_plane = _stack_datasets((0, 1, 0, 0, 0, -1), [(0, 0, 50)])
    stacks = build_stacks([_info(ds) for ds in (*coronal, *volume, *axial_scout, *other_plane)])
    assert [(s.role, s.size[2]) for s in stacks] == [
        ("volume", 4),
        ("single", 1),
        ("localizer", 1),
        ("localizer", 1),
    ]
    assert stacks[0].keys == tuple(str(ds.SOPInstanceUID) for ds in volume)
    assert stacks[1].keys == (str(other_plane[0].SOPInstanceUID),)
    assert stacks[2].direction == pytest.approx((1, 0, 0, 0, 0, 1, 0, -1, 0))


def _two_acquisitions(second_z: Sequence[float], acquisitions: bool) -> list[FileDataset]:
    zs = [0, 5, 10, 15, *second_z]
    numbers = [1] * 4 + [2] * len(second_z) if acquisitions else None
    datasets = _stack_datasets(AXIAL, [(0, 0, z) for z in zs], acquisitions=numbers)
    if not acquisitions:
        for ds in datasets:
            del ds.AcquisitionNumber
    return datasets


@pytest.mark.parametrize("acquisitions", [True, False])
def test_duplicate_positions_split_into_two_stacks(acquisitions: bool) -> None:
    datasets = _two_acquisitions([15, 10, 5, 0], acquisitions)
    ordered = datasets if not acquisitions else [datasets[n] for n in (5, 0, 7, 2, 4, 1, 3, 6)]
    stacks = build_stacks([_info(ds) for ds in ordered])  # without numbers: input order decides
    assert [_numbers_in_k_order(s, datasets) for s in stacks] == [[1, 2, 3, 4], [8, 7, 6, 5]]
    assert all(s.uniform and s.spacing[2] == pytest.approx(5) for s in stacks)


def test_overlapping_acquisitions_split_but_contiguous_ones_do_not() -> None:
    interleaved = _two_acquisitions([2.5, 7.5, 12.5], acquisitions=True)
    stacks = build_stacks([_info(ds) for ds in interleaved])
    assert [_numbers_in_k_order(s, interleaved) for s in stacks] == [[1, 2, 3, 4], [5, 6, 7]]
    # Step-and-shoot CT: one acquisition number per slice, one volume.
    positions = [(0, 0, 5.0 * n) for n in range(5)]
    step_and_shoot = _stack_datasets(AXIAL, positions, acquisitions=[1, 2, 3, 4, 5])
    assert len(build_stacks([_info(ds) for ds in step_and_shoot])) == 1


def test_frames_of_reference_and_image_sizes_are_separate_stacks() -> None:
    datasets = _stack_datasets(AXIAL, [(0, 0, z) for z in (0, 5, 10, 15)])
    datasets[0].FrameOfReferenceUID = "1.2.3.4"
    datasets[1].set_pixel_data(np.zeros((8, 8), np.int16), "MONOCHROME2", 16)
    sizes = sorted((s.size, s.role) for s in build_stacks([_info(ds) for ds in datasets]))
    assert sizes == [((8, 8, 1), "single"), ((16, 12, 1), "single"), ((16, 12, 2), "volume")]


def test_xray_without_position_is_a_single_image_at_the_origin() -> None:
    xray = make_xray(size=(40, 30), seed=1)
    xray.PixelSpacing = ["0.2", "0.3"]  # 0.2 mm between rows, 0.3 mm between columns
    other = make_xray(size=(40, 30), seed=2)
    del other.PixelSpacing
    other.ImagePositionPatient, other.ImageOrientationPatient = [0, 0, 0], [0] * 6  # seen in SC
    stacks = build_stacks([_info(xray), _info(other)])
    assert [s.role for s in stacks] == ["single", "single"]
    assert stacks[1].spacing == (1.0, 1.0, 1.0)
    assert stacks[0].size == (30, 40, 1)
    assert stacks[0].spacing == (0.3, 0.2, 1.0)
    assert stacks[0].origin == (0, 0, 0)
    assert stacks[0].direction == (1, 0, 0, 0, 1, 0, 0, 0, 1)
    assert index_to_lps(stacks[0], [10, 20, 0]) == pytest.approx([3.0, 4.0, 0.0])
    assert lps_to_index(stacks[0], [3.0, 4.0, 0.0]) == pytest.approx([10, 20, 0])


def test_single_slice_with_geometry_keeps_its_orientation() -> None:
    (ds,) = _stack_datasets(OBLIQUE, [(1, 2, 3)])
    (geometry,) = build_stacks([_info(ds)])
    assert geometry.role == "single"
    assert geometry.spacing == pytest.approx((0.9, 0.7, 2.5))  # slice thickness
    far = index_to_lps(geometry, [15, 11, 0])
    assert far == pytest.approx(
        np.add((1, 2, 3), 13.5 * np.array(OBLIQUE_R) + 7.7 * np.array(OBLIQUE_C))
    )


def test_lps_ras_flip_x_and_y_and_keep_shape() -> None:
    assert lps_to_ras([1.0, 2.0, 3.0]) == pytest.approx([-1.0, -2.0, 3.0])
    points = np.arange(12.0).reshape(2, 2, 3)
    assert lps_to_ras(points).shape == (2, 2, 3)
    assert ras_to_lps(lps_to_ras(points)) == pytest.approx(points)
