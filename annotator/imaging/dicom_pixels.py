"""Read what WADO-RS serves out of stored DICOM files: metadata, frames, bulk data, transcodes.

Everything reads a file object positioned at its start and never loads pixel data it does not
need: metadata stops before the pixels; a native frame is one seek and one read; a compressed
frame is cut out of the encapsulated fragments as stored. Only decoding (frames asked for
natively from a compressed file) and transcoding read a whole file.
"""

import io
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import pydicom
from pydicom import encaps
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pack_bits, pixel_array
from pydicom.sequence import Sequence
from pydicom.uid import UID

from annotator.core.errors import NotFoundError
from annotator.imaging.dicomweb import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    is_native,
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


class FrameSource:
    """The frames of one stored file; checks frame numbers before anything is streamed.

    Raises:
        NoPixelDataError: the file has no pixel data.
    """

    def __init__(self, fp: IO[bytes]) -> None:
        self.fp = fp
        self.ds, position = _header(fp)
        self.transfer_syntax = str(self.ds.file_meta.get("TransferSyntaxUID", ""))
        self.frames = int(self.ds.get("NumberOfFrames") or 1)
        self.bits = int(self.ds.get("BitsAllocated") or 8)
        samples = int(self.ds.get("SamplesPerPixel") or 1)
        rows, columns = int(self.ds.get("Rows") or 0), int(self.ds.get("Columns") or 0)
        self.frame_bytes = rows * columns * samples * self.bits // 8
        self.value_offset: int | None = None
        if self.transfer_syntax in (DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN):
            if not rows:  # offsets mean nothing in a deflated stream: decode these wholesale
                raise NoPixelDataError("This instance has no pixel data.")
            return
        head = fp.read(12)
        if head[:4] != _PIXEL_TAG["<"] or not rows:
            raise NoPixelDataError("This instance has no pixel data.")
        explicit = self.transfer_syntax != IMPLICIT_VR_LITTLE_ENDIAN
        self.value_offset = position + (12 if explicit else 8)

    @property
    def compressed(self) -> bool:
        """Return whether the pixel data is encapsulated (compressed)."""
        return not is_native(self.transfer_syntax)

    def check(self, numbers: list[int]) -> None:
        """Raise FrameNotFoundError unless every 1-based frame number exists."""
        if any(n > self.frames for n in numbers):
            raise FrameNotFoundError(f"This instance has {self.frames} frame(s).")

    def stored_frames(self, numbers: list[int]) -> Iterator[bytes]:
        """Yield frames as stored: compressed fragments, or native bytes."""
        if not self.compressed:
            yield from self.native_frames(numbers)
            return
        assert self.value_offset is not None  # noqa: S101 - set for every encapsulated syntax
        extended = None
        if "ExtendedOffsetTable" in self.ds and "ExtendedOffsetTableLengths" in self.ds:
            extended = (self.ds.ExtendedOffsetTable, self.ds.ExtendedOffsetTableLengths)
        for n in numbers:
            self.fp.seek(self.value_offset)
            yield encaps.get_frame(
                self.fp, n - 1, number_of_frames=self.frames, extended_offsets=extended
            )

    def native_frames(self, numbers: list[int]) -> Iterator[bytes]:
        """Yield frames as native little-endian bytes (decoding compressed ones)."""
        direct = self.transfer_syntax in (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
        if direct and self.bits % 8 == 0 and self.value_offset is not None:
            for n in numbers:
                self.fp.seek(self.value_offset + (n - 1) * self.frame_bytes)
                yield self.fp.read(self.frame_bytes)
            return
        self.fp.seek(0)
        full = pydicom.dcmread(self.fp)
        for n in numbers:
            array = pixel_array(full, index=n - 1)
            if self.bits == 1:
                yield pack_bits(array)
            else:
                yield np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


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
