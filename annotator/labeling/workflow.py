"""Who reads what: tasks open when images arrive, readers are dealt slots (balanced) or claim
the next one atomically, managers assign, reassign and exclude by hand.

A reader's work, review and task state live in reading.py, task_state.py and adjudication.py.
"""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import NotFoundError
from annotator.imaging.models import Instance, Series, SeriesStatus
from annotator.jobs.models import JobKind
from annotator.jobs.services import enqueue_job
from annotator.labeling.errors import NotAllowedError, WorkflowError
from annotator.labeling.models import (
    AnnotationSet,
    Assignment,
    AssignmentStatus,
    LabelingTask,
    ReaderExclusion,
    SetKind,
    TaskStatus,
    TaskUnit,
)
from annotator.labeling.task_state import OPEN_ASSIGNMENT, refresh_task_status
from annotator.projects.access import Action, can, require
from annotator.projects.models import Membership, Project, Role

logger = logging.getLogger(__name__)


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
    if tasks and project.preannotate_on_ingest:
        _queue_preannotation(project, tasks)
    return tasks


def _queue_preannotation(project: Project, tasks: list[LabelingTask]) -> None:
    """Have the project's active model(s) pre-annotate new tasks (a gpu job, sent on commit,
    by job kind: the core does not import ml_assist). After dealing, so readers get seeded."""
    enqueue_job(
        kind=JobKind.PREANNOTATE,
        created_by=None,
        project=project,
        queue="gpu",
        params={"task_ids": [t.pk for t in tasks], "trigger": "ingest"},
    )


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
    _open_reading(assignment)
    record_event(
        actor=actor or reader,
        action=f"assignment.{method}",
        obj=assignment,
        project=task.project,
        changes={"reader": [None, reader.pk]},
    )
    return assignment


def _open_reading(assignment: Assignment) -> AnnotationSet:
    """Create the reader's set, starting from the task's model pre-annotation if there is one."""
    task = assignment.task
    reading = AnnotationSet.objects.create(
        task=task, kind=SetKind.READER, assignment=assignment, created_by=assignment.reader
    )
    model_set = task.annotation_sets.filter(kind=SetKind.MODEL).order_by("-pk").first()
    if model_set is not None:
        from annotator.labeling.annotations import copy_annotations

        copy_annotations(source=model_set, target=reading, actor=None)
        reading.based_on = model_set
        reading.save(update_fields=["based_on", "updated_at"])
    return reading


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
    # The first reader's drafts stay for reviewers and managers, never for the next reader.
    AnnotationSet.objects.filter(assignment=locked).update(kind=SetKind.RETIRED, assignment=None)
    locked.reader = reader
    locked.assigned_by = actor
    locked.method = "manual"
    locked.status = AssignmentStatus.ASSIGNED
    locked.active_seconds = 0
    locked.started_at = locked.last_activity_at = None
    locked.version += 1
    locked.save()
    _open_reading(locked)
    record_event(
        actor=actor,
        action="assignment.reassign",
        obj=locked,
        project=task.project,
        changes={"reader": [previous, reader.pk]},
    )
    refresh_task_status(task)
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
    AnnotationSet.objects.filter(assignment=locked).update(kind=SetKind.RETIRED, assignment=None)
    locked.delete()
    refresh_task_status(task)


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
            # by task priority, then age
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
    if ReaderExclusion.objects.filter(project=project, user=reader, task__isnull=True).exists():
        return None
    with transaction.atomic():
        for _ in range(50):
            # Each pass is a new statement, so it sees slots other readers filled meanwhile.
            task = (
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
                .first()
            )
            if task is None:
                return None
            # Locked now: count again, because a reader who held the lock a moment ago may have
            # filled the slot after this statement's snapshot was taken.
            if (
                task.assignments.count() >= task.readers_required
                or task.assignments.filter(reader=reader).exists()
            ):
                continue
            return _assign(task, reader, actor=reader, method="claim")
    return None
