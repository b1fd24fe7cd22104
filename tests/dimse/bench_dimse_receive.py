"""Time storescu sending a synthetic CT series into the listener; a report, not a test.

Not collected by default (the name does not start with test_). Run it explicitly:

    TEST_DATABASE_NAME=test_bench_dimse .venv/bin/pytest tests/dimse/bench_dimse_receive.py -s

BENCH_SLICES and BENCH_SIZE change the series (default 100 slices of 256x256). Set
TCP_NODELAY=1 to make storescu disable Nagle's algorithm: small objects then stop waiting
~40 ms each for the receiver's delayed ACK.
"""

import os
import time
from pathlib import Path
from typing import Any

import pytest

from annotator.audit.models import AuditEvent
from annotator.imaging.models import Instance
from annotator.projects.models import Project
from tests.dimse.listener import dcmtk, running_listener, set_ae_title, wait_for, write_files
from tests.imaging.dicom_files import ct_files

pytestmark = pytest.mark.django_db(transaction=True)


def test_time_storescu_into_the_listener(project: Project, tmp_path: Path, mocker: Any) -> None:
    mocker.patch("annotator.imaging.services.celery_app.send_task")
    slices = int(os.environ.get("BENCH_SLICES", "100"))
    size = int(os.environ.get("BENCH_SIZE", "256"))
    set_ae_title(project, "BENCH")
    paths = write_files(tmp_path, ct_files(slices=slices, size=size))
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    with running_listener() as (_, port):
        start = time.perf_counter()
        result = dcmtk("storescu", "-aet", "BENCHSCU", "-aec", "BENCH", "127.0.0.1", port, *paths)
        sent = time.perf_counter() - start
        wait_for(lambda: AuditEvent.objects.filter(action="imaging.ingest").exists())
        finished = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert Instance.objects.filter(project=project).count() == slices
    print(  # noqa: T201 - the report is the point
        f"\n{slices} CT slices {size}x{size} ({megabytes:.1f} MB): storescu {sent:.2f} s "
        f"({slices / sent:.0f} slices/s, {megabytes / sent:.1f} MB/s); association "
        f"summarised after {finished:.2f} s"
    )
