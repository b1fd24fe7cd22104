"""Shared pieces of the synthetic builders: UIDs, the base dataset, codes, image helpers, files."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

# Fixed, obviously synthetic dates keep the output deterministic (no clock, no real dates).
_STUDY_DATE = "20240115"
_STUDY_TIME = "093000"
_MANUFACTURER = "annotator synthetic phantom"


# --- shared helpers --------------------------------------------------------------------------


class _Uids:
    """Hand out fresh UIDs, or deterministic ones when a seed is given."""

    def __init__(self, uid_seed: str | None, *context: object) -> None:
        self._seed = uid_seed
        self._context = [str(c) for c in context]

    def __call__(self, *role: object) -> str:
        if self._seed is None:
            return str(generate_uid())
        return str(generate_uid(entropy_srcs=[self._seed, *self._context, *map(str, role)]))


def _ds(value: float) -> str:
    """Format a number as a short Decimal String (DS values are at most 16 characters)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _base_dataset(
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    modality: str,
    study_uid: str,
    series_uid: str,
    series_number: int,
    instance_number: int,
    patient_name: str,
    patient_id: str,
    patient_sex: str,
    study_description: str,
    series_description: str,
    accession: str,
) -> FileDataset:
    """Build the patient/study/series/equipment part shared by every synthetic instance."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"[:16]
    ds = FileDataset(f"{sop_instance_uid}.dcm", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    for prefix in ("Study", "Series", "Content", "Acquisition"):
        setattr(ds, f"{prefix}Date", _STUDY_DATE)
        setattr(ds, f"{prefix}Time", _STUDY_TIME)
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = _MANUFACTURER
    ds.ManufacturerModelName = "synthetic"
    ds.SoftwareVersions = "annotator.imaging.synthetic 1"
    ds.InstitutionName = "PHANTOM INSTITUTE"
    ds.ReferringPhysicianName = "PHANTOM^REFERRER"
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient_sex
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    return ds


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    """Build one code sequence item."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _blur(img: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    """Gaussian-blur the last two axes via FFT (periodic edges are fine for textures)."""
    rows, cols = img.shape[-2:]
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    kernel = np.exp(-2.0 * np.pi**2 * ((fy * sigma[0]) ** 2 + (fx * sigma[1]) ** 2))
    out = np.fft.irfft2(np.fft.rfft2(img) * kernel, s=(rows, cols))
    return out.astype(np.float32)


def _texture(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Return smooth zero-mean, unit-variance noise with features about `sigma` pixels wide."""
    field = _blur(rng.standard_normal(shape, dtype=np.float32), (sigma, sigma))
    normalized: np.ndarray = (field - field.mean()) / (field.std() + 1e-6)
    return normalized


def _ellipse(
    u: np.ndarray, v: np.ndarray, cx: float, cy: float, ax: float, ay: float
) -> np.ndarray:
    """Return the mask of an axis-aligned ellipse on normalized grids (empty if degenerate)."""
    if ax <= 0 or ay <= 0:
        return np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    return ((u - cx) / ax) ** 2 + ((v - cy) / ay) ** 2 <= 1.0


def _ramp(x: float, start: float, end: float) -> float:
    """Rise from 0 at `start` to 1 at `end` (square-root shaped, so organs round off)."""
    if end == start:
        return 1.0 if x >= end else 0.0
    return math.sqrt(min(max((x - start) / (end - start), 0.0), 1.0))


def _window(values: np.ndarray) -> tuple[int, int]:
    """Return a (center, width) window covering the 1st-99th percentile of `values`."""
    low, high = np.percentile(values, [1, 99])
    return round((low + high) / 2), max(round(high - low), 1)


# --- files -------------------------------------------------------------------------------------


def write_datasets(datasets: Iterable[FileDataset], folder: Path) -> list[Path]:
    """Write each dataset as ``<folder>/<SOPInstanceUID>.dcm``; keep files that already exist."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        if not path.exists():
            partial = path.with_suffix(".dcm.partial")
            ds.save_as(partial, enforce_file_format=True)
            partial.replace(path)  # atomic: readers never see half a file
        paths.append(path)
    return paths
