"""DICOM test inputs: synthetic series as bytes, and damaged variants of real files."""

import io
import zipfile
from pathlib import Path

from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from annotator.imaging.synthetic import make_ct_series


def to_bytes(ds: Dataset) -> bytes:
    """Encode a dataset as a Part 10 file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_files(slices: int = 6, size: int = 32, **kwargs: object) -> list[tuple[str, bytes]]:
    """Return (name, bytes) of a small synthetic CT series."""
    datasets = make_ct_series(slices=slices, size=size, nodules=0, **kwargs)  # type: ignore[arg-type]
    return [(f"ct/{ds.SOPInstanceUID}.dcm", to_bytes(ds)) for ds in datasets]


def real_file(name: str) -> Path:
    """Return the path of a DICOM file shipped inside pydicom (never downloaded)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom test file {name} is missing"
    return Path(path)


def make_zip(members: dict[str, bytes], *, symlinks: tuple[str, ...] = ()) -> bytes:
    """Build a zip in memory; names in `symlinks` are stored as symbolic links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
