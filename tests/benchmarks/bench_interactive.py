"""Interactive segmentation on a 512x512 CT slice: latency per click or box, in the service and
over HTTP, against reading the slice alone.

Run: `.venv/bin/python tests/benchmarks/bench_interactive.py [--runs 40]` from the repository
root (under a minute). It creates and drops its own PostgreSQL database (test_bench_interactive;
override with TEST_DATABASE_NAME) with the test settings, prints figures and ratios against the
reference measured in the same run, and asserts nothing.

The image: the synthetic chest CT phantom (annotator/imaging/synthetic/ct.py), 3 slices of
512x512 at 0.8 mm, ingested and cached like any series. Clicks land on the middle slice in the
aorta, a lung, the vertebral body and the liver-level soft tissue; boxes surround the aorta
and the vertebra. The Dice of each region against the phantom's label map is printed too.

1. Reference: reading slice k from the stack's memory-mapped voxel cache (`load_slice`) and
   copying it to float32 (what any per-slice operation pays first).
2. `segment_region` (service: read + grow + clean), per target and overall.
3. POST tasks/{id}/segment-region/ with the Django test client (JSON, auth, encoding of the
   chunk included; no network), against a second reference: GET of the task's JSON (what
   any authenticated API call pays).
"""

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE, SLICES, K = 512, 3, 1


def _timings(runs: int, work: Callable[[int], object]) -> list[float]:
    times = []
    for n in range(runs):
        start = time.perf_counter()
        work(n)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def _p95(times: list[float]) -> float:
    return times[min(len(times) - 1, int(0.95 * len(times)))]


def _targets() -> tuple[list[tuple[str, dict[str, Any], np.ndarray]], Any]:
    """(name, request, truth) per target from the phantom's label map of slice K."""
    from annotator.imaging.synthetic.ct import make_ct_phantom

    phantom = make_ct_phantom(slices=SLICES, size=SIZE, nodules=0)
    labels = phantom.labels[K]
    targets = []
    for name, label in (("aorta", 4), ("lung", 2), ("vertebra", 3), ("soft tissue", 1)):
        mask = labels == label
        if not mask.any():
            continue
        # the deepest interior point of the largest blob: far from every edge
        import SimpleITK as sitk  # noqa: N813 - the library's usual alias

        image = sitk.GetImageFromArray(mask.astype(np.uint8))
        parts = sitk.GetArrayFromImage(sitk.RelabelComponent(sitk.ConnectedComponent(image)))
        largest = parts == 1
        depth = sitk.GetArrayFromImage(
            sitk.SignedMaurerDistanceMap(
                sitk.GetImageFromArray(largest.astype(np.uint8)), insideIsPositive=True
            )
        )
        j, i = np.unravel_index(int(np.argmax(depth)), depth.shape)
        targets.append((f"click {name}", {"point": [int(i), int(j)]}, largest))
        if name in ("aorta", "vertebra"):
            rows, columns = np.nonzero(largest)
            box = [int(columns.min()) - 4, int(rows.min()) - 4]
            box += [int(columns.max()) + 4, int(rows.max()) + 4]
            targets.append((f"box {name}", {"box": box}, largest))
    return targets, phantom


def _setup() -> tuple[Any, Any, Any]:
    """Ingest the phantom CT in a project with a reader assigned; return (task, stack, reader)."""
    from annotator.imaging.models import Stack
    from annotator.labeling.models import LabelingTask
    from annotator.labeling.workflow import assign_reader
    from annotator.projects.models import Role
    from annotator.projects.services import add_member
    from tests.factories import UserFactory, make_project
    from tests.imaging.dicom_files import ct_files
    from tests.labeling.conftest import ingest_and_build

    manager = UserFactory.create(username="bench-manager")
    reader = UserFactory.create(username="bench-reader")
    project = make_project(owner=manager, name="Bench interactive")
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(project, ct_files(slices=SLICES, size=SIZE))
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)
    return task, Stack.objects.get(series=series, index=0), reader


def run(runs: int) -> None:
    """Measure and print the table."""
    from rest_framework.test import APIClient

    from ml_assist.interactive import load_slice, segment_region

    task, stack, reader = _setup()
    targets, _ = _targets()
    client = APIClient()
    client.force_authenticate(reader)
    url = f"/api/v1/projects/{task.project_id}/tasks/{task.pk}/segment-region/"

    read = _timings(runs, lambda _: np.asarray(load_slice(stack, K), dtype=np.float32))
    rows = [("reference: read slice (memmap -> float32)", read)]
    quality = []
    service_all: list[float] = []
    for name, request, truth in targets:
        point = tuple(request["point"]) if "point" in request else None
        box = tuple(request["box"]) if "box" in request else None
        result = segment_region(stack=stack, k=K, point=point, box=box)  # type: ignore[arg-type]
        inter = float((result.mask & truth).sum())
        quality.append((name, 2 * inter / float(result.mask.sum() + truth.sum()), result.area_mm2))
        times = _timings(
            runs, lambda _, p=point, b=box: segment_region(stack=stack, k=K, point=p, box=b)
        )
        rows.append((f"service: {name}", times))
        service_all += times
    task_url = f"/api/v1/projects/{task.project_id}/tasks/{task.pk}/"
    rows.append(("reference: HTTP GET of the task", _timings(runs, lambda _: client.get(task_url))))
    http_all: list[float] = []
    for name, request, _truth in targets:
        body = {"stack": stack.pk, "k": K, **request}

        def post(_: int, payload: dict[str, Any] = body) -> None:
            response = client.post(url, payload, format="json")
            assert response.status_code == 200, response.content

        times = _timings(runs, post)
        rows.append((f"HTTP: {name}", times))
        http_all += times
    service_all.sort()
    http_all.sort()
    rows += [("service: all targets", service_all), ("HTTP: all targets", http_all)]

    width = max(len(name) for name, _ in rows)
    print(f"\n{SIZE}x{SIZE} CT slice, {runs} runs per row, CPU only")
    print(f"{'measure':<{width}}  {'median ms':>10}  {'p95 ms':>8}")
    for name, times in rows:
        print(f"{name:<{width}}  {statistics.median(times):>10.2f}  {_p95(times):>8.2f}")
    reference = statistics.median(read)
    print(
        f"\nratio service median / slice read: {statistics.median(service_all) / reference:.1f} x"
    )
    task_get = statistics.median(rows[len(targets) + 1][1])
    print(f"ratio HTTP median / slice read:    {statistics.median(http_all) / reference:.1f} x")
    print(f"ratio HTTP median / HTTP task GET: {statistics.median(http_all) / task_get:.1f} x")
    print(f"HTTP p95 against the 300 ms target: {_p95(http_all):.1f} ms")
    print("\nregion quality against the phantom's label map (slice k=1):")
    for name, score, area in quality:
        print(f"  {name:<20} Dice {score:.3f}  area {area:8.1f} mm2")


def main() -> None:
    """Create a private test database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_DATABASE_NAME", "test_bench_interactive")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.runs)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
