"""Tasks open when images arrive; readers are dealt, claim, submit; review and status."""

import pytest

from annotator.labeling.models import AnnotationSet, Assignment, LabelingTask, TaskStatus

pytestmark = pytest.mark.django_db


def test_ready_series_opens_one_task(task: LabelingTask) -> None:
    assert task.status == TaskStatus.NEW
    assert task.unit == "series"
    assert task.readers_required == 1


def test_assignment_gets_a_reader_set(assignment: Assignment) -> None:
    assert AnnotationSet.objects.get(assignment=assignment).kind == "reader"
