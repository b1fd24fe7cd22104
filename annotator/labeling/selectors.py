"""Reads of labeling data, scoped to what the asking user may see.

Blinding: a reader sees their own readings (and model or imported starting points) of a task
until it is done; afterwards, and always for reviewers and managers, every set is visible.
"""

from django.db.models import Q, QuerySet

from annotator.accounts.models import User
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    Assignment,
    Comment,
    LabelingTask,
    SetKind,
    TaskStatus,
)
from annotator.projects.access import Action, projects_where
from annotator.projects.models import Project


def _all_readers_projects(user: User) -> QuerySet[Project]:
    return projects_where(user=user, action=Action.SEE_ALL_READERS)


def list_tasks_for_user(*, user: User, project: Project) -> QuerySet[LabelingTask]:
    """Return the project's tasks the user may see: all for reviewers and managers, a reader's
    own (assigned or claimable) for annotators and viewers see all task rows but no readings."""
    return (
        LabelingTask.objects.filter(
            project=project, project__in=projects_where(user=user, action=Action.VIEW_PROJECT)
        )
        .select_related("study", "series", "instance")
        .prefetch_related("assignments__reader")
    )


def list_visible_sets(*, user: User, project: Project) -> QuerySet[AnnotationSet]:
    """Return the annotation sets of the project the user may see (blinding applied)."""
    base = AnnotationSet.objects.filter(task__project=project).select_related(
        "task", "assignment__reader"
    )
    if project.pk in set(_all_readers_projects(user).values_list("pk", flat=True)):
        return base
    if not projects_where(user=user, action=Action.VIEW_PROJECT).filter(pk=project.pk).exists():
        return base.none()
    return base.filter(
        Q(assignment__reader=user)
        | Q(task__status=TaskStatus.DONE)
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
    if project.pk in set(_all_readers_projects(user).values_list("pk", flat=True)):
        return base
    return base.filter(reader=user)


def list_comments_for_user(*, user: User, task: LabelingTask) -> QuerySet[Comment]:
    """Return a task's comments; readers see the task's general comments and those on their
    own findings (blinding), reviewers and managers see all."""
    base = Comment.objects.filter(task=task).select_related("author")
    if task.project_id in set(_all_readers_projects(user).values_list("pk", flat=True)):
        return base
    return base.filter(
        Q(annotation__isnull=True) | Q(annotation__annotation_set__assignment__reader=user)
    )
