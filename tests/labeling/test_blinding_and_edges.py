"""Blinding in every corner (comments, filters, reassignment, reviewers who read), races and
the edges of where findings may sit."""

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from django.db import connection
from django.db.models import ExpressionWrapper, IntegerField
from django.db.models.expressions import RawSQL
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Series, Stack
from annotator.labeling import workflow
from annotator.labeling.adjudication import finalize_reference, start_reference
from annotator.labeling.annotations import (
    DuplicateAnswerError,
    add_comment,
    create_annotation,
    update_annotation,
)
from annotator.labeling.errors import InvalidAnnotationError, NotAllowedError, WorkflowError
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    Assignment,
    LabelingTask,
    SetKind,
)
from annotator.labeling.reading import review_assignment, submit_assignment
from annotator.labeling.selectors import list_comments_for_user, list_visible_sets
from annotator.labeling.task_state import update_task
from annotator.labeling.workflow import assign_reader, claim_next_task, reassign
from annotator.projects.models import Project, Role
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.django_db
Member = Callable[[str], User]
Client = Callable[[User], APIClient]


def _two_readers(project: Project, task: LabelingTask, manager: User, member_of: Member):  # type: ignore[no-untyped-def]
    project.review_required = True
    project.save()
    update_task(task=task, actor=manager, expected_version=task.version, readers_required=2)
    one, two = member_of(Role.ANNOTATOR), member_of(Role.ANNOTATOR)
    return assign_reader(task=task, actor=manager, reader=one), assign_reader(
        task=task, actor=manager, reader=two
    )


def test_comments_are_blinded_and_viewers_cannot_write(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    first, second = _two_readers(labeled_project, task, manager, member_of)
    add_comment(task=task, actor=first.reader, text="12 mm nodule in the right upper lobe")
    create_annotation(
        annotation_set=first.annotation_set,
        actor=first.reader,
        label_key="quality",
        data={"value": "2"},
    )
    submit_assignment(assignment=first, actor=first.reader)
    review_assignment(assignment=first, actor=reviewer, decision="reject", comment="Missed LLL")
    assert list(list_comments_for_user(user=second.reader, task=task)) == []
    mine = [c.text for c in list_comments_for_user(user=first.reader, task=task)]
    assert mine == ["12 mm nodule in the right upper lobe", "Missed LLL"]
    assert list_comments_for_user(user=reviewer, task=task).count() == 2
    with pytest.raises(NotAllowedError):
        add_comment(task=task, actor=member_of(Role.VIEWER), text="Looks fine")


def test_readers_cannot_filter_the_worklist_by_another_reader(
    client_for: Client,
    labeled_project: Project,
    task: LabelingTask,
    manager: User,
    member_of: Member,
) -> None:
    first, second = _two_readers(labeled_project, task, manager, member_of)
    url = f"/api/v1/projects/{labeled_project.pk}/tasks/?reader={second.reader.pk}"
    assert client_for(first.reader).get(url).json()["count"] == 0
    assert client_for(manager).get(url).json()["count"] == 1
    own = f"/api/v1/projects/{labeled_project.pk}/tasks/?reader={first.reader.pk}"
    assert client_for(first.reader).get(own).json()["count"] == 1


def test_reassignment_gives_the_new_reader_a_fresh_reading(
    labeled_project: Project,
    assignment: Assignment,
    reader: User,
    reviewer: User,
    manager: User,
    member_of: Member,
) -> None:
    create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key="marker",
        data={"point": [3, 3]},
        slice_index=1,
    )
    newcomer = member_of(Role.ANNOTATOR)
    moved = reassign(assignment=assignment, actor=manager, reader=newcomer)
    fresh = AnnotationSet.objects.get(assignment=moved)
    assert fresh.created_by == newcomer
    assert not fresh.annotations.exists()
    retired = AnnotationSet.objects.get(kind=SetKind.RETIRED)
    assert retired.annotations.count() == 1
    assert [s.pk for s in list_visible_sets(user=newcomer, project=labeled_project)] == [fresh.pk]
    assert list_visible_sets(user=reader, project=labeled_project).count() == 0
    assert retired in list_visible_sets(user=reviewer, project=labeled_project)
    with pytest.raises(WorkflowError, match="former reader"):
        create_annotation(
            annotation_set=retired, actor=manager, label_key="quality", data={"value": "1"}
        )


def test_a_reviewer_who_reads_a_task_is_blind_to_the_other_readers_there(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    update_task(task=task, actor=manager, expected_version=task.version, readers_required=2)
    annotator = member_of(Role.ANNOTATOR)
    theirs = assign_reader(task=task, actor=manager, reader=annotator)
    mine = claim_next_task(project=labeled_project, reader=reviewer)
    assert mine is not None
    visible = {s.pk for s in list_visible_sets(user=reviewer, project=labeled_project)}
    assert visible == {mine.annotation_set.pk}
    create_annotation(
        annotation_set=mine.annotation_set,
        actor=reviewer,
        label_key="quality",
        data={"value": "3"},
    )
    submit_assignment(assignment=mine, actor=reviewer)
    visible = {s.pk for s in list_visible_sets(user=reviewer, project=labeled_project)}
    assert visible == {mine.annotation_set.pk, theirs.annotation_set.pk}


def test_members_without_the_right_get_403_on_writes(
    client_for: Client, labeled_project: Project, reader_set: AnnotationSet, member_of: Member
) -> None:
    url = f"/api/v1/projects/{labeled_project.pk}/annotation-sets/{reader_set.pk}/annotations/"
    other = client_for(member_of(Role.ANNOTATOR))
    assert other.post(url, {}, format="json").status_code == 404  # blinded: not even there
    LabelingTask.objects.filter(pk=reader_set.task_id).update(status="done")
    viewer = client_for(member_of(Role.VIEWER))
    response = viewer.post(url, {"label_key": "quality", "data": {"value": "1"}}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Annotation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_slow_claim_never_overfills_a_slot(
    labeled_project: Project, task: LabelingTask, member_of: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = member_of(Role.ANNOTATOR), member_of(Role.ANNOTATOR)
    original = workflow._taken_slots

    def slow() -> ExpressionWrapper:  # the second reader's scan takes a second
        base = original()
        if threading.current_thread().name != "slow":
            return base  # type: ignore[return-value]
        sleep = RawSQL("(SELECT 0 FROM pg_sleep(1))", [], output_field=IntegerField())
        return ExpressionWrapper(base + sleep, output_field=IntegerField())

    monkeypatch.setattr(workflow, "_taken_slots", slow)
    got: dict[str, int | None] = {}

    def ask(reader: User, delay: float) -> None:
        try:
            time.sleep(delay)
            claimed = claim_next_task(project=labeled_project, reader=reader)
            got[threading.current_thread().name] = None if claimed is None else claimed.task_id
        finally:
            connection.close()

    threads = [
        threading.Thread(target=ask, args=(second, 0.0), name="slow"),
        threading.Thread(target=ask, args=(first, 0.3), name="fast"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Assignment.objects.filter(task=task).count() == 1
    assert sorted(got.values(), key=str) == [task.pk, None]


def test_finalize_waits_for_every_reading(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    first, second = _two_readers(labeled_project, task, manager, member_of)
    create_annotation(
        annotation_set=first.annotation_set,
        actor=first.reader,
        label_key="quality",
        data={"value": "2"},
    )
    submit_assignment(assignment=first, actor=first.reader)
    start_reference(task=task, actor=reviewer)
    with pytest.raises(WorkflowError, match="1 of 2 readings"):
        finalize_reference(task=task, actor=reviewer)
    submit_assignment(assignment=second, actor=second.reader)
    assert finalize_reference(task=task, actor=reviewer).status == "done"
    reference = AnnotationSet.objects.get(kind=SetKind.REFERENCE)
    with pytest.raises(WorkflowError, match="final"):
        update_annotation(
            annotation=reference.annotations.get(),
            actor=reviewer,
            expected_version=1,
            data={"value": "3"},
        )


def test_mask_merge_counts_each_reader_once(
    labeled_project: Project, task: LabelingTask, manager: User, reviewer: User, member_of: Member
) -> None:
    from annotator.labeling.mask_reads import read_annotation_segments
    from annotator.labeling.masks import write_segments

    first, second = _two_readers(labeled_project, task, manager, member_of)
    blob = np.zeros((8, 32, 32), dtype=bool)
    blob[2:4, 5:15, 5:15] = True
    for slot in (first, second):
        for label in ("organ", "nodule"):
            mask = create_annotation(
                annotation_set=slot.annotation_set,
                actor=slot.reader,
                label_key=label,
                data={"segments": [{"number": 1, "label": label}]},
            )
            write_segments(
                annotation=mask,
                actor=slot.reader,
                expected_version=1,
                segments={1: blob},
                source="human",
            )
        submit_assignment(assignment=slot, actor=slot.reader)
    reference = start_reference(task=task, actor=reviewer)
    [merged] = reference.annotations.filter(kind="mask")
    volumes = read_annotation_segments(merged)
    assert [int(v.sum()) for v in volumes.values()] == [int(blob.sum())] * 2


def test_study_tasks_place_series_answers_on_the_series_named(
    labeled_project: Project, manager: User, reader: User
) -> None:
    labeled_project.task_unit = "study"
    labeled_project.save()
    [series] = ingest_and_build(labeled_project, ct_files(slices=4, size=16))
    task = LabelingTask.objects.get(unit="study")
    slot = assign_reader(task=task, actor=manager, reader=reader)
    with pytest.raises(InvalidAnnotationError, match="which stack"):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="quality",
            data={"value": "1"},
        )
    stack = Stack.objects.get(series=series)
    answer = create_annotation(
        annotation_set=slot.annotation_set,
        actor=reader,
        label_key="quality",
        data={"value": "1"},
        stack=stack,
    )
    assert (answer.series_id, answer.stack_id) == (series.pk, None)
    with pytest.raises(DuplicateAnswerError):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="quality",
            data={"value": "2"},
            stack=stack,
        )
    study_answer = create_annotation(
        annotation_set=slot.annotation_set,
        actor=reader,
        label_key="findings",
        data={"values": ["nodule"]},
    )
    assert study_answer.series_id is None


def test_image_tasks_pin_the_slice_and_refuse_3d(
    labeled_project: Project, manager: User, reader: User
) -> None:
    labeled_project.task_unit = "image"
    labeled_project.save()
    [series] = ingest_and_build(labeled_project, ct_files(slices=4, size=16))
    task = LabelingTask.objects.filter(unit="image").order_by("instance__stack_position")[2]
    assert task.instance is not None
    k = task.instance.stack_position
    slot = assign_reader(task=task, actor=manager, reader=reader)
    made = create_annotation(
        annotation_set=slot.annotation_set,
        actor=reader,
        label_key="diameter",
        data={"points": [[1, 1], [5, 1]]},
    )
    assert made.slice_index == k
    with pytest.raises(InvalidAnnotationError, match="draw on that slice"):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="marker",
            data={"point": [1, 1]},
            slice_index=(k or 0) + 1,
        )
    with pytest.raises(InvalidAnnotationError, match="3D"):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="lesion_box3d",
            data={"min": [1, 1, 0], "max": [3, 3, 2]},
        )
    assert Series.objects.get().pk == series.pk


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("quality", {"value": ["3"]}),
        ("findings", {"values": [["nodule"]]}),
        ("organ", {"segments": [{"number": 1, "label": ["organ"]}]}),
        ("recist", {"long_axis": [[1, 1], [1, 1]], "short_axis": [[1, 1], [1, 1]]}),
    ],
)
def test_values_of_the_wrong_type_are_a_clear_400(
    client_for: Client,
    labeled_project: Project,
    reader_set: AnnotationSet,
    reader: User,
    label: str,
    data: dict,
) -> None:
    url = f"/api/v1/projects/{labeled_project.pk}/annotation-sets/{reader_set.pk}/annotations/"
    body = {"label_key": label, "data": data}
    if label == "recist":
        body["slice_index"] = 0
    response = client_for(reader).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert not Annotation.objects.exists()


def test_enum_attribute_of_the_wrong_type_is_a_clear_400(
    reader_set: AnnotationSet, reader: User
) -> None:
    segments = [{"number": 1, "label": "nodule", "attributes": {"texture": ["solid"]}}]
    with pytest.raises(InvalidAnnotationError):
        create_annotation(
            annotation_set=reader_set, actor=reader, label_key="nodule", data={"segments": segments}
        )


def test_worklist_and_sets_cost_the_same_queries_for_more_rows(
    client_for: Client,
    labeled_project: Project,
    task: LabelingTask,
    manager: User,
    reader: User,
    django_assert_max_num_queries: Callable[[int], object],
) -> None:
    slot = assign_reader(task=task, actor=manager, reader=reader)
    for k in range(8):
        create_annotation(
            annotation_set=slot.annotation_set,
            actor=reader,
            label_key="marker",
            data={"point": [1, 1]},
            slice_index=k,
        )
    for seed in range(4):
        ingest_and_build(labeled_project, ct_files(slices=2, size=16, seed=seed + 20))
    workflow.distribute_tasks(project=labeled_project, actor=manager)
    boss = client_for(manager)
    base = f"/api/v1/projects/{labeled_project.pk}/"
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        assert boss.get(base + "tasks/").status_code == 200
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        assert boss.get(base + f"tasks/{task.pk}/sets/").status_code == 200
    with django_assert_max_num_queries(10):  # type: ignore[operator]
        assert boss.get(base + f"annotation-sets/{slot.annotation_set.pk}/").status_code == 200
