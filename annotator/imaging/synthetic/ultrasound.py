"""US: a multi-frame thyroid ultrasound cine with burned-in text."""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import UltrasoundMultiFrameImageStorage

from annotator.imaging.synthetic.common import _base_dataset, _blur, _ds, _ellipse, _Uids


def make_ultrasound_cine(
    *,
    frames: int = 30,
    size: tuple[int, int] = (480, 640),
    frame_rate: float = 25.0,
    color: bool = False,
    seed: int = 0,
    uid_seed: str | None = None,
    patient_name: str = "PHANTOM^US",
    patient_id: str = "PHANTOM-004",
) -> FileDataset:
    """Build a multi-frame thyroid ultrasound cine with a moving cyst and burned-in text.

    8-bit MONOCHROME2, or RGB with yellow text when `color` is true. The scan region is
    described in Sequence of Ultrasound Regions (0.1 mm per pixel).
    """
    rows, cols = size
    if rows < 120 or cols < 160 or frames < 1:
        raise ValueError("Need at least 1 frame of at least 120x160 pixels.")
    rng = np.random.default_rng(seed)
    top, bottom = rows // 8, rows - rows // 24
    left, right = cols // 2 - (bottom - top) // 2, cols // 2 + (bottom - top) // 2
    h, w = bottom - top, right - left
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]  # depth
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    echo = np.full((h, w), 0.45, dtype=np.float32)
    echo[(y < 0.06).ravel()] = 1.0  # skin
    echo = np.where((y > 0.12) & (y < 0.24), 0.35, echo)  # strap muscles
    lobe = _ellipse(x, y, -0.15, 0.48, 0.62, 0.24)
    echo = np.where(lobe, 0.8, echo)  # thyroid lobe, homogeneous and bright
    carotid = _ellipse(x, y, 0.72, 0.50, 0.16, 0.14)
    echo = np.where(carotid, 0.03, echo)
    echo = np.where((~carotid) & (np.abs(x - 0.72) < 0.14) & (y > 0.64), echo * 1.35, echo)
    trachea = _ellipse(x, y, -0.95, 0.45, 0.25, 0.2) & ~_ellipse(x, y, -0.95, 0.45, 0.21, 0.16)
    echo = np.where(trachea, 1.3, echo)
    echo = np.where((np.abs(x + 0.95) < 0.2) & (y > 0.65), echo * 0.25, echo)  # air shadow
    echo *= np.exp(-0.6 * y)  # depth attenuation

    # Speckle: the modulus of low-pass complex noise, mostly persistent between frames.
    base = _blur(rng.standard_normal((2, h, w), dtype=np.float32), (0.8, 2.0))
    cine = np.zeros((frames, rows, cols), dtype=np.float32)
    for f in range(frames):
        fresh = _blur(rng.standard_normal((2, h, w), dtype=np.float32), (0.8, 2.0))
        field = 0.9 * base + 0.44 * fresh
        speckle = np.hypot(field[0], field[1]) / 0.5
        phase = 2 * np.pi * f / max(frames, 1)
        cx, cy = -0.20 + 0.03 * math.sin(phase), 0.47 + 0.015 * math.cos(phase)
        cyst = _ellipse(x, y, cx, cy, 0.18, 0.10)
        behind = (np.abs(x - cx) < 0.16) & (y > cy + 0.08) & lobe
        frame_echo = np.where(cyst, 0.02, np.where(behind, echo * 1.3, echo))  # enhancement
        cine[f, top:bottom, left:right] = 200 * frame_echo * speckle
    cine = np.clip(cine, 0, 235)
    _burn_in_text(cine, rng, rows, cols, top, right)
    pixels = np.rint(cine).astype(np.uint8)

    uids = _Uids(uid_seed, "us", seed, frames, rows, cols, frame_rate, color)
    ds = _base_dataset(
        sop_class_uid=UltrasoundMultiFrameImageStorage,
        sop_instance_uid=uids("instance"),
        modality="US",
        study_uid=uids("study"),
        series_uid=uids("series"),
        series_number=1,
        instance_number=1,
        patient_name=patient_name,
        patient_id=patient_id,
        patient_sex="O",
        study_description="US THYROID (PHANTOM)",
        series_description="Right lobe transverse cine (synthetic)",
        accession="PHANTOM-ACC-US",
    )
    ds.BodyPartExamined = "THYROID"
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "YES"
    ds.TransducerType = "LINEAR"
    if color:
        rgb = np.repeat(pixels[..., None], 3, axis=-1)
        text = pixels > 240
        rgb[text] = (255, 230, 60)
        ds.set_pixel_data(rgb, "RGB", 8, generate_instance_uid=False)
    else:
        ds.set_pixel_data(pixels, "MONOCHROME2", 8, generate_instance_uid=False)
    if frames == 1:
        ds.NumberOfFrames = 1
    frame_time = 1000.0 / frame_rate
    ds.FrameTime = _ds(frame_time)
    ds.FrameIncrementPointer = Tag("FrameTime")
    ds.CineRate = round(frame_rate)
    ds.RecommendedDisplayFrameRate = round(frame_rate)
    ds.EffectiveDuration = _ds(frames * frame_time / 1000.0)
    ds.SequenceOfUltrasoundRegions = DicomSequence([_us_region(left, top, right, bottom)])
    return ds


def _us_region(left: int, top: int, right: int, bottom: int) -> Dataset:
    """Describe the B-mode scan area: 2D tissue, 0.01 cm per pixel in both directions."""
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = left
    region.RegionLocationMinY0 = top
    region.RegionLocationMaxX1 = right - 1
    region.RegionLocationMaxY1 = bottom - 1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.01
    region.PhysicalDeltaY = 0.01
    return region


def _burn_in_text(
    cine: np.ndarray,
    rng: np.random.Generator,
    rows: int,
    cols: int,
    top: int,
    right: int,
) -> None:
    """Burn text-like glyph blocks (top-left) and a depth ruler (right edge) into every frame."""
    glyph_h, glyph_w = 7, 5
    for line in range(3):
        r0 = 8 + line * (glyph_h + 5)
        if r0 + glyph_h > top:
            break
        for char in range(int(rng.integers(8, 16))):
            c0 = 8 + char * (glyph_w + 2)
            if c0 + glyph_w >= cols // 2:
                break
            glyph = rng.random((glyph_h, glyph_w)) < 0.55
            cine[:, r0 : r0 + glyph_h, c0 : c0 + glyph_w][:, glyph] = 250.0
    ruler = min(right + 12, cols - 4)
    cine[:, top : rows - rows // 24, ruler] = 250.0
    for tick in range(top, rows - rows // 24, 50):
        cine[:, tick, ruler - 4 : ruler] = 250.0
