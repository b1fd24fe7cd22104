"""DX: a PA chest radiograph."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import DigitalXRayImageStorageForPresentation

from annotator.imaging.synthetic.common import _base_dataset, _code, _texture, _Uids, _window


def make_xray(
    *,
    laterality: str | None = None,
    size: tuple[int, int] = (512, 420),
    seed: int = 0,
    uid_seed: str | None = None,
    patient_name: str = "PHANTOM^DX",
    patient_id: str = "PHANTOM-002",
) -> FileDataset:
    """Build a PA chest radiograph (DX, 12-bit, MONOCHROME2) of `size` (rows, columns).

    `laterality` fills Image Laterality (R, L, B or U); None means "U" (unpaired body part).
    """
    if laterality not in (None, "R", "L", "B", "U"):
        raise ValueError("laterality must be one of R, L, B, U or None.")
    rows, cols = size
    rng = np.random.default_rng(seed)
    # u: image left (patient right) -1 .. +1; v: top (superior) -1 .. +1 (inferior).
    u = np.linspace(-1, 1, cols, dtype=np.float32)[None, :]
    v = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
    half_width = np.where(v < -0.75, 0.30, np.where(v < -0.55, 0.30 + (v + 0.75) * 2.6, 0.82))
    body = np.clip(1 - (u / half_width) ** 2, 0, None) ** 0.5
    att = 1.2 * body
    dome = 0.30 + 0.35 * u**2  # diaphragm: highest in the middle, costophrenic angles lower
    below = 0.5 * (1 + np.tanh((v - dome) / 0.03))  # soft step at the diaphragm
    for side in (-1, 1):
        depth = np.clip(1 - ((u - side * 0.40) / 0.30) ** 2 - ((v + 0.05) / 0.62) ** 2, 0, None)
        att -= 0.8 * np.sqrt(depth) * (1 - below)  # aerated lung
        lateral = u * side
        for i in range(10):  # posterior ribs: arcs dropping towards the sides
            arc = -0.66 + i * 0.115 + 0.30 * (lateral - 0.1) ** 2
            rib = (np.abs(v - arc) < 0.017) & (lateral > 0.08) & (lateral < 0.74)
            att += 0.2 * rib * (1 - below)
        clavicle = (np.abs(v + 0.62 + 0.10 * (lateral - 0.1)) < 0.022) & (lateral > 0.08)
        att += 0.35 * (clavicle & (lateral < 0.62))
    heart = np.clip(1 - ((u - 0.12) / 0.30) ** 2 - ((v - 0.26) / 0.22) ** 2, 0, None)
    att += 0.8 * np.sqrt(heart)
    att += 0.5 * (np.abs(u) < 0.08) * (1 + 0.15 * (np.sin(v * 40) > 0.6))  # spine + end plates
    att += 0.9 * below * body  # abdomen below the diaphragm
    att += 0.05 * _texture(rng, (rows, cols), 3.0) * body
    pixels = 250 + 3500 * (1 - np.exp(-1.1 * np.clip(att, 0, None)))
    pixels += rng.normal(0, 25, size=pixels.shape)
    image = np.clip(np.rint(pixels), 0, 4095).astype(np.uint16)

    uids = _Uids(uid_seed, "dx", seed, rows, cols, laterality)
    ds = _base_dataset(
        sop_class_uid=DigitalXRayImageStorageForPresentation,
        sop_instance_uid=uids("instance"),
        modality="DX",
        study_uid=uids("study"),
        series_uid=uids("series"),
        series_number=1,
        instance_number=1,
        patient_name=patient_name,
        patient_id=patient_id,
        patient_sex="O",
        study_description="XR CHEST PA (PHANTOM)",
        series_description="Chest PA (synthetic)",
        accession="PHANTOM-ACC-DX",
    )
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.ViewCodeSequence = DicomSequence([_code("399348003", "postero-anterior")])
    ds.ImageLaterality = laterality or "U"
    ds.PatientOrientation = ["L", "F"]
    ds.KVP = "120"
    ds.DistanceSourceToDetector = "1800"
    ds.DetectorType = "SCINTILLATOR"
    ds.ImagerPixelSpacing = ["0.3", "0.3"]
    ds.PixelSpacing = ["0.3", "0.3"]
    ds.set_pixel_data(image, "MONOCHROME2", 12, generate_instance_uid=False)
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1  # higher values = less beam (denser tissue)
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    center, width = _window(image[body > 0.2])
    ds.WindowCenter, ds.WindowWidth = str(center), str(width)
    return ds
