"""POST tasks/{id}/segment-region/: a click or a box -> the region as a wire-format chunk."""

import base64
from collections.abc import Callable

import numpy as np
import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Series, Stack
from annotator.labeling.mask_codec import decode_slice
from annotator.labeling.models import LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Project, Role
from tests.factories import make_project
from tests.labeling.conftest import ingest_and_build
from tests.ml_assist.interactive_phantom import disc_series_files, disc_truth

pytestmark = pytest.mark.django_db

SIZE, CENTRE, RADIUS = 64, (34, 28), 14.0


@pytest.fixture
def disc_series(project: Project) -> Series:
    [series] = ingest_and_build(project, disc_series_files(size=SIZE, centre=CENTRE))
    return series


@pytest.fixture
def stack(disc_series: Series) -> Stack:
    return Stack.objects.get(series=disc_series, index=0)


@pytest.fixture
def task(disc_series: Series) -> LabelingTask:
    return LabelingTask.objects.get(series=disc_series)


@pytest.fixture
def reader(member_of: Callable[[str], User], task: LabelingTask, manager: User) -> User:
    user = member_of(Role.ANNOTATOR)
    assign_reader(task=task, actor=manager, reader=user)
    return user


@pytest.fixture
def client(client_for: Callable[[User], APIClient], reader: User) -> APIClient:
    return client_for(reader)


def _url(task: LabelingTask, project_id: int | None = None) -> str:
    return f"/api/v1/projects/{project_id or task.project_id}/tasks/{task.pk}/segment-region/"


def _mask(body: dict) -> np.ndarray:  # type: ignore[type-arg]
    rows, columns = body["shape"]
    return decode_slice(base64.b64decode(body["chunk"]), rows, columns)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_segment_region_from_a_click_returns_the_disc(
    client: APIClient, task: LabelingTask, stack: Stack
) -> None:
    response = client.post(
        _url(task), {"stack": stack.pk, "k": 1, "point": list(CENTRE)}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["shape"] == [SIZE, SIZE]
    assert body["encoding"] == "packbits-zlib"
    mask = _mask(body)
    assert _dice(mask, disc_truth(size=SIZE, centre=CENTRE, radius=RADIUS)) > 0.9
    assert body["pixels"] == int(mask.sum())
    column_mm, row_mm = stack.spacing[0], stack.spacing[1]
    assert body["area_mm2"] == pytest.approx(body["pixels"] * column_mm * row_mm, abs=1e-3)
    assert body["bbox"][0] <= CENTRE[0] - RADIUS + 2


def test_segment_region_from_a_box_stays_in_the_box(
    client: APIClient, task: LabelingTask, stack: Stack
) -> None:
    box = [CENTRE[0], 5, 60, 55]  # the right half of the disc
    response = client.post(_url(task), {"stack": stack.pk, "k": 0, "box": box}, format="json")
    assert response.status_code == 200, response.content
    mask = _mask(response.json())
    assert mask.any()
    assert not mask[:, : CENTRE[0]].any()


def test_segment_region_stores_nothing(client: APIClient, task: LabelingTask, stack: Stack) -> None:
    from annotator.labeling.models import Annotation, MaskChunk

    before = (Annotation.objects.count(), MaskChunk.objects.count())
    client.post(_url(task), {"stack": stack.pk, "k": 0, "point": list(CENTRE)}, format="json")
    assert (Annotation.objects.count(), MaskChunk.objects.count()) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"k": 0, "point": [SIZE, 3]}, "point"),
        ({"k": 0, "point": [3, -1]}, "point"),
        ({"k": 3, "point": [3, 3]}, "k"),
        ({"k": 0, "box": [0, 0, SIZE, 10]}, "box"),
        ({"k": 0}, "point"),
        ({"k": 0, "point": [1, 2, 3]}, "point"),
        ({"k": 0, "point": [3, 3], "multiplier": 50}, "multiplier"),
    ],
)
def test_segment_region_rejects_bad_input(
    client: APIClient,
    task: LabelingTask,
    stack: Stack,
    payload: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    response = client.post(_url(task), {"stack": stack.pk, **payload}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_segment_region_404_for_other_projects(
    client: APIClient,
    client_for: Callable[[User], APIClient],
    task: LabelingTask,
    stack: Stack,
    reader: User,
    manager: User,
) -> None:
    other = make_project(owner=manager, name="Other")
    other.memberships.create(user=reader, role=Role.ANNOTATOR)
    payload = {"stack": stack.pk, "k": 0, "point": list(CENTRE)}
    assert client.post(_url(task, other.pk), payload, format="json").status_code == 404
    [elsewhere] = ingest_and_build(other, disc_series_files(size=SIZE, uid_seed="elsewhere"))
    foreign_stack = Stack.objects.get(series=elsewhere)
    foreign = {**payload, "stack": foreign_stack.pk}
    assert client.post(_url(task), foreign, format="json").status_code == 404
    outsider = client_for(User.objects.create_user(username="outsider", password="x"))
    assert outsider.post(_url(task), payload, format="json").status_code == 404


def test_segment_region_needs_the_right_to_annotate(
    client_for: Callable[[User], APIClient],
    member_of: Callable[[str], User],
    task: LabelingTask,
    stack: Stack,
) -> None:
    viewer = client_for(member_of(Role.VIEWER))
    payload = {"stack": stack.pk, "k": 0, "point": list(CENTRE)}
    assert viewer.post(_url(task), payload, format="json").status_code == 403
