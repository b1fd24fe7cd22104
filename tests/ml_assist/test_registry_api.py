"""The model registry API: register (TorchScript upload, built-in), list, edit, deactivate,
request predictions, ML settings; permissions and validation."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.jobs.models import Job, JobKind
from annotator.labeling.models import LabelingTask
from annotator.projects.models import Project, Role
from ml_assist.models import Prediction, PredictionStatus, RegisteredModel
from tests.factories import UserFactory, make_project
from tests.ml_assist.registry_helpers import (
    SPEC,
    Failing,
    HalfSize,
    NotFinite,
    Threshold,
    scripted,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ml_media")]
Client = Callable[[User], APIClient]


def _url(project: Project, rest: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/models/{rest}"


def _upload(
    client: APIClient,
    project: Project,
    data: bytes,
    *,
    name: str = "lungnet",
    label_map: Any = None,
    input_spec: Any = None,
    **extra: Any,
) -> Any:
    body = {
        "file": SimpleUploadedFile("model.pt", data),
        "name": name,
        "kind": "segmentation_2d",
        "label_map": json.dumps(label_map if label_map is not None else {"1": "lung"}),
        "input_spec": json.dumps(input_spec if input_spec is not None else SPEC),
        "metrics": json.dumps({"dice": 0.91}),
        "description": "Lungs, 2D U-Net",
        **extra,
    }
    return client.post(_url(project), body, format="multipart")


def _weights_files() -> list[Path]:
    return list(Path(settings.MEDIA_ROOT).glob("ml-models/**/*.pt"))


def test_manager_registers_torchscript_versions(
    ml_project: Project, manager: User, client_for: Client
) -> None:
    client = client_for(manager)
    first = _upload(client, ml_project, scripted(Threshold()))
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["name"], body["version"], body["tag"]) == ("lungnet", 1, "lungnet:v1")
    assert (body["kind"], body["source"], body["active"]) == (
        "segmentation_2d",
        "torchscript",
        False,
    )
    assert body["label_map"] == {"1": "lung"}
    assert body["metrics"] == {"dice": 0.91}
    assert body["has_weights"] is True
    assert len(body["weights_sha256"]) == 64
    assert body["created_by"] == "manager"
    assert body["revision"] == 1
    second = _upload(client, ml_project, scripted(Threshold(5.0)))
    assert second.json()["version"] == 2
    assert AuditEvent.objects.filter(action="ml_model.register").count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"data": b"not a zip at all"}, "file", "not a loadable TorchScript"),
        ({"data": b""}, "file", "empty"),
        ({"module": HalfSize()}, "file", "shape"),
        ({"module": Failing()}, "file", "layer 3 exploded"),
        ({"module": NotFinite()}, "file", "NaN"),
        ({"label_map": {"1": "quality"}}, "label_map.1", "mask label"),
        ({"label_map": {"1": "outline"}}, "label_map.1", "mask label"),
        ({"label_map": {"0": "lung"}}, "label_map.0", "channel"),
        ({"label_map": {"2": "lung"}}, "file", "channels"),
        ({"label_map": {}}, "label_map", "mask label"),
        ({"input_spec": {**SPEC, "window": [5, 1]}}, "input_spec.window", "low < high"),
        ({"input_spec": {**SPEC, "dims": 3}}, "input_spec.dims", "2D"),
        ({"input_spec": {**SPEC, "batch": 0}}, "input_spec.batch", "1 to"),
        ({"input_spec": {**SPEC, "out_channels": 3}}, "file", "out_channels"),
        ({"input_spec": {**SPEC, "triage": {"label": "bone"}}}, "input_spec.triage", "full_ml"),
        ({"name": "Lung Net!"}, "name", "lower-case"),
        ({"kind": "classification"}, "kind", "segmentation_2d"),
    ],
)
def test_bad_registrations_are_400_naming_the_field_and_store_nothing(
    ml_project: Project,
    manager: User,
    client_for: Client,
    kwargs: dict[str, Any],
    field: str,
    words: str,
) -> None:
    data = kwargs.pop("data", None)
    module = kwargs.pop("module", Threshold())
    response = _upload(
        client_for(manager), ml_project, scripted(module) if data is None else data, **kwargs
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["errors"], body
    assert words in body["message"], body["message"]
    assert not RegisteredModel.objects.exists()
    assert not _weights_files()


def test_oversized_upload_is_refused(
    ml_project: Project, manager: User, client_for: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ml_assist.services.MAX_WEIGHTS_BYTES", 1000)
    response = _upload(client_for(manager), ml_project, scripted(Threshold()))
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_builtin_registration_and_listing(
    ml_project: Project, manager: User, client_for: Client, django_assert_max_num_queries: Any
) -> None:
    client = client_for(manager)
    builtins = client.get(_url(ml_project, "builtins/")).json()
    assert {b["key"] for b in builtins} >= {"ct_thorax", "otsu_foreground"}
    response = client.post(
        _url(ml_project, "builtin/"),
        {"name": "thorax", "builtin": "ct_thorax", "label_map": {"lungs": "lung", "bone": "bone"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["builtin"], body["kind"]) == (
        "builtin",
        "ct_thorax",
        "segmentation_3d",
    )
    assert body["input_spec"]["modalities"] == ["CT"]
    _upload(client, ml_project, scripted(Threshold()))
    for _ in range(3):
        client.post(
            _url(ml_project, "builtin/"),
            {"name": "body", "builtin": "ct_body", "label_map": {"body": "body"}},
            format="json",
        )
    with django_assert_max_num_queries(6):
        listed = client.get(_url(ml_project)).json()
    assert listed["count"] == 5
    only = client.get(_url(ml_project), {"name": "body"}).json()
    assert [m["version"] for m in only["results"]] == [3, 2, 1]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "builtin": "ct_brain", "label_map": {"brain": "body"}}, "builtin"),
        ({"name": "x", "builtin": "ct_body", "label_map": {"lungs": "lung"}}, "label_map.lungs"),
        ({"name": "x", "builtin": "ct_body", "label_map": {"body": "nope"}}, "label_map.body"),
    ],
)
def test_bad_builtin_registration_is_400(
    ml_project: Project, manager: User, client_for: Client, payload: dict[str, Any], field: str
) -> None:
    response = client_for(manager).post(_url(ml_project, "builtin/"), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not RegisteredModel.objects.exists()


def _builtin(client: APIClient, project: Project, name: str = "thorax") -> dict[str, Any]:
    response = client.post(
        _url(project, "builtin/"),
        {"name": name, "builtin": "ct_thorax", "label_map": {"lungs": "lung"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    result: dict[str, Any] = response.json()
    return result


def test_members_read_managers_write_others_get_404(
    ml_project: Project,
    manager: User,
    client_for: Client,
    member_of: Callable[[str], User],
) -> None:
    model = _builtin(client_for(manager), ml_project)
    reader = client_for(member_of(Role.ANNOTATOR))
    assert reader.get(_url(ml_project)).status_code == 200
    assert reader.get(_url(ml_project, f"{model['id']}/")).status_code == 200
    assert reader.get(_url(ml_project, f"{model['id']}/predictions/")).status_code == 200
    assert _upload(reader, ml_project, scripted(Threshold())).status_code == 403
    assert (
        reader.patch(
            _url(ml_project, f"{model['id']}/"), {"revision": 1, "active": True}
        ).status_code
        == 403
    )
    assert (
        reader.post(_url(ml_project, f"{model['id']}/predict/"), {"unlabeled": True}).status_code
        == 403
    )
    stranger = client_for(UserFactory.create())
    assert stranger.get(_url(ml_project)).status_code == 404
    assert stranger.get(_url(ml_project, f"{model['id']}/")).status_code == 404
    other = make_project(owner=UserFactory.create(), name="Other")
    own_client = client_for(other.owner)
    assert own_client.get(_url(other, f"{model['id']}/")).status_code == 404
    assert own_client.patch(_url(other, f"{model['id']}/"), {"revision": 1}).status_code == 404


def test_patch_with_revision_activates_one_version_per_name(
    ml_project: Project, manager: User, client_for: Client
) -> None:
    client = client_for(manager)
    v1, v2 = _builtin(client, ml_project), _builtin(client, ml_project)
    on = client.patch(
        _url(ml_project, f"{v1['id']}/"), {"revision": 1, "active": True}, format="json"
    )
    assert on.status_code == 200
    assert on.json()["active"]
    assert on.json()["revision"] == 2
    second = client.patch(
        _url(ml_project, f"{v2['id']}/"),
        {"active": True, "description": "better", "label_map": {"lungs": "lung", "body": "body"}},
        format="json",
        headers={"If-Match": '"1"'},
    )
    assert second.status_code == 200, second.json()
    assert second.json()["label_map"] == {"lungs": "lung", "body": "body"}
    assert not RegisteredModel.objects.get(pk=v1["id"]).active
    stale = client.patch(
        _url(ml_project, f"{v1['id']}/"), {"revision": 2, "active": True}, format="json"
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["revision"] == 3
    missing = client.patch(_url(ml_project, f"{v1['id']}/"), {"active": True}, format="json")
    assert missing.status_code == 400
    assert "revision" in missing.json()["errors"]
    bad_map = client.patch(
        _url(ml_project, f"{v1['id']}/"), {"revision": 3, "label_map": {"3": "lung"}}, format="json"
    )
    assert bad_map.status_code == 400
    assert "label_map.3" in bad_map.json()["errors"]
    assert RegisteredModel.objects.get(pk=v1["id"]).revision == 3
    off = client.post(_url(ml_project, f"{v2['id']}/deactivate/"))
    assert off.status_code == 200
    assert not off.json()["active"]
    actions = list(
        AuditEvent.objects.filter(action="ml_model.update").values_list("changes", flat=True)
    )
    assert {"active": [True, False]} in actions


def test_predict_request_queues_a_gpu_job(
    ml_project: Project,
    manager: User,
    client_for: Client,
    ml_ct_task: LabelingTask,
    django_capture_on_commit_callbacks: Any,
    mocker: Any,
) -> None:
    send = mocker.patch("annotator.jobs.services.celery_app.send_task")
    client = client_for(manager)
    model = _builtin(client, ml_project)
    url = _url(ml_project, f"{model['id']}/predict/")
    with django_capture_on_commit_callbacks(execute=True):
        by_task = client.post(url, {"task_ids": [ml_ct_task.pk]}, format="json")
    assert by_task.status_code == 202, by_task.json()
    job = Job.objects.get(pk=by_task.json()["id"])
    assert (job.kind, job.queue, job.project_id) == (JobKind.PREANNOTATE, "gpu", ml_project.pk)
    assert job.params == {
        "model_id": model["id"],
        "task_ids": [ml_ct_task.pk],
        "trigger": "request",
    }
    send.assert_called_once_with(
        "ml_assist.preannotate", args=[str(job.pk)], task_id=str(job.pk), queue="gpu"
    )
    by_series = client.post(url, {"series_ids": [ml_ct_task.series_id]}, format="json")
    assert Job.objects.get(pk=by_series.json()["id"]).params["task_ids"] == [ml_ct_task.pk]
    unlabeled = client.post(url, {"unlabeled": True}, format="json")
    assert Job.objects.get(pk=unlabeled.json()["id"]).params["task_ids"] == [ml_ct_task.pk]


def test_predict_request_validation(
    ml_project: Project, manager: User, client_for: Client, ml_ct_task: LabelingTask
) -> None:
    client = client_for(manager)
    model = _builtin(client, ml_project)
    url = _url(ml_project, f"{model['id']}/predict/")
    assert client.post(url, {}, format="json").status_code == 400
    both = client.post(url, {"task_ids": [ml_ct_task.pk], "unlabeled": True}, format="json")
    assert both.status_code == 400
    other = make_project(owner=manager, name="Other")
    [foreign] = [t.pk for t in LabelingTask.objects.filter(project=other)] or [10**9]
    assert client.post(url, {"task_ids": [foreign]}, format="json").status_code == 404
    assert client.post(url, {"series_ids": [10**9]}, format="json").status_code == 404
    Prediction.objects.create(
        model_id=model["id"], task=ml_ct_task, status=PredictionStatus.SUCCEEDED
    )
    nothing = client.post(url, {"unlabeled": True}, format="json")
    assert nothing.status_code == 400
    assert nothing.json()["errors"] == {"task_ids": ["task_ids: No task to pre-annotate."]}
    assert not Job.objects.filter(kind=JobKind.PREANNOTATE).exists()


def test_ml_settings_read_and_versioned_edit(
    ml_project: Project, manager: User, client_for: Client, member_of: Callable[[str], User]
) -> None:
    url = f"/api/v1/projects/{ml_project.pk}/ml-settings/"
    reader = client_for(member_of(Role.ANNOTATOR))
    current = reader.get(url).json()
    assert current == {
        "preannotate_on_ingest": False,
        "triage_sets_priority": False,
        "version": ml_project.version,
    }
    assert (
        reader.patch(url, {"version": current["version"], "triage_sets_priority": True}).status_code
        == 403
    )
    client = client_for(manager)
    changed = client.patch(
        url, {"version": current["version"], "preannotate_on_ingest": True}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["preannotate_on_ingest"] is True
    assert changed.json()["version"] == current["version"] + 1
    stale = client.patch(
        url, {"version": current["version"], "triage_sets_priority": True}, format="json"
    )
    assert stale.status_code == 409
    assert AuditEvent.objects.filter(action="project.ml_settings").count() == 1
    assert client_for(UserFactory.create()).get(url).status_code == 404


def test_predictions_list_shows_status_error_and_device_within_a_query_budget(
    ml_project: Project,
    manager: User,
    client_for: Client,
    django_assert_max_num_queries: Any,
) -> None:
    from tests.imaging.dicom_files import ct_files
    from tests.labeling.conftest import ingest_and_build

    client = client_for(manager)
    model = _builtin(client, ml_project)
    series = ingest_and_build(
        ml_project, [*ct_files(slices=2, seed=1), *ct_files(slices=2, seed=2)]
    )
    tasks = LabelingTask.objects.filter(series__in=series).order_by("pk")
    Prediction.objects.create(
        model_id=model["id"], task=tasks[0], status=PredictionStatus.SUCCEEDED, device="cpu"
    )
    Prediction.objects.create(
        model_id=model["id"], task=tasks[1], status=PredictionStatus.FAILED, error="boom"
    )
    url = _url(ml_project, f"{model['id']}/predictions/")
    with django_assert_max_num_queries(6):
        listed = client.get(url).json()
    assert {(p["task"], p["status"], p["error"], p["device"]) for p in listed["results"]} == {
        (tasks[0].pk, "succeeded", "", "cpu"),
        (tasks[1].pk, "failed", "boom", ""),
    }
    assert {p["series"] for p in listed["results"]} == {s.pk for s in series}
    failed = client.get(url, {"status": "failed"}).json()
    assert [p["task"] for p in failed["results"]] == [tasks[1].pk]
