"""Turn non-DICOM images (NIfTI, NRRD, MHA volumes; PNG, JPEG, TIFF pictures) into DICOM files
that the ordinary ingest path stores, so every door out works on them unchanged.

Pure (no Django). Conventions:

* Volumes are read by SimpleITK, which gives LPS origin, spacing and direction for every format.
  Each slice along the image's k axis becomes one single-frame instance with
  ImagePositionPatient = the LPS point of voxel (0, 0, k), ImageOrientationPatient = direction
  columns 1 and 2, PixelSpacing = (spacing[1], spacing[0]) (DICOM: row, column) and a shared
  FrameOfReferenceUID. A left-handed grid (k running against i x j) is first flipped along k
  (physical space unchanged, as ``sitk.Flip``), because DICOM stacks are sorted along i x j.
* SOP class: CT or MR Image Storage when the modality is CT or MR, otherwise Secondary Capture,
  kept single-frame and carrying the plane and position attributes (not part of the SC IOD, but
  harmless to readers and what lets the stack builder place the slices).
* Pixels: integers that fit int16 (or uint16) are stored exactly; floats (unless all integral
  and fitting) and wider integers are scaled into int16 with a RescaleSlope/Intercept written
  exactly as used, so every value round-trips within slope / 2.
* 2D pictures become one Secondary Capture instance, MONOCHROME2 (8 or 16 bit) or RGB, with no
  position or spacing.
* UIDs are derived from the caller's seed and the file's SHA-256, so the same file sent again is
  a duplicate and every file is its own study and series.
"""

import hashlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the library's own documented alias
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from annotator.imaging.dicom import RejectedFileError
from annotator.imaging.prepare import encode

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Formats whose pixels live in a second file, which an upload cannot pair up.
DETACHED_SUFFIXES = {
    ".nhdr": "A detached NRRD header (.nhdr) needs its data file; upload a single .nrrd.",
    ".mhd": "A MetaImage header (.mhd) needs its .raw file; upload a single .mha.",
    ".hdr": "Analyze/NIfTI pairs (.hdr/.img) are not supported; upload a single .nii or .nii.gz.",
}
_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
)
_INT16 = (-32768, 32767)
_SCALED_STEPS = 65000  # of the 65535 int16 steps: a margin for the rounded slope and intercept
_SOP_CLASS = {"CT": CTImageStorage, "MR": MRImageStorage}
_sitk: Any = sitk  # SimpleITK ships no type hints


def _suffix(name: str) -> str:
    lower = PurePosixPath(name.replace("\\", "/")).name.lower()
    if lower.endswith(".nii.gz"):
        return ".nii.gz"
    return PurePosixPath(lower).suffix


def _stem(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    suffix = _suffix(name)
    return base[: len(base) - len(suffix)] if suffix else base


def is_convertible(name: str, head: bytes = b"") -> bool:
    """Return whether a file is a non-DICOM image this module converts (or rejects clearly)."""
    suffix = _suffix(name)
    if suffix in VOLUME_SUFFIXES or suffix in PICTURE_SUFFIXES or suffix in DETACHED_SUFFIXES:
        return True
    if len(head) >= 132 and head[128:132] == b"DICM":
        return False
    is_nifti = len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00")
    return is_nifti or head.startswith(_MAGIC) or head.startswith(b"NRRD")


def convert_file(
    name: str, data: bytes, *, modality: str = "OT", uid_root_seed: bytes
) -> list[bytes]:
    """Convert one non-DICOM image file into encoded DICOM Part 10 files.

    Raises:
        RejectedFileError: with codes unsupported_format, detached_header, not_an_image,
            four_dimensional, unsupported_pixel_type or multi_page.
    """
    suffix = _suffix(name)
    if suffix in DETACHED_SUFFIXES:
        raise RejectedFileError("detached_header", DETACHED_SUFFIXES[suffix])
    digest = hashlib.sha256(data).hexdigest()
    common = _common(name, digest, modality=modality or "OT", seed=uid_root_seed)
    if suffix in PICTURE_SUFFIXES or data.startswith(_MAGIC):
        return [encode(_picture(data, common))]
    if suffix in VOLUME_SUFFIXES or is_convertible(name, data[:348]):
        return [encode(ds) for ds in _volume(data, suffix or ".nii", common)]
    raise RejectedFileError("unsupported_format", "Not a supported image format.")


def _uid(seed: bytes, digest: str, *parts: str) -> str:
    return str(generate_uid(entropy_srcs=[seed.hex(), digest, *parts]))


def _common(name: str, digest: str, *, modality: str, seed: bytes) -> dict[str, Any]:
    return {
        "modality": modality,
        "seed": seed,
        "digest": digest,
        "study": _uid(seed, digest, "study"),
        "series": _uid(seed, digest, "series"),
        "frame_of_reference": _uid(seed, digest, "frame-of-reference"),
        "patient": f"IMPORTED-{digest[:10]}",
        "description": _stem(name)[:64],
    }


def _dataset(common: dict[str, Any], sop_class: str, number: int) -> Dataset:
    sop_instance = _uid(common["seed"], common["digest"], "instance", str(number))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = common["study"]
    ds.SeriesInstanceUID = common["series"]
    ds.PatientID = common["patient"]
    ds.PatientName = common["patient"]
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = common["description"]
    ds.SeriesDescription = common["description"]
    ds.Modality = common["modality"]
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.BurnedInAnnotation = "NO"
    if sop_class == SecondaryCaptureImageStorage:
        ds.ConversionType = "WSD"
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    """Attach one frame (rows, columns[, 3]) of uint8, uint16 or int16 samples."""
    rgb = pixels.ndim == 3
    bits = pixels.dtype.itemsize * 8
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    raw = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()
    ds.PixelData = raw + b"\0" if len(raw) % 2 else raw


def _ds_number(value: float) -> float:
    """Round a number to what a 16-character DS string holds, so it is written exactly."""
    return float(f"{value:.9g}")


def _ds_text(value: float) -> str:
    return f"{value:.9g}"


def _encode_values(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Return (stored integers, slope, intercept) with stored * slope + intercept ~ values."""
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    if values.size == 0:
        return values.astype(np.int16), 1.0, 0.0
    low, high = float(values.min()), float(values.max())
    integral = values.dtype.kind in "iu" or bool(np.all(np.floor(values) == values))
    if integral and _INT16[0] <= low and high <= _INT16[1]:
        return values.astype(np.int16), 1.0, 0.0
    if integral and low >= 0 and high <= 65535:
        return values.astype(np.uint16), 1.0, 0.0
    if not np.isfinite(low) or not np.isfinite(high):
        raise RejectedFileError("unsupported_pixel_type", "The image holds NaN or infinite values.")
    intercept = _ds_number((low + high) / 2)
    slope = _ds_number((high - low) / _SCALED_STEPS) or 1.0
    scaled = np.rint((values.astype(np.float64) - intercept) / slope)
    return np.clip(scaled, *_INT16).astype(np.int16), slope, intercept


def _picture(data: bytes, common: dict[str, Any]) -> Dataset:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if getattr(image, "n_frames", 1) > 1:
                raise RejectedFileError(
                    "multi_page", "Multi-page images are not supported; upload one page a file."
                )
            image.load()
            pixels = _picture_pixels(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise RejectedFileError("not_an_image", "The picture cannot be read.") from error
    ds = _dataset(common, SecondaryCaptureImageStorage, 1)
    if pixels.dtype.kind == "f" or pixels.dtype.itemsize > 2:
        pixels, slope, intercept = _encode_values(pixels)
        ds.RescaleSlope, ds.RescaleIntercept = _ds_text(slope), _ds_text(intercept)
        ds.RescaleType = "US"
    _set_pixels(ds, pixels)
    return ds


def _picture_pixels(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGB", "L"):
        return np.asarray(image)
    if image.mode == "1":
        return np.asarray(image.convert("L"))
    if image.mode == "LA" or (image.mode == "P" and _gray_palette(image)):
        return np.asarray(image.convert("L"))
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode in ("I", "F"):
        values = np.asarray(image)
        if image.mode == "I" and values.min() >= 0 and values.max() <= 65535:
            return values.astype(np.uint16)
        return values
    return np.asarray(image.convert("RGB"))


def _gray_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    triples = zip(palette[0::3], palette[1::3], palette[2::3], strict=False)
    return all(r == g == b for r, g, b in triples)


def _read_volume(data: bytes, suffix: str) -> Any:
    with tempfile.TemporaryDirectory(prefix="convert-") as folder:
        path = Path(folder) / f"volume{suffix}"
        path.write_bytes(data)
        try:
            image = _sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise RejectedFileError("not_an_image", "The volume file cannot be read.") from error
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() > 3:
        raise RejectedFileError(
            "four_dimensional", "4D volumes (time series) are not supported; split them."
        )
    if image.GetDimension() == 2:
        image = _sitk.JoinSeries(image)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise RejectedFileError(
            "unsupported_pixel_type", "Colour or vector volumes are not supported."
        )
    return normalized_volume(image)


def normalized_volume(image: Any) -> Any:
    """Return the image flipped along k when its grid is left-handed (same physical space)."""
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    if np.linalg.det(direction) < 0:
        return _sitk.Flip(image, [False, False, True], flipAboutOrigin=False)
    return image


def _volume(data: bytes, suffix: str, common: dict[str, Any]) -> Iterator[Dataset]:
    image = _read_volume(data, suffix)
    array = _sitk.GetArrayFromImage(image)  # [k, j, i]
    stored, slope, intercept = _encode_values(array)
    sop_class = _SOP_CLASS.get(common["modality"], SecondaryCaptureImageStorage)
    spacing = image.GetSpacing()
    d = image.GetDirection()
    orientation = [d[0], d[3], d[6], d[1], d[4], d[7]]
    for k in range(stored.shape[0]):
        ds = _dataset(common, sop_class, k + 1)
        ds.FrameOfReferenceUID = common["frame_of_reference"]
        ds.PositionReferenceIndicator = ""
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        ds.ImagePositionPatient = [_ds_text(v) for v in position]
        ds.ImageOrientationPatient = [_ds_text(v) for v in orientation]
        ds.PixelSpacing = [_ds_text(spacing[1]), _ds_text(spacing[0])]
        ds.SliceThickness = _ds_text(spacing[2])
        ds.RescaleSlope = _ds_text(slope)
        ds.RescaleIntercept = _ds_text(intercept)
        if common["modality"] != "CT":
            ds.RescaleType = "US"
        if sop_class == CTImageStorage:
            ds.KVP = ""
            ds.AcquisitionNumber = 1
        elif sop_class == MRImageStorage:
            ds.ScanningSequence = "RM"
            ds.SequenceVariant = "NONE"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "3D"
            ds.EchoTime = ""
            ds.EchoTrainLength = ""
        _set_pixels(ds, stored[k])
        yield ds
