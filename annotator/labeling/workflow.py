"""The labeling workflow: tasks open when images arrive, readers are dealt or claim slots,
submit, get reviewed, and multi-reader tasks are adjudicated into a reference.

Task status follows from its assignments (`_refresh_task_status`), never set by hand except
skip/unskip by a manager.
"""

import logging
from collections.abc import Iterable
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import NotFoundError, StaleVersionError
from annotator.imaging.models import Instance, Series, SeriesStatus
from annotator.labeling.errors import NotAllowedError, WorkflowError
from annotator.labeling.models import (
    AnnotationSet,
    Assignment,
    AssignmentStatus,
    Comment,
    LabelingTask,
    ReaderExclusion,
    SetKind,
    TaskStatus,
    TaskUnit,
)
from annotator.projects.access import Action, can, require
from annotator.projects.models import Membership, Project, Role

logger = logging.getLogger(__name__)

# Heartbeats further apart than this count as a break, not as work.
IDLE_AFTER = timedelta(seconds=120)
OPEN_ASSIGNMENT = (
    AssignmentStatus.ASSIGNED,
    AssignmentStatus.IN_PROGRESS,
    AssignmentStatus.RETURNED,
)
HANDED_IN = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED)


# --- opening tasks -------------------------------------------------------------------------------


def _new_task(project: Project, **where: object) -> LabelingTask:
    task = LabelingTask(project=project, readers_required=project.readers_per_item, **where)
    task.full_clean(validate_constraints=False)
    return task


@transaction.atomic
def open_tasks_for_series(*, series: Series) -> list[LabelingTask]:
    """Open the labeling tasks a ready image series needs, per the project's task unit.

    Idempotent: a task that exists is not opened twice. New tasks are dealt to readers when the
    project deals automatically.
    """
    if not series.is_image or series.status != SeriesStatus.READY:
        return []
    project = Project.objects.get(pk=series.project_id)
    wanted: list[LabelingTask] = []
    if project.task_unit == TaskUnit.STUDY:
        if not LabelingTask.objects.filter(
            project=project, unit=TaskUnit.STUDY, study_id=series.study_id
        ).exists():
            wanted.append(_new_task(project, unit=TaskUnit.STUDY, study_id=series.study_id))
    elif project.task_unit == TaskUnit.IMAGE:
        have = set(
            LabelingTask.objects.filter(series=series, unit=TaskUnit.IMAGE).values_list(
                "instance_id", flat=True
            )
        )
        for instance_id in (
            Instance.objects.filter(series=series, is_image=True)
            .order_by("stack__index", "stack_position", "instance_number", "pk")
            .values_list("pk", flat=True)
        ):
            if instance_id not in have:
                wanted.append(
                    _new_task(
                        project,
                        unit=TaskUnit.IMAGE,
                        study_id=series.study_id,
                        series=series,
                        instance_id=instance_id,
                    )
                )
    elif not LabelingTask.objects.filter(series=series, unit=TaskUnit.SERIES).exists():
        wanted.append(
            _new_task(project, unit=TaskUnit.SERIES, study_id=series.study_id, series=series)
        )
    created = LabelingTask.objects.bulk_create(wanted, ignore_conflicts=True)
    tasks = list(
        LabelingTask.objects.filter(pk__in=[t.pk for t in created if t.pk is not None]).order_by(
            "pk"
        )
    ) or _reload_created(project, series, len(created))
    if tasks and project.auto_assign:
        distribute_tasks(project=project, actor=None, tasks=tasks)
    return tasks


def _reload_created(project: Project, series: Series, count: int) -> list[LabelingTask]:
    # bulk_create(ignore_conflicts=True) does not return primary keys on every backend.
    if not count:
        return []
    query = LabelingTask.objects.filter(project=project, assignments__isnull=True)
    if project.task_unit == TaskUnit.STUDY:
        query = query.filter(study_id=series.study_id, unit=TaskUnit.STUDY)
    else:
        query = query.filter(series=series)
    return list(query.order_by("pk"))


# --- who reads ----------------------------------------------------------------------------------


def eligible_readers(*, project: Project) -> QuerySet[User]:
    """Return the members automatic dealing gives work to: annotators not excluded."""
    excluded = ReaderExclusion.objects.filter(project=project, task__isnull=True).values("user_id")
    return (
        User.objects.filter(
            is_active=True,
            memberships__project=project,
            memberships__role=Role.ANNOTATOR,
        )
        .exclude(pk__in=excluded)
        .order_by("pk")
    )


def _excluded(task: LabelingTask, user: User) -> bool:
    return ReaderExclusion.objects.filter(
        Q(task__isnull=True) | Q(task=task), project_id=task.project_id, user=user
    ).exists()


def _open_slots(task: LabelingTask) -> int:
    return task.readers_required - task.assignments.count()


@transaction.atomic
def distribute_tasks(
    *, project: Project, actor: User | None, tasks: Iterable[LabelingTask] | None = None
) -> list[Assignment]:
    """Deal open reader slots to eligible readers, the least loaded first.

    A reader never gets a task twice and never one they are excluded from. Returns the new
    assignments; slots no reader can take stay open for claiming.
    """
    readers = list(eligible_readers(project=project))
    if not readers:
        return []
    load = dict(
        Assignment.objects.filter(task__project=project, status__in=OPEN_ASSIGNMENT)
        .values_list("reader_id")
        .annotate(n=Count("pk"))
        .values_list("reader_id", "n")
    )
    targets = (
        list(tasks)
        if tasks is not None
        else list(
            LabelingTask.objects.filter(
                project=project, status__in=[TaskStatus.NEW, TaskStatus.IN_PROGRESS]
            )
        )
    )
    locked = list(
        LabelingTask.objects.select_for_update()
        .filter(pk__in=[t.pk for t in targets])
        .order_by("-priority", "created_at", "pk")
    )
    exclusions = set(
        ReaderExclusion.objects.filter(project=project, task__in=locked).values_list(
            "task_id", "user_id"
        )
    )
    made: list[Assignment] = []
    for task in locked:
        taken = set(task.assignments.values_list("reader_id", flat=True))
        for _ in range(task.readers_required - len(taken)):
            candidates = [
                r for r in readers if r.pk not in taken and (task.pk, r.pk) not in exclusions
            ]
            if not candidates:
                break
            reader = min(candidates, key=lambda r: (load.get(r.pk, 0), r.pk))
            made.append(_assign(task, reader, actor=actor, method="auto"))
            taken.add(reader.pk)
            load[reader.pk] = load.get(reader.pk, 0) + 1
    return made


def _assign(task: LabelingTask, reader: User, *, actor: User | None, method: str) -> Assignment:
    assignment = Assignment(task=task, reader=reader, assigned_by=actor, method=method)
    assignment.full_clean(validate_constraints=False)
    assignment.save()
    reading = AnnotationSet.objects.create(
        task=task, kind=SetKind.READER, assignment=assignment, created_by=reader
    )
    model_set = task.annotation_sets.filter(kind=SetKind.MODEL).order_by("-pk").first()
    if model_set is not None:  # readers start from the model's pre-annotation
        from annotator.labeling.annotations import copy_annotations

        copy_annotations(source=model_set, target=reading, actor=None)
        reading.based_on = model_set
        reading.save(update_fields=["based_on", "updated_at"])
    record_event(
        actor=actor or reader,
        action=f"assignment.{method}",
        obj=assignment,
        project=task.project,
        changes={"reader": [None, reader.pk]},
    )
    return assignment


def _require_reader(task: LabelingTask, reader: User) -> None:
    if not can(user=reader, project=task.project, action=Action.ANNOTATE):
        raise NotAllowedError("That user is not a reader in this project.", field="reader")
    if _excluded(task, reader):
        raise WorkflowError("That reader is excluded from this task.", field="reader")


@transaction.atomic
def assign_reader(*, task: LabelingTask, actor: User, reader: User) -> Assignment:
    """Give a reader a slot on a task by hand (managers).

    Raises:
        WorkflowError: the task is full, closed, already has the reader, or excludes them.
    """
    require(user=actor, project=task.project, action=Action.EDIT_PROJECT)
    locked = LabelingTask.objects.select_for_update().get(pk=task.pk)
    if locked.status in (TaskStatus.DONE, TaskStatus.SKIPPED):
        raise WorkflowError(f"Task {locked.pk} is {locked.status}; reopen it first.")
    _require_reader(locked, reader)
    if locked.assignments.filter(reader=reader).exists():
        raise WorkflowError("That reader already has this task.", field="reader")
    if _open_slots(locked) <= 0:
        raise WorkflowError(
            f"Task {locked.pk} already has its {locked.readers_required} readers; "
            "reassign one of them instead.",
        )
    return _assign(locked, reader, actor=actor, method="manual")


@transaction.atomic
def reassign(*, assignment: Assignment, actor: User, reader: User) -> Assignment:
    """Move an unsubmitted slot to another reader; the first reader's drafts stay in history.

    Raises:
        WorkflowError: the work was submitted already, or the new reader cannot take it.
    """
    task = LabelingTask.objects.select_for_update().get(pk=assignment.task_id)
    require(user=actor, project=task.project, action=Action.EDIT_PROJECT)
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.status not in OPEN_ASSIGNMENT:
        raise WorkflowError("Submitted work cannot be reassigned; return it first.")
    _require_reader(task, reader)
    if task.assignments.filter(reader=reader).exists():
        raise WorkflowError("That reader already has this task.", field="reader")
    previous = locked.reader_id
    annotation_set = locked.annotation_set
    locked.reader = reader
    locked.assigned_by = actor
    locked.method = "manual"
    locked.status = AssignmentStatus.ASSIGNED
    locked.version += 1
    locked.save()
    annotation_set.created_by = reader
    annotation_set.save(update_fields=["created_by", "updated_at"])
    record_event(
        actor=actor,
        action="assignment.reassign",
        obj=locked,
        project=task.project,
        changes={"reader": [previous, reader.pk]},
    )
    _refresh_task_status(task)
    return locked


@transaction.atomic
def unassign(*, assignment: Assignment, actor: User) -> None:
    """Remove a reader's slot that has no submitted work (its drafts go with it)."""
    task = LabelingTask.objects.select_for_update().get(pk=assignment.task_id)
    require(user=actor, project=task.project, action=Action.EDIT_PROJECT)
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.status not in OPEN_ASSIGNMENT:
        raise WorkflowError("Submitted work cannot be removed.")
    record_event(
        actor=actor,
        action="assignment.remove",
        obj=locked,
        project=task.project,
        changes={"reader": [locked.reader_id, None]},
    )
    locked.delete()
    _refresh_task_status(task)


@transaction.atomic
def set_exclusion(
    *, project: Project, actor: User, user: User, task: LabelingTask | None, excluded: bool
) -> None:
    """Exclude a member from a project's dealing (task None) or from one task, or lift it."""
    require(user=actor, project=project, action=Action.EDIT_PROJECT)
    if not Membership.objects.filter(project=project, user=user).exists():
        raise NotFoundError("No such member.", field="user")
    if excluded:
        ReaderExclusion.objects.get_or_create(
            project=project, user=user, task=task, defaults={"created_by": actor}
        )
    else:
        ReaderExclusion.objects.filter(project=project, user=user, task=task).delete()
    record_event(
        actor=actor,
        action="reader.exclude" if excluded else "reader.include",
        obj=task or project,
        project=project,
        changes={"user": [None, user.pk]},
    )


# --- claiming the next task ---------------------------------------------------------------------


def _mine_open(project: Project, reader: User) -> Assignment | None:
    return (
        Assignment.objects.filter(
            task__project=project,
            reader=reader,
            status__in=OPEN_ASSIGNMENT,
            task__status__in=[TaskStatus.NEW, TaskStatus.IN_PROGRESS],
        )
        .select_related("task")
        .order_by(
            # returned work first, then what is started, then by task priority and age
            "-task__priority",
            "task__created_at",
            "task__pk",
        )
        .first()
    )


def _taken_slots() -> Subquery:
    return Subquery(
        Assignment.objects.filter(task=OuterRef("pk"))
        .order_by()
        .values("task")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )


def claim_next_task(*, project: Project, reader: User) -> Assignment | None:
    """Return the reader's next work: their own open assignment with the highest priority, else
    a newly claimed slot on the highest-priority oldest task with room.

    Atomic under concurrency: candidate tasks are locked with SKIP LOCKED, so two readers asking
    at once never fill the same slot. Returns None when there is nothing left.
    """
    require(user=reader, project=project, action=Action.ANNOTATE)
    mine = _mine_open(project, reader)
    if mine is not None:
        return mine
    for _ in range(5):  # another reader may take the last slot between our read and our lock
        with transaction.atomic():
            candidates = (
                LabelingTask.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(project=project, status__in=[TaskStatus.NEW, TaskStatus.IN_PROGRESS])
                .exclude(assignments__reader=reader)
                .exclude(
                    pk__in=ReaderExclusion.objects.filter(
                        project=project, user=reader, task__isnull=False
                    ).values("task_id")
                )
                .annotate(taken=Coalesce(_taken_slots(), 0))
                .filter(taken__lt=F("readers_required"))
                .order_by("-priority", "created_at", "pk")
            )
            if ReaderExclusion.objects.filter(
                project=project, user=reader, task__isnull=True
            ).exists():
                return None
            task = candidates.first()
            if task is None:
                return None
            try:
                with transaction.atomic():
                    return _assign(task, reader, actor=reader, method="claim")
            except IntegrityError:
                logger.info("Slot on task %s taken meanwhile; trying the next", task.pk)
    return None


# --- a reader's work ----------------------------------------------------------------------------


def _lock_assignment(assignment: Assignment, expected_version: int | None) -> Assignment:
    locked = Assignment.objects.select_for_update().select_related("task").get(pk=assignment.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersionError(
            f"Assignment {locked.pk} changed since version {expected_version} "
            f"(now {locked.version}).",
            current=locked,
        )
    return locked


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
    _refresh_task_status(locked.task)
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
        _refresh_task_status(task)
    elif annotation_set.kind == SetKind.REFERENCE:
        if not can(user=actor, project=task.project, action=Action.REVIEW):
            raise NotAllowedError("Only reviewers and managers edit the reference.")
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
    _refresh_task_status(locked.task)
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
    _refresh_task_status(locked.task)
    return locked


# --- the task itself ----------------------------------------------------------------------------


def _lock_task(task: LabelingTask, expected_version: int | None) -> LabelingTask:
    locked = LabelingTask.objects.select_for_update().select_related("project").get(pk=task.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersionError(
            f"Task {locked.pk} changed since version {expected_version} (now {locked.version}).",
            current=locked,
        )
    return locked


def _refresh_task_status(task: LabelingTask) -> LabelingTask:
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
    locked = _lock_task(task, expected_version)
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
    return _refresh_task_status(locked)


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


# --- adjudication -------------------------------------------------------------------------------


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

    locked = _lock_task(task, None)
    require(user=actor, project=locked.project, action=Action.REVIEW)
    if locked.annotation_sets.filter(kind=SetKind.REFERENCE).exists():
        raise WorkflowError("This task already has a reference; edit it instead.")
    readings = list(
        AnnotationSet.objects.filter(
            task=locked, kind=SetKind.READER, assignment__status__in=HANDED_IN
        ).order_by("assignment__submitted_at", "pk")
    )
    if from_set is not None and from_set.task_id != locked.pk:
        raise NotFoundError("No such reading in this task.", field="from_set")
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
    locked = _lock_task(task, None)
    require(user=actor, project=locked.project, action=Action.REVIEW)
    reference = locked.annotation_sets.filter(kind=SetKind.REFERENCE).first()
    if reference is None:
        raise WorkflowError("Start a reference before finalizing it.")
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
    return _refresh_task_status(locked)


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
