"""MG: a bilateral screening mammogram study (CC and MLO views)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import DigitalMammographyXRayImageStorageForPresentation

from annotator.imaging.synthetic.common import (
    _base_dataset,
    _code,
    _ds,
    _texture,
    _Uids,
    _window,
)

# SNOMED CT view codes (DICOM CID 4014 "View for Mammography").
_MG_VIEW_CODES = {
    "CC": ("399162004", "cranio-caudal"),
    "MLO": ("399368009", "medio-lateral oblique"),
}
_MG_PATIENT_ORIENTATION = {
    ("R", "CC"): ["P", "L"],
    ("L", "CC"): ["A", "R"],
    ("R", "MLO"): ["P", "FL"],
    ("L", "MLO"): ["A", "FR"],
}


def make_mammogram_pair(
    *,
    views: Sequence[str] = ("CC", "MLO"),
    size: tuple[int, int] = (832, 640),
    pixel_spacing: float = 0.25,
    seed: int = 0,
    uid_seed: str | None = None,
    patient_name: str = "PHANTOM^MG",
    patient_id: str = "PHANTOM-003",
) -> list[FileDataset]:
    """Build a screening mammogram study: R and L images for each view (R CC, L CC, R MLO, L MLO).

    CC images are MONOCHROME2; MLO images are MONOCHROME1 (stored inverted, Presentation LUT
    Shape INVERSE) so inverted display is exercised. Each breast carries the same mass in both
    views and the left breast a cluster of calcifications.
    """
    unknown = set(views) - set(_MG_VIEW_CODES)
    if unknown:
        raise ValueError(f"Unsupported mammography views: {sorted(unknown)}")
    rng = np.random.default_rng(seed)
    rows, cols = size
    # One lesion per breast, placed by (depth from chest wall, offset across) in every view.
    lesions = {
        side: (rng.uniform(0.25, 0.6), rng.uniform(-0.4, 0.4), rng.uniform(4, 9)) for side in "RL"
    }
    uids = _Uids(uid_seed, "mg", seed, rows, cols, pixel_spacing, tuple(views))
    study_uid, series_uid = uids("study"), uids("series")
    datasets: list[FileDataset] = []
    for view in views:
        for side in ("R", "L"):
            monochrome1 = view == "MLO"
            image, breast = _mammogram_image(
                rng,
                rows,
                cols,
                view=view,
                lesion=lesions[side],
                pixel_spacing=pixel_spacing,
                calcifications=side == "L",
            )
            if side == "R":  # chest wall on the image's right for a right breast
                image, breast = image[:, ::-1], breast[:, ::-1]
            if monochrome1:
                image = 4095 - image
            ds = _base_dataset(
                sop_class_uid=DigitalMammographyXRayImageStorageForPresentation,
                sop_instance_uid=uids("instance", view, side),
                modality="MG",
                study_uid=study_uid,
                series_uid=series_uid,
                series_number=1,
                instance_number=len(datasets) + 1,
                patient_name=patient_name,
                patient_id=patient_id,
                patient_sex="F",
                study_description="MG SCREENING BILATERAL (PHANTOM)",
                series_description="Screening mammogram (synthetic)",
                accession="PHANTOM-ACC-MG",
            )
            code_value, code_meaning = _MG_VIEW_CODES[view]
            ds.PresentationIntentType = "FOR PRESENTATION"
            ds.BodyPartExamined = "BREAST"
            ds.AnatomicRegionSequence = DicomSequence([_code("76752008", "Breast")])
            ds.ImageLaterality = side
            ds.ViewPosition = view
            ds.ViewCodeSequence = DicomSequence([_code(code_value, code_meaning)])
            ds.ViewCodeSequence[0].ViewModifierCodeSequence = DicomSequence([])
            ds.PatientOrientation = _MG_PATIENT_ORIENTATION[(side, view)]
            ds.BreastImplantPresent = "NO"
            ds.PartialView = "NO"
            ds.KVP = "29"
            ds.BodyPartThickness = "48"
            ds.CompressionForce = "110"
            ds.DetectorType = "DIRECT"
            ds.ImagerPixelSpacing = [_ds(pixel_spacing)] * 2
            ds.PixelSpacing = [_ds(pixel_spacing)] * 2
            pixels = np.ascontiguousarray(image, dtype=np.uint16)
            photometric = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
            ds.set_pixel_data(pixels, photometric, 12, generate_instance_uid=False)
            ds.PixelIntensityRelationship = "LOG"
            ds.PixelIntensityRelationshipSign = 1 if monochrome1 else -1
            ds.RescaleIntercept = "0"
            ds.RescaleSlope = "1"
            ds.RescaleType = "US"
            ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"
            center, width = _window(pixels[breast])
            ds.WindowCenter, ds.WindowWidth = str(center), str(width)
            datasets.append(ds)
    return datasets


def _mammogram_image(
    rng: np.random.Generator,
    rows: int,
    cols: int,
    *,
    view: str,
    lesion: tuple[float, float, float],
    pixel_spacing: float,
    calcifications: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one breast with its chest wall on the left edge; return (image, breast mask)."""
    x = (np.arange(cols, dtype=np.float32) / cols)[None, :]  # 0 at the chest wall
    y = (np.arange(rows, dtype=np.float32) / rows)[:, None]  # 0 at the top
    centre_y, depth, height = (0.5, 0.72, 0.40) if view == "CC" else (0.56, 0.70, 0.44)
    rho = np.sqrt((x / depth) ** 2 + ((y - centre_y) / height) ** 2)
    breast = rho <= 1.0
    muscle = np.zeros_like(breast)
    if view == "MLO":  # axillary tail and the pectoral muscle in the upper chest-wall corner
        breast |= x / 0.40 + y / 0.62 <= 1.0
        muscle = x / 0.26 + y / 0.50 <= 1.0
    thickness = np.sqrt(np.clip(1 - rho**2, 0.0, 1.0))
    texture = 0.6 * _texture(rng, (rows, cols), 14.0) + 0.4 * _texture(rng, (rows, cols), 4.0)
    gland = np.clip(0.35 * texture + 0.25 + 0.3 * thickness, 0, 1) * thickness
    value = 1300 + 500 * thickness + 700 * gland
    value = np.where(muscle, value + 800, value)
    value = np.where(breast & (rho > 0.97), value + 150, value)  # skin line

    mass_depth, mass_offset, mass_mm = lesion
    my = centre_y + mass_offset * height * math.sqrt(max(1 - mass_depth**2, 0.0))
    mx = mass_depth * depth
    radius = mass_mm / pixel_spacing
    dist2 = ((x - mx) * cols) ** 2 + ((y - my) * rows) ** 2
    value += 650 * np.clip(1.6 - np.sqrt(dist2) / radius, 0, 1)  # dense core, blurred margin
    if calcifications:
        cy, cx = int(my * rows) - int(2.5 * radius), int(mx * cols)
        for dy, dx in rng.normal(0, 8.0 / pixel_spacing / 4, size=(10, 2)).astype(int):
            r0, c0 = min(max(cy + dy, 0), rows - 2), min(max(cx + dx, 0), cols - 2)
            value[r0 : r0 + 2, c0 : c0 + 2] = 3950
    value = np.where(breast, value, 90.0) + rng.normal(0, 18, size=(rows, cols))
    return np.clip(np.rint(value), 0, 4095).astype(np.uint16), breast
