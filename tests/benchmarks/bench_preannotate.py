"""Pre-annotation of a 300-slice 512x512 CT with the network trained in the project, end to end.

Run: `.venv/bin/python tests/benchmarks/bench_preannotate.py` from the repository root (a few
minutes on 2 CPU cores, most of it ingesting the CT). It creates and drops its own PostgreSQL
database (test_bench_preannotate; override with TEST_DATABASE_NAME), starts a real Celery
worker on the gpu queue (Redis db 12; override with CELERY_BROKER_URL), prints figures and
ratios against references measured in the same run, and asserts nothing.

1. Training (in-process, the Celery task's body): a 2D MONAI UNet learns the "organ" label
   (a bright ellipsoid) from accepted readings of small phantoms of 6 patients.
2. The CT: a 300-slice 512x512 phantom of the same kind, ingested as DICOM (not timed).
3. End to end: POST /models/{id}/predict/ -> the job on the gpu queue -> a real worker takes
   it, loads the TorchScript model, predicts every slice (resized to 128x128 and back) and
   stores the masks as revisions of a model set. Run twice on two such CTs: a cold worker
   (first model load) and a warm one. Dice against the phantom's truth shows it is real work.
4. References, in this process on the same volume: the TorchScript predictor alone (no queue,
   no storage), the bare forward pass of the network on prepared slices, and the classical
   SimpleITK CT body predictor; with CUDA present the predictor and forward pass also on it.
   (A worker started on a GPU machine uses CUDA through ML_DEVICE=auto.)
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SLICES, SIZE = 300, 512
TRAIN_PATIENTS = 6


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0


def _timed(work: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def _start_worker(work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    from django.db import connection

    from annotator.celery import app
    from annotator.jobs.worker import worker_argv

    app.control.purge()
    name = f"bench-{uuid.uuid4().hex[:8]}@localhost"
    log = work / "worker.log"
    env = {
        **os.environ,
        "TEST_WORKER_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            worker_argv(queues=["gpu"], name=name),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited:\n{log.read_text()[-3000:]}")
        if app.control.ping(destination=[name], timeout=1.0):
            return proc, log
    proc.terminate()
    raise SystemExit(f"the worker did not answer:\n{log.read_text()[-3000:]}")


def _wait(job_id: str, timeout: float = 600.0) -> Any:
    from annotator.jobs.models import Job, JobState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not finish in {timeout:.0f} s")


def _model_masks(task: Any, shape: tuple[int, ...]) -> np.ndarray:
    from annotator.labeling.mask_reads import read_annotation_segments, segment_labels
    from annotator.labeling.models import Annotation, SetKind

    found = np.zeros(shape, dtype=bool)
    for annotation in Annotation.objects.filter(
        annotation_set__task=task, annotation_set__kind=SetKind.MODEL, kind="mask", deleted=False
    ):
        labels = segment_labels(annotation)
        for number, bits in read_annotation_segments(annotation).items():
            if labels.get(number) == "organ":
                found |= bits
    return found


def train(rows: list[tuple[str, str]], epochs: int) -> tuple[Any, Any, Any]:
    """Make the project, its accepted phantom readings and the trained model."""
    from annotator.jobs.models import JobState
    from annotator.projects.models import Role
    from annotator.projects.services import add_member
    from ml_assist.models import RegisteredModel
    from ml_assist.training.service import request_training
    from ml_assist.training.tasks import train_model_task
    from tests.factories import UserFactory, make_project
    from tests.ml_assist.training_phantoms import (
        ingest_phantom,
        read_and_submit,
        set_training_schema,
    )

    manager = UserFactory.create(username="bench-manager")
    reader = UserFactory.create(username="bench-reader")
    project = make_project(owner=manager, name="Bench pre-annotation")
    set_training_schema(project, manager)
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    for n in range(TRAIN_PATIENTS):
        phantom = ingest_phantom(project, patient=f"TRAIN-{n}", seed=n, slices=16, size=128)
        read_and_submit(phantom, reader=reader, manager=manager)
    job = request_training(
        project=project,
        actor=manager,
        name="organ-unet",
        labels=["organ"],
        epochs=epochs,
        patience=3,
        size=[128, 128],
    )
    seconds, _ = _timed(lambda: train_model_task(str(job.pk)))
    job.refresh_from_db()
    if job.state != JobState.SUCCEEDED:
        raise SystemExit(f"training failed: {job.error}")
    model = RegisteredModel.objects.get(pk=job.result["model"])
    metrics = model.metrics
    rows.append(
        (
            f"training, {TRAIN_PATIENTS} patients 16x128x128, in-process",
            f"{seconds:8.1f} s ({metrics['epochs_run']} epochs, {metrics['train_slices']} "
            f"slices, best val Dice {metrics['best_val_dice']:.3f} at epoch "
            f"{metrics['best_epoch']}; untrained {metrics['baseline_val_dice']:.3f})",
        )
    )
    return project, manager, model


def run(epochs: int) -> None:
    """Measure and print the table."""
    import torch
    from rest_framework.test import APIClient

    from ml_assist.models import Prediction
    from ml_assist.preannotate import stack_input
    from ml_assist.predictors.classical import ClassicalPredictor
    from ml_assist.predictors.loading import ModelRecipe, build_predictor
    from ml_assist.training.network import prepare_slices
    from tests.ml_assist.training_phantoms import ingest_phantom

    rows: list[tuple[str, str]] = []
    project, manager, model = train(rows, epochs)
    print(f"trained {model.tag}; ingesting two {SLICES}x{SIZE}x{SIZE} CTs ...", flush=True)
    cts = []
    for n in range(2):
        seconds, ct = _timed(
            lambda n=n: ingest_phantom(
                project, patient=f"BENCH-CT-{n}", seed=100 + n, slices=SLICES, size=SIZE
            )
        )
        cts.append(ct)
        rows.append((f"ingest CT {n + 1} (setup, not part of the figure)", f"{seconds:8.1f} s"))

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-preannotate-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    proc, log = _start_worker(work)
    client = APIClient()
    client.force_authenticate(manager)
    e2e: list[float] = []
    try:
        for n, ct in enumerate(cts):
            start = time.perf_counter()
            response = client.post(
                f"/api/v1/projects/{project.pk}/models/{model.pk}/predict/",
                {"task_ids": [ct.task.pk]},
                format="json",
            )
            if response.status_code != 202:
                raise SystemExit(f"predict refused: {response.status_code} {response.json()}")
            job = _wait(response.json()["id"])
            seconds = time.perf_counter() - start
            if job.error:
                raise SystemExit(f"pre-annotation failed: {job.error}")
            prediction = Prediction.objects.get(model=model, task=ct.task)
            dice = _dice(_model_masks(ct.task, ct.truth.shape), ct.truth)
            e2e.append(seconds)
            rows.append(
                (
                    f"end to end, {'cold' if n == 0 else 'warm'} worker (enqueue -> stored)",
                    f"{seconds:8.2f} s  {SLICES / seconds:6.1f} slices/s  (worker: load + "
                    f"predict + store {prediction.seconds:.2f} s on {prediction.device}; "
                    f"Dice {dice:.3f})",
                )
            )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if "--keep-log" not in sys.argv:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"worker log: {log}")

    volume = stack_input(cts[1].stack)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    predictor_s = {}
    for device in devices:
        predictor = build_predictor(
            ModelRecipe(
                model_id=model.pk,
                source=model.source,
                builtin="",
                label_map=model.label_map,
                input_spec=model.input_spec,
                weights_path=model.weights.path,
                weights_sha256=model.weights_sha256,
            ),
            device,
        )
        predictor.predict(type(volume)(volume.array[:16], volume.spacing, volume.modality))
        seconds, result = _timed(lambda p=predictor: p.predict(volume))
        predictor_s[device.type] = seconds
        rows.append(
            (
                f"reference: TorchScript predictor in-process ({device.type})",
                f"{seconds:8.2f} s  {SLICES / seconds:6.1f} slices/s  (Dice "
                f"{_dice(result.masks['organ'], cts[1].truth):.3f})",
            )
        )
        module = predictor.module  # type: ignore[attr-defined]
        prepared = prepare_slices(
            volume.array,
            np.arange(SLICES),
            window=model.input_spec["window"],
            size=model.input_spec["size"],
            stats=(0.0, 1.0),
        ).to(device)

        def forward(module: Any = module, prepared: Any = prepared, device: Any = device) -> None:
            with torch.inference_mode():
                for start in range(0, SLICES, 16):
                    module(prepared[start : start + 16])
            if device.type == "cuda":
                torch.cuda.synchronize()

        forward()
        seconds, _ = _timed(forward)
        rows.append(
            (
                f"reference: bare forward pass, 300 slices at 128x128 ({device.type})",
                f"{seconds:8.2f} s  {SLICES / seconds:6.1f} slices/s",
            )
        )
    classical = ClassicalPredictor("ct_body", {"body": "organ"})
    seconds, _ = _timed(lambda: classical.predict(volume))
    rows.append(
        (
            "reference: classical SimpleITK CT body predictor",
            f"{seconds:8.2f} s  {SLICES / seconds:6.1f} slices/s",
        )
    )
    rows.append(
        (
            "ratio end to end (warm) / predictor in-process (cpu)",
            f"{e2e[-1] / predictor_s['cpu']:8.2f} x",
        )
    )
    rows.append(
        ("ratio classical / predictor in-process (cpu)", f"{seconds / predictor_s['cpu']:8.2f} x")
    )
    rows.append(
        ("target: end to end under 60 s on 2 CPU cores", "met" if e2e[-1] < 60 else "MISSED")
    )
    print()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    """Create a private test database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--keep-log", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_DATABASE_NAME", "test_bench_preannotate")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    print(f"torch threads {__import__('torch').get_num_threads()}, CPUs {os.cpu_count()}")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.epochs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
