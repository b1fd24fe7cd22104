"""Reading and validating DICOM files: pure pydicom in, plain data out (no Django)."""

from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.utils import pixel_array
from pydicom.uid import UID

# SOP classes that are not images: kept and linked to their series, never shown as images.
NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports, key object selection
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, spatial registration, fiducials, segmentation
    "1.2.840.10008.5.1.4.1.1.481.",  # radiotherapy objects (RTSTRUCT, RTPLAN, RTDOSE...)
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents (PDF, CDA, STL)
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
)
SEGMENTATION_SOP = "1.2.840.10008.5.1.4.1.1.66.4"
REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class RejectedFileError(Exception):
    """A file cannot be ingested; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_image_sop_class(sop_class_uid: str) -> bool:
    """Return whether objects of this SOP class are images (pixel data to show)."""
    if sop_class_uid == SEGMENTATION_SOP:
        return False
    return not sop_class_uid.startswith(NON_IMAGE_SOP_PREFIXES)


def read_dataset(fp: IO[bytes], *, size: int) -> Dataset:
    """Parse a whole DICOM file (Part 10, or a bare dataset that still has its UIDs).

    Raises:
        RejectedFileError: empty, not DICOM, or unreadable.
    """
    if size == 0:
        raise RejectedFileError("empty_file", "The file is empty.")
    start = fp.tell()
    try:
        return pydicom.dcmread(fp)
    except InvalidDicomError:
        fp.seek(start)
        try:  # some modalities write datasets without the Part 10 preamble
            ds = pydicom.dcmread(fp, force=True)
        except Exception as error:
            raise RejectedFileError("not_dicom", "Not a DICOM file.") from error
        if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
            raise RejectedFileError("not_dicom", "Not a DICOM file.") from None
        return ds
    except (EOFError, OSError, ValueError, KeyError, TypeError) as error:
        raise RejectedFileError("truncated", "The file is truncated or damaged.") from error


def _expected_native_bytes(ds: Dataset) -> int:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    pixels = int(ds.Rows) * int(ds.Columns) * frames * samples
    return (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)


def validate_dataset(ds: Dataset) -> bool:
    """Check the UIDs and, for images, that the pixel data is present and decodable.

    Returns whether the object is an image.

    Raises:
        RejectedFileError: with codes missing_uid, no_pixel_data, truncated,
            unsupported_transfer_syntax or undecodable_pixels.
    """
    for keyword in REQUIRED_UIDS:
        value = str(ds.get(keyword, "") or "").strip()
        if not value:
            raise RejectedFileError("missing_uid", f"{keyword} is missing.")
        if len(value) > 64 or not UID(value).is_valid:
            raise RejectedFileError("invalid_uid", f"{keyword} is not a valid UID.")
    if not is_image_sop_class(str(ds.SOPClassUID)):
        return False
    if "PixelData" not in ds or not ds.get("Rows") or not ds.get("Columns"):
        raise RejectedFileError("no_pixel_data", "An image object without pixel data.")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None or not UID(str(syntax)).is_transfer_syntax:
        raise RejectedFileError("unsupported_transfer_syntax", "Unknown transfer syntax.")
    if not UID(str(syntax)).is_compressed:
        if len(ds.PixelData) < _expected_native_bytes(ds):
            raise RejectedFileError("truncated", "The pixel data is shorter than the image.")
        return True
    try:  # decode one frame: proves a codec exists and the stream is sound, cheaply
        pixel_array(ds, index=0)
    except NotImplementedError as error:
        raise RejectedFileError(
            "unsupported_transfer_syntax", f"No decoder for transfer syntax {syntax}."
        ) from error
    except Exception as error:
        raise RejectedFileError(
            "undecodable_pixels", "The compressed pixels do not decode."
        ) from error
    return True


def _floats(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    try:
        return [
            float(v)
            for v in (
                value
                if isinstance(value, list | tuple)
                or (hasattr(value, "__iter__") and not isinstance(value, str))
                else [value]
            )
        ]
    except (TypeError, ValueError):
        return None


def _first(value: Any) -> float | None:
    values = _floats(value)
    return values[0] if values else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> date | None:
    text = str(value or "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


@dataclass(frozen=True)
class DicomHeader:
    """What the hierarchy, geometry and display need from one (stored) object."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    modality: str
    patient_id: str
    study_date: date | None
    study_time: str
    accession_number: str
    study_description: str
    series_description: str
    series_number: int | None
    instance_number: int | None
    body_part: str
    laterality: str
    view_position: str
    frame_of_reference_uid: str
    is_image: bool
    rows: int | None
    columns: int | None
    number_of_frames: int
    frame_time_ms: float | None
    photometric: str
    geometry: dict[str, Any] = field(default_factory=dict)
    display: dict[str, Any] = field(default_factory=dict)


def _windows(ds: Dataset) -> list[dict[str, Any]]:
    centers = _floats(ds.get("WindowCenter"))
    widths = _floats(ds.get("WindowWidth"))
    if not centers or not widths:
        return []
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR")
    explanations = ds.get("WindowCenterWidthExplanation", [])
    if isinstance(explanations, str):
        explanations = [explanations]
    return [
        {
            "center": c,
            "width": w,
            "function": function,
            "name": str(explanations[i]) if i < len(explanations) else "",
        }
        for i, (c, w) in enumerate(zip(centers, widths, strict=False))
        if w > 0
    ]


def extract_header(ds: Dataset, *, is_image: bool) -> DicomHeader:
    """Return the header fields the product stores, from an already validated dataset."""
    laterality = str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or "")
    frame_time = _floats(ds.get("FrameTime"))
    image_type = ds.get("ImageType", [])
    geometry: dict[str, Any] = {
        "position": _floats(ds.get("ImagePositionPatient")),
        "orientation": _floats(ds.get("ImageOrientationPatient")),
        "pixel_spacing": _floats(ds.get("PixelSpacing")) or _floats(ds.get("ImagerPixelSpacing")),
        "slice_thickness": _first(ds.get("SliceThickness")),
        "image_type": [str(v) for v in image_type]
        if not isinstance(image_type, str)
        else [image_type],
        "acquisition_number": _int(ds.get("AcquisitionNumber")),
        "gantry_tilt": _first(ds.get("GantryDetectorTilt")),
        "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "") or "") or None,
    }
    display: dict[str, Any] = {
        "photometric": str(ds.get("PhotometricInterpretation", "") or ""),
        "rescale_slope": (_floats(ds.get("RescaleSlope")) or [1.0])[0],
        "rescale_intercept": (_floats(ds.get("RescaleIntercept")) or [0.0])[0],
        "windows": _windows(ds),
        "has_voi_lut": "VOILUTSequence" in ds,
        "bits_stored": _int(ds.get("BitsStored")),
        "pixel_representation": _int(ds.get("PixelRepresentation")),
        "samples_per_pixel": _int(ds.get("SamplesPerPixel")) or 1,
    }
    return DicomHeader(
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.SOPInstanceUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        transfer_syntax_uid=str(ds.file_meta.get("TransferSyntaxUID", "")),
        modality=str(ds.get("Modality", "") or "OT"),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_date=_date(ds.get("StudyDate")),
        study_time=str(ds.get("StudyTime", "") or "")[:16],
        accession_number=str(ds.get("AccessionNumber", "") or "")[:16],
        study_description=str(ds.get("StudyDescription", "") or "")[:200],
        series_description=str(ds.get("SeriesDescription", "") or "")[:200],
        series_number=_int(ds.get("SeriesNumber")),
        instance_number=_int(ds.get("InstanceNumber")),
        body_part=str(ds.get("BodyPartExamined", "") or "")[:64],
        laterality=laterality[:8],
        view_position=str(ds.get("ViewPosition", "") or "")[:16],
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        is_image=is_image,
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        number_of_frames=_int(ds.get("NumberOfFrames")) or 1,
        frame_time_ms=frame_time[0] if frame_time else None,
        photometric=display["photometric"],
        geometry=geometry,
        display=display,
    )
