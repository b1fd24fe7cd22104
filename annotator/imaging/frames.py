"""Frames of stored DICOM files, as WADO-RS serves them: native bytes or compressed as stored.

A viewer asks for every frame of a series one request at a time, so the per-request cost is
what matters. Where a file's pixel data lies is read from its header once and kept in a small
per-process LRU (`pixel_layout`); stored files never change, so a layout keyed by the instance's
primary key and file name never goes stale. A native frame is then one seek and one read, a
compressed one a walk of the encapsulated items as stored. Only decoding (frames asked for
natively from a compressed, deflated or big-endian file) reads the whole dataset.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pydicom
from pydicom import encaps
from pydicom.pixels.utils import pack_bits, pixel_array

from annotator.imaging.dicom_pixels import FrameNotFoundError, NoPixelDataError
from annotator.imaging.dicomweb import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    is_native,
)

_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"
LAYOUT_CACHE_SIZE = 8192  # a few hundred bytes each: a handful of series per worker process


@dataclass(frozen=True)
class PixelLayout:
    """Where a file's pixel data starts and how its frames are laid out."""

    transfer_syntax: str
    frames: int
    bits: int
    frame_bytes: int
    # File offset of the PixelData value; None for deflated and big-endian files, whose frames
    # are decoded from the whole dataset.
    value_offset: int | None
    extended_offsets: tuple[bytes, bytes] | None = None

    @property
    def compressed(self) -> bool:
        """Return whether the pixel data is encapsulated (compressed)."""
        return not is_native(self.transfer_syntax)

    def check(self, numbers: list[int]) -> None:
        """Raise FrameNotFoundError unless every 1-based frame number exists."""
        if any(n > self.frames for n in numbers):
            raise FrameNotFoundError(f"This instance has {self.frames} frame(s).")


def read_pixel_layout(fp: IO[bytes]) -> PixelLayout:
    """Read a file's header (pixels skipped) and return its pixel layout.

    Raises:
        NoPixelDataError: the file has no pixel data.
    """
    ds = pydicom.dcmread(fp, stop_before_pixels=True)
    position = fp.tell()
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    frames = int(ds.get("NumberOfFrames") or 1)
    bits = int(ds.get("BitsAllocated") or 8)
    samples = int(ds.get("SamplesPerPixel") or 1)
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    frame_bytes = rows * columns * samples * bits // 8
    if syntax in (DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN):
        if not rows:  # offsets mean nothing in a deflated stream: decode these wholesale
            raise NoPixelDataError("This instance has no pixel data.")
        return PixelLayout(syntax, frames, bits, frame_bytes, None)
    head = fp.read(12)
    if head[:4] != _PIXEL_TAG_LE or not rows:
        raise NoPixelDataError("This instance has no pixel data.")
    explicit = syntax != IMPLICIT_VR_LITTLE_ENDIAN
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (bytes(ds.ExtendedOffsetTable), bytes(ds.ExtendedOffsetTableLengths))
    return PixelLayout(
        syntax, frames, bits, frame_bytes, position + (12 if explicit else 8), extended
    )


class LayoutCache:
    """A thread-safe LRU of pixel layouts (gunicorn may run threaded workers)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, PixelLayout] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> PixelLayout | None:
        """Return the layout stored under `key`, marking it recently used."""
        with self._lock:
            layout = self._items.get(key)
            if layout is not None:
                self._items.move_to_end(key)
            return layout

    def put(self, key: Hashable, layout: PixelLayout) -> None:
        """Store a layout, dropping the least recently used one past the size."""
        with self._lock:
            self._items[key] = layout
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every layout."""
        with self._lock:
            self._items.clear()


layouts = LayoutCache(LAYOUT_CACHE_SIZE)


def pixel_layout(fp: IO[bytes], key: Hashable) -> PixelLayout:
    """Return the layout of the file open as `fp`, read once per `key` and process.

    `key` must change whenever the file's content can: (instance pk, file name) does, since
    stored files are never rewritten in place.

    Raises:
        NoPixelDataError: the file has no pixel data (not cached; such requests are rare).
    """
    layout = layouts.get(key)
    if layout is None:
        layout = read_pixel_layout(fp)
        layouts.put(key, layout)
    return layout


class FrameSource:
    """The frames of one open stored file, laid out as `layout` says."""

    def __init__(self, fp: IO[bytes], layout: PixelLayout) -> None:
        self.fp = fp
        self.layout = layout

    def stored_frames(self, numbers: list[int]) -> Iterator[bytes]:
        """Yield frames as stored: compressed fragments, or native bytes."""
        layout = self.layout
        if not layout.compressed:
            yield from self.native_frames(numbers)
            return
        assert layout.value_offset is not None  # noqa: S101 - set for every encapsulated syntax
        for n in numbers:
            self.fp.seek(layout.value_offset)
            yield encaps.get_frame(
                self.fp,
                n - 1,
                number_of_frames=layout.frames,
                extended_offsets=layout.extended_offsets,
            )

    def native_frames(self, numbers: list[int]) -> Iterator[bytes]:
        """Yield frames as native little-endian bytes (decoding compressed ones)."""
        layout = self.layout
        direct = layout.transfer_syntax in (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
        if direct and layout.bits % 8 == 0 and layout.value_offset is not None:
            for n in numbers:
                self.fp.seek(layout.value_offset + (n - 1) * layout.frame_bytes)
                yield self.fp.read(layout.frame_bytes)
            return
        self.fp.seek(0)
        full = pydicom.dcmread(self.fp)
        for n in numbers:
            array = pixel_array(full, index=n - 1)
            if layout.bits == 1:
                yield pack_bits(array)
            else:
                yield np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
