"""What a training run learns from: one ground truth per labeling task, read from the experts'
accepted work, split by patient.

The ground truth of a task is its final reference (the adjudicated annotation) when it has
one; otherwise its earliest accepted reading (accepted by a reviewer, or handed in when the
project has no review, which the workflow also marks accepted). Two readers of one task are
never both used: they saw the same images, so counting both would weight that patient twice
and, split apart, leak the patient into validation. Rejected, returned or unfinished readings,
model and imported sets and skipped tasks never count.

No torch here: the API validates a request with these reads in the web process.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Q

from annotator.core.errors import DomainError
from annotator.imaging.models import Stack
from annotator.imaging.volume import load_volume
from annotator.labeling.mask_reads import read_annotation_segments, segment_labels
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    AssignmentStatus,
    SetKind,
    TaskStatus,
)
from annotator.projects.models import Project
from annotator.projects.schema import LabelKind

#: Background slices sampled per foreground slice of a training case.
BACKGROUND_PER_FOREGROUND = 1.0
#: Background slices taken from a training case that has no foreground at all.
BACKGROUND_ONLY_SLICES = 4


class NotEnoughTrainingDataError(DomainError):
    """The project has too little accepted work on the chosen labels to train and validate."""

    code = "not_enough_training_data"


@dataclass(frozen=True)
class TrainingCase:
    """One stack with its ground truth: the mask annotations of one task's truth set."""

    task_id: int
    stack_id: int
    patient_id: int
    modality: str
    truth: str
    """"reference" or "reading": where the ground truth came from."""
    annotation_ids: tuple[int, ...]


@dataclass(frozen=True)
class CaseSplit:
    """Training and validation cases; no patient is in both."""

    train: list[TrainingCase]
    validation: list[TrainingCase]

    def summary(self) -> dict[str, int]:
        """Return the counts a model's metrics and a job's result record."""
        return {
            "train_cases": len(self.train),
            "validation_cases": len(self.validation),
            "train_patients": len({c.patient_id for c in self.train}),
            "validation_patients": len({c.patient_id for c in self.validation}),
        }


def choose_truth_sets(*, project: Project) -> dict[int, AnnotationSet]:
    """Return {task id: its ground-truth set}: the final reference, else the earliest accepted
    reading (by hand-in time)."""
    sets = (
        AnnotationSet.objects.filter(task__project=project)
        .exclude(task__status=TaskStatus.SKIPPED)
        .filter(
            Q(kind=SetKind.REFERENCE, final=True)
            | Q(kind=SetKind.READER, assignment__status=AssignmentStatus.ACCEPTED)
        )
        .order_by("task_id", "assignment__submitted_at", "pk")
    )
    chosen: dict[int, AnnotationSet] = {}
    for annotation_set in sets:
        current = chosen.get(annotation_set.task_id)
        if current is None or (
            annotation_set.kind == SetKind.REFERENCE and current.kind != SetKind.REFERENCE
        ):
            chosen[annotation_set.task_id] = annotation_set
    return chosen


def select_training_cases(*, project: Project, labels: Sequence[str]) -> list[TrainingCase]:
    """Return one case per (task, stack) whose truth set has a mask with one of `labels`.

    A truth set without such a mask is left out rather than read as "no finding": the reader
    may not have been asked for these labels, and a false negative teaches the model to miss.
    Colour stacks are left out (the network reads one grey channel).
    """
    truths = choose_truth_sets(project=project)
    wanted = set(labels)
    masks = (
        Annotation.objects.filter(
            annotation_set__in=list(truths.values()),
            kind=LabelKind.MASK,
            deleted=False,
            stack__isnull=False,
        )
        .select_related("annotation_set", "stack__series", "study")
        .order_by("annotation_set__task_id", "stack_id", "pk")
    )
    grouped: dict[tuple[int, int], list[Annotation]] = defaultdict(list)
    for mask in masks:
        if wanted & set(segment_labels(mask).values()) and mask.mask_manifest:
            grouped[(mask.annotation_set.task_id, mask.stack_id or 0)].append(mask)
    cases = []
    for (task_id, stack_id), annotations in sorted(grouped.items()):
        first = annotations[0]
        stack = first.stack
        if stack is None or not stack.volume_path or stack.dtype == "uint8":  # uint8 = colour
            continue
        cases.append(
            TrainingCase(
                task_id=task_id,
                stack_id=stack_id,
                patient_id=first.study.patient_id,
                modality=stack.series.modality,
                truth="reference" if first.annotation_set.kind == SetKind.REFERENCE else "reading",
                annotation_ids=tuple(a.pk for a in annotations),
            )
        )
    return cases


def split_by_patient(
    cases: Sequence[TrainingCase], *, validation_fraction: float = 0.2, seed: int = 0
) -> CaseSplit:
    """Put each patient's cases wholly in training or in validation (seeded, reproducible).

    Raises:
        NotEnoughTrainingDataError: fewer than two patients (one to learn from, one to check).
    """
    patients = sorted({c.patient_id for c in cases})
    if len(patients) < 2:
        raise NotEnoughTrainingDataError(
            f"Found {len(cases)} accepted case(s) from {len(patients)} patient(s) with these "
            "labels; training needs accepted masks from at least 2 patients (at least one is "
            "held out for validation).",
            field="labels",
            errors={"labels": ["Not enough accepted annotations."]},
            cases=len(cases),
            patients=len(patients),
        )
    patients = [int(p) for p in np.random.default_rng(seed).permutation(patients)]
    held_out = min(max(1, round(len(patients) * validation_fraction)), len(patients) - 1)
    validation = set(patients[:held_out])
    return CaseSplit(
        train=[c for c in cases if c.patient_id not in validation],
        validation=[c for c in cases if c.patient_id in validation],
    )


def load_case(case: TrainingCase, *, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the stack's voxels (read-only memory map, (k, j, i)) and its class map (uint8,
    0 = background, c = labels[c - 1]; where labels overlap the later one wins)."""
    stack = Stack.objects.get(pk=case.stack_id)
    voxels = load_volume(stack.volume_path)
    target = np.zeros(voxels.shape[:3], dtype=np.uint8)
    annotations = Annotation.objects.filter(pk__in=case.annotation_ids).select_related("stack")
    for annotation in annotations:
        numbers = segment_labels(annotation)
        segments = read_annotation_segments(annotation)
        for channel, label in enumerate(labels, start=1):
            for number, bits in segments.items():
                if numbers.get(number) == label:
                    target[bits] = channel
    return voxels, target


def sample_slices(target: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Return the slice indices a training case contributes: every slice with foreground and
    about as many background slices drawn at random (so the network learns to say "nothing")."""
    has_foreground = target.reshape(target.shape[0], -1).any(axis=1)
    foreground = np.flatnonzero(has_foreground)
    background = np.flatnonzero(~has_foreground)
    wanted = (
        math.ceil(len(foreground) * BACKGROUND_PER_FOREGROUND)
        if len(foreground)
        else BACKGROUND_ONLY_SLICES
    )
    picked = rng.choice(background, size=min(wanted, len(background)), replace=False)
    return np.sort(np.concatenate([foreground, picked]).astype(np.int64))


def count_by_truth(cases: Iterable[TrainingCase]) -> dict[str, int]:
    """Return how many cases came from references and from readings."""
    counts = {"reference": 0, "reading": 0}
    for case in cases:
        counts[case.truth] += 1
    return counts
