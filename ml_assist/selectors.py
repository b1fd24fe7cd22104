"""Reads of the model registry and of predictions."""

from django.db.models import Exists, OuterRef, QuerySet

from annotator.core.errors import NotFoundError
from annotator.labeling.models import Annotation, LabelingTask, SetKind, TaskStatus
from annotator.projects.models import Project
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel


def list_models(*, project: Project) -> QuerySet[RegisteredModel]:
    """Return a project's registered model versions, newest version of each name first."""
    return RegisteredModel.objects.filter(project=project).select_related("created_by", "project")


def list_active_models(*, project: Project) -> QuerySet[RegisteredModel]:
    """Return the model versions that pre-annotate on ingest (one per name at most)."""
    return list_models(project=project).filter(active=True).order_by("name", "-version")


def list_predictions(*, model: RegisteredModel) -> QuerySet[Prediction]:
    """Return a model version's predictions, newest first."""
    return (
        Prediction.objects.filter(model=model)
        .select_related("model", "task")
        .order_by("-created_at", "-pk")
    )


def list_unlabeled_tasks(*, model: RegisteredModel) -> QuerySet[LabelingTask]:
    """Return the model's project's open tasks nobody has annotated and this model has not
    pre-annotated successfully yet."""
    human = Annotation.objects.filter(
        annotation_set__task=OuterRef("pk"),
        annotation_set__kind__in=[SetKind.READER, SetKind.REFERENCE],
        deleted=False,
    )
    predicted = Prediction.objects.filter(
        model=model, task=OuterRef("pk"), status=PredictionStatus.SUCCEEDED
    )
    return (
        LabelingTask.objects.filter(project_id=model.project_id)
        .exclude(status__in=[TaskStatus.DONE, TaskStatus.SKIPPED])
        .exclude(Exists(human))
        .exclude(Exists(predicted))
        .order_by("pk")
    )


def resolve_prediction_tasks(
    *,
    model: RegisteredModel,
    task_ids: list[int] | None = None,
    series_ids: list[int] | None = None,
    unlabeled: bool = False,
    limit: int = 5000,
) -> list[LabelingTask]:
    """Return the model's project's tasks a pre-annotation request names: by id, by series,
    or every unlabeled one (at most `limit` + 1, so the caller can refuse too many).

    Raises:
        NotFoundError: an id that is not a task (or a series with a task) of the project.
    """
    if unlabeled:
        return list(list_unlabeled_tasks(model=model)[: limit + 1])
    in_project = LabelingTask.objects.filter(project_id=model.project_id).order_by("pk")
    if task_ids:
        wanted = set(task_ids)
        tasks = list(in_project.filter(pk__in=wanted))
        missing = sorted(wanted - {t.pk for t in tasks})
        if missing:
            raise NotFoundError(f"No such task(s) in this project: {missing}.", field="task_ids")
        return tasks
    series = set(series_ids or [])
    tasks = list(in_project.filter(series_id__in=series))
    missing = sorted(series - {t.series_id for t in tasks})
    if missing:
        raise NotFoundError(
            f"No such series with a task in this project: {missing}.", field="series_ids"
        )
    return tasks
