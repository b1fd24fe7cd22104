"""Latency of what a viewer asks first (series metadata) on a 300-slice 512x512 CT.

Skipped unless DICOMWEB_BENCH=1 (ingesting 150 MB takes a while); DICOMWEB_BENCH_REDIS=redis://…
measures with a Redis cache, as deployed.
"""

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Instance, Series
from annotator.imaging.synthetic import make_ct_series
from annotator.projects.models import Project
from tests.dicomweb.helpers import dicomweb_path, ingest
from tests.imaging.dicom_files import to_bytes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("DICOMWEB_BENCH"), reason="set DICOMWEB_BENCH=1"),
]


def _timed(call: Callable[[], bytes], runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def test_series_metadata_latency(
    client_for: Callable[[User], APIClient], project: Project, manager: User, settings: Any
) -> None:
    if os.environ.get("DICOMWEB_BENCH_REDIS"):  # the production cache (locmem keeps 300 keys)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ["DICOMWEB_BENCH_REDIS"],
            }
        }
    datasets = make_ct_series(slices=300, size=512, nodules=0)
    ingest(project, [(f"{i}.dcm", to_bytes(ds)) for i, ds in enumerate(datasets)])
    series = Series.objects.select_related("study").get()
    first = Instance.objects.filter(series=series).order_by("instance_number").first()
    assert first is not None
    client = client_for(manager)
    base = (
        f"{dicomweb_path(project)}/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}"
    )

    def metadata() -> bytes:
        response = client.get(f"{base}/metadata")
        body = b"".join(response.streaming_content)
        assert len(json.loads(body)) == 300
        return body

    def frame() -> bytes:
        return client.get(
            f"{base}/instances/{first.sop_instance_uid}/frames/1",
            HTTP_ACCEPT="multipart/related; type=application/octet-stream; transfer-syntax=*",
        ).content

    def search() -> bytes:
        return client.get(f"{base}/instances").content

    def cold_metadata() -> bytes:
        cache.clear()
        return metadata()

    for name, call in (
        ("series metadata, cold", cold_metadata),
        ("series metadata, cached", metadata),
        ("one frame", frame),
        ("QIDO instances", search),
    ):
        seconds, size = _timed(call, 5)
        print(f"{name}: {seconds * 1000:.0f} ms median of 5, {size} bytes")  # noqa: T201
