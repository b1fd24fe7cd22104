"""Segmentation masks: writes of slices or whole volumes, reads, measurements, majority merge.

A mask annotation (kind "mask") lists its segments in ``data["segments"]`` (numbers 1..255,
each with a mask label); segments may overlap. The bits live in content-addressed
`MaskChunk` rows, one per segment and slice (see `mask_codec`), and
``annotation.mask_manifest = {"<segment>": {"<k>": "<digest>"}}`` names them; empty slices are
absent. A revision copies the manifest, never the bits, so a brush stroke writes only the
slices it touched and restoring an old revision needs no chunk to be rewritten. Chunks are
never deleted here: every revision may still name them.

Arrays are bool, indexed [k, j, i] = (slice, row, column) like the voxel cache.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from annotator.accounts.models import User
from annotator.imaging.models import Stack
from annotator.labeling.annotations import commit_annotation_change, lock_annotation
from annotator.labeling.errors import InvalidAnnotationError
from annotator.labeling.mask_codec import (
    chunk_digest,
    count_voxels,
    decode_slice,
    encode_slice,
)
from annotator.labeling.mask_reads import (
    FETCH_BATCH,
    Shape,
    load_chunks,
    manifest_entries,
    mask_shape,
    mask_stack,
    measure_mask,
    segment_labels,
    stack_shape,
    voxel_volume_ml,
)
from annotator.labeling.models import Annotation, MaskChunk, Source
from annotator.labeling.reading import note_edit
from annotator.projects.schema import LabelKind


@dataclass(frozen=True)
class _Chunk:
    data: bytes
    digest: str
    voxels: int


# --- writes -------------------------------------------------------------------------------------


def _prepare(
    chunks: Sequence[tuple[int, int, bytes]], shape: Shape
) -> dict[tuple[int, int], _Chunk | None]:
    """Decode, check and canonically re-encode the sent slices (None: clear the slice)."""
    slices, rows, columns = shape
    prepared: dict[tuple[int, int], _Chunk | None] = {}
    for n, (segment, k, data) in enumerate(chunks):
        if (segment, k) in prepared:
            raise InvalidAnnotationError(
                f"Segment {segment} slice {k} is sent twice.", field=f"chunks.{n}"
            )
        if not 0 <= k < slices:
            raise InvalidAnnotationError(
                f"Slice k={k} is outside the volume (0 to {slices - 1}).", field=f"chunks.{n}.k"
            )
        try:
            bits = decode_slice(data, rows, columns)
        except InvalidAnnotationError as error:
            raise InvalidAnnotationError(
                f"Segment {segment} slice {k}: {error.message}", field=f"chunks.{n}.data"
            ) from error
        prepared[(segment, k)] = _encoded(bits)
    return prepared


def _encoded(bits: np.ndarray) -> _Chunk | None:
    data = encode_slice(bits)
    if not data:
        return None
    return _Chunk(data=data, digest=chunk_digest(data), voxels=count_voxels(bits))


def _check_segments(annotation: Annotation, numbers: Iterable[int]) -> dict[int, str]:
    labels = segment_labels(annotation)
    unknown = sorted(set(numbers) - set(labels))
    if unknown:
        raise InvalidAnnotationError(
            f"Segment(s) {unknown} are not in this annotation's segments {sorted(labels)}.",
            field="segments",
        )
    return labels


def _store(chunks: Iterable[_Chunk | None]) -> dict[str, int]:
    """Insert chunks not stored yet; return {digest: voxels} of those given."""
    unique = {c.digest: c for c in chunks if c is not None}
    MaskChunk.objects.bulk_create(
        [MaskChunk(digest=c.digest, data=c.data, voxels=c.voxels) for c in unique.values()],
        ignore_conflicts=True,
        batch_size=FETCH_BATCH,
    )
    return {digest: c.voxels for digest, c in unique.items()}


def _lock_mask(
    annotation: Annotation, expected_version: int, actor: User | None, source: str
) -> Annotation:
    locked = lock_annotation(annotation_id=annotation.pk, expected_version=expected_version)
    if locked.kind != LabelKind.MASK:
        raise InvalidAnnotationError(f"Annotation {locked.pk} is not a mask.", field="kind")
    if locked.deleted:
        raise InvalidAnnotationError(
            f"Annotation {locked.pk} is deleted; restore it before editing its mask."
        )
    if actor is not None and source == Source.HUMAN:  # as create_annotation does
        note_edit(annotation_set=locked.annotation_set, actor=actor)
    return locked


def _commit(
    locked: Annotation,
    manifest: dict[str, dict[str, str]],
    *,
    known: Mapping[str, int],
    stack: Stack,
    actor: User | None,
    source: str,
    model_version: str,
    note: str,
) -> Annotation:
    locked.stack = stack  # already loaded: spares callers a query
    locked.mask_manifest = manifest
    locked.measurements = measure_mask(
        manifest=manifest,
        segments=segment_labels(locked),
        voxel_ml=voxel_volume_ml(stack),
        known_voxels=known,
    )
    commit_annotation_change(
        locked, actor=actor, source=source, model_version=model_version, note=note
    )
    return locked


def apply_mask_patch(
    *,
    annotation: Annotation,
    actor: User | None,
    expected_version: int,
    chunks: Sequence[tuple[int, int, bytes]],
    source: str = Source.HUMAN,
    model_version: str = "",
    shape: Sequence[int] | None = None,
    replace: bool = False,
    note: str = "",
) -> Annotation:
    """Replace exactly the listed (segment, k, encoded slice) of a mask; b"" clears a slice.

    Slices not listed keep their stored chunks (with `replace`, they become empty); only new
    slice contents are written. `shape`, when given, is the (slices, rows, columns) the sender
    assumed.

    Raises:
        StaleVersionError: the annotation is no longer at `expected_version`.
        InvalidAnnotationError: not a mask, deleted, wrong shape, a slice outside the volume,
            a segment not in the annotation, or a chunk that does not decode to rows x columns.
        NotAllowedError, WorkflowError: the actor may not edit this annotation set now.
    """
    stack = mask_stack(annotation)
    volume = stack_shape(stack)
    if shape is not None and tuple(int(n) for n in shape) != volume:
        raise InvalidAnnotationError(
            f"The mask shape {list(shape)} does not match the volume "
            f"[slices, rows, columns] = {list(volume)}.",
            field="shape",
        )
    prepared = _prepare(chunks, volume)  # the CPU work, before any row is locked
    with transaction.atomic():
        locked = _lock_mask(annotation, expected_version, actor, source)
        labels = _check_segments(locked, {segment for segment, _ in prepared})
        manifest = {
            segment: dict(slices)
            for segment, slices in ({} if replace else locked.mask_manifest).items()
            if int(segment) in labels
        }
        for (segment, k), chunk in prepared.items():
            slices = manifest.setdefault(str(segment), {})
            if chunk is None:
                slices.pop(str(k), None)
            else:
                slices[str(k)] = chunk.digest
        manifest = {segment: slices for segment, slices in manifest.items() if slices}
        known = _store(prepared.values())
        return _commit(
            locked,
            manifest,
            known=known,
            stack=stack,
            actor=actor,
            source=source,
            model_version=model_version,
            note=note,
        )


def write_segments(
    *,
    annotation: Annotation,
    actor: User | None,
    expected_version: int,
    segments: Mapping[int, np.ndarray],
    source: str,
    model_version: str = "",
    note: str = "",
) -> Annotation:
    """Replace every bit of a mask with bool volumes (slices, rows, columns) per segment;
    segments of the annotation left out become empty (model predictions, label import).

    Raises:
        StaleVersionError: the annotation is no longer at `expected_version`.
        InvalidAnnotationError: not a mask, a volume of the wrong shape or type, or a segment
            not in the annotation.
        NotAllowedError, WorkflowError: the actor may not edit this annotation set now.
    """
    stack = mask_stack(annotation)
    volume = stack_shape(stack)
    encoded: dict[int, dict[int, _Chunk]] = {}
    for segment, array in segments.items():
        if not isinstance(array, np.ndarray) or array.dtype != np.bool_:
            raise InvalidAnnotationError(
                f"Segment {segment} must be a bool array.", field=f"segments.{segment}"
            )
        if array.shape != volume:
            raise InvalidAnnotationError(
                f"Segment {segment} has shape {list(array.shape)}; the volume is "
                f"[slices, rows, columns] = {list(volume)}.",
                field=f"segments.{segment}",
            )
        filled = np.flatnonzero(array.any(axis=(1, 2)))
        encoded[int(segment)] = {
            int(k): chunk for k in filled if (chunk := _encoded(array[k])) is not None
        }
    with transaction.atomic():
        locked = _lock_mask(annotation, expected_version, actor, source)
        _check_segments(locked, encoded)
        manifest = {
            str(segment): {str(k): chunk.digest for k, chunk in slices.items()}
            for segment, slices in encoded.items()
            if slices
        }
        known = _store(chunk for slices in encoded.values() for chunk in slices.values())
        return _commit(
            locked,
            manifest,
            known=known,
            stack=stack,
            actor=actor,
            source=source,
            model_version=model_version,
            note=note,
        )


# --- merge --------------------------------------------------------------------------------------


def merge_masks(
    annotations: Sequence[Annotation], *, min_agreement: float = 0.5
) -> dict[str, np.ndarray]:
    """Majority-vote several readers' masks of one stack into one bool volume per label key.

    A voxel is set for a label when more than `min_agreement` of the annotations have a
    segment of that label there (a reader's segments of one label count once).

    Raises:
        InvalidAnnotationError: no annotations, not all masks of the same stack, or
            `min_agreement` outside [0, 1).
    """
    if not annotations:
        raise InvalidAnnotationError("Merging needs at least one mask annotation.")
    if not 0.0 <= min_agreement < 1.0:
        raise InvalidAnnotationError("min_agreement must be in [0, 1).", field="min_agreement")
    stacks = {mask_stack(a).pk for a in annotations}
    if len(stacks) != 1:
        raise InvalidAnnotationError("Only masks drawn on the same stack can be merged.")
    slices, rows, columns = mask_shape(annotations[0])
    # uint8 votes: at most 255 readers, far above any reading design
    votes: dict[str, np.ndarray] = {}
    data = load_chunks(
        digest
        for a in annotations
        for segment_slices in a.mask_manifest.values()
        for digest in segment_slices.values()
    )
    for annotation in annotations:
        labels = segment_labels(annotation)
        union: dict[str, dict[int, np.ndarray]] = {}
        for label in labels.values():
            votes.setdefault(label, np.zeros((slices, rows, columns), dtype=np.uint8))
            union.setdefault(label, {})
        for segment, k, digest in manifest_entries(annotation.mask_manifest, segments=labels):
            if digest not in data:
                raise InvalidAnnotationError(f"Mask chunk {digest[:12]} is missing from storage.")
            bits = decode_slice(data[digest], rows, columns)
            per_label = union[labels[segment]]
            per_label[k] = per_label[k] | bits if k in per_label else bits
        for label, by_k in union.items():
            for k, bits in by_k.items():
                votes[label][k] += bits
    needed = min_agreement * len(annotations)
    return {label: count > needed for label, count in sorted(votes.items())}
