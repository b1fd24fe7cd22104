"""Tasks open when images arrive; readers are dealt or claim slots, submit, are reviewed;
multi-reader tasks are adjudicated; blinding and active time."""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection

from annotator.accounts.models import User
from annotator.core.errors import StaleVersionError
from annotator.imaging.models import Series
from annotator.labeling.adjudication import finalize_reference, start_reference
from annotator.labeling.annotations import create_annotation
from annotator.labeling.errors import NotAllowedError, WorkflowError
from annotator.labeling.models import (
    AnnotationSet,
    Assignment,
    AssignmentStatus,
    LabelingTask,
    SetKind,
    TaskStatus,
)
from annotator.labeling.reading import record_activity, review_assignment, submit_assignment
from annotator.labeling.selectors import list_visible_sets
from annotator.labeling.task_state import update_task
from annotator.labeling.workflow import (
    assign_reader,
    claim_next_task,
    distribute_tasks,
    open_tasks_for_series,
    reassign,
    set_exclusion,
)
from annotator.projects.access import PermissionDeniedError
from annotator.projects.models import Project, Role
from tests.factories import UserFactory
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.django_db
Member = Callable[[str], User]


def _series(project: Project, count: int) -> list[Series]:
    made = []
    for n in range(count):
        made += ingest_and_build(project, ct_files(slices=2, size=16, seed=n + 1))
    return made


def test_ready_series_opens_one_task_once(task: LabelingTask, ct_series: Series) -> None:
    assert (task.status, task.unit, task.readers_required) == ("new", "series", 1)
    assert open_tasks_for_series(series=ct_series) == []
    assert LabelingTask.objects.count() == 1


@pytest.mark.parametrize(("unit", "expected"), [("study", 1), ("image", 8)])
def test_task_unit_study_or_image(labeled_project: Project, unit: str, expected: int) -> None:
    labeled_project.task_unit = unit
    labeled_project.save()
    [series] = ingest_and_build(labeled_project, ct_files(slices=8, size=16))
    tasks = LabelingTask.objects.filter(project=labeled_project)
    assert tasks.count() == expected
    assert set(tasks.values_list("unit", flat=True)) == {unit}
    if unit == "image":
        assert {t.instance.series_id for t in tasks} == {series.pk}  # type: ignore[union-attr]


def test_dealing_is_balanced_never_twice_and_respects_exclusions(
    labeled_project: Project, manager: User, member_of: Member
) -> None:
    labeled_project.readers_per_item = 2
    labeled_project.save()
    readers = [member_of(Role.ANNOTATOR) for _ in range(4)]
    member_of(Role.REVIEWER)  # reviewers are not dealt reading work
    set_exclusion(project=labeled_project, actor=manager, user=readers[3], task=None, excluded=True)
    _series(labeled_project, 3)
    made = distribute_tasks(project=labeled_project, actor=manager)
    assert len(made) == 6
    per_reader = Counter(a.reader_id for a in made)
    assert per_reader == {readers[0].pk: 2, readers[1].pk: 2, readers[2].pk: 2}
    for task in LabelingTask.objects.all():
        assert len(set(task.assignments.values_list("reader_id", flat=True))) == 2
    assert distribute_tasks(project=labeled_project, actor=manager) == []


def test_auto_dealing_on_arrival(labeled_project: Project, member_of: Member) -> None:
    labeled_project.auto_assign = True
    labeled_project.save()
    reader = member_of(Role.ANNOTATOR)
    [series] = _series(labeled_project, 1)
    assert Assignment.objects.get(task__series=series).reader == reader


def test_next_task_resumes_mine_then_claims_highest_priority_oldest(
    labeled_project: Project, manager: User, reader: User
) -> None:
    _series(labeled_project, 3)
    low, high, mid = LabelingTask.objects.order_by("pk")
    for task, priority in ((low, 0), (high, 5), (mid, 1)):
        update_task(task=task, actor=manager, expected_version=task.version, priority=priority)
    first = claim_next_task(project=labeled_project, reader=reader)
    assert first is not None
    assert first.task_id == high.pk
    assert first.method == "claim"
    again = claim_next_task(project=labeled_project, reader=reader)
    assert again is not None
    assert again.pk == first.pk
    create_annotation(
        annotation_set=first.annotation_set, actor=reader, label_key="quality", data={"value": "3"}
    )
    submit_assignment(assignment=first, actor=reader)
    second = claim_next_task(project=labeled_project, reader=reader)
    assert second is not None
    assert second.task_id == mid.pk


def test_next_task_is_none_when_everything_is_taken_or_excluded(
    labeled_project: Project, manager: User, member_of: Member
) -> None:
    _series(labeled_project, 1)
    one, two = member_of(Role.ANNOTATOR), member_of(Role.ANNOTATOR)
    assert claim_next_task(project=labeled_project, reader=one) is not None
    assert claim_next_task(project=labeled_project, reader=two) is None
    three = member_of(Role.ANNOTATOR)
    task = LabelingTask.objects.get()
    update_task(task=task, actor=manager, expected_version=task.version, readers_required=2)
    set_exclusion(project=labeled_project, actor=manager, user=three, task=task, excluded=True)
    assert claim_next_task(project=labeled_project, reader=three) is None
    assert claim_next_task(project=labeled_project, reader=two) is not None


@pytest.mark.django_db(transaction=True)
def test_two_readers_asking_at_once_never_get_the_same_slot(
    labeled_project: Project, member_of: Member
) -> None:
    _series(labeled_project, 2)
    readers = [member_of(Role.ANNOTATOR) for _ in range(4)]
    results: list[int | None] = []
    barrier = threading.Barrier(len(readers))

    def ask(reader: User) -> None:
        try:
            barrier.wait()
            got = claim_next_task(project=labeled_project, reader=reader)
            results.append(None if got is None else got.task_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(r,)) for r in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [r for r in results if r is not None]
    assert len(claimed) == 2
    assert len(set(claimed)) == 2
    assert Assignment.objects.count() == 2


def test_review_reject_returns_to_reader_then_accept_finishes(
    labeled_project: Project, task: LabelingTask, manager: User, reader: User, reviewer: User
) -> None:
    labeled_project.review_required = True
    labeled_project.save()
    assignment = assign_reader(task=task, actor=manager, reader=reader)
    _require_quality(labeled_project, manager)
    _require_quality(labeled_project, manager)
    with pytest.raises(WorkflowError, match="Required labels"):
        submit_assignment(assignment=assignment, actor=reader)
    create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key="quality",
        data={"value": "1"},
    )
    submitted = submit_assignment(assignment=assignment, actor=reader)
    assert submitted.status == AssignmentStatus.SUBMITTED
    assert LabelingTask.objects.get().status == TaskStatus.IN_REVIEW
    with pytest.raises(PermissionDeniedError):
        review_assignment(assignment=assignment, actor=reader, decision="accept")
    with pytest.raises(WorkflowError, match="Say what to change"):
        review_assignment(assignment=assignment, actor=reviewer, decision="reject")
    returned = review_assignment(
        assignment=assignment, actor=reviewer, decision="reject", comment="Quality is 2"
    )
    assert returned.status == AssignmentStatus.RETURNED
    assert LabelingTask.objects.get().status == TaskStatus.IN_PROGRESS
    assert task.comments.get().kind == "rejection"
    submit_assignment(assignment=assignment, actor=reader)
    review_assignment(assignment=assignment, actor=reviewer, decision="accept")
    done = LabelingTask.objects.get()
    assert done.status == TaskStatus.DONE
    assert done.completed_at is not None


def _require_quality(project: Project, manager: User) -> None:
    from annotator.projects.services import update_label_schema

    schema = project.label_schemas.order_by("-version").first()
    assert schema is not None
    labels = [dict(label, required=label["key"] == "quality") for label in schema.labels]
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=labels
    )


def test_multi_reader_blinding_adjudication_by_merge(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    labeled_project.review_required = True
    labeled_project.save()
    update_task(task=task, actor=manager, expected_version=task.version, readers_required=3)
    readers = [member_of(Role.ANNOTATOR) for _ in range(3)]
    slots = [assign_reader(task=task, actor=manager, reader=r) for r in readers]
    for slot, value in zip(slots, ["2", "3", "3"], strict=True):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=slot.reader,
            label_key="quality",
            data={"value": value},
        )
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=slot.reader,
            label_key="marker",
            data={"point": [3, 3]},
            slice_index=1,
        )
    visible = list_visible_sets(user=readers[0], project=labeled_project)
    assert [s.pk for s in visible] == [slots[0].annotation_set.pk]  # blinded
    assert list_visible_sets(user=reviewer, project=labeled_project).count() == 3
    with pytest.raises(WorkflowError, match="No reading"):
        start_reference(task=task, actor=reviewer)
    for slot in slots:
        submit_assignment(assignment=slot, actor=slot.reader)
    assert LabelingTask.objects.get().status == TaskStatus.IN_REVIEW
    reference = start_reference(task=task, actor=reviewer)
    answers = {a.label_key: a for a in reference.annotations.filter(kind="ordinal")}
    assert answers["quality"].data == {"value": "3"}  # the majority
    assert reference.annotations.filter(label_key="marker").count() == 3  # pooled
    with pytest.raises(WorkflowError, match="already has a reference"):
        start_reference(task=task, actor=reviewer)
    finished = finalize_reference(task=task, actor=reviewer)
    assert finished.status == TaskStatus.DONE
    assert set(Assignment.objects.values_list("status", flat=True)) == {"accepted"}
    assert list_visible_sets(user=readers[0], project=labeled_project).count() == 4  # unblinded


def test_reference_copied_from_one_reading(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, reader: User
) -> None:
    labeled_project.review_required = True
    labeled_project.save()
    slot = assign_reader(task=task, actor=manager, reader=reader)
    create_annotation(
        annotation_set=slot.annotation_set, actor=reader, label_key="quality", data={"value": "1"}
    )
    submit_assignment(assignment=slot, actor=reader)
    reference = start_reference(task=task, actor=reviewer, from_set=slot.annotation_set)
    assert reference.kind == SetKind.REFERENCE
    [copy] = reference.annotations.all()
    assert copy.copied_from is not None
    assert copy.data == {"value": "1"}


def test_active_time_counts_heartbeats_but_not_breaks(assignment: Assignment, reader: User) -> None:
    from django.utils import timezone

    record_activity(assignment=assignment, actor=reader)
    Assignment.objects.filter(pk=assignment.pk).update(
        last_activity_at=timezone.now() - timedelta(seconds=50)
    )
    record_activity(assignment=assignment, actor=reader)
    Assignment.objects.filter(pk=assignment.pk).update(
        last_activity_at=timezone.now() - timedelta(seconds=600)  # a 10-minute break
    )
    after = record_activity(assignment=assignment, actor=reader)
    assert after.active_seconds == pytest.approx(50, abs=1)
    assert after.status == AssignmentStatus.IN_PROGRESS
    assert LabelingTask.objects.get().status == TaskStatus.IN_PROGRESS


def test_manager_edits_of_tasks_are_versioned(
    task: LabelingTask, manager: User, reader: User
) -> None:
    update_task(task=task, actor=manager, expected_version=1, priority=3)
    with pytest.raises(StaleVersionError):
        update_task(task=task, actor=manager, expected_version=1, priority=9)
    assert LabelingTask.objects.get().priority == 3
    with pytest.raises(PermissionDeniedError):
        update_task(task=task, actor=reader, expected_version=2, priority=9)
    skipped = update_task(task=task, actor=manager, expected_version=2, skipped=True)
    assert skipped.status == TaskStatus.SKIPPED


def test_reassign_moves_an_unsubmitted_slot(
    assignment: Assignment, manager: User, member_of: Member
) -> None:
    other = member_of(Role.ANNOTATOR)
    moved = reassign(assignment=assignment, actor=manager, reader=other)
    assert moved.reader == other
    assert AnnotationSet.objects.get(assignment=moved).created_by == other
    outsider = UserFactory.create()
    with pytest.raises(NotAllowedError):
        reassign(assignment=assignment, actor=manager, reader=outsider)


def test_reviewer_corrects_a_submitted_reading_then_accepts(
    labeled_project: Project, assignment: Assignment, reader: User, reviewer: User
) -> None:
    from annotator.labeling.annotations import update_annotation

    labeled_project.review_required = True
    labeled_project.save()
    finding = create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key="marker",
        data={"point": [3, 3]},
        slice_index=1,
    )
    with pytest.raises(NotAllowedError):  # not yet submitted: the reading is the reader's
        update_annotation(
            annotation=finding, actor=reviewer, expected_version=1, data={"point": [4, 4]}
        )
    submit_assignment(assignment=assignment, actor=reader)
    corrected = update_annotation(
        annotation=finding, actor=reviewer, expected_version=1, data={"point": [4, 4]}
    )
    assert corrected.updated_by == reviewer
    assert [r.author for r in corrected.revisions.all()] == [reader, reviewer]
    accepted = review_assignment(assignment=assignment, actor=reviewer, decision="accept")
    assert accepted.status == AssignmentStatus.ACCEPTED


def test_merge_of_masks_keeps_the_voxels_most_readers_marked(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    import numpy as np

    from annotator.labeling.mask_reads import read_annotation_segments
    from annotator.labeling.masks import write_segments

    labeled_project.review_required = True
    labeled_project.save()
    update_task(task=task, actor=manager, expected_version=task.version, readers_required=3)
    readers = [member_of(Role.ANNOTATOR) for _ in range(3)]
    shape = (8, 32, 32)
    marks = []
    for n, reader in enumerate(readers):
        slot = assign_reader(task=task, actor=manager, reader=reader)
        volume = np.zeros(shape, dtype=bool)
        volume[2:5, 10 + n : 20 + n, 10:20] = True  # each reader one row lower
        marks.append(volume)
        mask = create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="organ",
            data={"segments": [{"number": 1, "label": "organ"}]},
        )
        write_segments(
            annotation=mask, actor=reader, expected_version=1, segments={1: volume}, source="human"
        )
        submit_assignment(assignment=slot, actor=reader)
    reference = start_reference(task=task, actor=reviewer)
    [merged] = reference.annotations.filter(kind="mask")
    result = read_annotation_segments(merged)[1]
    expected = np.sum(marks, axis=0) >= 2
    assert np.array_equal(result, expected)
    assert merged.measurements["segments"]["1"]["voxels"] == int(expected.sum())
