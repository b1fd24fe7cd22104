"""/projects/{id}/pacs/...: connections (auth header write-only), search, pull, permissions."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.jobs.models import Job, JobKind
from annotator.pacs.models import PacsConnection
from annotator.pacs.services import create_pacs_connection
from annotator.projects.models import Project, Role
from tests.factories import make_project
from tests.pacs.fake_pacs import Study, dicomweb_pacs, dimse_pacs, free_port, make_studies

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]
SECRET = "Bearer top-secret-token"


@pytest.fixture(scope="module")
def studies() -> list[Study]:
    return make_studies()


@pytest.fixture(autouse=True)
def send_task(mocker: Any) -> Any:
    return mocker.patch("annotator.celery.app.send_task")


def _base(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/pacs/"


def _web(
    project: Project, manager: User, url: str = "https://pacs.example.org/dicom-web"
) -> PacsConnection:
    return create_pacs_connection(
        project=project,
        actor=manager,
        name="Web",
        kind="dicomweb",
        base_url=url,
        auth_header=SECRET,
    )


def test_manager_creates_lists_updates_and_deletes_connections(
    client_for: Client, project: Project, manager: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(manager)
    created = client.post(_base(project), {
        "name": "Hospital PACS", "kind": "dicomweb",
        "base_url": "https://pacs.example.org/dicom-web", "auth_header": SECRET,
    })  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["has_auth_header"] is True
    assert "auth_header" not in body
    assert body["created_by"] == manager.username
    with django_assert_max_num_queries(4):
        listed = client.get(_base(project))
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()] == ["Hospital PACS"]
    detail = client.get(f"{_base(project)}{body['id']}/")
    assert SECRET not in str(listed.json()) + str(detail.json())
    changed = client.patch(f"{_base(project)}{body['id']}/", {"auth_header": "", "name": "Main"})
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["name"], changed.json()["has_auth_header"]) == ("Main", False)
    assert client.delete(f"{_base(project)}{body['id']}/").status_code == 204
    assert not PacsConnection.objects.exists()
    assert SECRET not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_create_validates_per_kind(client_for: Client, project: Project, manager: User) -> None:
    client = client_for(manager)
    missing = client.post(_base(project), {"name": "X", "kind": "dimse", "host": "pacs"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid_pacs_connection"
    bad_ae = client.post(
        _base(project),
        {"name": "X", "kind": "dimse", "host": "pacs", "port": 104, "called_ae_title": "A" * 17},
    )
    assert bad_ae.status_code == 400
    assert "called_ae_title" in bad_ae.json()["errors"]
    ok = client.post(
        _base(project),
        {
            "name": "X",
            "kind": "dimse",
            "host": "pacs",
            "port": 104,
            "called_ae_title": "PACS",
            "retrieve_method": "c-get",
        },
    )
    assert ok.status_code == 201, ok.json()
    duplicate = client.post(
        _base(project), {"name": "X", "kind": "dicomweb", "base_url": "https://x.example.org/"}
    )
    assert duplicate.status_code == 409


def test_annotators_get_403_and_non_members_404(
    client_for: Client, project: Project, manager: User, member_of: Callable[[str], User],
    user: User,
) -> None:  # fmt: skip
    connection = _web(project, manager)
    base, one = _base(project), f"{_base(project)}{connection.pk}/"
    annotator = client_for(member_of(Role.ANNOTATOR))
    assert annotator.get(base).status_code == 403
    assert annotator.post(base, {"name": "X", "kind": "dicomweb"}).status_code == 403
    assert annotator.get(one).status_code == 403
    assert annotator.post(f"{one}search/", {}).status_code == 403
    assert annotator.post(f"{one}pull/", {"study_instance_uids": ["1.2"]}).status_code == 403
    stranger = client_for(user)
    assert stranger.get(base).status_code == 404
    assert stranger.get(one).status_code == 404
    assert stranger.patch(one, {"name": "Y"}).status_code == 404
    assert stranger.delete(one).status_code == 404
    assert stranger.post(f"{one}search/", {}).status_code == 404
    assert stranger.post(f"{one}pull/", {"study_instance_uids": ["1.2"]}).status_code == 404
    assert PacsConnection.objects.get().name == "Web"


def test_a_connection_of_another_project_is_404(
    client_for: Client, project: Project, manager: User
) -> None:
    other = make_project(owner=manager, name="Other")
    connection = _web(other, manager)
    response = client_for(manager).get(f"{_base(project)}{connection.pk}/")
    assert response.status_code == 404


def test_search_returns_matches(
    client_for: Client, project: Project, manager: User, studies: list[Study]
) -> None:
    with dimse_pacs(studies) as pacs:
        connection = create_pacs_connection(
            project=project, actor=manager, name="Archive", kind="dimse", host="127.0.0.1",
            port=pacs.port, called_ae_title="FAKEPACS",
        )  # fmt: skip
        response = client_for(manager).post(
            f"{_base(project)}{connection.pk}/search/",
            {"patient_id": "PAT-B", "study_date_from": "2000-01-01", "modality": "CT"},
        )
    assert response.status_code == 200, response.json()
    [study] = response.json()["results"]
    assert study["patient_id"] == "PAT-B"
    assert study["number_of_instances"] == 2
    assert pacs.identifiers[-1].StudyDate == "20000101-"
    event = AuditEvent.objects.get(action="pacs.search")
    assert event.changes == {"results": [None, 1]}  # never the filters: they identify patients


def test_search_with_auth_header_over_dicomweb(
    client_for: Client, project: Project, manager: User, studies: list[Study]
) -> None:
    with dicomweb_pacs(studies, token=SECRET) as pacs:
        connection = _web(project, manager, url=pacs.url)
        response = client_for(manager).post(f"{_base(project)}{connection.pk}/search/", {})
    assert response.status_code == 200, response.json()
    assert len(response.json()["results"]) == 2


def test_unreachable_pacs_is_a_502_with_a_clear_message(
    client_for: Client, project: Project, manager: User
) -> None:
    connection = _web(project, manager, url=f"http://127.0.0.1:{free_port()}/dicom-web")
    response = client_for(manager).post(f"{_base(project)}{connection.pk}/search/", {})
    assert response.status_code == 502
    assert response.json() == {
        "code": "pacs_unreachable",
        "message": "The PACS cannot be reached.",
        "errors": {},
    }


def test_search_validates_dates(client_for: Client, project: Project, manager: User) -> None:
    connection = _web(project, manager)
    response = client_for(manager).post(
        f"{_base(project)}{connection.pk}/search/",
        {"study_date_from": "2024-02-01", "study_date_to": "2024-01-01"},
    )
    assert response.status_code == 400
    assert "study_date_to" in response.json()["errors"]


def test_pull_queues_a_job(
    client_for: Client, project: Project, manager: User, send_task: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    connection = _web(project, manager)
    url = f"{_base(project)}{connection.pk}/pull/"
    client = client_for(manager)
    assert client.post(url, {"study_instance_uids": []}).status_code == 400
    assert client.post(url, {"study_instance_uids": ["1.2.abc"]}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"study_instance_uids": ["1.2.3", "1.2.4"]})
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.PACS_PULL
    assert job.project == project
    assert job.params == {"connection_id": connection.pk, "study_instance_uids": ["1.2.3", "1.2.4"]}
    send_task.assert_called_once_with(
        "pacs.pull_studies", args=[str(job.pk)], task_id=str(job.pk), queue="default"
    )
