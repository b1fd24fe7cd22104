"""Phantoms for training tests: CT-like volumes with one bright ellipsoid (the "organ" label),
ingested as DICOM, and experts' readings of them made through the labeling services."""

import io
from dataclasses import dataclass

import numpy as np

from annotator.accounts.models import User
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Series, Stack
from annotator.imaging.synthetic import make_ct_series
from annotator.imaging.volume import build_series_volumes, load_volume
from annotator.labeling.annotations import create_annotation
from annotator.labeling.masks import write_segments
from annotator.labeling.models import Annotation, AnnotationSet, Assignment, LabelingTask
from annotator.labeling.reading import submit_assignment
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project
from annotator.projects.services import update_label_schema
from tests.factories import CT_LABELS
from tests.imaging.dicom_files import to_bytes

TRAINING_LABELS = [
    *CT_LABELS,
    {"key": "organ", "name": "Organ", "kind": "mask", "scope": "series"},
    {"key": "lesion", "name": "Lesion", "kind": "mask", "scope": "series"},
    {"key": "outline", "name": "Outline", "kind": "polygon", "scope": "image"},
]
SEGMENTS = [{"number": 1, "label": "organ", "attributes": {}}]


@dataclass(frozen=True)
class Phantom:
    """One patient's series: its task, stack and the true organ mask (k, j, i)."""

    series: Series
    task: LabelingTask
    stack: Stack
    truth: np.ndarray
    hu: np.ndarray


def set_training_schema(project: Project, manager: User) -> None:
    """Give the project the mask labels the training tests use; readers are assigned by hand."""
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=TRAINING_LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])


def phantom_volume(*, slices: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (HU int16, organ mask bool): a soft-tissue body in air with noise, and a bright
    (contrast-enhanced, ~250 HU) ellipsoid of random centre and radii inside it."""
    rng = np.random.default_rng(seed)
    k, j, i = np.ogrid[:slices, :size, :size]
    centre = (size - 1) / 2
    body = ((j - centre) / (0.45 * size)) ** 2 + ((i - centre) / (0.42 * size)) ** 2 <= 1.0
    hu = np.where(body, 40.0, -1000.0) * np.ones((slices, 1, 1))
    ck = rng.uniform(0.35, 0.65) * slices
    cj, ci = rng.uniform(0.38, 0.62, size=2) * size
    rk = rng.uniform(0.18, 0.3) * slices
    rj, ri = rng.uniform(0.1, 0.18, size=2) * size
    organ = ((k - ck) / rk) ** 2 + ((j - cj) / rj) ** 2 + ((i - ci) / ri) ** 2 <= 1.0
    organ &= body
    hu = np.where(organ, 250.0, hu)
    hu += rng.normal(0.0, 20.0, size=hu.shape)
    return np.rint(hu).astype(np.int16), organ


def ingest_phantom(
    project: Project, *, patient: str, seed: int, slices: int = 16, size: int = 64
) -> Phantom:
    """Ingest one phantom series for a (fake) patient id and build its voxels (opens its task)."""
    hu, organ = phantom_volume(slices=slices, size=size, seed=seed)
    datasets = make_ct_series(
        slices=slices, size=size, nodules=0, seed=seed, patient_id=patient, patient_name="PHANTOM^X"
    )
    for ds, plane in zip(datasets, hu, strict=True):
        ds.PixelData = (plane.astype(np.int32) + 1024).astype(np.int16).tobytes()
    ingestor = Ingestor(project=project, actor=project.owner, source="test")
    for ds in datasets:
        data = to_bytes(ds)
        ingestor.add(name=f"{ds.SOPInstanceUID}.dcm", fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    [series] = Series.objects.filter(pk__in=ingestor.touched)
    build_series_volumes(series)
    stack = Stack.objects.get(series=series, index=0)
    stored = load_volume(stack.volume_path)
    assert stored.shape == hu.shape
    if not np.array_equal(stored, hu):  # the stack runs the other way along k
        assert np.array_equal(stored, hu[::-1]), "phantom voxels came back altered"
        hu, organ = hu[::-1].copy(), organ[::-1].copy()
    task = LabelingTask.objects.get(series=series)
    return Phantom(series=series, task=task, stack=stack, truth=organ, hu=hu)


def draw_mask(
    annotation_set: AnnotationSet,
    actor: User,
    stack: Stack,
    mask: np.ndarray,
    *,
    label: str = "organ",
) -> Annotation:
    """Draw `mask` as the annotation set's segmentation of `label` (as the workspace would)."""
    annotation = create_annotation(
        annotation_set=annotation_set,
        actor=actor,
        label_key=label,
        data={"segments": [{"number": 1, "label": label, "attributes": {}}]},
        stack=stack,
    )
    return write_segments(
        annotation=annotation,
        actor=actor,
        expected_version=annotation.version,
        segments={1: mask},
        source="human",
    )


def read_and_submit(
    phantom: Phantom,
    *,
    reader: User,
    manager: User,
    mask: np.ndarray | None = None,
    label: str = "organ",
) -> Assignment:
    """Assign the reader, draw the organ (the true one unless `mask` is given) as `label`
    and hand it in."""
    assignment = assign_reader(task=phantom.task, actor=manager, reader=reader)
    draw_mask(
        assignment.annotation_set,
        reader,
        phantom.stack,
        phantom.truth if mask is None else mask,
        label=label,
    )
    assignment.refresh_from_db()
    return submit_assignment(assignment=assignment, actor=reader)
