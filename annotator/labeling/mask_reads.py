"""Reads of segmentation masks: shapes, chunk listings, decoded volumes and measurements
(voxel counts and volumes come from the stored chunks' counts; nothing is decoded for them).

See annotator/labeling/masks.py for the storage layout.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models.functions import Length

from annotator.imaging.geometry import lps_affine
from annotator.imaging.models import Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.errors import InvalidAnnotationError
from annotator.labeling.mask_codec import decode_slice
from annotator.labeling.models import Annotation, MaskChunk
from annotator.projects.schema import LabelKind

Manifest = Mapping[str, Mapping[str, str]]
Shape = tuple[int, int, int]
#: Digests fetched per query when chunks are read.
FETCH_BATCH = 500


@dataclass(frozen=True)
class ChunkRef:
    """Where one stored slice of a segment is: what a GET lists and streams."""

    segment: int
    k: int
    digest: str
    length: int


# --- shapes and segments ------------------------------------------------------------------------


def mask_stack(annotation: Annotation) -> Stack:
    """Return the stack a mask annotation is drawn on.

    Raises:
        InvalidAnnotationError: the annotation is not a mask, or has no stack.
    """
    if annotation.kind != LabelKind.MASK:
        raise InvalidAnnotationError(
            f"Annotation {annotation.pk} is a {annotation.kind}, not a mask.", field="kind"
        )
    if annotation.stack is None:
        raise InvalidAnnotationError(f"Mask annotation {annotation.pk} has no stack.")
    return annotation.stack


def stack_shape(stack: Stack) -> Shape:
    """Return the voxel array shape (slices, rows, columns) of a stack."""
    columns, rows, slices = (int(n) for n in stack.size)
    return (slices, rows, columns)


def mask_shape(annotation: Annotation) -> Shape:
    """Return (slices, rows, columns) of a mask annotation's volume."""
    return stack_shape(mask_stack(annotation))


def segment_labels(annotation: Annotation) -> dict[int, str]:
    """Return {segment number: label key} of a mask annotation, by number."""
    segments = (annotation.data or {}).get("segments") or []
    return dict(sorted((int(s["number"]), str(s["label"])) for s in segments))


def voxel_volume_ml(stack: Stack) -> float:
    """Return the volume of one voxel in millilitres (tilted stacks included)."""
    return abs(float(np.linalg.det(lps_affine(stack_geometry(stack))[:3, :3]))) / 1000.0


# --- reads --------------------------------------------------------------------------------------


def load_chunks(digests: Iterable[str]) -> dict[str, bytes]:
    """Return the stored bytes of chunks by digest (missing digests are left out)."""
    wanted = sorted(set(digests))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), FETCH_BATCH):
        rows = MaskChunk.objects.filter(digest__in=wanted[start : start + FETCH_BATCH])
        found.update((digest, bytes(data)) for digest, data in rows.values_list("digest", "data"))
    return found


def manifest_entries(
    manifest: Manifest,
    *,
    segments: Iterable[int] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> list[tuple[int, int, str]]:
    """Return the (segment, k, digest) of a manifest, ordered, filtered to segments and
    start <= k < stop."""
    keep = None if segments is None else set(segments)
    entries = [
        (int(segment), int(k), digest)
        for segment, slices in manifest.items()
        if keep is None or int(segment) in keep
        for k, digest in slices.items()
        if start <= int(k) and (stop is None or int(k) < stop)
    ]
    return sorted(entries)


def read_segments(
    *,
    manifest: Manifest,
    shape: Sequence[int],
    segments: Iterable[int] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> dict[int, np.ndarray]:
    """Decode a manifest into bool volumes per segment, [k - start, j, i].

    With `start`/`stop` only slices start <= k < stop are read and decoded (the arrays hold
    stop - start slices). Segments asked for but empty come back all False; without
    `segments`, the manifest's non-empty segments come back.

    Raises:
        InvalidAnnotationError: a chunk the manifest names is missing or corrupt.
    """
    slices, rows, columns = (int(n) for n in shape)
    stop = slices if stop is None else min(stop, slices)
    start = max(start, 0)
    depth = max(stop - start, 0)
    wanted = None if segments is None else sorted(set(segments))
    entries = manifest_entries(manifest, segments=wanted, start=start, stop=stop)
    numbers = wanted if wanted is not None else sorted({s for s, _, _ in entries})
    volumes = {n: np.zeros((depth, rows, columns), dtype=bool) for n in numbers}
    data = load_chunks(d for _, _, d in entries)
    for segment, k, digest in entries:
        if digest not in data:
            raise InvalidAnnotationError(f"Mask chunk {digest[:12]} is missing from storage.")
        volumes[segment][k - start] = decode_slice(data[digest], rows, columns)
    return volumes


def read_annotation_segments(
    annotation: Annotation, *, start: int = 0, stop: int | None = None
) -> dict[int, np.ndarray]:
    """Return every segment of a mask annotation as a bool volume (empty ones all False)."""
    return read_segments(
        manifest=annotation.mask_manifest,
        shape=mask_shape(annotation),
        segments=segment_labels(annotation),
        start=start,
        stop=stop,
    )


def list_chunk_refs(
    annotation: Annotation,
    *,
    segments: Iterable[int] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> list[ChunkRef]:
    """Return the stored chunks of a mask annotation with their byte lengths (no data read)."""
    entries = manifest_entries(annotation.mask_manifest, segments=segments, start=start, stop=stop)
    lengths = _chunk_lengths(d for _, _, d in entries)
    return [ChunkRef(s, k, d, lengths.get(d, 0)) for s, k, d in entries if d in lengths]


def iter_chunk_data(refs: Sequence[ChunkRef]) -> Iterator[bytes]:
    """Yield the stored bytes of chunks in order, fetched in batches (nothing decoded)."""
    for start in range(0, len(refs), FETCH_BATCH):
        batch = refs[start : start + FETCH_BATCH]
        data = load_chunks(ref.digest for ref in batch)
        for ref in batch:
            yield data[ref.digest]


def _chunk_lengths(digests: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(digests))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), FETCH_BATCH):
        rows = (
            MaskChunk.objects.filter(digest__in=wanted[start : start + FETCH_BATCH])
            .annotate(length=Length("data"))
            .values_list("digest", "length")
        )
        found.update((digest, int(length)) for digest, length in rows)
    return found


# --- measurements -------------------------------------------------------------------------------


def measure_mask(
    *,
    manifest: Manifest,
    segments: Iterable[int],
    voxel_ml: float,
    known_voxels: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Return {"segments": {"<n>": {"voxels", "volume_ml", "slices": [kmin, kmax] or None}}}.

    Counts come from the stored chunks' `voxels` (one query; `known_voxels` skips digests
    already known); nothing is decoded.
    """
    known = dict(known_voxels or {})
    numbers = sorted(set(segments))
    missing = {
        digest
        for n in numbers
        for digest in manifest.get(str(n), {}).values()
        if digest not in known
    }
    if missing:
        known.update(MaskChunk.objects.filter(digest__in=missing).values_list("digest", "voxels"))
    result: dict[str, Any] = {}
    for n in numbers:
        slices = manifest.get(str(n), {})
        voxels = sum(known.get(digest, 0) for digest in slices.values())
        ks = [int(k) for k in slices]
        result[str(n)] = {
            "voxels": voxels,
            "volume_ml": round(voxels * voxel_ml, 6),
            "slices": [min(ks), max(ks)] if ks else None,
        }
    return {"segments": result}
