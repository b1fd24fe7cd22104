"""Adjudication: a reviewer turns several readings into the task's reference annotation, and
model pre-annotations become readers' starting state."""

from django.db import transaction
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import NotFoundError
from annotator.labeling.errors import WorkflowError
from annotator.labeling.models import (
    AnnotationSet,
    Assignment,
    AssignmentStatus,
    LabelingTask,
    SetKind,
    TaskStatus,
)
from annotator.labeling.task_state import HANDED_IN, lock_task, refresh_task_status
from annotator.projects.access import Action, require


@transaction.atomic
def start_reference(
    *, task: LabelingTask, actor: User, from_set: AnnotationSet | None = None
) -> AnnotationSet:
    """Open the task's reference annotation, copied from one reading (`from_set`) or merged
    from every handed-in reading (classifications by majority, masks by voxel majority, other
    findings pooled for the adjudicator to prune).

    Raises:
        WorkflowError: a reference exists already, or no reading has been handed in.
    """
    from annotator.labeling.merge import merge_readings  # merging builds on annotations

    locked = lock_task(task, None)
    require(user=actor, project=locked.project, action=Action.REVIEW)
    if locked.annotation_sets.filter(kind=SetKind.REFERENCE).exists():
        raise WorkflowError("This task already has a reference; edit it instead.")
    readings = list(
        AnnotationSet.objects.filter(
            task=locked, kind=SetKind.READER, assignment__status__in=HANDED_IN
        ).order_by("assignment__submitted_at", "pk")
    )
    if locked.status in (TaskStatus.DONE, TaskStatus.SKIPPED):
        raise WorkflowError(f"Task {locked.pk} is {locked.status}; reopen it first.")
    if from_set is not None and from_set.task_id != locked.pk:
        raise NotFoundError("No such reading in this task.", field="from_set")
    if from_set is not None and not (
        from_set.kind in (SetKind.MODEL, SetKind.IMPORT)
        or (from_set.kind == SetKind.READER and from_set.pk in {r.pk for r in readings})
    ):
        raise WorkflowError(
            "Start the reference from a handed-in reading (or the model's or an import's).",
            field="from_set",
        )
    if not readings and from_set is None:
        raise WorkflowError("No reading has been handed in yet.")
    reference = AnnotationSet.objects.create(
        task=locked, kind=SetKind.REFERENCE, created_by=actor, based_on=from_set
    )
    if from_set is not None:
        from annotator.labeling.annotations import copy_annotations

        copy_annotations(source=from_set, target=reference, actor=actor)
    else:
        merge_readings(readings=readings, target=reference, actor=actor)
    record_event(
        actor=actor,
        action="reference.start",
        obj=reference,
        project=locked.project,
        changes={"based_on": [None, from_set.pk if from_set else "merge"]},
    )
    return reference


@transaction.atomic
def finalize_reference(*, task: LabelingTask, actor: User) -> LabelingTask:
    """Close the adjudication: the reference is final, handed-in readings are accepted and the
    task is done (once every required reading is in).

    Raises:
        WorkflowError: there is no reference yet.
    """
    locked = lock_task(task, None)
    require(user=actor, project=locked.project, action=Action.REVIEW)
    reference = locked.annotation_sets.filter(kind=SetKind.REFERENCE).first()
    if reference is None:
        raise WorkflowError("Start a reference before finalizing it.")
    statuses = list(locked.assignments.values_list("status", flat=True))
    handed_in = [s for s in statuses if s in HANDED_IN]
    if len(handed_in) < locked.readers_required or len(handed_in) < len(statuses):
        raise WorkflowError(
            f"{len(handed_in)} of {max(locked.readers_required, len(statuses))} readings are "
            "handed in; finalize once every reader has submitted."
        )
    reference.final = True
    reference.save(update_fields=["final", "updated_at"])
    now = timezone.now()
    Assignment.objects.filter(task=locked, status=AssignmentStatus.SUBMITTED).update(
        status=AssignmentStatus.ACCEPTED, reviewed_by=actor, reviewed_at=now
    )
    record_event(
        actor=actor,
        action="reference.finalize",
        obj=reference,
        project=locked.project,
        changes={"final": [False, True]},
    )
    return refresh_task_status(locked)


def seed_from_model(*, task: LabelingTask, model_set: AnnotationSet) -> int:
    """Give readers who have not started the model's pre-annotation as their starting state.

    Returns how many readings were seeded. New assignments are seeded when they are made.
    """
    from annotator.labeling.annotations import copy_annotations

    seeded = 0
    for reading in AnnotationSet.objects.filter(
        task=task, kind=SetKind.READER, assignment__status=AssignmentStatus.ASSIGNED
    ):
        if not reading.annotations.exists():
            copy_annotations(source=model_set, target=reading, actor=None)
            reading.based_on = model_set
            reading.save(update_fields=["based_on", "updated_at"])
            seeded += 1
    return seeded
