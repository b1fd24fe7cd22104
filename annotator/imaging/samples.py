"""Write a small, deterministic library of sample DICOM files for demos, tests and benchmarks.

Two kinds of files: real test files that ship inside the pydicom wheel (never downloaded) and
the synthetic studies of `annotator.imaging.synthetic`, built with fixed seeds and UIDs so that
every run produces byte-identical files. Nothing here comes from a patient.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import FileDataset

from annotator.imaging import synthetic

__all__ = ["PYDICOM_SAMPLES", "build_sample_library"]

# Bump when the generators change in a way that should produce new UIDs.
_UID_SEED = "annotator-sample-library-v1"

#: pydicom test files to copy, with why each is useful. Files pydicom only offers as a
#: download (JPEG-LL, emri_small, US1_UNCR in pydicom 3.0) are skipped when absent.
PYDICOM_SAMPLES: dict[str, str] = {
    "CT_small.dcm": "single CT slice, uncompressed",
    "MR_small.dcm": "single MR slice, uncompressed",
    "MR_small_RLE.dcm": "MR_small as RLE Lossless (pydicom decodes it natively; same UIDs)",
    "JPEG2000.dcm": "NM-like image, JPEG 2000 (needs a JPEG 2000 decoder plugin)",
    "JPEG-LL.dcm": "JPEG Lossless (needs a JPEG decoder plugin)",
    "SC_rgb_jpeg_dcmtk.dcm": "RGB secondary capture, JPEG Baseline (needs a JPEG decoder plugin)",
    "SC_rgb_rle_2frame.dcm": "RGB 2-frame secondary capture, RLE Lossless",
    "examples_rgb_color.dcm": "single-frame RGB ultrasound, uncompressed",
    "examples_ybr_color.dcm": "30-frame YBR ultrasound cine, JPEG Baseline (needs a JPEG plugin)",
    "emri_small.dcm": "multi-frame enhanced MR, uncompressed",
    "US1_UNCR.dcm": "RGB ultrasound, uncompressed",
}

_Builder = Callable[[int], list[FileDataset]]

_SYNTHETIC: dict[str, tuple[str, str, _Builder]] = {
    "synthetic/ct-chest": (
        "CT",
        "axial chest/abdomen CT phantom, 256x256, 2.5 mm slices, HU with intercept -1024,"
        " lung nodules; instance 1 is the most superior slice",
        lambda slices: synthetic.make_ct_series(slices=slices, uid_seed=_UID_SEED),
    ),
    "synthetic/xray-chest": (
        "DX",
        "PA chest radiograph, 512x420, 12-bit MONOCHROME2, 0.3 mm pixels",
        lambda _: [synthetic.make_xray(uid_seed=_UID_SEED)],
    ),
    "synthetic/mammo-screening": (
        "MG",
        "screening mammogram R/L CC (MONOCHROME2) and R/L MLO (MONOCHROME1), 12-bit,"
        " masses and calcifications",
        lambda _: synthetic.make_mammogram_pair(uid_seed=_UID_SEED),
    ),
    "synthetic/us-thyroid": (
        "US",
        "thyroid ultrasound cine, 30 frames of 480x640 8-bit at 25 fps, moving cyst,"
        " burned-in text",
        lambda _: [synthetic.make_ultrasound_cine(uid_seed=_UID_SEED)],
    ),
}


def build_sample_library(target: Path, *, ct_slices: int = 120) -> dict[str, list[Path]]:
    """Write the sample library under `target` and return its files per folder.

    Idempotent: files that already exist are kept as they are and MANIFEST.json is rewritten
    only when its content changes. A different `ct_slices` writes a second CT series (its
    UIDs differ) next to the first.
    """
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {"pydicom": _copy_pydicom_samples(target / "pydicom")}
    manifest: dict[str, object] = {
        "pydicom": {
            "modality": "mixed",
            "count": len(written["pydicom"]),
            "description": "real test files shipped with pydicom (public, no patients)",
            "files": [_describe_file(path) for path in written["pydicom"]],
        }
    }
    for folder, (modality, description, build) in _SYNTHETIC.items():
        datasets = build(ct_slices)
        paths = synthetic.write_datasets(datasets, target / folder)
        written[folder] = paths
        manifest[folder] = {
            "modality": modality,
            "count": len(paths),
            "description": description,
            "series_instance_uids": sorted({str(ds.SeriesInstanceUID) for ds in datasets}),
            "files": [path.name for path in paths],
        }
    _write_if_changed(
        target / "MANIFEST.json",
        json.dumps({"generator": "annotator.imaging.samples", "folders": manifest}, indent=2)
        + "\n",
    )
    return written


def _copy_pydicom_samples(folder: Path) -> list[Path]:
    """Copy the pydicom test files that are present locally; never download any."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in PYDICOM_SAMPLES:
        source = get_testdata_file(name, download=False)
        if not isinstance(source, str):  # None when pydicom only offers it as a download
            continue
        path = folder / name
        if not path.exists():
            partial = path.with_suffix(".dcm.partial")
            shutil.copyfile(source, partial)
            partial.replace(path)
        paths.append(path)
    return paths


def _describe_file(path: Path) -> dict[str, object]:
    """Summarize one file's header for the manifest (technical fields only, no names)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    syntax = ds.file_meta.TransferSyntaxUID
    return {
        "name": path.name,
        "modality": str(ds.get("Modality", "")),
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "rows": int(ds.get("Rows", 0)),
        "columns": int(ds.get("Columns", 0)),
        "transfer_syntax": syntax.name,
        "compressed": bool(syntax.is_compressed),
        "description": PYDICOM_SAMPLES[path.name],
    }


def _write_if_changed(path: Path, text: str) -> None:
    """Write `text` to `path` unless the file already holds exactly that."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.write_text(text, encoding="utf-8")
