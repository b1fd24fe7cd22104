"""CT: an anatomy-like chest/abdomen phantom volume and its axial DICOM series."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from pydicom.dataset import FileDataset
from pydicom.uid import CTImageStorage

from annotator.imaging.synthetic.common import _base_dataset, _ds, _ellipse, _ramp, _Uids

#: Label ids of `CtPhantom.labels`.
CT_LABELS: dict[int, str] = {
    0: "background",
    1: "body",
    2: "lung",
    3: "bone",
    4: "aorta",
    5: "liver",
    6: "nodule",
}
_BODY, _LUNG, _BONE, _AORTA, _LIVER, _NODULE = 1, 2, 3, 4, 5, 6


@dataclasses.dataclass(frozen=True)
class CtPhantom:
    """A chest/abdomen phantom volume in Hounsfield units, with its ground-truth label map."""

    hu: np.ndarray  # int16, (slices, rows, columns), slice 0 most superior
    labels: np.ndarray  # uint8, same shape, ids from CT_LABELS
    spacing: tuple[float, float, float]  # (slice, row, column) in mm
    origin: tuple[float, float, float]  # LPS position of voxel (0, 0, 0) in mm
    nodules: tuple[tuple[int, int, int, float], ...]  # (slice, row, column, diameter mm)


def make_ct_phantom(
    *,
    slices: int = 120,
    size: int = 256,
    spacing: tuple[float, float] = (0.8, 0.8),
    slice_spacing: float = 2.5,
    nodules: int = 4,
    seed: int = 0,
) -> CtPhantom:
    """Build an anatomy-like chest/abdomen HU volume and its label map.

    The anatomy is laid out relative to the field of view, so it fills any `size`; nodule
    diameters (4-12 mm) are physical.
    """
    if slices < 1 or size < 16:
        raise ValueError("Need at least 1 slice of at least 16x16 pixels.")
    rng = np.random.default_rng(seed)
    row_mm, col_mm = spacing
    centered = np.arange(size, dtype=np.float32) - (size - 1) / 2
    u = (centered / (size / 2))[None, :]  # -1 (patient right) .. +1 (patient left)
    v = (centered / (size / 2))[:, None]  # -1 (anterior) .. +1 (posterior)
    z_top = (slices - 1) * slice_spacing / 2
    hu = np.full((slices, size, size), -1000.0, dtype=np.float32)
    labels = np.zeros((slices, size, size), dtype=np.uint8)
    rib_phases = rng.uniform(0, 1, size=12)
    rib_angles = np.deg2rad([-150, -130, -110, -40, -20, 0, 20, 40, 140, 160, 180, 200])

    for k in range(slices):
        t = k / (slices - 1) if slices > 1 else 0.4  # 0 = top of the chest, 1 = lower abdomen
        z_mm = z_top - k * slice_spacing
        img, lab = hu[k], labels[k]

        body_ay = 0.60 + 0.05 * t
        body = _ellipse(u, v, 0.0, 0.02, 0.86, body_ay)
        inner = _ellipse(u, v, 0.0, 0.02, 0.86 * 0.91, body_ay * 0.90)
        img[body], lab[body] = -100.0, _BODY  # subcutaneous fat ring
        img[inner] = 40.0  # soft tissue

        liver = inner & _ellipse(
            u,
            v,
            -0.30,
            0.0,
            0.50,
            0.48 * _ramp(t, 0.48, 0.60) * _ramp(1.08 - t, 0.0, 0.18),
        )
        img[liver], lab[liver] = 60.0, _LIVER

        right = _ellipse(u, v, -0.38, -0.02, 0.27, 0.44)
        left = _ellipse(u, v, 0.41, -0.02, 0.24, 0.44)
        heart = _ellipse(u, v, 0.12, -0.18, 0.24, 0.22) & (0.30 < t < 0.58)
        r_scale = _ramp(t, 0.02, 0.18) * _ramp(0.54 - t, 0.0, 0.08)
        l_scale = _ramp(t, 0.02, 0.18) * _ramp(0.60 - t, 0.0, 0.08)
        lungs = (_ellipse(u, v, -0.38, -0.02, 0.27 * r_scale, 0.44 * r_scale) & right) | (
            _ellipse(u, v, 0.41, -0.02, 0.24 * l_scale, 0.44 * l_scale) & left & ~heart
        )
        img[lungs], lab[lungs] = -850.0, _LUNG

        aorta = _ellipse(u, v, 0.10, 0.16, 0.055, 0.055) if t > 0.12 else np.zeros_like(body)
        if 0.16 < t < 0.36:
            aorta |= _ellipse(u, v, -0.02, -0.14, 0.065, 0.065)  # ascending aorta
        if 0.10 < t <= 0.16:
            aorta |= _ellipse(u, v, 0.04, 0.01, 0.09, 0.20)  # arch
        img[aorta], lab[aorta] = 200.0, _AORTA

        # Spine: a vertebral body (cortex + cancellous bone) or a disc every 28 mm.
        disc = (z_mm % 28.0) < 5.0
        vertebra = _ellipse(u, v, 0.0, 0.30, 0.085, 0.080)
        cortex = vertebra & ~_ellipse(u, v, 0.0, 0.30, 0.065, 0.060)
        canal = _ellipse(u, v, 0.0, 0.43, 0.035, 0.035)
        arch = (_ellipse(u, v, 0.0, 0.43, 0.06, 0.06) & ~canal) | (
            (np.abs(u) < 0.018) & (v > 0.47) & (v < 0.55)
        )
        if disc:
            img[vertebra], lab[vertebra] = 80.0, _BODY
        else:
            img[vertebra], lab[vertebra] = 400.0, _BONE
            img[cortex] = 900.0
        img[arch], lab[arch] = 800.0, _BONE
        img[canal], lab[canal] = 15.0, _BODY

        if 0.03 < t < 0.62:  # ribs cut obliquely: short bone sections around the thorax wall
            for angle, phase in zip(rib_angles, rib_phases, strict=True):
                if (z_mm / 25.0 + phase) % 1.0 < 0.35:
                    cx, cy = (
                        0.86 * 0.84 * math.cos(angle),
                        0.02 + body_ay * 0.84 * math.sin(angle),
                    )
                    rib = _ellipse(u, v, cx, cy, 0.03, 0.022)
                    img[rib], lab[rib] = 750.0, _BONE
            if 0.10 < t < 0.50:
                sternum = _ellipse(u, v, 0.0, 0.02 - body_ay * 0.84, 0.06, 0.025)
                img[sternum], lab[sternum] = 650.0, _BONE

    found = _add_nodules(hu, labels, rng, count=nodules, spacing=(slice_spacing, row_mm, col_mm))
    hu += rng.normal(0.0, 12.0, size=hu.shape).astype(np.float32)
    origin = (float(centered[0] * col_mm), float(centered[0] * row_mm), float(z_top))
    return CtPhantom(
        hu=np.rint(hu).astype(np.int16),
        labels=labels,
        spacing=(float(slice_spacing), float(row_mm), float(col_mm)),
        origin=origin,
        nodules=found,
    )


def _add_nodules(
    hu: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    count: int,
    spacing: tuple[float, float, float],
) -> tuple[tuple[int, int, int, float], ...]:
    """Paint `count` solid spherical nodules (4-12 mm, +30 HU) centred inside the lungs."""
    lung_voxels = np.flatnonzero(labels == _LUNG)
    if count <= 0 or lung_voxels.size == 0:
        return ()
    found = []
    for _ in range(count):
        diameter = float(rng.uniform(4.0, 12.0))
        centre = np.unravel_index(lung_voxels[rng.integers(lung_voxels.size)], labels.shape)
        reach = [math.ceil(diameter / 2 / s) for s in spacing]
        lo = [max(c - r, 0) for c, r in zip(centre, reach, strict=True)]
        hi = [min(c + r + 1, n) for c, r, n in zip(centre, reach, labels.shape, strict=True)]
        grids = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        dist2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing, strict=True))
        ball = dist2 <= (diameter / 2) ** 2
        box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        hu[box][ball] = 30.0
        labels[box][ball] = _NODULE
        found.append((int(centre[0]), int(centre[1]), int(centre[2]), round(diameter, 2)))
    return tuple(found)


def make_ct_series(
    *,
    slices: int = 120,
    size: int = 256,
    spacing: tuple[float, float] = (0.8, 0.8),
    slice_thickness: float = 2.5,
    slice_spacing: float | None = None,
    nodules: int = 4,
    seed: int = 0,
    uid_seed: str | None = None,
    patient_name: str = "PHANTOM^CT",
    patient_id: str = "PHANTOM-001",
) -> list[FileDataset]:
    """Build an axial CT series of the phantom, one dataset per slice, in instance order.

    `spacing` is DICOM Pixel Spacing order (row spacing, column spacing) in mm;
    `slice_spacing` defaults to `slice_thickness` (contiguous slices).
    """
    step = float(slice_spacing if slice_spacing is not None else slice_thickness)
    phantom = make_ct_phantom(
        slices=slices,
        size=size,
        spacing=spacing,
        slice_spacing=step,
        nodules=nodules,
        seed=seed,
    )
    uids = _Uids(uid_seed, "ct", seed, slices, size, spacing, slice_thickness, step, nodules)
    sop_uids = _unsorted_instance_uids(uids, slices)
    study_uid, series_uid, frame_uid = uids("study"), uids("series"), uids("frame")
    x0, y0, z_top = phantom.origin
    stored = (phantom.hu.astype(np.int32) + 1024).astype(np.int16)  # RescaleIntercept -1024
    datasets = []
    for k in range(slices):
        ds = _base_dataset(
            sop_class_uid=CTImageStorage,
            sop_instance_uid=sop_uids[k],
            modality="CT",
            study_uid=study_uid,
            series_uid=series_uid,
            series_number=2,
            instance_number=k + 1,
            patient_name=patient_name,
            patient_id=patient_id,
            patient_sex="O",
            study_description="CT CHEST ABDOMEN W CONTRAST (PHANTOM)",
            series_description=f"Axial {slice_thickness:g}mm soft tissue (synthetic)",
            accession="PHANTOM-ACC-CT",
        )
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        z_mm = z_top - k * step
        ds.BodyPartExamined = "CHEST"
        ds.PatientPosition = "HFS"
        ds.ContrastBolusAgent = "PHANTOM IV CONTRAST"
        ds.KVP = "120"
        ds.ConvolutionKernel = "STANDARD"
        ds.ScanOptions = "HELICAL MODE"
        ds.AcquisitionNumber = 1
        ds.SliceThickness = _ds(slice_thickness)
        ds.SpacingBetweenSlices = _ds(step)
        ds.ReconstructionDiameter = _ds(size * spacing[1])
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [_ds(x0), _ds(y0), _ds(z_mm)]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.SliceLocation = _ds(z_mm)
        ds.PixelSpacing = [_ds(spacing[0]), _ds(spacing[1])]
        ds.set_pixel_data(stored[k], "MONOCHROME2", 16, generate_instance_uid=False)
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = ["40", "-600"]
        ds.WindowWidth = ["400", "1500"]
        ds.WindowCenterWidthExplanation = ["SOFT_TISSUE", "LUNG"]
        datasets.append(ds)
    return datasets


def _unsorted_instance_uids(uids: _Uids, count: int) -> list[str]:
    """Return `count` SOP Instance UIDs whose sorted order is not the instance order."""
    for attempt in range(100):
        candidate = [uids("instance", i, attempt) for i in range(count)]
        order = sorted(range(count), key=candidate.__getitem__)
        if count < 3 or (order != list(range(count)) and order != list(range(count))[::-1]):
            return candidate
    raise RuntimeError("Could not draw non-monotonic instance UIDs.")  # pragma: no cover
