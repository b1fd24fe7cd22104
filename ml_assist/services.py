"""Writes of the model registry: register TorchScript uploads and built-ins, edit, deactivate.

Every problem with a registration is a `ModelRegistryError` naming the field, raised before
anything is stored; every write is audited.
"""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.core.errors import DomainError, StaleVersionError
from annotator.projects.access import Action, require
from annotator.projects.models import Project
from annotator.projects.schema import LabelKind, LabelScope
from annotator.projects.selectors import get_current_label_schema
from ml_assist.models import ModelKind, ModelSource, RegisteredModel

#: Largest TorchScript upload accepted (a 2D U-Net is a few MiB; big backbones a few hundred).
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


class ModelRegistryError(DomainError):
    """A model registration or edit was refused (bad file, spec, label map or name)."""

    code = "invalid_model"


def _fail(field: str, message: str) -> ModelRegistryError:
    return ModelRegistryError(f"{field}: {message}", field=field)


def _check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise _fail(
            "name",
            "Use 1-100 lower-case letters, digits, '.', '_' or '-', starting with one "
            "letter or digit.",
        )
    return name


def check_label_map(
    *, project: Project, label_map: Any, outputs: list[str] | None, channels: bool
) -> dict[str, str]:
    """Return the label map checked against the model's outputs and the current schema.

    `outputs` lists a built-in's output names; with `channels`, keys must be output channel
    numbers 1 and up (0 is background).

    Raises:
        ModelRegistryError: not an object, an unknown output, or a value that is not a 3D
            (series-scope) mask label of the project's current schema.
    """
    if not isinstance(label_map, dict) or not label_map:
        raise _fail("label_map", "Give an object mapping each model output to a mask label.")
    schema = get_current_label_schema(project=project)
    masks = {
        label["key"]
        for label in schema.labels
        if label["kind"] == LabelKind.MASK and label.get("scope") == LabelScope.SERIES
    }
    checked: dict[str, str] = {}
    for key, value in label_map.items():
        where = f"label_map.{key}"
        if channels and (not str(key).isdigit() or int(key) < 1 or int(key) > 255):
            raise _fail(where, "Keys are output channel numbers from 1 to 255 (0 is background).")
        if outputs is not None and key not in outputs:
            raise _fail(where, f"Not an output of this model; its outputs are {outputs}.")
        if not isinstance(value, str) or value not in masks:
            raise _fail(
                where,
                f"Must be the key of a 3D (series-scope) mask label of the current schema: "
                f"{sorted(masks)}.",
            )
        checked[str(int(key)) if channels else str(key)] = value
    return checked


def _check_triage(input_spec: Mapping[str, Any], label_map: Mapping[str, str]) -> None:
    triage = input_spec.get("triage")
    if triage is None:
        return
    full = triage.get("full_ml") if isinstance(triage, dict) else None
    if (
        not isinstance(triage, dict)
        or triage.get("label") not in set(label_map.values())
        or isinstance(full, bool)
        or not isinstance(full, int | float)
        or full <= 0
    ):
        raise _fail(
            "input_spec.triage",
            'Give {"label": <a mapped mask label>, "full_ml": <volume in ml that scores 1>}.',
        )


def _next_version(project: Project, name: str) -> int:
    # The project row lock serializes registrations, so two uploads never get one number.
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk").get()
    last = RegisteredModel.objects.filter(project=project, name=name).aggregate(v=Max("version"))
    return int(last["v"] or 0) + 1


def _audit(model: RegisteredModel, actor: User | None, action: str, changes: Any) -> None:
    record_event(actor=actor, action=action, obj=model, project=model.project, changes=changes)


def register_torchscript_model(
    *,
    project: Project,
    actor: User,
    name: str,
    kind: str,
    data: bytes,
    label_map: Any,
    input_spec: Any,
    metrics: Any = None,
    description: str = "",
) -> RegisteredModel:
    """Register an uploaded TorchScript 2D segmentation model as the name's next version.

    The file must load with torch.jit.load and a dry run on two tiny slices of the declared
    channels must return logits of the declared shape; nothing is stored otherwise.

    Raises:
        NotFoundError, PermissionDeniedError: the actor may not manage the project.
        ModelRegistryError: a bad name, kind, file, spec, label map or metrics (field named).
    """
    require(user=actor, project=project, action=Action.EDIT_PROJECT)
    name = _check_name(name)
    if kind != ModelKind.SEGMENTATION_2D:
        raise _fail("kind", "TorchScript uploads run as 2D segmentation (segmentation_2d).")
    if not data:
        raise _fail("file", "The file is empty.")
    if len(data) > MAX_WEIGHTS_BYTES:
        raise _fail("file", f"The file is larger than {MAX_WEIGHTS_BYTES >> 20} MiB.")
    if not isinstance(input_spec, dict):
        raise _fail("input_spec", "Give an object (see the TorchScript contract).")
    if metrics is not None and not isinstance(metrics, dict):
        raise _fail("metrics", "Give an object of named figures.")
    checked = check_label_map(project=project, label_map=label_map, outputs=None, channels=True)
    _check_triage(input_spec, checked)
    _dry_run(data, input_spec, checked)
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        model = RegisteredModel(
            project=project,
            name=name,
            version=_next_version(project, name),
            kind=kind,
            source=ModelSource.TORCHSCRIPT,
            label_map=checked,
            input_spec=input_spec,
            metrics=metrics or {},
            description=description,
            weights_sha256=digest,
            created_by=actor,
        )
        model.full_clean(exclude=["weights"])
        model.weights.save(
            f"{project.pk}-{name}-v{model.version}.pt", ContentFile(data), save=False
        )
        model.save()
        _audit(
            model,
            actor,
            "ml_model.register",
            {"tag": [None, model.tag], "sha256": [None, digest], "source": [None, model.source]},
        )
    return model


def _dry_run(data: bytes, input_spec: dict[str, Any], label_map: dict[str, str]) -> None:
    """Load and try the model on the CPU; turn any refusal into a 400 naming the field."""
    import torch

    from ml_assist.predictors.base import PredictorError
    from ml_assist.predictors.torchscript import dry_run, load_module_bytes, parse_input_spec

    try:
        parse_input_spec(input_spec)
    except PredictorError as error:
        field = str(error).split(":", 1)[0]
        raise ModelRegistryError(str(error), field=field) from error
    try:
        module = load_module_bytes(data, torch.device("cpu"))
    except PredictorError as error:
        raise ModelRegistryError(f"file: {error}", field="file") from error
    try:
        dry_run(module, input_spec=input_spec, label_map=label_map)
    except PredictorError as error:
        raise ModelRegistryError(f"file: the dry run failed: {error}", field="file") from error


def register_builtin_model(
    *,
    project: Project,
    actor: User,
    name: str,
    builtin: str,
    label_map: Any,
    input_spec: Any = None,
    description: str = "",
) -> RegisteredModel:
    """Register a built-in classical predictor under a name (its next version).

    Raises:
        NotFoundError, PermissionDeniedError: the actor may not manage the project.
        ModelRegistryError: unknown built-in, bad name or label map.
    """
    from ml_assist.predictors.classical import BUILTINS

    require(user=actor, project=project, action=Action.EDIT_PROJECT)
    name = _check_name(name)
    spec = BUILTINS.get(builtin)
    if spec is None:
        raise _fail("builtin", f"Unknown built-in; choose one of {sorted(BUILTINS)}.")
    checked = check_label_map(
        project=project, label_map=label_map, outputs=list(spec.outputs), channels=False
    )
    extra = dict(input_spec or {}) if isinstance(input_spec, dict | type(None)) else None
    if extra is None:
        raise _fail("input_spec", "Give an object.")
    _check_triage(extra, checked)
    with transaction.atomic():
        model = RegisteredModel(
            project=project,
            name=name,
            version=_next_version(project, name),
            kind=ModelKind.SEGMENTATION_3D,
            source=ModelSource.BUILTIN,
            builtin=builtin,
            label_map=checked,
            input_spec={**extra, "modalities": list(spec.modalities)},
            description=description or spec.description,
            created_by=actor,
        )
        model.full_clean()
        model.save()
        _audit(
            model,
            actor,
            "ml_model.register",
            {"tag": [None, model.tag], "builtin": [None, builtin]},
        )
    return model


def _lock_model(model: RegisteredModel, expected_revision: int | None) -> RegisteredModel:
    locked = RegisteredModel.objects.select_for_update().select_related("project").get(pk=model.pk)
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleVersionError(
            f"Model {locked.tag} was changed by someone else (revision {expected_revision} -> "
            f"{locked.revision}); reload it and apply your edit again.",
            current=locked,
        )
    return locked


@transaction.atomic
def update_model(
    *,
    model: RegisteredModel,
    actor: User,
    expected_revision: int,
    active: bool | None = None,
    description: str | None = None,
    label_map: Any = None,
) -> RegisteredModel:
    """Change a model's active flag, description or label map (managers).

    Activating a version deactivates the name's other versions: one version of a name runs.

    Raises:
        StaleVersionError: the model changed since `expected_revision`.
        ModelRegistryError: a label map that does not fit the model or the schema.
    """
    require(user=actor, project=model.project, action=Action.EDIT_PROJECT)
    locked = _lock_model(model, expected_revision)
    before = {
        "active": locked.active,
        "description": locked.description,
        "label_map": locked.label_map,
    }
    if label_map is not None:
        outputs = None
        if locked.source == ModelSource.BUILTIN:
            from ml_assist.predictors.classical import BUILTINS

            outputs = list(BUILTINS[locked.builtin].outputs)
        locked.label_map = check_label_map(
            project=locked.project,
            label_map=label_map,
            outputs=outputs,
            channels=locked.source != ModelSource.BUILTIN,
        )
        _check_triage(locked.input_spec, locked.label_map)
    if description is not None:
        locked.description = description
    if active is not None:
        locked.active = active
        if active:
            for other in RegisteredModel.objects.filter(
                project=locked.project, name=locked.name, active=True
            ).exclude(pk=locked.pk):
                other.active = False
                other.revision += 1
                other.save(update_fields=["active", "revision", "updated_at"])
                _audit(other, actor, "ml_model.update", {"active": [True, False]})
    locked.revision += 1
    locked.full_clean()
    locked.save()
    after = {
        "active": locked.active,
        "description": locked.description,
        "label_map": locked.label_map,
    }
    _audit(
        locked,
        actor,
        "ml_model.update",
        {key: [before[key], value] for key, value in after.items() if before[key] != value},
    )
    return locked


def deactivate_model(*, model: RegisteredModel, actor: User) -> RegisteredModel:
    """Stop a model from running (its predictions and annotations stay)."""
    return update_model(model=model, actor=actor, expected_revision=model.revision, active=False)
