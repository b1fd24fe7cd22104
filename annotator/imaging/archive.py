"""Walk an upload (loose files and zip archives) safely, one bounded file at a time."""

import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from annotator.imaging.dicom import RejectedFileError


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds that stop zip bombs and oversized files."""

    max_file_bytes: int = 2 << 30
    max_total_bytes: int = 50 << 30
    max_ratio: float = 400.0  # uncompressed / compressed per member (blank images compress well)
    max_members: int = 200_000


@dataclass(frozen=True)
class UploadItem:
    """One file to ingest, from a loose upload or a zip member."""

    name: str
    size: int
    source: Path
    member: str | None = None  # the zip member name, when inside an archive
    # Where the member's local header starts and how it is stored, so any process can read
    # it without parsing the archive's directory again (see `read_item`).
    offset: int = -1
    compress_type: int = zipfile.ZIP_STORED
    compress_size: int = 0
    crc: int = 0
    flags: int = 0


@dataclass(frozen=True)
class SkippedItem:
    """A path that was not ingested, with the reason (reported per file)."""

    name: str
    code: str
    reason: str


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "An absolute path inside the zip."
    if ".." in path.parts:
        return "A path inside the zip escapes its folder (../)."
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "A link inside the zip."
    return None


def is_dicomdir(name: str) -> bool:
    """Return whether a path is a DICOMDIR index (tolerated, not ingested)."""
    return PurePosixPath(name.replace("\\", "/")).name.upper() == "DICOMDIR"


def walk_upload(
    files: list[tuple[str, Path]], limits: ArchiveLimits
) -> Iterator[UploadItem | SkippedItem]:
    """Yield every ingestible file of an upload, expanding zips (not nested ones) safely."""
    total = 0
    for name, path in files:
        if zipfile.is_zipfile(path):
            yield from _walk_zip(name, path, limits)
            continue
        size = path.stat().st_size
        total += size
        if is_dicomdir(name):
            yield SkippedItem(name, "dicomdir", "DICOMDIR index files are not ingested.")
        elif size > limits.max_file_bytes:
            yield SkippedItem(name, "too_large", "The file is larger than the upload limit.")
        elif total > limits.max_total_bytes:
            yield SkippedItem(name, "too_large", "The upload exceeds the total size limit.")
        else:
            yield UploadItem(name=name, size=size, source=path)


def _walk_zip(name: str, path: Path, limits: ArchiveLimits) -> Iterator[UploadItem | SkippedItem]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        yield SkippedItem(name, "bad_zip", "The zip archive is damaged.")
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            yield SkippedItem(name, "zip_bomb", "The zip has too many members.")
            return
        total = 0
        for info in members:
            if info.is_dir():
                continue
            label = f"{name}/{info.filename}"
            problem = _unsafe_member(info)
            if problem:
                yield SkippedItem(label, "unsafe_path", problem)
                continue
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if (
                info.file_size > limits.max_file_bytes
                or ratio > limits.max_ratio
                or total > limits.max_total_bytes
            ):
                yield SkippedItem(
                    label, "zip_bomb", "The member exceeds the size or compression-ratio limits."
                )
                continue
            if is_dicomdir(info.filename):
                yield SkippedItem(label, "dicomdir", "DICOMDIR index files are not ingested.")
                continue
            if info.filename.lower().endswith(".zip"):
                yield SkippedItem(label, "nested_zip", "Zips inside zips are not expanded.")
                continue
            yield UploadItem(
                name=label,
                size=info.file_size,
                source=path,
                member=info.filename,
                offset=info.header_offset,
                compress_type=info.compress_type,
                compress_size=info.compress_size,
                crc=info.CRC,
                flags=info.flag_bits,
            )


def count_items(files: list[tuple[str, Path]]) -> int:
    """Return how many files an upload holds (zip members counted), for progress totals."""
    count = 0
    for _, path in files:
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    count += sum(1 for info in archive.infolist() if not info.is_dir())
            except (zipfile.BadZipFile, OSError):
                count += 1
        else:
            count += 1
    return count


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_DIRECT = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _damaged() -> RejectedFileError:
    return RejectedFileError("bad_zip", "The zip member is damaged.")


def read_member_directly(item: UploadItem, cap: int) -> bytes:
    """Read a stored or deflated zip member from its local header offset, in any process.

    Raises:
        RejectedFileError: a damaged or encrypted member, or one expanding beyond `cap`.
    """
    if item.flags & 0x1:
        raise RejectedFileError("encrypted", "Encrypted zip members cannot be read.")
    with item.source.open("rb") as handle:
        handle.seek(item.offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size:
            raise _damaged()
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        if signature != b"PK\x03\x04":
            raise _damaged()
        handle.seek(name_length + extra_length, 1)
        payload = handle.read(item.compress_size)
    if len(payload) != item.compress_size:
        raise _damaged()
    if item.compress_type == zipfile.ZIP_STORED:
        data = payload
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            data = inflater.decompress(payload, cap + 1)
        except zlib.error as error:
            raise _damaged() from error
    if len(data) > cap:
        raise RejectedFileError("zip_bomb", "The member expands beyond its declared size.")
    if zlib.crc32(data) != item.crc:
        raise _damaged()
    return data


@dataclass(frozen=True)
class ItemRead:
    """A picklable `read()` of one upload item, for pool processes (nothing stays open)."""

    item: UploadItem
    limits: ArchiveLimits

    def __call__(self) -> bytes:
        """Return the item's bytes (see ArchiveReader.read)."""
        if self.item.member is not None and self.item.compress_type in _DIRECT:
            cap = min(max(self.item.size, 0), self.limits.max_file_bytes)
            return read_member_directly(self.item, cap)
        reader = ArchiveReader(self.limits)
        try:
            return reader.read(self.item)
        finally:
            reader.close()


class ArchiveReader:
    """Read upload items, keeping each zip open once for all its members."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self._archives: dict[Path, zipfile.ZipFile] = {}

    def read(self, item: UploadItem) -> bytes:
        """Return an item's bytes; a zip member is read with a hard cap, since its header
        may lie about its size.

        Raises:
            RejectedFileError: the member expands beyond its declared size or the limit.
        """
        if item.member is None:
            return item.source.read_bytes()
        archive = self._archives.get(item.source)
        if archive is None:
            archive = self._archives[item.source] = zipfile.ZipFile(item.source)
        cap = min(max(item.size, 0), self.limits.max_file_bytes)
        with archive.open(item.member) as member:
            data = member.read(cap + 1)
        if len(data) > cap:
            raise RejectedFileError("zip_bomb", "The member expands beyond its declared size.")
        return data

    def close(self) -> None:
        """Close the archives opened so far."""
        for archive in self._archives.values():
            archive.close()
        self._archives.clear()
