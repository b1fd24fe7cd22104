"""Findings of every kind: validation, server-side measurements, versions, revisions."""

import math

import pytest

from annotator.accounts.models import User
from annotator.core.errors import StaleVersionError
from annotator.imaging.geometry import index_to_lps
from annotator.imaging.models import Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.annotations import (
    add_comment,
    create_annotation,
    delete_annotation,
    restore_revision,
    update_annotation,
)
from annotator.labeling.errors import InvalidAnnotationError, NotAllowedError, WorkflowError
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    Assignment,
    LabelingTask,
    SetKind,
    Source,
)
from annotator.labeling.reading import submit_assignment
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import LabelSchema

pytestmark = pytest.mark.django_db


def _new(
    reader_set: AnnotationSet, reader: User, label: str, data: dict, **kw: object
) -> Annotation:
    return create_annotation(
        annotation_set=reader_set, actor=reader, label_key=label, data=data, **kw
    )


def test_length_is_measured_in_mm_from_the_geometry(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    made = _new(reader_set, reader, "diameter", {"points": [[2, 3], [12, 3]]}, slice_index=4)
    assert (made.scope, made.stack_id, made.slice_index) == ("image", ct_stack.pk, 4)
    ends = index_to_lps(stack_geometry(ct_stack), [[2, 3, 4], [12, 3, 4]])
    expected = float(math.dist(ends[0], ends[1]))
    assert made.measurements["length_mm"] == pytest.approx(expected, abs=1e-3)
    assert made.measurements["length_mm"] == pytest.approx(10 * ct_stack.spacing[0], abs=1e-3)
    assert made.version == 1
    assert made.revisions.get().number == 1


def test_client_measurements_are_ignored_and_recomputed(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    with pytest.raises(InvalidAnnotationError, match="Unknown field"):
        _new(
            reader_set,
            reader,
            "diameter",
            {"points": [[2, 3], [12, 3]], "length_mm": 999},
            slice_index=1,
        )


def test_bidirectional_gives_long_and_short_axis_and_refuses_skewed_axes(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    made = _new(
        reader_set,
        reader,
        "recist",
        {"long_axis": [[4, 10], [20, 10]], "short_axis": [[12, 6], [12, 14]]},
        slice_index=2,
    )
    sx, sy = ct_stack.spacing[0], ct_stack.spacing[1]
    assert made.measurements["long_axis_mm"] == pytest.approx(16 * sx, abs=1e-3)
    assert made.measurements["short_axis_mm"] == pytest.approx(8 * sy, abs=1e-3)
    with pytest.raises(InvalidAnnotationError, match="perpendicular"):
        _new(
            reader_set,
            reader,
            "recist",
            {"long_axis": [[4, 10], [20, 10]], "short_axis": [[12, 6], [16, 14]]},
            slice_index=2,
        )
    with pytest.raises(InvalidAnnotationError, match="short axis is longer"):
        _new(
            reader_set,
            reader,
            "recist",
            {"long_axis": [[4, 10], [8, 10]], "short_axis": [[6, 2], [6, 20]]},
            slice_index=2,
        )


def test_boxes_polygons_points_and_answers(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    box = _new(reader_set, reader, "lesion_box", {"min": [1, 2], "max": [5, 10]}, slice_index=3)
    assert box.measurements["width_mm"] == pytest.approx(4 * ct_stack.spacing[0], abs=1e-3)
    cube = _new(reader_set, reader, "lesion_box3d", {"min": [1, 1, 1], "max": [3, 3, 5]})
    assert (cube.scope, cube.slice_index) == ("series", None)
    assert cube.measurements["depth_mm"] == pytest.approx(4 * ct_stack.spacing[2], abs=1e-3)
    square = _new(
        reader_set,
        reader,
        "outline",
        {"points": [[0, 0], [10, 0], [10, 10], [0, 10]]},
        slice_index=0,
    )
    area = 100 * ct_stack.spacing[0] * ct_stack.spacing[1]
    assert square.measurements["area_mm2"] == pytest.approx(area, rel=1e-6)
    point = _new(reader_set, reader, "marker", {"point": [4, 5]}, slice_index=6)
    expected = index_to_lps(stack_geometry(ct_stack), [4, 5, 6])
    assert point.measurements["lps_mm"] == pytest.approx(list(expected), abs=1e-3)
    quality = _new(reader_set, reader, "quality", {"value": "2"})
    assert (quality.scope, quality.stack_id) == ("series", None)
    findings = _new(reader_set, reader, "findings", {"values": ["nodule"]})
    assert findings.scope == "study"
    note = _new(reader_set, reader, "note", {"text": "  see prior  "})
    assert note.data == {"text": "see prior"}
    assert LabelSchema.objects.get(project=reader_set.task.project).in_use


@pytest.mark.parametrize(
    ("label", "data", "extra", "message"),
    [
        ("unknown", {"value": "1"}, {}, "not a label"),
        ("quality", {"value": "9"}, {}, "Not an option"),
        ("findings", {"values": ["nodule", "nodule"]}, {}, "at most once"),
        ("diameter", {"points": [[0, 0], [40, 0]]}, {"slice_index": 1}, "outside the image"),
        ("diameter", {"points": [[0, 0], [4, 0]]}, {"slice_index": 8}, "outside 0..7"),
        ("diameter", {"points": [[0, 0], [4, 0]]}, {}, "which slice"),
        ("lesion_box", {"min": [5, 5], "max": [2, 9]}, {"slice_index": 0}, "must exceed"),
        ("lesion_box3d", {"min": [1, 1, 1], "max": [3, 3, 3]}, {"slice_index": 1}, "3D"),
        ("outline", {"points": [[0, 0], [1, 1]]}, {"slice_index": 0}, "at least 3"),
        ("marker", {"point": [1, "x"]}, {"slice_index": 0}, "finite number"),
        ("note", {"text": ""}, {}, "non-empty"),
        ("organ", {"segments": [{"number": 1, "label": "quality"}]}, {}, "mask label"),
    ],
)
def test_bad_findings_are_refused_with_the_field_and_nothing_is_stored(
    reader_set: AnnotationSet, reader: User, label: str, data: dict, extra: dict, message: str
) -> None:
    with pytest.raises(InvalidAnnotationError, match=message):
        _new(reader_set, reader, label, data, **extra)
    assert not Annotation.objects.exists()


def test_attributes_are_checked_against_the_label(reader_set: AnnotationSet, reader: User) -> None:
    segments = [{"number": 1, "label": "nodule", "attributes": {"texture": "solid"}}]
    made = _new(reader_set, reader, "nodule", {"segments": segments})
    assert made.data["segments"][0]["attributes"] == {"texture": "solid"}
    bad = [{"number": 1, "label": "nodule", "attributes": {"texture": "glassy"}}]
    with pytest.raises(InvalidAnnotationError, match="one of"):
        _new(reader_set, reader, "nodule", {"segments": bad})


def test_stale_edit_is_refused_and_loses_nothing(reader_set: AnnotationSet, reader: User) -> None:
    made = _new(reader_set, reader, "marker", {"point": [4, 5]}, slice_index=6)
    first = update_annotation(
        annotation=made, actor=reader, expected_version=1, data={"point": [6, 6]}
    )
    assert first.version == 2
    with pytest.raises(StaleVersionError) as caught:
        update_annotation(annotation=made, actor=reader, expected_version=1, data={"point": [0, 0]})
    assert caught.value.extra["current"].version == 2
    made.refresh_from_db()
    assert (made.data, made.version) == ({"point": [6.0, 6.0]}, 2)


def test_revisions_restore_and_delete(reader_set: AnnotationSet, reader: User) -> None:
    made = _new(reader_set, reader, "marker", {"point": [4, 5]}, slice_index=6)
    update_annotation(annotation=made, actor=reader, expected_version=1, data={"point": [7, 7]})
    deleted = delete_annotation(annotation=made, actor=reader, expected_version=2)
    assert deleted.deleted
    assert deleted.version == 3
    restored = restore_revision(annotation=made, actor=reader, expected_version=3, number=1)
    assert (restored.deleted, restored.data, restored.version) == (False, {"point": [4.0, 5.0]}, 4)
    numbers = list(restored.revisions.values_list("number", "deleted", "note"))
    assert numbers == [
        (1, False, ""),
        (2, False, ""),
        (3, True, "deleted"),
        (4, False, "restored revision 1"),
    ]


def test_only_the_reader_edits_an_open_reading(
    reader_set: AnnotationSet, reader: User, reviewer: User, manager: User
) -> None:
    with pytest.raises(NotAllowedError):
        _new(reader_set, reviewer, "marker", {"point": [4, 5]}, slice_index=0)
    assert reader_set.assignment is not None
    _new(reader_set, reader, "quality", {"value": "3"})
    submitted = submit_assignment(assignment=reader_set.assignment, actor=reader)
    assert submitted.status == "accepted"  # no review in this project: final
    with pytest.raises(WorkflowError, match="no longer be edited"):
        _new(reader_set, reader, "marker", {"point": [4, 5]}, slice_index=0)


def test_readers_start_from_the_model_pre_annotation(
    task: LabelingTask, manager: User, reader: User
) -> None:
    model_set = AnnotationSet.objects.create(task=task, kind=SetKind.MODEL, model_version="t-1")
    create_annotation(
        annotation_set=model_set,
        actor=None,
        label_key="lesion_box3d",
        data={"min": [1, 1, 1], "max": [4, 4, 4]},
        source=Source.MODEL,
        model_version="t-1",
    )
    assignment: Assignment = assign_reader(task=task, actor=manager, reader=reader)
    [copy] = assignment.annotation_set.annotations.all()
    assert (copy.source, copy.model_version, copy.version) == ("model", "t-1", 1)
    assert copy.copied_from is not None
    edited = update_annotation(
        annotation=copy, actor=reader, expected_version=1, data={"min": [1, 1, 1], "max": [5, 4, 4]}
    )
    assert edited.source == "human"
    assert list(edited.revisions.values_list("source", flat=True)) == ["model", "human"]


def test_comments_on_task_and_finding(reader_set: AnnotationSet, reader: User) -> None:
    made = _new(reader_set, reader, "marker", {"point": [4, 5]}, slice_index=6)
    comment = add_comment(task=reader_set.task, actor=reader, text="Unsure", annotation=made)
    assert comment.annotation == made
    with pytest.raises(InvalidAnnotationError):
        add_comment(task=reader_set.task, actor=reader, text="  ")
