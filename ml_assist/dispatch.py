"""Writes that start ML work or decide when it starts: pre-annotation requests and a
project's ML settings (pre-annotation on ingest, triage sets priority)."""

from typing import Any

from django.db import transaction

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.versions import lock_version
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import enqueue_job
from annotator.labeling.models import LabelingTask
from annotator.projects.access import Action, require
from annotator.projects.models import Project
from ml_assist.models import ModelKind, RegisteredModel
from ml_assist.services import ModelRegistryError

#: Most tasks one pre-annotation request may cover (one job; progress per task).
MAX_TASKS_PER_REQUEST = 5000


@transaction.atomic
def update_ml_settings(
    *,
    project: Project,
    actor: User,
    expected_version: int,
    preannotate_on_ingest: bool | None = None,
    triage_sets_priority: bool | None = None,
) -> Project:
    """Turn pre-annotation on ingest and triage-sets-priority on or off (managers).

    Raises:
        StaleVersionError: the project changed since `expected_version`.
    """
    require(user=actor, project=project, action=Action.EDIT_PROJECT)
    locked = lock_version(
        Project.objects.all(), pk=project.pk, expected_version=expected_version, what="The project"
    )
    changes: dict[str, list[Any]] = {}
    for field, value in (
        ("preannotate_on_ingest", preannotate_on_ingest),
        ("triage_sets_priority", triage_sets_priority),
    ):
        if value is not None and getattr(locked, field) != value:
            changes[field] = [getattr(locked, field), value]
            setattr(locked, field, value)
    locked.version += 1
    locked.save(
        update_fields=["preannotate_on_ingest", "triage_sets_priority", "version", "updated_at"]
    )
    record_event(
        actor=actor, action="project.ml_settings", obj=locked, project=locked, changes=changes
    )
    return locked


def request_preannotation(
    *, model: RegisteredModel, actor: User | None, tasks: list[LabelingTask]
) -> Job:
    """Queue one gpu job that runs `model` on `tasks` (after commit); follow it at /jobs/{id}/.

    Raises:
        ModelRegistryError: no tasks, too many, or a model that is not segmentation.
    """
    if actor is not None:
        require(user=actor, project=model.project, action=Action.EDIT_PROJECT)
    if model.kind not in (ModelKind.SEGMENTATION_2D, ModelKind.SEGMENTATION_3D):
        raise ModelRegistryError("model: Only segmentation models pre-annotate.", field="model")
    if not tasks:
        raise ModelRegistryError("task_ids: No task to pre-annotate.", field="task_ids")
    if len(tasks) > MAX_TASKS_PER_REQUEST:
        raise ModelRegistryError(
            f"task_ids: At most {MAX_TASKS_PER_REQUEST} tasks per request.", field="task_ids"
        )
    return enqueue_job(
        kind=JobKind.PREANNOTATE,
        created_by=actor,
        project=model.project,
        queue="gpu",
        params={
            "model_id": model.pk,
            "task_ids": sorted(t.pk for t in tasks),
            "trigger": "request",
        },
    )
