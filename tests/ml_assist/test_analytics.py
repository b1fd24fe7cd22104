"""Correction analytics: overlap measures on known shapes, and the per-model figures."""

from collections.abc import Callable

import numpy as np
import pytest

from annotator.accounts.models import User
from annotator.imaging.models import Series, Stack
from annotator.labeling.annotations import create_annotation, delete_annotation
from annotator.labeling.masks import write_segments
from annotator.labeling.models import (
    Annotation,
    AnnotationSet,
    Assignment,
    LabelingTask,
    SetKind,
    Source,
    TaskStatus,
)
from annotator.labeling.reading import submit_assignment
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from annotator.projects.services import update_label_schema
from ml_assist.analytics import dice, hd95, model_analytics
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from tests.imaging.dicom_files import ct_files
from tests.labeling.conftest import LABELS, ingest_and_build

SHAPE = (8, 32, 32)  # the synthetic CT: slices, rows, columns; spacing 0.8 x 0.8 x 2.5 mm


def _disc(shape: tuple[int, ...], centre: tuple[int, int], radius: float) -> np.ndarray:
    j, i = np.ogrid[: shape[-2], : shape[-1]]
    return (i - centre[0]) ** 2 + (j - centre[1]) ** 2 <= radius**2


def _cylinder(centre: tuple[int, int], radius: float, slices: range) -> np.ndarray:
    volume = np.zeros(SHAPE, dtype=bool)
    volume[slices.start : slices.stop] = _disc(SHAPE, centre, radius)
    return volume


def _numpy_dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


# --- overlap measures (pure) --------------------------------------------------------------------


def test_dice_and_hd95_of_two_discs_shifted_by_three_voxels() -> None:
    a = _disc((100, 100), (50, 50), 20)
    b = _disc((100, 100), (53, 50), 20)
    # Lens area of two radius-20 circles 3 apart over the disc area: 0.905 (the digital discs
    # give 0.9053).
    assert dice(a, b) == pytest.approx(_numpy_dice(a, b))
    assert dice(a, b) == pytest.approx(0.905, abs=0.005)
    assert hd95(a, b, (0.7, 0.9)) == pytest.approx(3 * 0.7, rel=1e-3)
    assert hd95(b, a, (0.7, 0.9)) == pytest.approx(3 * 0.7, rel=1e-3)


def test_hd95_uses_the_spacing_of_the_shifted_axis() -> None:
    k, j, i = np.ogrid[:40, :60, :60]
    a = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 20) * 2) ** 2 <= 15**2
    b = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 23) * 2) ** 2 <= 15**2
    assert hd95(a, b, (0.7, 0.7, 2.5)) == pytest.approx(3 * 2.5, rel=1e-3)


def test_identical_masks_have_dice_one_and_hd95_zero() -> None:
    a = _disc((40, 40), (20, 20), 9)
    assert dice(a, a) == 1.0
    assert hd95(a, a, (1.0, 1.0)) == 0.0


def test_empty_masks_are_defined() -> None:
    empty, disc = np.zeros((20, 20), dtype=bool), _disc((20, 20), (10, 10), 4)
    assert dice(empty, empty) is None
    assert dice(empty, disc) == 0.0
    assert hd95(empty, disc, (1.0, 1.0)) is None
    assert hd95(disc, empty, (1.0, 1.0)) is None


def test_hd95_is_the_95th_percentile_not_the_maximum() -> None:
    a = _disc((200, 200), (100, 100), 40)
    b = a.copy()
    b[100, 140:160] = True  # a thin spike: few surface voxels far away
    assert hd95(a, b, (1.0, 1.0)) < 2.0


# --- per model version (database) ---------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.fixture
def ct_project(project: Project, manager: User) -> Project:
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.review_required = False
    project.save(update_fields=["auto_assign", "review_required"])
    return project


@pytest.fixture
def two_series(ct_project: Project) -> list[Series]:
    return [
        ingest_and_build(ct_project, ct_files(slices=8, size=32, uid_seed=f"analytics-{n}"))[0]
        for n in range(2)
    ]


@pytest.fixture
def model(ct_project: Project) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=ct_project,
        name="organs",
        version=1,
        kind="segmentation_3d",
        source="builtin",
        builtin="ct-organs",
        label_map={"1": "organ", "2": "nodule"},
    )


MODEL_ORGAN = _cylinder((16, 16), 8, range(2, 6))
MODEL_NODULE = _cylinder((8, 24), 3, range(3, 5))
EXPERT_ORGAN = _cylinder((19, 16), 8, range(2, 6))  # the expert moved it 3 columns


def _mask(
    target: AnnotationSet, label: str, volume: np.ndarray, actor: User | None, source: str
) -> Annotation:
    stack = Stack.objects.get(series=target.task.series)
    annotation = create_annotation(
        annotation_set=target,
        actor=actor,
        label_key=label,
        data={"segments": [{"number": 1, "label": label, "attributes": {}}]},
        stack=stack,
        source=source,
        model_version="organs:v1" if source == Source.MODEL else "",
    )
    return write_segments(
        annotation=annotation,
        actor=actor,
        expected_version=annotation.version,
        segments={1: volume},
        source=source,
        model_version="organs:v1" if source == Source.MODEL else "",
    )


def _predict(model: RegisteredModel, task: LabelingTask) -> AnnotationSet:
    model_set = AnnotationSet.objects.create(task=task, kind=SetKind.MODEL, model_version=model.tag)
    _mask(model_set, "organ", MODEL_ORGAN, None, Source.MODEL)
    _mask(model_set, "nodule", MODEL_NODULE, None, Source.MODEL)
    Prediction.objects.create(
        model=model, task=task, status=PredictionStatus.SUCCEEDED, annotation_set=model_set
    )
    return model_set


def _read(task: LabelingTask, reader: User, manager: User) -> Assignment:
    return assign_reader(task=task, actor=manager, reader=reader)


def _hand_in(assignment: Assignment, seconds: float) -> None:
    """Submit, then set the active time the reading took (edits add real seconds)."""
    submit_assignment(assignment=assignment, actor=assignment.reader)
    Assignment.objects.filter(pk=assignment.pk).update(active_seconds=seconds)


@pytest.fixture
def corrected(
    two_series: list[Series],
    model: RegisteredModel,
    manager: User,
    member_of: Callable[[str], User],
) -> RegisteredModel:
    """Task 1: the model pre-annotated organ + nodule; the expert moved the organ, kept the
    nodule, submitted after 120 s. Task 2: no model, read from scratch in 300 s."""
    reader = member_of(Role.ANNOTATOR)
    with_model, blank = (LabelingTask.objects.get(series=s) for s in two_series)
    _predict(model, with_model)
    reading = _read(with_model, reader, manager)
    organ = reading.annotation_set.annotations.get(label_key="organ")
    write_segments(
        annotation=organ,
        actor=reader,
        expected_version=organ.version,
        segments={1: EXPERT_ORGAN},
        source=Source.HUMAN,
    )
    _hand_in(reading, 120.0)
    scratch = _read(blank, reader, manager)
    _mask(scratch.annotation_set, "organ", EXPERT_ORGAN, reader, Source.HUMAN)
    _hand_in(scratch, 300.0)
    return model


@pytestmark_db
def test_model_analytics_of_a_corrected_pre_annotation(corrected: RegisteredModel) -> None:
    assert set(LabelingTask.objects.values_list("status", flat=True)) == {TaskStatus.DONE}
    figures = model_analytics(model=corrected)
    assert figures.tag == "organs:v1"
    assert (figures.tasks_predicted, figures.tasks_done, figures.tasks_compared) == (1, 1, 1)
    assert (figures.findings_seeded, figures.findings_unchanged) == (2, 1)
    assert figures.accepted_unchanged_share == 0.5
    by_label = {item.label: item for item in figures.labels}
    organ, nodule = by_label["organ"], by_label["nodule"]
    assert organ.dice_mean == pytest.approx(_numpy_dice(MODEL_ORGAN, EXPERT_ORGAN))
    # The stack's spacing (0.8 x 0.8 x 2.5 mm) is used; on this short cylinder the caps hold
    # many surface voxels nearer than the 3-column shift, so HD95 is below the 2.4 mm maximum.
    assert organ.hd95_mean_mm == pytest.approx(hd95(MODEL_ORGAN, EXPERT_ORGAN, (0.8, 0.8, 2.5)))
    assert 0.8 * 2 < (organ.hd95_mean_mm or 0) <= 3 * 0.8 + 1e-6
    assert (nodule.dice_mean, nodule.hd95_mean_mm) == (1.0, 0.0)
    assert (organ.missed, organ.spurious, organ.cases) == (0, 0, 1)
    assert figures.editing_with_model.median_seconds == 120.0
    assert figures.editing_without_model.median_seconds == 300.0
    assert figures.editing_without_model.readings == 1


@pytestmark_db
def test_model_analytics_counts_deleted_findings_and_empty_cases(
    two_series: list[Series],
    model: RegisteredModel,
    manager: User,
    member_of: Callable[[str], User],
) -> None:
    reader = member_of(Role.ANNOTATOR)
    task = LabelingTask.objects.get(series=two_series[0])
    _predict(model, task)
    reading = _read(task, reader, manager)
    nodule = reading.annotation_set.annotations.get(label_key="nodule")
    delete_annotation(annotation=nodule, actor=reader, expected_version=nodule.version)
    _hand_in(reading, 60.0)
    figures = model_analytics(model=model)
    assert (figures.findings_seeded, figures.findings_unchanged) == (2, 1)
    nodule_figures = next(item for item in figures.labels if item.label == "nodule")
    # The expert deleted the model's nodule: Dice 0, HD95 undefined, one spurious case.
    assert (nodule_figures.dice_mean, nodule_figures.hd95_cases) == (0.0, 0)
    assert nodule_figures.hd95_mean_mm is None
    assert (nodule_figures.spurious, nodule_figures.missed) == (1, 0)


@pytestmark_db
def test_model_analytics_ignores_open_tasks(
    two_series: list[Series],
    model: RegisteredModel,
    manager: User,
    member_of: Callable[[str], User],
) -> None:
    task = LabelingTask.objects.get(series=two_series[0])
    _predict(model, task)
    _read(task, member_of(Role.ANNOTATOR), manager)  # assigned, not handed in
    figures = model_analytics(model=model)
    assert (figures.tasks_predicted, figures.tasks_done, figures.findings_seeded) == (1, 0, 0)
    assert figures.accepted_unchanged_share is None
    assert figures.labels == []


@pytestmark_db
def test_model_analytics_counts_an_edit_undone_by_hand_as_unchanged(
    two_series: list[Series],
    model: RegisteredModel,
    manager: User,
    member_of: Callable[[str], User],
) -> None:
    reader = member_of(Role.ANNOTATOR)
    task = LabelingTask.objects.get(series=two_series[0])
    _predict(model, task)
    reading = _read(task, reader, manager)
    organ = reading.annotation_set.annotations.get(label_key="organ")
    for volume in (EXPERT_ORGAN, MODEL_ORGAN):  # moved, then moved back to the model's bits
        organ = write_segments(
            annotation=organ,
            actor=reader,
            expected_version=organ.version,
            segments={1: volume},
            source=Source.HUMAN,
        )
    _hand_in(reading, 30.0)
    assert organ.source == Source.HUMAN
    figures = model_analytics(model=model)
    assert (figures.findings_seeded, figures.findings_unchanged) == (2, 2)
    organ_figures = next(item for item in figures.labels if item.label == "organ")
    assert (organ_figures.dice_mean, organ_figures.hd95_mean_mm) == (1.0, 0.0)
