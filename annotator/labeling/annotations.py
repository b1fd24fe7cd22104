"""Writes of annotations: every save is a revision; every edit names the version it started from.

`lock_annotation` and `commit_annotation_change` are the two primitives every writer uses
(the mask and import services included), so revisions and concurrency work the same way for
every kind.
"""

from typing import Any

from django.db import transaction
from django.db.models import F

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import ConflictError, NotFoundError
from annotator.core.versions import lock_version
from annotator.imaging.models import Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.errors import InvalidAnnotationError, NotAllowedError
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    Comment,
    LabelingTask,
    Source,
    TaskUnit,
)
from annotator.labeling.reading import note_edit
from annotator.labeling.shapes import measure, validate_attributes, validate_data
from annotator.projects.access import Action, can
from annotator.projects.models import LabelSchema
from annotator.projects.schema import GEOMETRIC_KINDS, LabelKind, LabelScope
from annotator.projects.selectors import get_current_label_schema
from annotator.projects.services import mark_label_schema_in_use

_FOREIGN_KEYS = [
    "project",
    "annotation_set",
    "study",
    "series",
    "stack",
    "copied_from",
    "created_by",
    "updated_by",
]
# One answer per label, reading and target: a second one would count twice in a vote.
SINGLE_ANSWER_KINDS = {
    LabelKind.CLASSIFICATION_SINGLE,
    LabelKind.CLASSIFICATION_MULTI,
    LabelKind.ORDINAL,
}
REVISION_FIELDS = ("data", "attributes", "measurements", "mask_manifest", "deleted")


def lock_annotation(*, annotation_id: int, expected_version: int | None) -> Annotation:
    """Return the annotation locked for update (call inside a transaction).

    Raises:
        StaleVersionError: `expected_version` is not the stored version (carries the current).
    """
    return lock_version(
        Annotation.objects.all(),
        pk=annotation_id,
        expected_version=expected_version,
        what=f"Annotation {annotation_id}",
    )


def commit_annotation_change(
    annotation: Annotation,
    *,
    actor: User | None,
    source: str = Source.HUMAN,
    model_version: str = "",
    note: str = "",
    created: bool = False,
) -> Annotation:
    """Save a (locked or new) annotation, append its next revision and bump its set's version.

    The caller sets the new field values first. Call inside a transaction.
    """
    if created:
        annotation.version = 1
        annotation.created_by = actor
    else:
        annotation.version += 1
    annotation.updated_by = actor
    annotation.source = source
    annotation.model_version = model_version
    # The foreign keys come from locked rows or the caller's checks: skip a query per key.
    annotation.full_clean(exclude=_FOREIGN_KEYS, validate_constraints=False)
    annotation.save()
    AnnotationRevision.objects.create(
        annotation=annotation,
        number=annotation.version,
        author=actor,
        source=source,
        model_version=model_version,
        schema_version=annotation.schema_version,
        note=note[:200],
        **{field: getattr(annotation, field) for field in REVISION_FIELDS},
    )
    AnnotationSet.objects.filter(pk=annotation.annotation_set_id).update(version=F("version") + 1)
    schema = LabelSchema.objects.get(
        project_id=annotation.project_id, version=annotation.schema_version
    )
    if not schema.in_use:
        mark_label_schema_in_use(schema=schema, actor=actor)
    return annotation


def revision_state(revision: AnnotationRevision) -> dict[str, Any]:
    """Return the stored fields of a revision, as they would be set on the annotation."""
    return {field: getattr(revision, field) for field in REVISION_FIELDS}


def audit_annotation(annotation: Annotation, *, actor: User | None, action: str) -> None:
    """Record an annotation write in the audit log (ids and versions only, no geometry)."""
    record_event(
        actor=actor,
        action=action,
        obj=annotation,
        project=annotation.project,
        changes={"version": [annotation.version - 1 or None, annotation.version]},
    )


class DuplicateAnswerError(ConflictError):
    """The reading already answers this question; edit that answer instead (409)."""

    code = "duplicate_answer"


# --- where a finding sits -------------------------------------------------------------------------


def _labels(schema: LabelSchema) -> dict[str, dict[str, Any]]:
    return {label["key"]: label for label in schema.labels}


def _placement(
    task: LabelingTask, label: dict[str, Any], stack: Stack | None, slice_index: int | None
) -> tuple[str, Stack | None, int | None, int | None]:
    """Return (scope, stack, k, series id) for a new finding of `label` on `task`, checked.

    Study answers sit on no series; series answers on a series (a stack names it on a study
    task); drawings on a stack, image-scope ones on slice k (an image task's own image only).
    """
    scope, geometric = label["scope"], label["kind"] in GEOMETRIC_KINDS
    if scope == LabelScope.STUDY:
        if stack is not None or slice_index is not None:
            raise InvalidAnnotationError(
                f"{label['key']} is a study-level answer: leave stack and slice out.",
                field="stack",
            )
        return scope, None, None, None
    stack = _task_stack(task, stack)
    if scope == LabelScope.SERIES:
        if geometric and task.unit == TaskUnit.IMAGE:
            raise InvalidAnnotationError(
                f"{label['key']} is a 3D label; this task is one image.", field="label_key"
            )
        if slice_index is not None:
            raise InvalidAnnotationError(
                f"{label['key']} is a series-level ({'3D' if geometric else 'answer'}) label: "
                "leave slice_index out.",
                field="slice_index",
            )
        return scope, stack if geometric else None, None, stack.series_id
    k = _slice(task, stack, slice_index)
    return scope, stack, k, stack.series_id


def _main_stack(series_id: int) -> Stack:
    stack = Stack.objects.filter(series_id=series_id).order_by("index").first()
    if stack is None:
        raise InvalidAnnotationError("The series has no images to draw on.", field="stack")
    return stack


def _task_stack(task: LabelingTask, stack: Stack | None) -> Stack:
    """Return the stack a finding is on: the one given (checked to be the task's) or the
    task's own (its image's, or its series' main stack)."""
    own = task.instance.stack if task.instance is not None else None
    if stack is None:
        if own is not None:
            return own
        if task.series_id is None:
            raise InvalidAnnotationError(
                "This task covers a whole study: say which stack (series) it is about.",
                field="stack",
            )
        return _main_stack(task.series_id)
    if (
        stack.series.study_id != task.study_id
        or (task.series_id is not None and stack.series_id != task.series_id)
        or (own is not None and stack.pk != own.pk)
    ):
        raise NotFoundError("No such stack in this task.", field="stack")
    return stack


def _slice(task: LabelingTask, stack: Stack, slice_index: int | None) -> int:
    pinned = task.instance.stack_position if task.instance is not None else None
    if pinned is not None and task.instance is not None and task.instance.number_of_frames <= 1:
        if slice_index is not None and slice_index != pinned:
            raise InvalidAnnotationError(
                f"This task is the image at slice {pinned}; draw on that slice.",
                field="slice_index",
            )
        return pinned
    if slice_index is None:
        if stack.size[2] == 1:
            return 0
        raise InvalidAnnotationError("Say which slice (k) it is on.", field="slice_index")
    if not 0 <= slice_index < stack.size[2]:
        raise InvalidAnnotationError(
            f"slice_index {slice_index} lies outside 0..{stack.size[2] - 1}.", field="slice_index"
        )
    return slice_index


def _fill(
    annotation: Annotation,
    *,
    label: dict[str, Any],
    labels: dict[str, dict[str, Any]],
    data: Any,
    attributes: Any,
) -> None:
    """Validate and set data, attributes and the server's measurements on the annotation."""
    stack = annotation.stack
    size = None if stack is None else (stack.size[0], stack.size[1], stack.size[2])
    annotation.data = validate_data(
        label=label, scope=annotation.scope, data=data, size=size, labels_by_key=labels
    )
    if label["kind"] == LabelKind.MASK:
        annotation.attributes = {}
        return  # attributes live on the segments; the mask service measures voxels
    annotation.attributes = validate_attributes(label=label, attributes=attributes or {})
    annotation.measurements = measure(
        kind=label["kind"],
        scope=annotation.scope,
        data=annotation.data,
        geometry=None if stack is None else stack_geometry(stack),
        k=annotation.slice_index,
    )


# --- writes ---------------------------------------------------------------------------------------


@transaction.atomic
def create_annotation(
    *,
    annotation_set: AnnotationSet,
    actor: User | None,
    label_key: str,
    data: Any,
    attributes: Any = None,
    stack: Stack | None = None,
    slice_index: int | None = None,
    source: str = Source.HUMAN,
    model_version: str = "",
    copied_from: Annotation | None = None,
) -> Annotation:
    """Add a finding or answer to a set, validated against the current label schema.

    Raises:
        InvalidAnnotationError: unknown label, wrong scope, data or attributes (field paths).
        NotAllowedError / WorkflowError: the actor may not edit the set now.
    """
    task = annotation_set.task
    if actor is not None and source == Source.HUMAN:
        note_edit(annotation_set=annotation_set, actor=actor)
    schema = get_current_label_schema(project=task.project)
    labels = _labels(schema)
    label = labels.get(label_key)
    if label is None:
        raise InvalidAnnotationError(
            f"{label_key!r} is not a label of this project.", field="label_key"
        )
    scope, where, k, series_id = _placement(task, label, stack, slice_index)
    if label["kind"] in SINGLE_ANSWER_KINDS:
        same = Annotation.objects.filter(
            annotation_set=annotation_set, label_key=label_key, deleted=False, slice_index=k
        )
        same = (
            same.filter(series__isnull=True) if series_id is None else same.filter(series=series_id)
        )
        answered = same.first()
        if answered is not None:
            raise DuplicateAnswerError(
                f"{label_key} is answered already here (annotation {answered.pk}); edit it.",
                current=answered,
            )
    annotation = Annotation(
        project_id=task.project_id,
        annotation_set=annotation_set,
        label_key=label_key,
        kind=label["kind"],
        scope=scope,
        study_id=task.study_id,
        series_id=series_id,
        stack=where,
        slice_index=k,
        schema_version=schema.version,
        copied_from=copied_from,
    )
    _fill(annotation, label=label, labels=labels, data=data, attributes=attributes)
    commit_annotation_change(
        annotation, actor=actor, source=source, model_version=model_version, created=True
    )
    return annotation


@transaction.atomic
def update_annotation(
    *,
    annotation: Annotation,
    actor: User,
    expected_version: int,
    data: Any = None,
    attributes: Any = None,
) -> Annotation:
    """Change a finding's geometry and/or attributes (None keeps a part as it is).

    Raises:
        StaleVersionError: someone saved it since `expected_version` (409 with the current).
        InvalidAnnotationError: the new data does not fit the label or the image.
    """
    locked = lock_annotation(annotation_id=annotation.pk, expected_version=expected_version)
    if locked.deleted:
        raise InvalidAnnotationError("This annotation was deleted; restore it first.")
    note_edit(annotation_set=locked.annotation_set, actor=actor)
    schema = get_current_label_schema(project=locked.project)
    labels = _labels(schema)
    label = labels.get(locked.label_key)
    if label is None:
        raise InvalidAnnotationError(
            f"Label {locked.label_key!r} is no longer in the schema; it can only be deleted."
        )
    if label["kind"] != locked.kind:
        raise InvalidAnnotationError(
            f"Label {locked.label_key!r} is now a {label['kind']}; delete and redraw it."
        )
    locked.schema_version = schema.version
    manifest, measurements = locked.mask_manifest, locked.measurements
    old_segments = {str(s["number"]) for s in locked.data.get("segments", [])}
    _fill(
        locked,
        label=label,
        labels=labels,
        data=locked.data if data is None else data,
        attributes=locked.attributes if attributes is None else attributes,
    )
    if locked.kind == LabelKind.MASK:
        dropped = old_segments - {str(s["number"]) for s in locked.data["segments"]}
        locked.mask_manifest = {k: v for k, v in manifest.items() if k not in dropped}
        kept = measurements.get("segments", {})
        locked.measurements = {"segments": {k: v for k, v in kept.items() if k not in dropped}}
    commit_annotation_change(locked, actor=actor)
    return locked


@transaction.atomic
def delete_annotation(*, annotation: Annotation, actor: User, expected_version: int) -> Annotation:
    """Delete a finding; it stays in history as a revision and can be restored."""
    locked = lock_annotation(annotation_id=annotation.pk, expected_version=expected_version)
    note_edit(annotation_set=locked.annotation_set, actor=actor)
    if locked.deleted:
        return locked
    locked.deleted = True
    commit_annotation_change(locked, actor=actor, note="deleted")
    return locked


@transaction.atomic
def restore_revision(
    *, annotation: Annotation, actor: User, expected_version: int, number: int
) -> Annotation:
    """Make an earlier revision current again, as a new revision (history is never rewritten).

    Raises:
        NotFoundError: no such revision.
    """
    locked = lock_annotation(annotation_id=annotation.pk, expected_version=expected_version)
    note_edit(annotation_set=locked.annotation_set, actor=actor)
    revision = AnnotationRevision.objects.filter(annotation=locked, number=number).first()
    if revision is None:
        raise NotFoundError(f"Annotation {locked.pk} has no revision {number}.")
    for field, value in revision_state(revision).items():
        setattr(locked, field, value)
    locked.schema_version = revision.schema_version
    commit_annotation_change(locked, actor=actor, note=f"restored revision {number}")
    return locked


def copy_annotation(
    original: Annotation,
    *,
    target: AnnotationSet,
    actor: User | None,
    keep_source: bool = True,
    note: str = "",
) -> Annotation:
    """Copy one finding into another set as its revision 1, pointing back with `copied_from`.

    With `keep_source` the copy keeps the original's source and model version ("model" stays
    "model"), otherwise it is the actor's own work. Masks share their chunks (only the
    manifest is copied).
    """
    copy = Annotation(
        project_id=original.project_id,
        annotation_set=target,
        label_key=original.label_key,
        kind=original.kind,
        scope=original.scope,
        study_id=original.study_id,
        series_id=original.series_id,
        stack_id=original.stack_id,
        slice_index=original.slice_index,
        data=original.data,
        attributes=original.attributes,
        measurements=original.measurements,
        mask_manifest=original.mask_manifest,
        schema_version=original.schema_version,
        copied_from=original,
    )
    return commit_annotation_change(
        copy,
        actor=actor,
        source=original.source if keep_source else Source.HUMAN,
        model_version=original.model_version if keep_source else "",
        note=note or f"copied from annotation {original.pk}",
        created=True,
    )


def copy_annotations(
    *, source: AnnotationSet, target: AnnotationSet, actor: User | None
) -> list[Annotation]:
    """Copy every live finding of one set into another (model starting points, adjudication),
    keeping their source, so analytics can tell a pre-annotation accepted unchanged from an
    edited one."""
    return [
        copy_annotation(original, target=target, actor=actor)
        for original in source.annotations.filter(deleted=False).order_by("pk")
    ]


@transaction.atomic
def add_comment(
    *, task: LabelingTask, actor: User, text: str, annotation: Annotation | None = None
) -> Comment:
    """Leave a free-text comment on a task or on one of its findings."""
    if not (
        can(user=actor, project=task.project, action=Action.ANNOTATE)
        or can(user=actor, project=task.project, action=Action.REVIEW)
    ):
        raise NotAllowedError("Your role in this project does not allow comments.")
    text = text.strip()
    if not text:
        raise InvalidAnnotationError("A comment needs text.", field="text")
    if annotation is not None and annotation.annotation_set.task_id != task.pk:
        raise NotFoundError("No such annotation in this task.", field="annotation")
    comment = Comment(project_id=task.project_id, task=task, annotation=annotation, author=actor)
    comment.text = text
    comment.full_clean()
    comment.save()
    record_event(actor=actor, action="comment.add", obj=comment, project=task.project)
    return comment
