"""Project, membership and label schema services against the database."""

import copy
from collections.abc import Callable

import pytest

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.core.errors import StaleVersionError
from annotator.projects.models import LabelSchema, Membership, Project, Role
from annotator.projects.schema import SchemaValidationError
from annotator.projects.services import (
    DuplicateMemberError,
    DuplicateProjectNameError,
    InvalidProjectError,
    LastManagerError,
    ProjectArchivedError,
    add_member,
    change_member_role,
    mark_label_schema_in_use,
    remove_member,
    update_label_schema,
    update_project,
)
from tests.factories import CT_LABELS, UserFactory, make_project

pytestmark = pytest.mark.django_db


def test_create_project_makes_owner_manager_schema_and_audit(manager: User) -> None:
    project = make_project(
        owner=manager,
        name="  Mammo screening ",
        modalities=["MG"],
        labels=CT_LABELS,
        readers_per_item=2,
        review_required=True,
    )
    assert project.name == "Mammo screening"
    assert Membership.objects.get(project=project).role == Role.MANAGER
    schema = LabelSchema.objects.get(project=project)
    assert (schema.version, schema.revision, schema.in_use) == (1, 1, False)
    assert [label["key"] for label in schema.labels] == ["nodule", "quality"]
    actions = list(
        AuditEvent.objects.filter(project=project).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["project.create", "member.add", "schema.create"]
    created = AuditEvent.objects.get(project=project, action="project.create")
    assert created.actor == manager
    assert created.changes["readers_per_item"] == [None, 2]


def test_create_project_rejects_duplicate_name_any_case(manager: User) -> None:
    make_project(owner=manager, name="Lung CT")
    with pytest.raises(DuplicateProjectNameError):
        make_project(owner=manager, name="lung ct")
    make_project(owner=UserFactory.create(), name="Lung CT")  # another owner may reuse it
    assert Project.objects.filter(name__iexact="lung ct").count() == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"modalities": []}, InvalidProjectError),
        ({"modalities": ["PET"]}, InvalidProjectError),
        ({"readers_per_item": 0}, InvalidProjectError),
        (
            {
                "display_settings": {
                    "CT": {"window_presets": [{"name": "x", "center": 1, "width": -3}]}
                }
            },
            InvalidProjectError,
        ),
        ({"labels": [{"key": "x", "name": "X", "kind": "nope"}]}, SchemaValidationError),
    ],
)
def test_create_project_invalid_input_writes_nothing(
    manager: User, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_project(owner=manager, name="Broken", **kwargs)
    assert not Project.objects.exists()
    assert not AuditEvent.objects.exists()


def test_update_project_bumps_version_and_records_diff(project: Project, manager: User) -> None:
    updated = update_project(
        project=project,
        actor=manager,
        expected_version=1,
        changes={"readers_per_item": 3, "description": "Nodules"},
    )
    assert updated.version == 2
    event = AuditEvent.objects.get(action="project.update")
    assert event.changes == {"readers_per_item": [1, 3], "description": ["", "Nodules"]}


def test_update_project_stale_version_keeps_stored_data(project: Project, manager: User) -> None:
    update_project(
        project=project, actor=manager, expected_version=1, changes={"description": "first"}
    )
    with pytest.raises(StaleVersionError) as raised:
        update_project(
            project=project, actor=manager, expected_version=1, changes={"description": "second"}
        )
    assert raised.value.extra["current"].description == "first"
    project.refresh_from_db()
    assert (project.description, project.version) == ("first", 2)


def test_update_project_without_changes_is_a_no_op(project: Project, manager: User) -> None:
    same = update_project(
        project=project, actor=manager, expected_version=1, changes={"name": "Chest CT"}
    )
    assert same.version == 1
    assert not AuditEvent.objects.filter(action="project.update").exists()


def test_archived_project_only_accepts_unarchive(project: Project, manager: User) -> None:
    archived = update_project(
        project=project, actor=manager, expected_version=1, changes={"archived": True}
    )
    assert AuditEvent.objects.filter(action="project.archive").exists()
    with pytest.raises(ProjectArchivedError):
        update_project(
            project=project,
            actor=manager,
            expected_version=archived.version,
            changes={"description": "x"},
        )
    with pytest.raises(ProjectArchivedError):
        update_label_schema(project=archived, actor=manager, base_revision=1, labels=CT_LABELS)
    restored = update_project(
        project=project,
        actor=manager,
        expected_version=archived.version,
        changes={"archived": False},
    )
    assert restored.archived is False


def test_rename_to_existing_name_conflicts(manager: User) -> None:
    make_project(owner=manager, name="A")
    b = make_project(owner=manager, name="B")
    with pytest.raises(DuplicateProjectNameError):
        update_project(project=b, actor=manager, expected_version=1, changes={"name": "a"})
    b.refresh_from_db()
    assert b.name == "B"


def test_members_add_change_remove_with_audit(project: Project, manager: User) -> None:
    reader = UserFactory.create()
    membership = add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    with pytest.raises(DuplicateMemberError):
        add_member(project=project, actor=manager, user=reader, role=Role.VIEWER)
    change_member_role(membership=membership, actor=manager, role=Role.REVIEWER)
    remove_member(membership=membership, actor=manager)
    assert not Membership.objects.filter(user=reader).exists()
    actions = list(
        AuditEvent.objects.filter(object_type="projects.membership", object_id=str(membership.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["member.add", "member.update", "member.remove"]


def test_last_manager_cannot_leave_or_be_demoted(project: Project, manager: User) -> None:
    own = Membership.objects.get(project=project, user=manager)
    with pytest.raises(LastManagerError):
        change_member_role(membership=own, actor=manager, role=Role.VIEWER)
    with pytest.raises(LastManagerError):
        remove_member(membership=own, actor=manager)
    second = UserFactory.create()
    add_member(project=project, actor=manager, user=second, role=Role.MANAGER)
    change_member_role(membership=own, actor=manager, role=Role.VIEWER)
    assert Membership.objects.get(pk=own.pk).role == Role.VIEWER


def test_schema_edit_in_place_while_unused(project: Project, manager: User) -> None:
    outcome = update_label_schema(project=project, actor=manager, base_revision=1, labels=CT_LABELS)
    assert outcome.new_version is False
    assert (outcome.schema.version, outcome.schema.revision) == (1, 2)
    smaller = update_label_schema(
        project=project, actor=manager, base_revision=2, labels=CT_LABELS[:1]
    )  # breaking, but nothing uses v1 yet
    assert (smaller.schema.version, smaller.new_version) == (1, False)
    assert LabelSchema.objects.filter(project=project).count() == 1


def test_schema_breaking_change_in_use_makes_new_version(project: Project, manager: User) -> None:
    first = update_label_schema(
        project=project, actor=manager, base_revision=1, labels=CT_LABELS
    ).schema
    mark_label_schema_in_use(schema=first, actor=manager)
    cosmetic = copy.deepcopy(CT_LABELS)
    cosmetic[0]["color"] = "#123456"
    same_version = update_label_schema(
        project=project, actor=manager, base_revision=2, labels=cosmetic
    )
    assert (same_version.new_version, same_version.schema.version) == (False, 1)
    outcome = update_label_schema(
        project=project, actor=manager, base_revision=3, labels=cosmetic[:1], note="drop quality"
    )
    assert outcome.new_version is True
    assert (outcome.schema.version, outcome.schema.revision) == (2, 4)
    assert [c.change for c in outcome.changes if c.breaking] == ["label removed"]
    old = LabelSchema.objects.get(project=project, version=1)
    assert [label["key"] for label in old.labels] == ["nodule", "quality"]  # history kept
    assert AuditEvent.objects.filter(
        action="schema.create", object_id=str(outcome.schema.pk)
    ).exists()


def test_schema_stale_revision_conflicts_and_keeps_data(project: Project, manager: User) -> None:
    update_label_schema(project=project, actor=manager, base_revision=1, labels=CT_LABELS)
    with pytest.raises(StaleVersionError) as raised:
        update_label_schema(project=project, actor=manager, base_revision=1, labels=[])
    assert raised.value.extra["current"].revision == 2
    assert len(LabelSchema.objects.get(project=project).labels) == 2


def test_schema_invalid_labels_change_nothing(project: Project, manager: User) -> None:
    with pytest.raises(SchemaValidationError):
        update_label_schema(
            project=project,
            actor=manager,
            base_revision=1,
            labels=[{"key": "x", "name": "X", "kind": "polygon", "scope": "study"}],
        )
    schema = LabelSchema.objects.get(project=project)
    assert (schema.revision, schema.labels) == (1, [])


def test_mark_in_use_is_idempotent(
    project: Project, manager: User, member_of: Callable[[str], User]
) -> None:
    schema = LabelSchema.objects.get(project=project)
    mark_label_schema_in_use(schema=schema)
    mark_label_schema_in_use(schema=schema)
    assert AuditEvent.objects.filter(action="schema.in_use").count() == 1
