"""Progress of a project for its managers: tasks by status, the queue, completions per day and
per-reader throughput. Every number comes from a fixed handful of aggregate queries.

Definitions (over a window of the last `days` calendar days, today included, in UTC):

- queue depth: reader slots of open (new or in-progress) tasks that nobody holds, plus
  assignments on open tasks whose reader has not started.
- a completed reading: an assignment now submitted or accepted whose `submitted_at` falls in
  the window (a returned reading is not complete until it is submitted again).
- tasks per day: completed readings / days in the window (a calendar rate that counts days off).
- tasks per active day: completed readings / days on which the reader submitted at least one
  reading in the window (their pace on days they worked).
- median active time: median of `active_seconds` over the completed readings.
- mean time to submit: mean of `submitted_at - created_at` (assigned to handed in, waiting
  included) over the completed readings.

Status counts per reader (assigned, in progress, submitted, accepted, returned) are current,
not windowed.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from annotator.accounts.models import User
from annotator.labeling.models import Assignment, AssignmentStatus, LabelingTask, TaskStatus
from annotator.projects.access import Action, can, require
from annotator.projects.models import Project

DEFAULT_DAYS = 30
MAX_DAYS = 365
OPEN_TASK = (TaskStatus.NEW, TaskStatus.IN_PROGRESS)
COMPLETED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED)


class _Median(Aggregate):
    """PostgreSQL's continuous median of a column."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class DayCount:
    """Completions on one calendar day."""

    day: date
    tasks_done: int
    readings_completed: int


@dataclass(frozen=True)
class ReaderProgress:
    """One reader's current work and throughput over the window."""

    reader_id: int
    username: str
    assigned: int
    in_progress: int
    submitted: int
    accepted: int
    returned: int
    completed: int
    active_days: int
    tasks_per_day: float
    tasks_per_active_day: float | None
    median_active_seconds: float | None
    mean_seconds_to_submit: float | None


@dataclass(frozen=True)
class ProjectProgress:
    """A project's progress; `readers` covers every reader only when `all_readers` is true."""

    days: int
    since: date
    until: date
    tasks_by_status: dict[str, int]
    total_tasks: int
    open_slots: int
    not_started: int
    queue_depth: int
    per_day: list[DayCount]
    readers: list[ReaderProgress]
    all_readers: bool


def _window_start(since: date) -> datetime:
    return timezone.make_aware(datetime.combine(since, time.min), timezone.get_current_timezone())


def _tasks_by_status(project: Project) -> dict[str, int]:
    counts = dict.fromkeys(TaskStatus.values, 0)
    for row in (
        LabelingTask.objects.filter(project=project)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    ):
        counts[row["status"]] = row["n"]
    return counts


def _queue(project: Project) -> tuple[int, int]:
    """Return (open slots nobody holds, assignments on open tasks not started)."""
    held = Subquery(
        Assignment.objects.filter(task=OuterRef("pk"))
        .order_by()
        .values("task")
        .annotate(n=Count("pk"))
        .values("n")[:1],
        output_field=IntegerField(),
    )
    open_slots = (
        LabelingTask.objects.filter(project=project, status__in=OPEN_TASK)
        .annotate(free=Greatest(F("readers_required") - Coalesce(held, 0), Value(0)))
        .aggregate(total=Coalesce(Sum("free"), 0))["total"]
    )
    not_started = Assignment.objects.filter(
        task__project=project, task__status__in=OPEN_TASK, status=AssignmentStatus.ASSIGNED
    ).count()
    return int(open_slots), not_started


def _per_day(project: Project, since: date, until: date, start: datetime) -> list[DayCount]:
    done = dict(
        LabelingTask.objects.filter(
            project=project, status=TaskStatus.DONE, completed_at__gte=start
        )
        .annotate(day=TruncDate("completed_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    completed = dict(
        Assignment.objects.filter(
            task__project=project, status__in=COMPLETED, submitted_at__gte=start
        )
        .annotate(day=TruncDate("submitted_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    days = (since + timedelta(days=n) for n in range((until - since).days + 1))
    return [
        DayCount(day=day, tasks_done=done.get(day, 0), readings_completed=completed.get(day, 0))
        for day in days
    ]


def _medians_in_python(readings: Any) -> dict[int, float]:
    """Median active seconds per reader, computed here where the database has no median."""
    values: dict[int, list[float]] = defaultdict(list)
    for reader_id, seconds in readings.values_list("reader_id", "active_seconds"):
        values[reader_id].append(seconds)
    return {reader_id: statistics.median(found) for reader_id, found in values.items()}


def _database_has_median() -> bool:
    return connection.vendor == "postgresql"


def _readers(
    project: Project, start: datetime, days: int, only: User | None
) -> list[ReaderProgress]:
    in_window = Q(status__in=COMPLETED, submitted_at__gte=start)
    base = Assignment.objects.filter(task__project=project)
    if only is not None:
        base = base.filter(reader=only)
    per_status: dict[str, Any] = {
        status: Count("pk", filter=Q(status=value))
        for status, value in (
            ("assigned", AssignmentStatus.ASSIGNED),
            ("in_progress", AssignmentStatus.IN_PROGRESS),
            ("submitted", AssignmentStatus.SUBMITTED),
            ("accepted", AssignmentStatus.ACCEPTED),
            ("returned", AssignmentStatus.RETURNED),
        )
    }
    aggregates: dict[str, Any] = {
        **per_status,
        "completed": Count("pk", filter=in_window),
        "active_days": Count(TruncDate("submitted_at"), distinct=True, filter=in_window),
        "to_submit": Avg(
            ExpressionWrapper(F("submitted_at") - F("created_at"), output_field=DurationField()),
            filter=in_window,
        ),
    }
    median_in_db = _database_has_median()
    if median_in_db:
        aggregates["median_active"] = _Median("active_seconds", filter=in_window)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in base.order_by()
        .values("reader_id", "reader__username")
        .annotate(**aggregates)
        .order_by("reader__username", "reader_id")
    ]
    medians: Callable[[int], float | None]
    if median_in_db:
        by_reader = {row["reader_id"]: row["median_active"] for row in rows}
        medians = by_reader.get
    else:
        found = _medians_in_python(base.filter(in_window))
        medians = found.get
    return [
        ReaderProgress(
            reader_id=row["reader_id"],
            username=row["reader__username"],
            assigned=row["assigned"],
            in_progress=row["in_progress"],
            submitted=row["submitted"],
            accepted=row["accepted"],
            returned=row["returned"],
            completed=row["completed"],
            active_days=row["active_days"],
            tasks_per_day=row["completed"] / days,
            tasks_per_active_day=(
                row["completed"] / row["active_days"] if row["active_days"] else None
            ),
            median_active_seconds=medians(row["reader_id"]),
            mean_seconds_to_submit=(
                row["to_submit"].total_seconds() if row["to_submit"] is not None else None
            ),
        )
        for row in rows
    ]


def project_progress(
    *, project: Project, user: User, days: int = DEFAULT_DAYS, today: date | None = None
) -> ProjectProgress:
    """Return the project's progress over the last `days` days (1 to 365, today included).

    Reviewers and managers get a row per reader; other members get only their own row.

    Raises:
        NotFoundError: the user is not a member.
        ValueError: `days` is out of range.
    """
    require(user=user, project=project, action=Action.VIEW_PROJECT)
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    until = today or timezone.localdate()
    since = until - timedelta(days=days - 1)
    start = _window_start(since)
    all_readers = can(user=user, project=project, action=Action.SEE_ALL_READERS)
    by_status = _tasks_by_status(project)
    open_slots, not_started = _queue(project)
    return ProjectProgress(
        days=days,
        since=since,
        until=until,
        tasks_by_status=by_status,
        total_tasks=sum(by_status.values()),
        open_slots=open_slots,
        not_started=not_started,
        queue_depth=open_slots + not_started,
        per_day=_per_day(project, since, until, start),
        readers=_readers(project, start, days, None if all_readers else user),
        all_readers=all_readers,
    )
