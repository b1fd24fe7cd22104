"""Reads of labeling data, scoped to what the asking user may see.

Blinding: a reader sees their own readings (and model or imported starting points) of a task
until it is done; afterwards, and always for reviewers and managers, every set is visible.
"""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from annotator.accounts.models import User
from annotator.core.errors import NotFoundError
from annotator.imaging.models import Patient, Study
from annotator.labeling import recist
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    Assignment,
    Comment,
    LabelingTask,
    LesionMeasurement,
    LesionTrack,
    SetKind,
    TaskStatus,
)
from annotator.labeling.task_state import OPEN_ASSIGNMENT
from annotator.projects.access import Action, can, projects_where
from annotator.projects.models import Project


def list_tasks_for_user(*, user: User, project: Project) -> QuerySet[LabelingTask]:
    """Return the project's tasks for a member (none for others). Every member sees the task
    rows of the worklist; who else reads a task and what they drew is filtered by the API and
    `list_visible_sets`."""
    visible = projects_where(user=user, action=Action.VIEW_PROJECT)
    return (
        LabelingTask.objects.filter(project=project, project__in=visible)
        .select_related("study", "series", "instance__stack")
        .prefetch_related("assignments__reader", "assignments__annotation_set")
    )


def _reading_blind_tasks(user: User, project: Project) -> QuerySet[LabelingTask]:
    """Tasks on which the user holds a reading not yet handed in: blind there, whatever role."""
    return LabelingTask.objects.filter(
        project=project,
        assignments__reader=user,
        assignments__status__in=OPEN_ASSIGNMENT,
    )


def _sees_all(user: User, project: Project) -> bool:
    return can(user=user, project=project, action=Action.SEE_ALL_READERS)


def list_visible_sets(*, user: User, project: Project) -> QuerySet[AnnotationSet]:
    """Return the annotation sets of the project the user may see (blinding applied).

    Reviewers and managers see every set, except on a task where they hold an open reading
    themselves; readers see their own reading and the task's model or imported starting
    points until the task is done, then every set but a former reader's drafts.
    """
    base = AnnotationSet.objects.filter(task__project=project).select_related(
        "task", "assignment__reader"
    )
    if not projects_where(user=user, action=Action.VIEW_PROJECT).filter(pk=project.pk).exists():
        return base.none()
    own_or_start = Q(assignment__reader=user) | Q(kind__in=[SetKind.MODEL, SetKind.IMPORT])
    if _sees_all(user, project):
        return base.exclude(
            Q(task__in=_reading_blind_tasks(user, project).values("pk")) & ~own_or_start
        )
    return base.filter(
        Q(assignment__reader=user)
        | (Q(task__status=TaskStatus.DONE) & ~Q(kind=SetKind.RETIRED))
        | (Q(kind__in=[SetKind.MODEL, SetKind.IMPORT]) & Q(task__assignments__reader=user))
    ).distinct()


def list_visible_annotations(
    *, user: User, project: Project, include_deleted: bool = False
) -> QuerySet[Annotation]:
    """Return the annotations of the sets the user may see."""
    query = Annotation.objects.filter(
        annotation_set__in=list_visible_sets(user=user, project=project).values("pk")
    ).select_related("annotation_set", "stack")
    return query if include_deleted else query.filter(deleted=False)


def get_annotation_for_user(*, user: User, project: Project, annotation_id: int) -> Annotation:
    """Return one visible annotation (deleted ones included, so they can be restored).

    Raises:
        Annotation.DoesNotExist: not in the project or not visible to the user.
    """
    return list_visible_annotations(user=user, project=project, include_deleted=True).get(
        pk=annotation_id
    )


def list_revisions(*, annotation: Annotation) -> QuerySet[AnnotationRevision]:
    """Return an annotation's revisions, oldest first."""
    return AnnotationRevision.objects.filter(annotation=annotation).select_related("author")


def list_assignments_for_user(*, user: User, project: Project) -> QuerySet[Assignment]:
    """Return the assignments the user may see: their own, or all for reviewers and managers."""
    base = Assignment.objects.filter(task__project=project).select_related("task", "reader")
    if _sees_all(user, project):
        return base
    return base.filter(reader=user)


def list_comments_for_user(*, user: User, task: LabelingTask) -> QuerySet[Comment]:
    """Return a task's comments the user may see: all for reviewers and managers (unless they
    read the task blind themselves) and once the task is done; otherwise a reader's own
    comments, those on their findings and the review of their reading."""
    base = Comment.objects.filter(task=task).select_related("author")
    project = task.project
    blind = _reading_blind_tasks(user, project).filter(pk=task.pk).exists()
    if (_sees_all(user, project) and not blind) or task.status == TaskStatus.DONE:
        return base
    return base.filter(
        Q(author=user)
        | Q(annotation__annotation_set__assignment__reader=user)
        | Q(assignment__reader=user)
    )


# --- lesion tracks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientRecist:
    """A patient's tracks, the studies measured, and their RECIST evaluation."""

    patient: Patient
    tracks: list[LesionTrack]
    studies: dict[int, Study]
    result: recist.RecistResult


def list_patients_for_user(*, user: User, project: Project) -> QuerySet[Patient]:
    """Return the project's (pseudonymous) patients if the user may view the project."""
    return Patient.objects.filter(
        project=project, project__in=projects_where(user=user, action=Action.VIEW_PROJECT)
    )


def list_measurements_for_user(*, user: User, project: Project) -> QuerySet[LesionMeasurement]:
    """Return the project's lesion measurements the user may see.

    Blinding: without the right to see all readers, a measurement taken from a finding shows
    only if that finding's set is visible to the user (or the user took the measurement).
    Manual measurements (no finding) show to every member.
    """
    query = LesionMeasurement.objects.filter(
        track__project=project,
        track__project__in=projects_where(user=user, action=Action.VIEW_PROJECT),
    ).select_related("study", "created_by")
    if can(user=user, project=project, action=Action.SEE_ALL_READERS):
        return query
    visible = list_visible_sets(user=user, project=project).values("pk")
    return query.filter(
        Q(annotation__isnull=True) | Q(created_by=user) | Q(annotation__annotation_set__in=visible)
    )


def list_tracks_for_user(
    *, user: User, project: Project, patient_id: int | None = None
) -> QuerySet[LesionTrack]:
    """Return the project's lesion tracks (of one patient if given) with the measurements the
    user may see."""
    query = LesionTrack.objects.filter(
        project=project, project__in=projects_where(user=user, action=Action.VIEW_PROJECT)
    )
    if not _sees_all(user, project):
        query = query.filter(created_by=user)  # a reader's tracks are their own
    if patient_id is not None:
        query = query.filter(patient_id=patient_id)
    return query.select_related("patient", "created_by").prefetch_related(
        Prefetch("measurements", queryset=list_measurements_for_user(user=user, project=project))
    )


def evaluate_patient(*, user: User, project: Project, patient: Patient) -> PatientRecist:
    """Evaluate RECIST 1.1 for a patient over every study one of their tracks is measured on.

    Raises:
        NotFoundError: the patient is not in the project.
    """
    if patient.project_id != project.pk:
        raise NotFoundError("No such patient.", field="patient")
    tracks = list(list_tracks_for_user(user=user, project=project, patient_id=patient.pk))
    studies: dict[int, Study] = {}
    lesions: list[recist.Lesion] = []
    for track in tracks:
        values: dict[int, recist.Diameters] = {}
        for measurement in track.measurements.all():
            studies[measurement.study_id] = measurement.study
            values[measurement.study_id] = recist.Diameters(
                long_axis_mm=measurement.long_axis_mm, short_axis_mm=measurement.short_axis_mm
            )
        lesions.append(
            recist.Lesion(
                track_id=track.pk,
                name=track.name,
                nodal=track.nodal,
                target=track.target,
                values=values,
            )
        )
    ordered = sorted(studies.values(), key=lambda s: (s.study_date is None, s.study_date, s.pk))
    points = [recist.TimePoint(study_id=s.pk, date=s.study_date) for s in ordered]
    result = recist.evaluate(time_points=points, lesions=lesions)
    return PatientRecist(patient=patient, tracks=tracks, studies=studies, result=result)


def count_tracks_by_patient(*, user: User, project: Project) -> dict[int, int]:
    """Return {patient id: lesion tracks the user sees} for the project."""
    return dict(
        list_tracks_for_user(user=user, project=project)
        .order_by()
        .values_list("patient_id")
        .annotate(n=Count("pk"))
        .values_list("patient_id", "n")
    )
