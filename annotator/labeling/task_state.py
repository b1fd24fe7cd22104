"""A task's state: its status follows from its assignments, review rule and reference, and
managers change priority, due date, readers and skipping with optimistic versions."""

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.versions import lock_version
from annotator.labeling.errors import WorkflowError
from annotator.labeling.models import AssignmentStatus, LabelingTask, SetKind, TaskStatus
from annotator.projects.access import Action, require

OPEN_ASSIGNMENT = (
    AssignmentStatus.ASSIGNED,
    AssignmentStatus.IN_PROGRESS,
    AssignmentStatus.RETURNED,
)
HANDED_IN = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED)


def lock_task(task: LabelingTask, expected_version: int | None) -> LabelingTask:
    """Return the task locked for update (inside a transaction), checking its version."""
    return lock_version(
        LabelingTask.objects.select_related("project"),
        pk=task.pk,
        expected_version=expected_version,
        what=f"Task {task.pk}",
    )


def refresh_task_status(task: LabelingTask) -> LabelingTask:
    """Derive the task status from its assignments, review rule and reference."""
    locked = LabelingTask.objects.select_for_update().select_related("project").get(pk=task.pk)
    if locked.status == TaskStatus.SKIPPED:
        return locked
    statuses = list(locked.assignments.values_list("status", flat=True))
    review = locked.project.review_required
    finished = [s for s in statuses if s == AssignmentStatus.ACCEPTED]
    handed_in = [s for s in statuses if s in HANDED_IN]
    needs_adjudication = review and locked.readers_required > 1
    status: str
    has_reference = locked.annotation_sets.filter(kind=SetKind.REFERENCE, final=True).exists()
    if needs_adjudication:
        if len(handed_in) >= locked.readers_required and len(handed_in) == len(statuses):
            status = TaskStatus.DONE if has_reference else TaskStatus.IN_REVIEW
        else:
            status = _working_status(statuses)
    elif len(finished) >= locked.readers_required:
        status = TaskStatus.DONE
    elif review and len(handed_in) >= locked.readers_required and len(handed_in) == len(statuses):
        status = TaskStatus.IN_REVIEW
    else:
        status = _working_status(statuses)
    if status != locked.status:
        locked.status = status
        locked.completed_at = timezone.now() if status == TaskStatus.DONE else None
        locked.version += 1
        locked.save(update_fields=["status", "completed_at", "version", "updated_at"])
    return locked


def _working_status(statuses: list[str]) -> str:
    started = [s for s in statuses if s != AssignmentStatus.ASSIGNED]
    return TaskStatus.IN_PROGRESS if started else TaskStatus.NEW


@transaction.atomic
def update_task(
    *,
    task: LabelingTask,
    actor: User,
    expected_version: int,
    priority: int | None = None,
    due_date: date | str | None = "",
    readers_required: int | None = None,
    skipped: bool | None = None,
) -> LabelingTask:
    """Change a task's priority, due date, number of readers, or skip/unskip it (managers).

    `due_date=""` leaves the date alone; None clears it.

    Raises:
        StaleVersionError: the task changed since `expected_version`.
        WorkflowError: fewer readers than already hold slots.
    """
    require(user=actor, project=task.project, action=Action.EDIT_PROJECT)
    locked = lock_task(task, expected_version)
    before = {
        "priority": locked.priority,
        "due_date": locked.due_date,
        "readers_required": locked.readers_required,
        "status": locked.status,
    }
    if priority is not None:
        locked.priority = priority
    if due_date != "":
        locked.due_date = due_date
    if readers_required is not None:
        if readers_required < locked.assignments.count():
            raise WorkflowError(
                "More readers already hold this task; remove one first.", field="readers_required"
            )
        locked.readers_required = readers_required
    if skipped is True:
        locked.status = TaskStatus.SKIPPED
    elif skipped is False and locked.status == TaskStatus.SKIPPED:
        locked.status = TaskStatus.NEW
    locked.version += 1
    locked.full_clean(validate_constraints=False)
    locked.save()
    after = {
        "priority": locked.priority,
        "due_date": locked.due_date,
        "readers_required": locked.readers_required,
        "status": locked.status,
    }
    record_event(
        actor=actor,
        action="task.update",
        obj=locked,
        project=locked.project,
        changes={k: [before[k], v] for k, v in after.items() if before[k] != v},
    )
    return refresh_task_status(locked)


def set_task_scores(
    *,
    task: LabelingTask,
    triage_score: float | None = None,
    uncertainty: float | None = None,
    priority: int | None = None,
) -> None:
    """Store a model's triage score / uncertainty (and the priority it implies) on a task."""
    fields: dict[str, object] = {}
    if triage_score is not None:
        fields["triage_score"] = triage_score
    if uncertainty is not None:
        fields["uncertainty"] = uncertainty
    if priority is not None:
        fields["priority"] = priority
    if fields:
        LabelingTask.objects.filter(pk=task.pk).update(version=F("version") + 1, **fields)
