"""Writes for projects, memberships and label schemas; each one leaves an audit event."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotator.accounts.models import User
from annotator.audit.services import diff, record_event, snapshot
from annotator.core.errors import ConflictError, DomainError, StaleVersionError
from annotator.core.versions import lock_version
from annotator.projects.models import LabelSchema, Membership, Project, Role
from annotator.projects.schema import validate_labels
from annotator.projects.schema_changes import SchemaChange, compare_schemas

PROJECT_FIELDS = [
    "name",
    "description",
    "modalities",
    "readers_per_item",
    "review_required",
    "task_unit",
    "auto_assign",
    "archived",
    "display_settings",
]


class DuplicateProjectNameError(ConflictError):
    """The owner already has a project of that name."""

    code = "duplicate_project_name"


class DuplicateMemberError(ConflictError):
    """The user is already a member of the project."""

    code = "duplicate_member"


class ProjectArchivedError(ConflictError):
    """The project is archived; only un-archiving is allowed."""

    code = "project_archived"


class LastManagerError(DomainError):
    """The change would leave the project without a manager."""

    code = "last_manager"


class InvalidProjectError(DomainError):
    """A project field failed validation; `errors` maps fields to messages."""

    code = "validation_error"

    def __init__(self, error: ValidationError) -> None:
        errors = error.message_dict
        field, messages = next(iter(errors.items()))
        super().__init__(messages[0], field=field, errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class SchemaUpdate:
    """The outcome of saving a schema: the schema now current and what changed."""

    schema: LabelSchema
    new_version: bool
    changes: list[SchemaChange]


def _name_taken(*, owner: User, name: str, exclude_pk: int | None = None) -> bool:
    same_name = Project.objects.filter(owner=owner, name__iexact=name.strip())
    if exclude_pk is not None:
        same_name = same_name.exclude(pk=exclude_pk)
    return same_name.exists()


def _validated(project: Project) -> None:
    try:
        project.full_clean(validate_constraints=False)
    except ValidationError as error:
        raise InvalidProjectError(error) from error


def _save_unique(project: Project, **save_kwargs: Any) -> None:
    """Save, turning a lost race on the unique name into the same 409 as the early check."""
    try:
        with transaction.atomic():
            project.save(**save_kwargs)
    except IntegrityError as error:
        if "project_name_unique_per_owner" in str(error) or "UNIQUE" in str(error):
            raise DuplicateProjectNameError(
                "You already have a project with this name.", field="name"
            ) from error
        raise


@transaction.atomic
def create_project(
    *,
    owner: User,
    name: str,
    modalities: list[str],
    description: str = "",
    readers_per_item: int = 1,
    review_required: bool = False,
    task_unit: str = "series",
    auto_assign: bool = True,
    display_settings: dict[str, Any] | None = None,
    labels: list[dict[str, Any]] | None = None,
) -> Project:
    """Create a project with its owner as manager and label schema version 1.

    Raises:
        DuplicateProjectNameError: the owner has a project of that name (any letter case).
        InvalidProjectError, SchemaValidationError: a field or a label is invalid.
    """
    normalized_labels = validate_labels(labels or [])
    project = Project(
        owner=owner,
        name=name.strip(),
        description=description,
        modalities=modalities,
        readers_per_item=readers_per_item,
        review_required=review_required,
        task_unit=task_unit,
        auto_assign=auto_assign,
        display_settings=display_settings or {},
    )
    _validated(project)
    if _name_taken(owner=owner, name=project.name):
        raise DuplicateProjectNameError("You already have a project with this name.", field="name")
    _save_unique(project)
    record_event(
        actor=owner,
        action="project.create",
        obj=project,
        project=project,
        changes=diff({}, snapshot(project, PROJECT_FIELDS)),
    )
    membership = Membership.objects.create(
        project=project, user=owner, role=Role.MANAGER, added_by=owner
    )
    record_event(
        actor=owner,
        action="member.add",
        obj=membership,
        project=project,
        changes={"user": [None, owner.username], "role": [None, Role.MANAGER]},
    )
    schema = LabelSchema.objects.create(
        project=project, version=1, revision=1, labels=normalized_labels, created_by=owner
    )
    record_event(
        actor=owner,
        action="schema.create",
        obj=schema,
        project=project,
        changes={"labels": [None, normalized_labels]},
    )
    return project


@transaction.atomic
def update_project(
    *, project: Project, actor: User, expected_version: int, changes: dict[str, Any]
) -> Project:
    """Apply field changes to a project the caller saw at `expected_version`.

    Raises:
        StaleVersionError: someone saved the project since (carries the current project).
        ProjectArchivedError: the project is archived and the change does not un-archive it.
        DuplicateProjectNameError, InvalidProjectError.
    """
    locked = lock_version(
        Project.objects.all(), pk=project.pk, expected_version=expected_version, what="The project"
    )
    unknown = set(changes) - set(PROJECT_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    if locked.archived and changes.get("archived", True) is not False:
        raise ProjectArchivedError("The project is archived; un-archive it to edit it.")
    before = snapshot(locked, PROJECT_FIELDS)
    for field, value in changes.items():
        setattr(locked, field, value.strip() if field == "name" else value)
    after = snapshot(locked, PROJECT_FIELDS)
    changed = diff(before, after)
    if not changed:
        return locked
    _validated(locked)
    if "name" in changed and _name_taken(
        owner=locked.owner, name=locked.name, exclude_pk=locked.pk
    ):
        raise DuplicateProjectNameError("You already have a project with this name.", field="name")
    locked.version += 1
    _save_unique(locked)
    action = "project.update"
    if "archived" in changed:
        action = "project.archive" if locked.archived else "project.unarchive"
    record_event(actor=actor, action=action, obj=locked, project=locked, changes=changed)
    return locked


def _guard_last_manager(membership: Membership, new_role: str | None) -> None:
    if membership.role != Role.MANAGER or new_role == Role.MANAGER:
        return
    others = (
        Membership.objects.select_for_update()
        .filter(project=membership.project, role=Role.MANAGER)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise LastManagerError("A project needs at least one manager.", field="role")


@transaction.atomic
def add_member(*, project: Project, actor: User, user: User, role: str) -> Membership:
    """Give a user a role in the project.

    Raises:
        DuplicateMemberError: the user is already a member.
    """
    if Membership.objects.filter(project=project, user=user).exists():
        raise DuplicateMemberError(
            "This user is already a member; change their role instead.", field="username"
        )
    membership = Membership(project=project, user=user, role=role, added_by=actor)
    membership.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as error:
        raise DuplicateMemberError("This user is already a member.", field="username") from error
    record_event(
        actor=actor,
        action="member.add",
        obj=membership,
        project=project,
        changes={"user": [None, user.username], "role": [None, role]},
    )
    return membership


@transaction.atomic
def change_member_role(*, membership: Membership, actor: User, role: str) -> Membership:
    """Change a member's role.

    Raises:
        LastManagerError: it would demote the project's only manager.
    """
    locked = (
        Membership.objects.select_for_update()
        .select_related("user", "project")
        .get(pk=membership.pk)
    )
    if locked.role == role:
        return locked
    _guard_last_manager(locked, role)
    before = locked.role
    locked.role = role
    locked.full_clean(validate_constraints=False)
    locked.save(update_fields=["role"])
    record_event(
        actor=actor,
        action="member.update",
        obj=locked,
        project=locked.project,
        changes={"role": [before, role]},
    )
    return locked


@transaction.atomic
def remove_member(*, membership: Membership, actor: User) -> None:
    """Remove a user from the project.

    Raises:
        LastManagerError: it would remove the project's only manager.
    """
    locked = (
        Membership.objects.select_for_update()
        .select_related("user", "project")
        .get(pk=membership.pk)
    )
    _guard_last_manager(locked, None)
    record_event(
        actor=actor,
        action="member.remove",
        obj=locked,
        project=locked.project,
        changes={"user": [locked.user.username, None], "role": [locked.role, None]},
    )
    locked.delete()


@transaction.atomic
def update_label_schema(
    *,
    project: Project,
    actor: User,
    base_revision: int,
    labels: list[dict[str, Any]],
    note: str = "",
) -> SchemaUpdate:
    """Save new labels for the project, as a new version when the current one is in use and
    the change is breaking, otherwise in place.

    Raises:
        StaleVersionError: the schema changed since `base_revision` (carries the current one).
        SchemaValidationError: a label is invalid (dotted paths name the fields).
        ProjectArchivedError: the project is archived.
    """
    Project.objects.select_for_update().get(pk=project.pk)  # one schema writer per project
    current = LabelSchema.objects.filter(project=project).order_by("-version").first()
    if current is None or current.revision != base_revision:
        raise StaleVersionError(
            "The label schema was changed by someone else; reload it.", current=current
        )
    if project.archived:
        raise ProjectArchivedError("The project is archived; un-archive it to edit it.")
    normalized = validate_labels(labels)
    changes = compare_schemas(current.labels, normalized)
    if not changes:
        return SchemaUpdate(schema=current, new_version=False, changes=[])
    before = current.labels
    if current.in_use and any(change.breaking for change in changes):
        schema = LabelSchema.objects.create(
            project=project,
            version=current.version + 1,
            revision=current.revision + 1,
            labels=normalized,
            note=note,
            created_by=actor,
        )
        record_event(
            actor=actor,
            action="schema.create",
            obj=schema,
            project=project,
            changes={"labels": [before, normalized], "version": [current.version, schema.version]},
        )
        return SchemaUpdate(schema=schema, new_version=True, changes=changes)
    current.labels = normalized
    current.note = note
    current.revision += 1
    current.save(update_fields=["labels", "note", "revision", "updated_at"])
    record_event(
        actor=actor,
        action="schema.update",
        obj=current,
        project=project,
        changes={"labels": [before, normalized]},
    )
    return SchemaUpdate(schema=current, new_version=False, changes=changes)


@transaction.atomic
def mark_label_schema_in_use(*, schema: LabelSchema, actor: User | None = None) -> LabelSchema:
    """Mark a schema version as referenced by annotations, so breaking edits fork a version.

    The labeling services call this when they store the first annotation made under it.
    """
    updated = LabelSchema.objects.filter(pk=schema.pk, in_use=False).update(in_use=True)
    schema.refresh_from_db()
    if updated:
        record_event(
            actor=actor,
            action="schema.in_use",
            obj=schema,
            project=schema.project,
            changes={"in_use": [False, True]},
        )
    return schema
