"""Retrieve Series/Study as bulk data: every frame in one multipart response, each part located."""

import io
from collections.abc import Callable
from typing import Any

import pydicom
import pytest
from pydicom.encaps import generate_frames
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Instance
from annotator.projects.models import Project
from api.dicomweb.multipart import iter_parts
from tests.dicomweb.helpers import dicomweb_path, ingest
from tests.imaging.dicom_files import ct_files, real_file

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]
CORNERSTONE = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _parts(response: Any) -> list[tuple[dict[str, str], bytes]]:
    body = b"".join(response.streaming_content)
    boundary = response["Content-Type"].split("boundary=")[1].split(";")[0].strip('"')
    return [
        (part.headers, part.file.read())
        for part in iter_parts(
            io.BytesIO(body), boundary, max_part_bytes=1 << 30, spool_bytes=1 << 30
        )
    ]


def _series_path(project: Project) -> tuple[str, list[Instance]]:
    instances = list(
        Instance.objects.select_related("series__study").order_by("stack_position", "pk")
    )
    series = instances[0].series
    path = (
        f"{dicomweb_path(project)}/studies/{series.study.study_instance_uid}"
        f"/series/{series.series_instance_uid}"
    )
    return path, instances


def test_series_bulk_data_is_every_frame_in_stack_order_located_by_its_frame_url(
    client_for: Client,
    project: Project,
    manager: User,
    django_assert_max_num_queries: Any,
) -> None:
    ingest(project, ct_files(slices=4, size=16))
    path, instances = _series_path(project)
    client = client_for(manager)
    with django_assert_max_num_queries(3):  # auth, project, instances: not one per instance
        response = client.get(path, HTTP_ACCEPT=CORNERSTONE)
        parts = _parts(response)
    assert response.status_code == 200
    assert response["Content-Type"].startswith('multipart/related; type="application/octet-stream"')
    assert len(parts) == len(instances) == 4
    for (headers, data), instance in zip(parts, instances, strict=True):
        with instance.file.open("rb") as fp:
            assert data == pydicom.dcmread(fp).PixelData
        assert headers["content-length"] == str(len(data))
        assert headers["content-type"] == (
            "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
        )
        location = headers["content-location"]
        assert location.endswith(f"{path}/instances/{instance.sop_instance_uid}/frames/1")
        alone = client.get(location.split("testserver", 1)[1], HTTP_ACCEPT=CORNERSTONE)
        assert data in alone.content  # the located resource answers the same bytes


def test_bulk_data_of_compressed_frames_as_stored_or_decoded(
    client_for: Client, project: Project, manager: User
) -> None:
    ingest(project, [("rle", real_file("SC_rgb_rle_2frame.dcm").read_bytes())])
    path, [instance] = _series_path(project)
    client = client_for(manager)
    stored = _parts(client.get(path, HTTP_ACCEPT=CORNERSTONE))
    with instance.file.open("rb") as fp:
        ds = pydicom.dcmread(fp)
    assert [data for _, data in stored] == list(generate_frames(ds.PixelData, number_of_frames=2))
    assert [h["content-location"].rsplit("/", 1)[1] for h, _ in stored] == ["1", "2"]
    assert stored[0][0]["content-type"].startswith("image/x-dicom-rle")
    native = _parts(
        client.get(path, HTTP_ACCEPT='multipart/related; type="application/octet-stream"')
    )
    assert [len(data) for _, data in native] == [ds.Rows * ds.Columns * 3] * 2
    study = path.split("/series/")[0]
    assert client.get(study, HTTP_ACCEPT='multipart/related; type="image/jp2"').status_code == 406


def test_bulk_data_retrieve_is_404_for_non_members_and_dicom_stays_the_default(
    client_for: Client, project: Project, user: User, manager: User
) -> None:
    ingest(project, ct_files(slices=2, size=16))
    path, _ = _series_path(project)
    assert client_for(user).get(path, HTTP_ACCEPT=CORNERSTONE).status_code == 404
    default = client_for(manager).get(path, HTTP_ACCEPT="*/*")
    assert default["Content-Type"].startswith('multipart/related; type="application/dicom"')
