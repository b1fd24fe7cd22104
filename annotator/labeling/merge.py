"""Merge several readers' readings into a starting reference for the adjudicator.

Classifications take the majority answer (ties go to the earliest reading), multiple choice
keeps the options most readers chose, masks keep the voxels most readers marked per label,
and every other finding is pooled so the adjudicator can keep, edit or delete each one.
"""

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from annotator.accounts.models import User
from annotator.labeling.annotations import copy_annotation, create_annotation
from annotator.labeling.models import Annotation, AnnotationSet, Source
from annotator.projects.schema import LabelKind

SINGLE_ANSWER = {LabelKind.CLASSIFICATION_SINGLE, LabelKind.ORDINAL}


def merge_readings(
    *, readings: list[AnnotationSet], target: AnnotationSet, actor: User
) -> list[Annotation]:
    """Fill `target` with the merge of `readings` (see module doc); returns what was made."""
    groups: dict[tuple[str, int | None, int | None], list[Annotation]] = defaultdict(list)
    for reading in readings:
        for annotation in reading.annotations.filter(deleted=False).order_by("pk"):
            groups[(annotation.label_key, annotation.stack_id, annotation.slice_index)].append(
                annotation
            )
    made: list[Annotation] = []
    masks: dict[int | None, list[Annotation]] = defaultdict(list)
    for members in groups.values():
        kind = members[0].kind
        if kind in SINGLE_ANSWER or kind == LabelKind.CLASSIFICATION_MULTI:
            made.append(_vote(members, target, actor, len(readings)))
        elif kind == LabelKind.MASK:
            masks[members[0].stack_id].extend(members)
        elif kind != LabelKind.FREE_TEXT:
            made.extend(_pool(members, target, actor))
    for members in masks.values():
        made.append(_merge_masks(members, target, actor, len(readings)))
    return made


def _vote(
    members: list[Annotation], target: AnnotationSet, actor: User, readers: int
) -> Annotation:
    first = members[0]
    data: dict[str, Any]
    if first.kind == LabelKind.CLASSIFICATION_MULTI:
        counts = Counter(v for m in members for v in m.data.get("values", []))
        data = {"values": [v for v, n in counts.items() if n * 2 > readers]}
        chosen = first
    else:
        counts = Counter(m.data.get("value") for m in members)
        best = max(counts.values())
        value = next(m.data["value"] for m in members if counts[m.data.get("value")] == best)
        data = {"value": value}
        chosen = next(m for m in members if m.data.get("value") == value)
    return create_annotation(
        annotation_set=target,
        actor=actor,
        label_key=first.label_key,
        data=data,
        attributes=chosen.attributes,
        stack=first.stack,
        slice_index=first.slice_index,
        source=Source.HUMAN,
    )


def _pool(members: list[Annotation], target: AnnotationSet, actor: User) -> list[Annotation]:
    return [
        copy_annotation(
            original,
            target=target,
            actor=actor,
            keep_source=False,
            note=f"pooled from annotation {original.pk}",
        )
        for original in members
    ]


def _merge_masks(
    members: list[Annotation], target: AnnotationSet, actor: User, readers: int
) -> Annotation:
    """Keep, per mask label, the voxels more than half of the readings marked (a reading with
    several annotations or segments of one label votes once)."""
    from annotator.labeling.mask_reads import read_annotation_segments, segment_labels
    from annotator.labeling.masks import write_segments

    per_reading: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for annotation in members:
        names = segment_labels(annotation)
        for number, volume in read_annotation_segments(annotation).items():
            marks = per_reading[annotation.annotation_set_id]
            label = names[number]
            marks[label] = volume if label not in marks else marks[label] | volume
    votes: dict[str, np.ndarray] = {}
    for marks in per_reading.values():
        for label, volume in marks.items():
            votes[label] = votes.get(label, 0) + volume.astype(np.uint16)
    volumes = {label: count * 2 > readers for label, count in votes.items()}
    labels = sorted(volumes)
    segments: list[dict[str, Any]] = [
        {"number": n, "label": label, "attributes": {}} for n, label in enumerate(labels, start=1)
    ]
    annotation = create_annotation(
        annotation_set=target,
        actor=actor,
        label_key=labels[0],
        data={"segments": segments},
        stack=members[0].stack,
    )
    return write_segments(
        annotation=annotation,
        actor=actor,
        expected_version=annotation.version,
        segments={n: volumes[label] for n, label in enumerate(labels, start=1)},
        source=Source.HUMAN,
        note=f"voxel majority of {readers} readings",
    )
