"""Read what WADO-RS serves out of stored DICOM files: metadata, bulk data, transcodes.

Everything reads a file object positioned at its start and never loads pixel data it does not
need: metadata stops before the pixels. Only transcoding reads a whole file. Frames are served
by `annotator.imaging.frames`.
"""

import io
from collections.abc import Callable
from typing import IO, Any

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from annotator.core.errors import NotFoundError
from annotator.imaging.dicomweb import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

BULK_DATA_THRESHOLD = 1024  # larger binary values become BulkDataURIs (pydicom's default)
PIXEL_DATA = "7FE00010"
AVAILABLE_TRANSFER_SYNTAX = "00083002"
_PIXEL_TAG = {"<": b"\xe0\x7f\x10\x00", ">": b"\x7f\xe0\x00\x10"}
_BYTES_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


class NoPixelDataError(NotFoundError):
    """The instance has no pixel data."""

    code = "no_pixel_data"


class FrameNotFoundError(NotFoundError):
    """A frame number beyond the instance's frames."""

    code = "frame_not_found"


class BulkDataNotFoundError(NotFoundError):
    """A bulk data path that names no binary value."""

    code = "bulk_data_not_found"


def _header(fp: IO[bytes]) -> tuple[Dataset, int]:
    """Read the dataset up to the pixel data; return it and the file offset of 7FE0,0010."""
    ds = pydicom.dcmread(fp, stop_before_pixels=True)
    return ds, fp.tell()


def _bulk_paths(ds: Dataset, prefix: str = "") -> dict[int, str]:
    """Map id(element) of binary elements to their bulk data path (tag[/item/tag]...)."""
    paths: dict[int, str] = {}
    for elem in ds:
        path = f"{prefix}{elem.tag:08X}"
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value):
                paths.update(_bulk_paths(item, f"{path}/{index}/"))
        else:
            paths[id(elem)] = path
    return paths


def instance_metadata(fp: IO[bytes], *, bulk_url: str, transfer_syntax: str) -> dict[str, Any]:
    """Return an instance's DICOM JSON; pixel data and binary values above 1 KiB become
    BulkDataURIs under `bulk_url`, and AvailableTransferSyntaxUID says how it is stored."""
    ds, _ = _header(fp)
    head = fp.read(12)
    paths: dict[int, str] = {}

    def bulk_uri(elem: DataElement) -> str:
        if not paths:
            paths.update(_bulk_paths(ds))
        return f"{bulk_url}/{paths.get(id(elem), f'{elem.tag:08X}')}"

    data: dict[str, Any] = ds.to_json_dict(
        bulk_data_threshold=BULK_DATA_THRESHOLD, bulk_data_element_handler=bulk_uri
    )
    bits = int(ds.get("BitsAllocated") or 8)
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        has_pixels, vr = "Rows" in ds, "OW" if bits > 8 else "OB"
    elif transfer_syntax == EXPLICIT_VR_BIG_ENDIAN:
        has_pixels, vr = head[:4] == _PIXEL_TAG[">"], head[4:6].decode("latin-1")
    else:
        has_pixels = head[:4] == _PIXEL_TAG["<"]
        explicit = transfer_syntax != IMPLICIT_VR_LITTLE_ENDIAN
        vr = head[4:6].decode("latin-1") if explicit else ("OW" if bits > 8 else "OB")
    if has_pixels:
        data[PIXEL_DATA] = {
            "vr": vr if vr in _BYTES_VRS else "OB",
            "BulkDataURI": f"{bulk_url}/{PIXEL_DATA}",
        }
    data[AVAILABLE_TRANSFER_SYNTAX] = {"vr": "UI", "Value": [transfer_syntax]}
    return dict(sorted(data.items()))


def read_bulk_data(fp: IO[bytes], path: str) -> bytes:
    """Return the stored bytes of the binary value at `path` ("tag" or "tag/item/tag"...).

    Raises:
        BulkDataNotFoundError: the path is malformed or names no binary value.
    """
    steps = path.strip("/").split("/")
    missing = BulkDataNotFoundError("No bulk data at this path.")
    if len(steps) % 2 == 0:
        raise missing
    try:
        tags = [int(step, 16) for step in steps[::2]]
        items = [int(step) for step in steps[1::2]]
    except ValueError as error:
        raise missing from error
    ds: Dataset = pydicom.dcmread(fp, stop_before_pixels=tags[0] < 0x7FE00000)
    for tag, item in zip(tags, items, strict=False):
        if tag not in ds or ds[tag].VR != "SQ":
            raise missing
        sequence: Sequence = ds[tag].value
        if not 0 <= item < len(sequence):
            raise missing
        ds = sequence[item]
    if tags[-1] not in ds:
        raise missing
    elem = ds.get_item(tags[-1])
    if not isinstance(elem, RawDataElement | DataElement):
        raise missing
    vr = str(elem.VR or dictionary_VR(tags[-1]))
    if not isinstance(elem.value, bytes) or not _BYTES_VRS & set(vr.split(" or ")):
        raise missing
    return elem.value


def transcoder(target: str | None) -> Callable[[IO[bytes]], bytes] | None:
    """Return a function that rewrites a stored file in `target` syntax (None: no rewrite).

    Only Explicit VR Little Endian is a target: compressed files are decoded, implicit and
    deflated ones re-encoded.
    """
    if target is None:
        return None

    def to_explicit_little_endian(fp: IO[bytes]) -> bytes:
        ds = pydicom.dcmread(fp)
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress()
        ds.file_meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()

    return to_explicit_little_endian
