"""Stacks and voxel caches after ingest, and the render endpoints built on them."""

import io
import random
from collections.abc import Callable

import numpy as np
import pydicom
import pytest
from PIL import Image
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.geometry import index_to_lps
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Series, SeriesStatus, Stack
from annotator.imaging.synthetic import make_mammogram_pair, make_ultrasound_cine, make_xray
from annotator.imaging.volume import build_series_volumes, load_volume
from annotator.projects.models import Project
from tests.imaging.dicom_files import ct_files, real_file, to_bytes

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def _ingest_and_build(project: Project, files: list[tuple[str, bytes]]) -> list[Series]:
    ingestor = Ingestor(project=project, actor=project.owner, source="test")
    for name, data in files:
        ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    series = list(Series.objects.filter(pk__in=ingestor.touched).order_by("pk"))
    for item in series:
        build_series_volumes(item)
    return series


def test_ct_volume_is_sorted_by_geometry_and_keeps_hounsfield_units(project: Project) -> None:
    files = ct_files(slices=8, size=32)
    originals = [pydicom.dcmread(io.BytesIO(data)) for _, data in files]
    random.Random(4).shuffle(files)
    [series] = _ingest_and_build(project, files)
    series.refresh_from_db()
    assert series.status == SeriesStatus.READY
    stack = Stack.objects.get(series=series)
    assert (stack.role, stack.size, stack.uniform) == ("volume", [32, 32, 8], True)
    volume = load_volume(stack.volume_path)
    assert (volume.shape, volume.dtype) == ((8, 32, 32), np.int16)
    by_z = sorted(originals, key=lambda ds: float(ds.ImagePositionPatient[2]))
    for k, ds in enumerate(by_z):  # k runs along the slice normal (+z: towards the head)
        expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(volume[k], expected)
    first = [float(v) for v in by_z[0].ImagePositionPatient]
    geometry_origin = stack.origin
    assert np.allclose(geometry_origin, first)


def test_geometry_of_stored_stack_maps_voxels_to_patient_space(project: Project) -> None:
    from annotator.imaging.volume import stack_geometry

    [series] = _ingest_and_build(project, ct_files(slices=5, size=16))
    geometry = stack_geometry(Stack.objects.get(series=series))
    last = series.instances.get(stack_position=4)
    assert np.allclose(index_to_lps(geometry, [0, 0, 4]), last.geometry["position"])


def test_cine_single_and_mammography_stacks(project: Project) -> None:
    us = make_ultrasound_cine(frames=4, size=(120, 160))
    dx = make_xray(size=(64, 48))
    mammo = make_mammogram_pair()[:2]
    made = _ingest_and_build(
        project,
        [
            ("us.dcm", to_bytes(us)),
            ("dx.dcm", to_bytes(dx)),
            *[(f"mg{i}.dcm", to_bytes(d)) for i, d in enumerate(mammo)],
        ],
    )
    roles = {s.modality: [st.role for st in s.stacks.all()] for s in made}
    assert roles["US"] == ["cine"]
    assert roles["DX"] == ["single"]
    assert roles["MG"] == ["single", "single"]  # each view is its own image
    us_stack = Stack.objects.get(series__modality="US")
    assert load_volume(us_stack.volume_path).shape[0] == 4
    assert us_stack.frame_time_ms is not None


def test_real_files_build_volumes(project: Project) -> None:
    made = _ingest_and_build(
        project, [(n, real_file(n).read_bytes()) for n in ("CT_small.dcm", "JPEG2000.dcm")]
    )
    assert all(
        s.status == SeriesStatus.READY for s in Series.objects.filter(pk__in=[m.pk for m in made])
    )
    ct = Stack.objects.get(series__modality="CT")
    volume = load_volume(ct.volume_path)
    ds = pydicom.dcmread(real_file("CT_small.dcm"))
    assert np.array_equal(
        volume[0], ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    )


def _png(response: object) -> Image.Image:
    return Image.open(io.BytesIO(response.content))  # type: ignore[attr-defined]


def _logged_in(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)  # the render views are plain Django views: a real session
    return client


def test_render_endpoint_windows_planes_and_errors(
    project: Project, manager: User, user: User
) -> None:
    [series] = _ingest_and_build(project, ct_files(slices=10, size=32))
    client = _logged_in(manager)
    url = f"/api/v1/projects/{project.pk}/series/{series.pk}/render/"
    axial = client.get(url, {"index": 5, "window": "Lung"})
    assert axial.status_code == 200
    assert axial["Content-Type"] == "image/png"
    lung = np.asarray(_png(axial))
    assert lung.shape == (32, 32)
    bone = np.asarray(_png(client.get(url, {"index": 5, "window": "Bone"})))
    assert not np.array_equal(lung, bone)  # the window changes the pixels
    coronal = client.get(url, {"plane": "coronal", "index": 16, "format": "jpeg"})
    assert coronal["Content-Type"] == "image/jpeg"
    width, height = Image.open(io.BytesIO(coronal.content)).size
    assert width == 32
    assert height > 10  # 10 slices of 2.5 mm shown at the in-plane spacing, not squashed
    assert client.get(url, {"index": 5, "window": "40,400", "size": 16}).status_code == 200
    for params, field in [
        ({"index": 99}, "index"),
        ({"plane": "oblique"}, "plane"),
        ({"window": "Nope"}, "window"),
        ({"window": "1,-5"}, "window"),
        ({"format": "gif"}, "format"),
        ({"size": "0"}, "size"),
    ]:
        response = client.get(url, params)
        assert response.status_code == 400, params
        assert field in response.json()["errors"], params
    assert _logged_in(user).get(url).status_code == 404
    assert APIClient().get(url).status_code == 401
    thumb = client.get(f"/api/v1/projects/{project.pk}/series/{series.pk}/thumbnail/")
    assert thumb["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 128


def test_render_before_volume_is_built_is_404(project: Project, manager: User) -> None:
    ingestor = Ingestor(project=project, actor=manager, source="test")
    for name, data in ct_files(slices=3, size=16):
        ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    series = Series.objects.get()
    url = f"/api/v1/projects/{project.pk}/series/{series.pk}/render/"
    response = _logged_in(manager).get(url)
    assert response.status_code == 404


def test_volume_build_task_warms_the_dicomweb_metadata_cache(project: Project) -> None:
    from django.core.cache import cache

    from annotator.imaging.metadata import cache_key
    from annotator.imaging.models import Instance
    from annotator.imaging.tasks import build_series_volumes_task

    ingestor = Ingestor(project=project, actor=project.owner, source="test")
    for name, data in ct_files(slices=3, size=16):
        ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))
    ingestor.finish()
    series = Series.objects.get()
    build_series_volumes_task([series.pk])
    keys = [
        cache_key(pk, digest) for pk, digest in Instance.objects.values_list("pk", "content_digest")
    ]
    assert len(cache.get_many(keys)) == 3
