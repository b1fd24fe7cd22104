"""Mask saves on a 512x512x300 volume: slice patches against rewriting the whole volume.

Run: `.venv/bin/python tests/benchmarks/bench_masks.py [--saves 20]` from the repository root
(about a minute). It creates and drops its own PostgreSQL database (test_bench_masks; override
with TEST_DATABASE_NAME) with the test settings, prints figures and the ratios against
references measured in the same run, and asserts nothing.

The mask: a sphere of radius 60 voxels plus 30 small blobs on a 512x512x300 stack (a Stack row
with the geometry of a chest CT; no pixels are needed). A brush stroke is a disc of radius 8
painted on 3 neighbouring slices; the client sends those 3 slices.

1. One stroke saved through `apply_mask_patch` (server only; chunks encoded beforehand), and
   through PATCH /annotations/{id}/mask/ with the Django test client (body encoding included).
2. References: rewriting the whole volume on every save, (a) encoding all slices and writing
   them through `write_segments`, (b) `np.savez_compressed` of the full volume into memory.
3. A full GET in the wire format (bytes, time), and the NIfTI export (bytes, time).
"""

import argparse
import io
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

SHAPE = (300, 512, 512)  # slices, rows, columns
SPACING = [0.7, 0.7, 1.25]  # along i, j, k (mm)


def _median_ms(runs: int, work: Callable[[int], object]) -> tuple[float, float]:
    """Return the median and the 90th percentile of `runs` calls of work(n), in ms."""
    times = []
    for n in range(runs):
        start = time.perf_counter()
        work(n)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def make_mask(radius: int = 60, seed: int = 5) -> np.ndarray:
    """Return a bool (300, 512, 512) volume: a sphere of `radius` voxels plus small blobs."""
    k, j, i = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    volume = (k - 150) ** 2 + (j - 256) ** 2 + (i - 240) ** 2 <= radius**2
    rng = np.random.default_rng(seed)
    for _ in range(30):
        ck, cj, ci = rng.integers(10, 290), rng.integers(40, 472), rng.integers(40, 472)
        radius = int(rng.integers(3, 7))
        box = np.s_[
            max(ck - radius, 0) : ck + radius + 1,
            cj - radius : cj + radius + 1,
            ci - radius : ci + radius + 1,
        ]
        kk, jj, ii = np.ogrid[box]
        volume[box] |= (kk - ck) ** 2 + (jj - cj) ** 2 + (ii - ci) ** 2 <= radius**2
    return volume


def _stroke(volume: np.ndarray, n: int, radius: int = 60) -> list[tuple[int, np.ndarray]]:
    """Paint a disc of radius 8 on 3 slices near the sphere's edge; return the new slices."""
    k0 = 120 + (n % 40)
    edge = min(radius - 5, 240)
    centre_j, centre_i = 256 + edge * np.sin(n), 240 + edge * np.cos(n)
    j, i = np.ogrid[: SHAPE[1], : SHAPE[2]]
    disc = (j - centre_j) ** 2 + (i - centre_i) ** 2 <= 64
    touched = []
    for k in range(k0, k0 + 3):
        volume[k] = volume[k] | disc if n % 2 == 0 else volume[k] & ~disc
        touched.append((k, volume[k].copy()))
    return touched


def _setup() -> tuple[Any, Any, Any]:
    """Create a project with a mask label, a task with a reader, a 512x512x300 stack and an
    empty mask annotation; return (annotation, reader, stack)."""
    from annotator.imaging.models import Stack
    from annotator.labeling.annotations import create_annotation
    from annotator.labeling.models import LabelingTask
    from annotator.labeling.workflow import assign_reader
    from annotator.projects.models import Role
    from annotator.projects.services import add_member, update_label_schema
    from tests.factories import CT_LABELS, UserFactory, make_project
    from tests.imaging.dicom_files import ct_files
    from tests.labeling.conftest import ingest_and_build

    manager = UserFactory.create(username="bench-manager")
    reader = UserFactory.create(username="bench-reader")
    project = make_project(owner=manager, name="Bench masks")
    labels = [*CT_LABELS, {"key": "organ", "name": "Organ", "kind": "mask", "scope": "series"}]
    schema = project.label_schemas.get()
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=labels
    )
    project.auto_assign = False
    project.save(update_fields=["auto_assign"])
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(project, ct_files(slices=2, size=32))
    stack = Stack.objects.create(
        series=series,
        index=9,
        role="volume",
        size=[SHAPE[2], SHAPE[1], SHAPE[0]],
        spacing=SPACING,
        origin=[-180.0, -200.0, -400.0],
        direction=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        uniform=True,
        slice_positions=[k * SPACING[2] for k in range(SHAPE[0])],
    )
    task = LabelingTask.objects.get(series=series)
    assignment = assign_reader(task=task, actor=manager, reader=reader)
    annotation = create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key="organ",
        data={"segments": [{"number": 1, "label": "organ"}, {"number": 2, "label": "nodule"}]},
        stack=stack,
    )
    return annotation, reader, stack


def run(saves: int, radius: int) -> None:
    """Measure and print the table."""
    from rest_framework.test import APIClient

    from annotator.labeling.mask_codec import (
        MEDIA_TYPE,
        WireChunk,
        decode_message,
        encode_message,
        encode_slice,
    )
    from annotator.labeling.mask_nifti import mask_to_nifti
    from annotator.labeling.masks import apply_mask_patch, write_segments
    from annotator.labeling.models import Annotation, MaskChunk

    annotation, reader, _ = _setup()
    volume = make_mask(radius)
    rows: list[tuple[str, str]] = []
    print(
        f"mask {'x'.join(map(str, SHAPE))}: {int(volume.sum()):,} voxels set on "
        f"{int(volume.any(axis=(1, 2)).sum())} slices",
        flush=True,
    )

    start = time.perf_counter()
    annotation = write_segments(
        annotation=annotation,
        actor=reader,
        expected_version=1,
        segments={1: volume},
        source="human",
    )
    first_ms = (time.perf_counter() - start) * 1000
    stored = sum(len(bytes(c.data)) for c in MaskChunk.objects.all())
    rows.append(("first write of the volume (write_segments)", f"{first_ms:8.1f} ms"))
    rows.append(("stored chunks, all slices", f"{stored / 1024:8.1f} KiB"))

    # 1a. service: one 3-slice stroke per save
    state = {"annotation": annotation}

    def patch_service(n: int) -> None:
        chunks = [(1, k, encode_slice(bits)) for k, bits in _stroke(volume, n, radius)]
        state["annotation"] = apply_mask_patch(
            annotation=state["annotation"],
            actor=reader,
            expected_version=state["annotation"].version,
            chunks=chunks,
        )

    service_ms, service_p90 = _median_ms(saves, patch_service)
    rows.append(
        (
            "brush stroke, 3 slices: apply_mask_patch",
            f"{service_ms:8.1f} ms (p90 {service_p90:.1f})",
        )
    )

    from annotator.labeling.masks import _prepare  # the server's per-slice work alone

    slices = [bits for _, bits in _stroke(volume.copy(), 0, radius)]
    client_ms, _ = _median_ms(saves, lambda _: [encode_slice(bits) for bits in slices])
    encoded = [(1, 120 + n, encode_slice(bits)) for n, bits in enumerate(slices)]
    prepare_ms, _ = _median_ms(saves, lambda _: _prepare(encoded, SHAPE))
    rows.append(("  client: encode the 3 slices", f"{client_ms:8.2f} ms"))
    rows.append(("  server: decode + re-encode the 3 slices", f"{prepare_ms:8.2f} ms"))

    # 1b. HTTP: the same through PATCH with the wire format
    client = APIClient()
    client.force_authenticate(reader)
    url = f"/api/v1/projects/{annotation.project_id}/annotations/{annotation.pk}/mask/"
    body_sizes = []

    def patch_http(n: int) -> None:
        current = Annotation.objects.only("version").get(pk=annotation.pk).version
        chunks = [
            WireChunk(1, k, encode_slice(bits)) for k, bits in _stroke(volume, n + saves, radius)
        ]
        body = encode_message(SHAPE, chunks)
        body_sizes.append(len(body))
        response = client.patch(
            url, data=body, content_type=MEDIA_TYPE, HTTP_IF_MATCH=f'"{current}"'
        )
        if response.status_code != 200:
            raise SystemExit(f"PATCH failed: {response.status_code} {response.content[:300]!r}")

    http_ms, http_p90 = _median_ms(saves, patch_http)
    rows.append(("brush stroke, 3 slices: HTTP PATCH", f"{http_ms:8.1f} ms (p90 {http_p90:.1f})"))
    rows.append(("  PATCH body", f"{statistics.median(body_sizes) / 1024:8.1f} KiB"))

    # 2a. reference: encode every slice and write the whole volume on every save
    references = max(3, saves // 4)
    state["annotation"] = Annotation.objects.get(pk=annotation.pk)

    def encode_all(_: int) -> None:
        for bits in volume:
            encode_slice(bits)

    encode_ms, _ = _median_ms(references, encode_all)

    def rewrite(n: int) -> None:
        _stroke(volume, n, radius)
        state["annotation"] = write_segments(
            annotation=state["annotation"],
            actor=reader,
            expected_version=state["annotation"].version,
            segments={1: volume},
            source="human",
        )

    rewrite_ms, _ = _median_ms(references, rewrite)
    rows.append(("reference: encode all 300 slices", f"{encode_ms:8.1f} ms"))
    rows.append(("reference: rewrite whole volume (write_segments)", f"{rewrite_ms:8.1f} ms"))

    # 2b. reference: np.savez_compressed of the full volume
    sizes = []

    def savez(_: int) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, mask=volume)
        sizes.append(buffer.tell())

    savez_ms, _ = _median_ms(references, savez)
    rows.append(
        (
            "reference: np.savez_compressed(full volume)",
            f"{savez_ms:8.1f} ms ({statistics.median(sizes) / 1024:.0f} KiB)",
        )
    )
    full_wire = encode_message(
        SHAPE, [WireChunk(1, k, encode_slice(bits)) for k, bits in enumerate(volume)]
    )
    rows.append(("reference: whole volume in the wire format", f"{len(full_wire) / 1024:8.1f} KiB"))
    rows.append(("ratio rewrite(write_segments) / patch", f"{rewrite_ms / service_ms:8.1f} x"))
    rows.append(("ratio savez_compressed / patch", f"{savez_ms / service_ms:8.1f} x"))
    rows.append(("ratio savez_compressed / HTTP PATCH", f"{savez_ms / http_ms:8.1f} x"))

    # 3. full GET and NIfTI
    got: dict[str, int] = {}

    def get_full(_: int) -> None:
        response = client.get(url)
        body = b"".join(response.streaming_content)
        got["bytes"], got["chunks"] = len(body), len(decode_message(body).chunks)

    get_ms, _ = _median_ms(5, get_full)
    rows.append(
        (
            "full GET (wire format, test client)",
            f"{get_ms:8.1f} ms, {got['bytes'] / 1024:.1f} KiB, {got['chunks']} chunks",
        )
    )
    final = Annotation.objects.select_related("stack").get(pk=annotation.pk)
    nifti: dict[str, int] = {}

    def export(_: int) -> None:
        nifti["bytes"] = len(mask_to_nifti(final))

    nifti_ms, _ = _median_ms(3, export)
    rows.append(("NIfTI export (.nii.gz)", f"{nifti_ms:8.1f} ms, {nifti['bytes'] / 1024:.1f} KiB"))

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value.strip()}")


def main() -> None:
    """Create a private test database, run the benchmark, drop the database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--radius", type=int, default=60, help="sphere radius in voxels")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_DATABASE_NAME", "test_bench_masks")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    start = time.perf_counter()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"database ready in {time.perf_counter() - start:.1f} s", flush=True)
    try:
        run(args.saves, args.radius)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)  # the tiny ingested series


if __name__ == "__main__":
    main()
