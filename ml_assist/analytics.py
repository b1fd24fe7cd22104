"""Correction analytics: how much the experts changed what a model version pre-annotated.

For one model version, over the tasks it pre-annotated successfully that are now done:

- accepted unchanged: of the findings copied from the model's set into readings that were
  handed in (submitted or accepted), the share still as the model left them: not deleted and
  either still of source "model" (any human edit makes a revision of source "human") or with
  the same geometry, attributes and mask bits as the model's (an edit undone by hand).
- overlap per mask label (and stack) between the model's set and the task's truth: the final
  reference when there is one, else the first accepted reading. Dice = 2|A∩B| / (|A| + |B|);
  HD95 = the 95th percentile of the symmetric surface distances in mm (distances from every
  surface voxel of A to the surface of B and from B to A, pooled; distance maps use the
  stack's spacing). Empty masks: when neither side has the label the case is left out; when
  one side is empty Dice is 0 and HD95 undefined (the case counts as `missed` or `spurious`,
  not in the HD95 figures).
- editing time: `active_seconds` of handed-in readings that started from this model's sets,
  against handed-in readings in the project that started blank (no model set behind them).
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK

from annotator.imaging.models import Stack
from annotator.labeling.mask_reads import read_annotation_segments, segment_labels
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    AssignmentStatus,
    SetKind,
    Source,
    TaskStatus,
)
from annotator.labeling.task_state import HANDED_IN
from annotator.projects.schema import LabelKind
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel

sitk: Any = SimpleITK  # SimpleITK ships no type hints

#: Voxels of margin kept around both masks when they are cropped for the distance maps.
_CROP_MARGIN = 2


# --- overlap of two masks (pure) ----------------------------------------------------------------


def dice(a: np.ndarray, b: np.ndarray) -> float | None:
    """Return the Dice coefficient of two bool arrays, None when both are empty."""
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return None
    return 2.0 * int(np.count_nonzero(a & b)) / total


def _surface(mask: Any) -> Any:
    return sitk.LabelContour(mask, fullyConnected=False)


def _surface_distances(a: Any, b: Any) -> np.ndarray:
    """Distances (mm) from every surface voxel of `a` to the nearest surface voxel of `b`."""
    # The signed map of b's one-voxel-thick surface is <= 0 on it and the distance to it
    # elsewhere; clipping at 0 gives the unsigned distance to the surface.
    signed = sitk.SignedMaurerDistanceMap(
        _surface(b), insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    to_b = np.maximum(sitk.GetArrayViewFromImage(signed), 0.0)
    on_a = sitk.GetArrayFromImage(_surface(a)) > 0
    distances: np.ndarray = to_b[on_a]
    return distances


def hd95(a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]) -> float | None:
    """Return the 95th percentile of the symmetric surface distances in mm.

    `a` and `b` are bool arrays in (k, j, i) or (j, i) order and `spacing` the matching
    (i, j[, k]) spacing in mm (SimpleITK order). None when either mask is empty.
    """
    if not a.any() or not b.any():
        return None
    both = a | b
    box = tuple(
        slice(max(int(idx.min()) - _CROP_MARGIN, 0), int(idx.max()) + _CROP_MARGIN + 1)
        for idx in np.nonzero(both)
    )
    images = []
    for mask in (a, b):
        image = sitk.GetImageFromArray(np.ascontiguousarray(mask[box], dtype=np.uint8))
        image.SetSpacing([float(s) for s in spacing[: mask.ndim]])
        images.append(image)
    pooled = np.concatenate(
        [_surface_distances(images[0], images[1]), _surface_distances(images[1], images[0])]
    )
    return float(np.percentile(pooled, 95))


# --- per model version --------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelOverlap:
    """Dice and HD95 of one mask label over the compared cases (task and stack)."""

    label: str
    cases: int
    dice_mean: float | None
    dice_median: float | None
    hd95_mean_mm: float | None
    hd95_median_mm: float | None
    hd95_cases: int
    missed: int
    """Cases where the truth has the label and the model had nothing."""
    spurious: int
    """Cases where the model drew the label and the truth has nothing."""


@dataclass(frozen=True)
class EditingTime:
    """Active seconds of handed-in readings."""

    readings: int
    median_seconds: float | None
    mean_seconds: float | None


@dataclass(frozen=True)
class ModelAnalytics:
    """How the experts corrected one model version's pre-annotations."""

    model_id: int
    tag: str
    tasks_predicted: int
    tasks_done: int
    tasks_compared: int
    findings_seeded: int
    findings_unchanged: int
    accepted_unchanged_share: float | None
    labels: list[LabelOverlap]
    editing_with_model: EditingTime
    editing_without_model: EditingTime


@dataclass
class _Cases:
    dice: list[float] = field(default_factory=list)
    hd95: list[float] = field(default_factory=list)
    missed: int = 0
    spurious: int = 0


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _editing(seconds: Iterable[float]) -> EditingTime:
    values = [float(s) for s in seconds]
    return EditingTime(
        readings=len(values), median_seconds=_median(values), mean_seconds=_mean(values)
    )


def _unchanged(copy: Annotation, original: Annotation) -> bool:
    if copy.deleted:
        return False
    if copy.source == Source.MODEL:
        return True
    return (copy.data, copy.attributes, copy.mask_manifest) == (
        original.data,
        original.attributes,
        original.mask_manifest,
    )


def _label_volumes(annotation_set: AnnotationSet) -> dict[tuple[int, str], np.ndarray]:
    """Return {(stack id, label key): bool volume} of a set's live mask findings."""
    volumes: dict[tuple[int, str], np.ndarray] = {}
    masks = annotation_set.annotations.filter(
        deleted=False, kind=LabelKind.MASK, stack__isnull=False
    ).select_related("stack")
    for annotation in masks:
        labels = segment_labels(annotation)
        for number, volume in read_annotation_segments(annotation).items():
            key = (int(annotation.stack_id or 0), labels.get(number, annotation.label_key))
            volumes[key] = volumes[key] | volume if key in volumes else volume
    return volumes


def _truth_set(task_id: int) -> AnnotationSet | None:
    """The task's final reference, else its first accepted reading."""
    sets = AnnotationSet.objects.filter(task_id=task_id)
    reference = sets.filter(kind=SetKind.REFERENCE, final=True).first()
    if reference is not None:
        return reference
    return (
        sets.filter(kind=SetKind.READER, assignment__status=AssignmentStatus.ACCEPTED)
        .order_by("assignment__submitted_at", "pk")
        .first()
    )


def _compare(model_set: AnnotationSet, truth: AnnotationSet, cases: dict[str, _Cases]) -> None:
    predicted, expected = _label_volumes(model_set), _label_volumes(truth)
    stack_ids = {stack_id for stack_id, _ in (*predicted, *expected)}
    spacings = {
        pk: tuple(float(s) for s in spacing)
        for pk, spacing in Stack.objects.filter(pk__in=stack_ids).values_list("pk", "spacing")
    }
    for key in sorted(set(predicted) | set(expected)):
        stack_id, label = key
        a, b = predicted.get(key), expected.get(key)
        a_any, b_any = a is not None and a.any(), b is not None and b.any()
        if not a_any and not b_any:
            continue
        entry = cases[label]
        if a is None or b is None or not a_any or not b_any:
            entry.dice.append(0.0)
            if b_any:
                entry.missed += 1
            else:
                entry.spurious += 1
            continue
        entry.dice.append(dice(a, b) or 0.0)
        distance = hd95(a, b, spacings[stack_id])
        if distance is not None:
            entry.hd95.append(distance)


def model_analytics(*, model: RegisteredModel) -> ModelAnalytics:
    """Measure how the experts corrected one model version's pre-annotations (see the module
    docstring for every definition)."""
    predictions = Prediction.objects.filter(
        model=model, status=PredictionStatus.SUCCEEDED, annotation_set__isnull=False
    )
    done = list(predictions.filter(task__status=TaskStatus.DONE).select_related("annotation_set"))
    model_sets = [p.annotation_set for p in done if p.annotation_set is not None]
    copies = (
        Annotation.objects.filter(
            copied_from__annotation_set__in=model_sets,
            annotation_set__kind=SetKind.READER,
            annotation_set__assignment__status__in=HANDED_IN,
        )
        .select_related("copied_from")
        .order_by("pk")
    )
    seeded = unchanged = 0
    for copy in copies:
        if copy.copied_from is None:
            continue
        seeded += 1
        unchanged += _unchanged(copy, copy.copied_from)
    cases: dict[str, _Cases] = defaultdict(_Cases)
    compared = 0
    for model_set in model_sets:
        truth = _truth_set(model_set.task_id)
        if truth is not None:
            compared += 1
            _compare(model_set, truth, cases)
    readings = AnnotationSet.objects.filter(
        task__project_id=model.project_id,
        kind=SetKind.READER,
        assignment__status__in=HANDED_IN,
    )
    with_model = readings.filter(based_on__in=model_sets).values_list(
        "assignment__active_seconds", flat=True
    )
    without_model = readings.filter(based_on__isnull=True).values_list(
        "assignment__active_seconds", flat=True
    )
    return ModelAnalytics(
        model_id=model.pk,
        tag=model.tag,
        tasks_predicted=predictions.count(),
        tasks_done=len(done),
        tasks_compared=compared,
        findings_seeded=seeded,
        findings_unchanged=unchanged,
        accepted_unchanged_share=unchanged / seeded if seeded else None,
        labels=[
            LabelOverlap(
                label=label,
                cases=len(entry.dice),
                dice_mean=_mean(entry.dice),
                dice_median=_median(entry.dice),
                hd95_mean_mm=_mean(entry.hd95),
                hd95_median_mm=_median(entry.hd95),
                hd95_cases=len(entry.hd95),
                missed=entry.missed,
                spurious=entry.spurious,
            )
            for label, entry in sorted(cases.items())
        ],
        editing_with_model=_editing(s for s in with_model if s is not None),
        editing_without_model=_editing(s for s in without_model if s is not None),
    )
