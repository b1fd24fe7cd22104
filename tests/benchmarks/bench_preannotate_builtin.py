"""Pre-annotation of a 300-slice 512x512 chest CT phantom by the built-in classical predictor
(`ct_thorax`: body, lungs, bone on SimpleITK), job -> load -> predict -> store.

Run: `.venv/bin/python tests/benchmarks/bench_preannotate_builtin.py [--slices 300]` from the
repository root (a minute or two on 2 CPU cores). It creates and drops its own PostgreSQL
database (test_bench_preannotate_builtin; override with TEST_DATABASE_NAME) with the test
settings, prints figures and ratios against references measured in the same run, and asserts
nothing. (bench_preannotate.py measures the in-project network through a real worker.)

Figures: the end-to-end time of one pre-annotation job run by the job runner in this process
(job row, claim, voxel load, prediction, the one-transaction store of three masks as chunked
revisions, scores), slices per second, and the store's share; reference: the predictor alone
on the loaded volume, in the same run. The broker hop is not included.
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LABELS = [
    {"key": "body", "name": "Body", "kind": "mask", "scope": "series"},
    {"key": "lung", "name": "Lung", "kind": "mask", "scope": "series"},
    {"key": "bone", "name": "Bone", "kind": "mask", "scope": "series"},
]


def _setup(slices: int) -> tuple[Any, Any, Any]:
    """Create a project, a task whose stack holds the phantom, and the model."""
    from django.conf import settings

    from annotator.imaging.models import Stack
    from annotator.imaging.synthetic import make_ct_phantom
    from annotator.labeling.models import LabelingTask
    from annotator.projects.services import update_label_schema
    from ml_assist.models import ModelKind, ModelSource, RegisteredModel
    from tests.factories import UserFactory, make_project
    from tests.imaging.dicom_files import ct_files
    from tests.labeling.conftest import ingest_and_build

    manager = UserFactory.create(username="bench-manager")
    project = make_project(owner=manager, name="Bench built-in pre-annotation")
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=LABELS
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    [series] = ingest_and_build(project, ct_files(slices=2, size=32))
    start = time.perf_counter()
    phantom = make_ct_phantom(slices=slices, size=512, seed=7)
    print(f"phantom {slices}x512x512 built in {time.perf_counter() - start:.1f} s")
    stack = Stack.objects.get(series=series, index=0)
    np.save(Path(settings.MEDIA_ROOT) / stack.volume_path, phantom.hu)  # int16 HU
    k_mm, j_mm, i_mm = phantom.spacing
    Stack.objects.filter(pk=stack.pk).update(
        size=[512, 512, slices],
        spacing=[i_mm, j_mm, k_mm],
        slice_positions=[-k * k_mm for k in range(slices)],
        dtype="int16",
    )
    model = RegisteredModel.objects.create(
        project=project,
        name="thorax",
        version=1,
        kind=ModelKind.SEGMENTATION_3D,
        source=ModelSource.BUILTIN,
        builtin="ct_thorax",
        label_map={"body": "body", "lungs": "lung", "bone": "bone"},
        input_spec={"modalities": ["CT"]},
    )
    return project, LabelingTask.objects.get(series=series), (model, phantom)


def run(slices: int) -> None:
    """Measure and print the table."""
    from unittest import mock

    from annotator.imaging.models import Stack
    from annotator.imaging.volume import load_volume
    from annotator.jobs.models import Job, JobKind, JobState
    from annotator.jobs.services import enqueue_job, run_job
    from ml_assist.inputs import build_model_predictor, stack_input
    from ml_assist.preannotate import preannotate_job

    project, task, (model, phantom) = _setup(slices)
    stack = Stack.objects.select_related("series").get(series=task.series, index=0)
    start = time.perf_counter()
    volume = stack_input(stack)
    load_s = time.perf_counter() - start
    predictor = build_model_predictor(model, None)
    start = time.perf_counter()
    result = predictor.predict(volume)
    predict_s = time.perf_counter() - start
    truth = phantom.labels
    dice = {
        key: 2 * np.count_nonzero(mask & want) / (np.count_nonzero(mask) + np.count_nonzero(want))
        for key, mask, want in (
            ("body", result.masks["body"], truth > 0),
            ("lung", result.masks["lung"], (truth == 2) | (truth == 6)),
            ("bone", result.masks["bone"], truth == 3),
        )
    }
    load_volume.cache_clear()
    from ml_assist import preannotate

    store_s: list[float] = []
    real_store = preannotate._store

    def timed_store(**kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return real_store(**kwargs)
        finally:
            store_s.append(time.perf_counter() - began)

    with (
        mock.patch("annotator.jobs.services.celery_app.send_task"),
        mock.patch.object(preannotate, "_store", timed_store),
    ):
        start = time.perf_counter()
        job = enqueue_job(
            kind=JobKind.PREANNOTATE,
            created_by=None,
            project=project,
            queue="gpu",
            params={"model_id": model.pk, "task_ids": [task.pk], "trigger": "request"},
        )
        run_job(job_id=str(job.pk), work=preannotate_job)
        e2e_s = time.perf_counter() - start
    job = Job.objects.get(pk=job.pk)
    if job.state != JobState.SUCCEEDED:
        raise SystemExit(f"the job failed: {job.error}")
    print(f"voxel cache read as float32: {load_s:.2f} s")
    print(f"predictor alone:             {predict_s:.2f} s ({slices / predict_s:.1f} slices/s)")
    print(f"end to end (job):            {e2e_s:.2f} s ({slices / e2e_s:.1f} slices/s)")
    print(f"of which the one-transaction store: {store_s[0]:.2f} s")
    print(f"ratio end to end / predictor alone: {e2e_s / predict_s:.2f}")
    print("Dice against the phantom: " + ", ".join(f"{k} {v:.3f}" for k, v in dice.items()))


def main() -> None:
    """Create a private test database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_DATABASE_NAME", "test_bench_preannotate_builtin")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    start = time.perf_counter()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"database ready in {time.perf_counter() - start:.1f} s; cpu cores {os.cpu_count()}")
    try:
        run(args.slices)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
