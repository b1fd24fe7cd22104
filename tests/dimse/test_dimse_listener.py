"""The DIMSE receiver against dcmtk's echoscu and storescu: routing, storage, statuses."""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from pydicom import dcmread
from pydicom.uid import JPEGBaseline8Bit, SecondaryCaptureImageStorage

from annotator.audit.models import AuditEvent
from annotator.imaging.models import Instance, Series
from annotator.projects.models import Project
from tests.dimse.listener import dcmtk, running_listener, set_ae_title, wait_for, write_files
from tests.factories import make_project
from tests.imaging.dicom_files import ct_files, real_file, to_bytes

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def send_task(mocker: Any) -> Any:
    """The volume builds queued at release (the broker is an edge)."""
    return mocker.patch("annotator.imaging.services.celery_app.send_task")


def _ingest_events(project: Project) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(project=project, action="imaging.ingest"))


def test_echo_succeeds_for_a_known_called_ae_title(project: Project) -> None:
    set_ae_title(project, "CHESTCT")
    with running_listener() as (_, port):
        result = dcmtk("echoscu", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert not _ingest_events(project)  # an echo ingests nothing and logs nothing


def test_unknown_called_ae_title_is_rejected(project: Project) -> None:
    set_ae_title(project, "CHESTCT")
    with running_listener() as (_, port):
        result = dcmtk("echoscu", "-aet", "MODALITY", "-aec", "chestct", "127.0.0.1", port)
        assert result.returncode != 0
        assert "Called AE Title Not Recognized" in result.stdout + result.stderr
        # the listener keeps serving after a rejection
        ok = dcmtk("echoscu", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port)
    assert ok.returncode == 0, ok.stderr


def test_calling_ae_allow_list_refuses_other_senders(project: Project) -> None:
    set_ae_title(project, "CHESTCT")
    with running_listener(allowed_calling={str(project.pk): ["SCANNER1"]}) as (_, port):
        refused = dcmtk("echoscu", "-aet", "LAPTOP", "-aec", "CHESTCT", "127.0.0.1", port)
        allowed = dcmtk("echoscu", "-aet", "SCANNER1", "-aec", "CHESTCT", "127.0.0.1", port)
    assert refused.returncode != 0
    assert "Calling AE Title Not Recognized" in refused.stdout + refused.stderr
    assert allowed.returncode == 0, allowed.stderr


def test_storescu_stores_synthetic_and_real_files_in_the_routed_project(
    project: Project, manager: Any, tmp_path: Path, send_task: Any
) -> None:
    other = make_project(owner=manager, name="Other")
    set_ae_title(project, "CHESTCT")
    set_ae_title(other, "OTHER")
    series = ct_files(slices=5)
    paths = write_files(tmp_path, series)
    paths.append(real_file("CT_small.dcm"))
    paths.append(real_file("MR_small.dcm"))
    paths.append(real_file("SC_rgb_jpeg_dcmtk.dcm"))  # JPEG baseline: compressed syntaxes too
    with running_listener() as (_, port):
        # -xy: also propose JPEG baseline, so the JPEG file travels (and is stored) as JPEG
        result = dcmtk(
            "storescu", "-xy", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port, *paths
        )
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: bool(_ingest_events(project)))
    assert Instance.objects.filter(project=project).count() == 8
    jpeg = Instance.objects.get(project=project, transfer_syntax_uid=JPEGBaseline8Bit)
    assert jpeg.sop_class_uid == SecondaryCaptureImageStorage
    assert not Instance.objects.filter(project=other).exists()
    ct = Series.objects.get(project=project, instance_count=5)
    assert ct.modality == "CT"
    event = _ingest_events(project)[0]
    assert event.actor is None
    assert event.changes["accepted"] == [None, 8]
    assert event.changes["calling_ae_title"] == [None, "MODALITY"]
    assert event.changes["source"] == [None, "dimse"]
    assert event.request_id.startswith("dimse-")
    send_task.assert_called_once()
    assert sorted(send_task.call_args.kwargs["args"][0]) == sorted(
        Series.objects.filter(project=project).values_list("pk", flat=True)
    )
    stored = dcmread(Instance.objects.filter(series=ct)[0].file.path)
    assert stored.Modality == "CT"


def test_second_send_reports_duplicates_and_stores_nothing(
    project: Project, tmp_path: Path, send_task: Any
) -> None:
    set_ae_title(project, "CHESTCT")
    paths = write_files(tmp_path, ct_files(slices=3))
    with running_listener() as (_, port):
        for _ in range(2):
            result = dcmtk(
                "storescu", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port, *paths
            )
            assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: len(_ingest_events(project)) == 2)
    assert Instance.objects.filter(project=project).count() == 3
    first, second = sorted(_ingest_events(project), key=lambda e: e.pk)
    assert first.changes["accepted"] == [None, 3]
    assert second.changes["accepted"] == [None, 0]
    assert second.changes["duplicates"] == [None, 3]
    assert send_task.call_count == 1  # nothing new to build the second time


def test_a_bad_dataset_gets_a_failure_status(
    project: Project, tmp_path: Path, send_task: Any
) -> None:
    set_ae_title(project, "CHESTCT")
    (name, good), (_, bad) = ct_files(slices=2)
    broken = dcmread(io.BytesIO(bad))
    del broken.PixelData
    paths = write_files(tmp_path, [(name, good), ("broken.dcm", to_bytes(broken))])
    with running_listener() as (_, port):
        result = dcmtk(
            "storescu", "-d", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port, *paths
        )
        wait_for(lambda: bool(_ingest_events(project)))
    output = result.stdout + result.stderr
    assert "DIMSE Status                  : 0xc000: Error: Cannot understand" in output
    assert "LO [no_pixel_data]" in output  # the Error Comment: a code, never a header value
    assert Instance.objects.filter(project=project).count() == 1
    event = _ingest_events(project)[0]
    assert (event.changes["accepted"], event.changes["rejected"]) == ([None, 1], [None, 1])


def test_a_storage_failure_is_out_of_resources(
    project: Project, tmp_path: Path, send_task: Any, mocker: Any
) -> None:
    set_ae_title(project, "CHESTCT")
    mocker.patch("annotator.imaging.ingest.default_storage.save", side_effect=OSError("full"))
    paths = write_files(tmp_path, ct_files(slices=2))
    with running_listener() as (_, port):
        result = dcmtk(
            "storescu", "-d", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port, *paths
        )
        wait_for(lambda: bool(_ingest_events(project)))
    assert "DIMSE Status                  : 0xa700" in result.stdout + result.stderr
    assert not Instance.objects.exists()
    event = _ingest_events(project)[0]
    assert event.changes["accepted"] == [None, 0]
    assert event.changes["out_of_resources"][1] >= 1  # storescu may stop after the first


def test_dicom_listener_command_serves_until_terminated(project: Project) -> None:
    set_ae_title(project, "CHESTCT")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_WORKER_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }
    with subprocess.Popen(
        [sys.executable, "manage.py", "dicom_listener", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = ""
            while "DICOM listener" not in line:
                line = proc.stdout.readline()
                assert line, "the listener exited before it listened"
            port = line.split(" on ", 1)[1].split(";", 1)[0].rsplit(":", 1)[1]
            result = dcmtk("echoscu", "-aet", "MODALITY", "-aec", "CHESTCT", "127.0.0.1", port)
            assert result.returncode == 0, result.stderr
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
