"""Frame serving: cached pixel layouts give pydicom's frame bytes; one query per request."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames
from pydicom.pixels.utils import pixel_array
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging import frames as frames_module
from annotator.imaging.dicom_pixels import FrameNotFoundError, NoPixelDataError
from annotator.imaging.frames import FrameSource, LayoutCache, PixelLayout, pixel_layout
from annotator.imaging.models import Instance
from annotator.projects.models import Project
from tests.dicomweb.helpers import dicomweb_path, ingest
from tests.imaging.dicom_files import ct_files, real_file

Client = Callable[[User], APIClient]


def _stored_and_native(path: Path, numbers: list[int]) -> tuple[list[bytes], list[bytes]]:
    """Serve frames twice from one cached layout: as stored, then as native bytes."""
    key = ("test", str(path))
    with path.open("rb") as fp:
        first = pixel_layout(fp, key)
        stored = list(FrameSource(fp, first).stored_frames(numbers))
    with path.open("rb") as fp:
        again = pixel_layout(fp, key)
        assert again is first  # the second request reads no header
        native = list(FrameSource(fp, again).native_frames(numbers))
    return stored, native


def _native_bytes(ds: pydicom.Dataset, n: int) -> bytes:
    array = pixel_array(ds, index=n - 1)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


@pytest.mark.parametrize(
    ("name", "frames"),
    [
        ("CT_small.dcm", 1),  # explicit VR little endian
        ("MR_small_implicit.dcm", 1),
        ("rtdose.dcm", 15),  # implicit, multi-frame, 32-bit
    ],
)
def test_cached_native_frames_equal_pydicoms_pixel_data(name: str, frames: int) -> None:
    path = real_file(name)
    ds = pydicom.dcmread(path)
    size = len(ds.PixelData) // frames
    numbers = [frames, 1, (frames + 1) // 2]
    stored, native = _stored_and_native(path, numbers)
    expected = [ds.PixelData[(n - 1) * size : n * size] for n in numbers]
    assert stored == expected
    assert native == expected


@pytest.mark.parametrize(
    ("name", "frames"),
    [
        ("JPEG2000.dcm", 1),
        ("MR_small_RLE.dcm", 1),
        ("SC_rgb_rle_2frame.dcm", 2),
        ("rtdose_rle.dcm", 15),
    ],
)
def test_cached_compressed_frames_equal_pydicoms_fragments(name: str, frames: int) -> None:
    path = real_file(name)
    ds = pydicom.dcmread(path)
    numbers = [frames, 1]
    stored, native = _stored_and_native(path, numbers)
    as_stored = list(generate_frames(ds.PixelData, number_of_frames=frames))
    assert stored == [as_stored[n - 1] for n in numbers]
    assert native == [_native_bytes(ds, n) for n in numbers]


def test_big_endian_frames_are_decoded_to_little_endian() -> None:
    path = real_file("MR_small_bigendian.dcm")
    stored, native = _stored_and_native(path, [1])
    assert stored == native == [_native_bytes(pydicom.dcmread(path), 1)]


def test_layout_checks_frame_numbers_and_pixel_data(tmp_path: Path) -> None:
    layout = PixelLayout("1.2.840.10008.1.2.1", 2, 16, 8, 100)
    layout.check([1, 2])
    with pytest.raises(FrameNotFoundError):
        layout.check([3])
    no_pixels = pydicom.dcmread(real_file("CT_small.dcm"))
    del no_pixels.PixelData
    stored = tmp_path / "no-pixels.dcm"
    no_pixels.save_as(stored, enforce_file_format=True)
    with stored.open("rb") as fp, pytest.raises(NoPixelDataError):
        pixel_layout(fp, ("test", "no-pixels"))


def test_layout_cache_drops_the_least_recently_used() -> None:
    cache = LayoutCache(2)
    layouts = [PixelLayout("1.2.840.10008.1.2.1", 1, 8, k + 1, 0) for k in range(3)]
    cache.put("a", layouts[0])
    cache.put("b", layouts[1])
    assert cache.get("a") is layouts[0]  # now "b" is the oldest
    cache.put("c", layouts[2])
    assert cache.get("b") is None
    assert cache.get("a") is layouts[0]
    assert cache.get("c") is layouts[2]


@pytest.mark.django_db
def test_frame_request_is_one_query_and_reads_the_header_once(
    client_for: Client,
    project: Project,
    manager: User,
    mocker: Any,
    django_assert_max_num_queries: Any,
) -> None:
    ingest(project, ct_files(slices=2, size=16))
    instance = Instance.objects.select_related("series__study").order_by("pk").first()
    assert instance is not None
    url = (
        f"{dicomweb_path(project)}/studies/{instance.series.study.study_instance_uid}/series/"
        f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}/frames/1"
    )
    read = mocker.spy(frames_module, "read_pixel_layout")
    client = client_for(manager)
    accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    bodies = []
    for _ in range(2):
        with django_assert_max_num_queries(1):
            response = client.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 200
        bodies.append(response.content)
    assert read.call_count == 1
    boundary = response["Content-Type"].split("boundary=")[1].encode()
    with instance.file.open("rb") as fp:
        pixels = pydicom.dcmread(fp).PixelData
    assert bodies[1] == (
        b"--" + boundary + b"\r\nContent-Type: application/octet-stream; "
        b"transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n" + pixels + b"\r\n--" + boundary + b"--\r\n"
    )
    assert response["Content-Length"] == str(len(bodies[1]))


@pytest.mark.django_db
def test_frames_are_404_for_non_members(
    client_for: Client, project: Project, user: User, member_of: Callable[[str], User]
) -> None:
    ingest(project, ct_files(slices=1, size=16))
    instance = Instance.objects.select_related("series__study").get()
    path = (
        f"{dicomweb_path(project)}/studies/{instance.series.study.study_instance_uid}/series/"
        f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )
    for suffix in ("/frames/1", "/bulkdata/7FE00010"):
        assert client_for(user).get(path + suffix).status_code == 404
        assert client_for(member_of("viewer")).get(path + suffix).status_code == 200
    wrong_series = path.replace(instance.series.series_instance_uid, "1.2.3")
    assert client_for(member_of("viewer")).get(wrong_series + "/frames/1").status_code == 404
