"""Which accepted work a training run learns from, and how it is split and sampled."""

from collections.abc import Callable

import numpy as np
import pytest

from annotator.accounts.models import User
from annotator.labeling.adjudication import finalize_reference, start_reference
from annotator.labeling.annotations import delete_annotation
from annotator.labeling.models import Annotation, AnnotationSet, SetKind
from annotator.labeling.reading import review_assignment, submit_assignment
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from ml_assist.training.dataset import (
    NotEnoughTrainingDataError,
    TrainingCase,
    load_case,
    sample_slices,
    select_training_cases,
    split_by_patient,
)
from tests.ml_assist.training_phantoms import (
    draw_mask,
    ingest_phantom,
    read_and_submit,
    set_training_schema,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def training_project(project: Project, manager: User) -> Project:
    set_training_schema(project, manager)
    return project


@pytest.fixture
def readers(member_of: Callable[[str], User]) -> list[User]:
    return [member_of(Role.ANNOTATOR) for _ in range(3)]


@pytest.fixture
def reviewer(member_of: Callable[[str], User]) -> User:
    return member_of(Role.REVIEWER)


def _small(project: Project, patient: str, seed: int = 0):  # type: ignore[no-untyped-def]
    return ingest_phantom(project, patient=patient, seed=seed, slices=6, size=32)


def test_final_reference_is_preferred_to_the_readings(
    training_project: Project, manager: User, readers: list[User], reviewer: User
) -> None:
    training_project.review_required = True
    training_project.save(update_fields=["review_required"])
    phantom = _small(training_project, "P1")
    phantom.task.readers_required = 2
    phantom.task.save(update_fields=["readers_required"])
    first = read_and_submit(phantom, reader=readers[0], manager=manager)
    read_and_submit(phantom, reader=readers[1], manager=manager)
    reference = start_reference(task=phantom.task, actor=reviewer, from_set=first.annotation_set)
    finalize_reference(task=phantom.task, actor=reviewer)

    [case] = select_training_cases(project=training_project, labels=["organ"])

    assert case.truth == "reference"
    ids = set(Annotation.objects.filter(annotation_set=reference).values_list("pk", flat=True))
    assert set(case.annotation_ids) == ids
    _, target = load_case(case, labels=["organ"])
    assert np.array_equal(target == 1, phantom.truth)


def test_rejected_and_unreviewed_readings_are_left_out(
    training_project: Project, manager: User, readers: list[User], reviewer: User
) -> None:
    training_project.review_required = True
    training_project.save(update_fields=["review_required"])
    rejected, waiting, accepted = (_small(training_project, f"P{n}", seed=n) for n in range(3))
    review_assignment(
        assignment=read_and_submit(rejected, reader=readers[0], manager=manager),
        actor=reviewer,
        decision="reject",
        comment="Redo the margin.",
    )
    read_and_submit(waiting, reader=readers[0], manager=manager)
    review_assignment(
        assignment=read_and_submit(accepted, reader=readers[0], manager=manager),
        actor=reviewer,
        decision="accept",
    )

    cases = select_training_cases(project=training_project, labels=["organ"])

    assert [(c.task_id, c.truth) for c in cases] == [(accepted.task.pk, "reading")]


def test_one_truth_per_task_when_several_readings_are_accepted(
    training_project: Project, manager: User, readers: list[User]
) -> None:
    phantom = _small(training_project, "P1")
    phantom.task.readers_required = 2
    phantom.task.save(update_fields=["readers_required"])
    earlier = read_and_submit(phantom, reader=readers[0], manager=manager)
    read_and_submit(phantom, reader=readers[1], manager=manager, mask=~phantom.truth)

    [case] = select_training_cases(project=training_project, labels=["organ"])

    assert case.annotation_ids == tuple(
        earlier.annotation_set.annotations.values_list("pk", flat=True)
    )


def test_readings_without_the_labels_or_with_deleted_masks_are_left_out(
    training_project: Project, manager: User, readers: list[User]
) -> None:
    other_label, deleted, kept = (_small(training_project, f"P{n}", seed=n) for n in range(3))
    read_and_submit(kept, reader=readers[0], manager=manager)
    read_and_submit(other_label, reader=readers[1], manager=manager, label="lesion")
    assignment = assign_reader(task=deleted.task, actor=manager, reader=readers[2])
    mask = draw_mask(assignment.annotation_set, readers[2], deleted.stack, deleted.truth)
    delete_annotation(annotation=mask, actor=readers[2], expected_version=mask.version)
    assignment.refresh_from_db()
    submit_assignment(assignment=assignment, actor=readers[2])

    cases = select_training_cases(project=training_project, labels=["organ"])

    assert [c.task_id for c in cases] == [kept.task.pk]


def test_selection_ignores_unfinished_and_model_sets(
    training_project: Project, manager: User, readers: list[User]
) -> None:
    phantom = _small(training_project, "P1")
    model_set = AnnotationSet.objects.create(task=phantom.task, kind=SetKind.MODEL)
    draw_mask(model_set, manager, phantom.stack, phantom.truth)
    unfinished = assign_reader(task=phantom.task, actor=manager, reader=readers[0])
    draw_mask(unfinished.annotation_set, readers[0], phantom.stack, phantom.truth)

    assert select_training_cases(project=training_project, labels=["organ"]) == []


def test_class_map_follows_the_label_order(
    training_project: Project, manager: User, readers: list[User]
) -> None:
    phantom = _small(training_project, "P1")
    assignment = assign_reader(task=phantom.task, actor=manager, reader=readers[0])
    lesion = np.zeros_like(phantom.truth)
    lesion[2, 10:14, 10:14] = True
    draw_mask(assignment.annotation_set, readers[0], phantom.stack, phantom.truth)
    draw_mask(assignment.annotation_set, readers[0], phantom.stack, lesion, label="lesion")
    assignment.refresh_from_db()
    submit_assignment(assignment=assignment, actor=readers[0])
    [case] = select_training_cases(project=training_project, labels=["organ", "lesion"])

    voxels, target = load_case(case, labels=["organ", "lesion"])

    assert voxels.shape == target.shape == phantom.truth.shape
    assert np.array_equal(target == 2, lesion)  # the later label wins where they overlap
    assert np.array_equal(target == 1, phantom.truth & ~lesion)
    assert select_training_cases(project=training_project, labels=["nodule"]) == []
    _, only_lesion = load_case(case, labels=["lesion"])
    assert set(np.unique(only_lesion)) == {0, 1}


def _case(task: int, patient: int) -> TrainingCase:
    return TrainingCase(
        task_id=task,
        stack_id=task,
        patient_id=patient,
        modality="CT",
        truth="reading",
        annotation_ids=(task,),
    )


def test_split_keeps_each_patient_on_one_side() -> None:
    cases = [_case(task, patient) for task, patient in enumerate([1, 1, 2, 3, 3, 3, 4, 5, 6, 7])]

    split = split_by_patient(cases, seed=3)

    train = {c.patient_id for c in split.train}
    validation = {c.patient_id for c in split.validation}
    assert not train & validation
    assert train | validation == {1, 2, 3, 4, 5, 6, 7}
    assert len(validation) == 1  # 20 % of 7 patients, rounded
    assert len(split.train) + len(split.validation) == len(cases)
    assert split_by_patient(cases, seed=3) == split
    assert split.summary()["validation_patients"] == 1


def test_split_refuses_a_single_patient_and_says_what_it_found() -> None:
    with pytest.raises(NotEnoughTrainingDataError, match=r"Found 2 accepted case\(s\) from 1 pa"):
        split_by_patient([_case(1, 9), _case(2, 9)])


def test_sampling_takes_every_foreground_slice_and_as_many_background_ones() -> None:
    target = np.zeros((20, 4, 4), dtype=np.uint8)
    target[[3, 4, 5], 1, 1] = 1
    chosen = sample_slices(target, rng=np.random.default_rng(0))
    assert {3, 4, 5} <= set(chosen.tolist())
    assert len(chosen) == 6
    empty = sample_slices(np.zeros((20, 4, 4), dtype=np.uint8), rng=np.random.default_rng(0))
    assert len(empty) == 4
