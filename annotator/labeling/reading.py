"""A reader's work on a task: activity (active time), edits, submission and review."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.versions import lock_version
from annotator.labeling.errors import NotAllowedError, WorkflowError
from annotator.labeling.models import (
    AnnotationSet,
    Assignment,
    AssignmentStatus,
    Comment,
    LabelingTask,
    SetKind,
)
from annotator.labeling.task_state import OPEN_ASSIGNMENT, refresh_task_status
from annotator.projects.access import Action, can, require

# Heartbeats further apart than this count as a break, not as work.
IDLE_AFTER = timedelta(seconds=120)


def _lock_assignment(assignment: Assignment, expected_version: int | None) -> Assignment:
    # Always the task first, then the assignment: every writer takes them in this order.
    LabelingTask.objects.select_for_update().filter(pk=assignment.task_id).exists()
    return lock_version(
        Assignment.objects.select_related("task"),
        pk=assignment.pk,
        expected_version=expected_version,
        what=f"Assignment {assignment.pk}",
    )


def _require_own(assignment: Assignment, actor: User) -> None:
    if assignment.reader_id != actor.pk:
        raise NotAllowedError("Only the assigned reader can do this.")


def _touch(assignment: Assignment) -> None:
    """Add the time since the last activity to active time, unless it was a break."""
    now = timezone.now()
    if assignment.started_at is None:
        assignment.started_at = now
    last = assignment.last_activity_at
    if last is not None and timedelta(0) < now - last <= IDLE_AFTER:
        assignment.active_seconds += (now - last).total_seconds()
    assignment.last_activity_at = now


@transaction.atomic
def record_activity(*, assignment: Assignment, actor: User) -> Assignment:
    """Count active time on a task (the workspace sends this on every save and every minute);
    opens the work when the reader starts."""
    locked = _lock_assignment(assignment, None)
    _require_own(locked, actor)
    _touch(locked)
    if locked.status in (AssignmentStatus.ASSIGNED,):
        locked.status = AssignmentStatus.IN_PROGRESS
        locked.version += 1
    locked.save()
    refresh_task_status(locked.task)
    return locked


def note_edit(*, annotation_set: AnnotationSet, actor: User) -> None:
    """Called by annotation writes: a reader's edit counts as activity and starts the work.

    Raises:
        NotAllowedError: the actor may not edit this set.
        WorkflowError: the set is closed (submitted, accepted or the task is done).
    """
    task = annotation_set.task
    if annotation_set.kind == SetKind.READER:
        assignment = _lock_assignment(annotation_set.assignment, None)  # type: ignore[arg-type]
        if assignment.reader_id != actor.pk:
            # reviewers correct a submitted reading; nobody else edits another reader's work
            if not (
                can(user=actor, project=task.project, action=Action.REVIEW)
                and assignment.status == AssignmentStatus.SUBMITTED
            ):
                raise NotAllowedError("Only the reader (or a reviewer correcting it) may edit.")
            return
        if assignment.status not in OPEN_ASSIGNMENT:
            raise WorkflowError(
                f"This reading is {assignment.status}; it can no longer be edited.",
                current=assignment,
            )
        _touch(assignment)
        if assignment.status == AssignmentStatus.ASSIGNED:
            assignment.status = AssignmentStatus.IN_PROGRESS
            assignment.version += 1
        assignment.save()
        refresh_task_status(task)
    elif annotation_set.kind == SetKind.REFERENCE:
        if not can(user=actor, project=task.project, action=Action.REVIEW):
            raise NotAllowedError("Only reviewers and managers edit the reference.")
        if annotation_set.final:
            raise WorkflowError("The reference is final; the task is closed.")
    elif annotation_set.kind == SetKind.RETIRED:
        raise WorkflowError("These are a former reader's drafts; they are kept as they are.")
    elif not can(user=actor, project=task.project, action=Action.IMPORT_DATA):
        raise NotAllowedError("Model and imported annotations are edited by managers only.")


@transaction.atomic
def submit_assignment(
    *, assignment: Assignment, actor: User, expected_version: int | None = None
) -> Assignment:
    """Hand in a reading; with review on it waits for a reviewer, otherwise it is final.

    Raises:
        WorkflowError: required labels are missing, or the reading is not open.
    """
    locked = _lock_assignment(assignment, expected_version)
    _require_own(locked, actor)
    if locked.status not in OPEN_ASSIGNMENT:
        raise WorkflowError(f"This reading is already {locked.status}.", current=locked)
    from annotator.labeling.completeness import missing_required_labels

    missing = missing_required_labels(locked.annotation_set)
    if missing:
        raise WorkflowError(
            "Required labels are not answered yet: " + ", ".join(missing) + ".",
            errors={"labels": missing},
        )
    _touch(locked)
    locked.status = AssignmentStatus.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.version += 1
    if not locked.task.project.review_required:
        locked.status = AssignmentStatus.ACCEPTED
    locked.save()
    record_event(
        actor=actor,
        action="assignment.submit",
        obj=locked,
        project=locked.task.project,
        changes={"status": [None, locked.status]},
    )
    refresh_task_status(locked.task)
    return locked


@transaction.atomic
def review_assignment(
    *,
    assignment: Assignment,
    actor: User,
    decision: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Assignment:
    """Accept a submitted reading, or reject it with a comment (it returns to the reader).

    Corrections are ordinary edits of the submitted set by the reviewer before accepting.

    Raises:
        WorkflowError: the reading is not waiting for review, or a rejection has no comment.
    """
    locked = _lock_assignment(assignment, expected_version)
    require(user=actor, project=locked.task.project, action=Action.REVIEW)
    if locked.reader_id == actor.pk and not actor.is_superuser:
        raise NotAllowedError("Readers do not review their own work.")
    if locked.status != AssignmentStatus.SUBMITTED:
        raise WorkflowError(
            f"Only submitted readings can be reviewed; this one is {locked.status}.",
            current=locked,
        )
    if decision not in ("accept", "reject"):
        raise WorkflowError("Decision must be accept or reject.", field="decision")
    if decision == "reject" and not comment.strip():
        raise WorkflowError("Say what to change when rejecting.", field="comment")
    locked.status = AssignmentStatus.ACCEPTED if decision == "accept" else AssignmentStatus.RETURNED
    locked.reviewed_by = actor
    locked.reviewed_at = timezone.now()
    locked.review_comment = comment.strip()
    locked.version += 1
    locked.save()
    if comment.strip():
        Comment.objects.create(
            project=locked.task.project,
            task=locked.task,
            assignment=locked,
            author=actor,
            text=comment.strip(),
            kind="rejection" if decision == "reject" else "review",
        )
    record_event(
        actor=actor,
        action=f"assignment.{decision}",
        obj=locked,
        project=locked.task.project,
        changes={"status": [AssignmentStatus.SUBMITTED, locked.status]},
    )
    refresh_task_status(locked.task)
    return locked
