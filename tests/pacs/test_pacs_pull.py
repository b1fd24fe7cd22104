"""Connection services and the pull job: ingest into the project, progress, report, failures."""

from typing import Any

import pytest

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.imaging.models import Instance
from annotator.jobs.models import Job, JobState
from annotator.jobs.names import BUILD_VOLUMES_TASK
from annotator.pacs import services
from annotator.pacs.models import PacsConnection
from annotator.pacs.services import (
    InvalidPacsConnectionError,
    InvalidPullError,
    PacsNameTakenError,
    create_pacs_connection,
    delete_pacs_connection,
    request_pacs_pull,
    update_pacs_connection,
)
from annotator.pacs.tasks import pull_studies_task
from annotator.projects.models import Project
from tests.dimse.listener import running_listener, set_ae_title, wait_for
from tests.pacs.fake_pacs import Study, dicomweb_pacs, dimse_pacs, free_port, make_studies

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def studies() -> list[Study]:
    return make_studies()


@pytest.fixture(autouse=True)
def send_task(mocker: Any) -> Any:
    """The edge to the broker (one Celery app): the job's own task and the volume builds."""
    return mocker.patch("annotator.celery.app.send_task")


def _dimse(project: Project, manager: User, port: int, **kwargs: Any) -> PacsConnection:
    return create_pacs_connection(
        project=project, actor=manager, name="Scanner archive", kind="dimse", host="127.0.0.1",
        port=port, called_ae_title="FAKEPACS", **kwargs,
    )  # fmt: skip


def _pull(connection: PacsConnection, manager: User, uids: list[str]) -> Job:
    job = request_pacs_pull(connection=connection, actor=manager, study_instance_uids=uids)
    pull_studies_task(str(job.pk))  # what the worker runs
    job.refresh_from_db()
    return job


# --- connections ------------------------------------------------------------------------------


def test_create_checks_what_each_kind_needs(project: Project, manager: User) -> None:
    with pytest.raises(InvalidPacsConnectionError) as error:
        create_pacs_connection(project=project, actor=manager, name="A", kind="dicomweb")
    assert error.value.field == "base_url"
    with pytest.raises(InvalidPacsConnectionError) as error:
        create_pacs_connection(
            project=project, actor=manager, name="A", kind="dimse", host="pacs", port=104
        )
    assert error.value.field == "called_ae_title"
    with pytest.raises(InvalidPacsConnectionError) as error:
        create_pacs_connection(
            project=project,
            actor=manager,
            name="A",
            kind="dimse",
            host="pacs",
            port=104,
            called_ae_title="BAD\\AE",
        )
    assert error.value.field == "called_ae_title"
    assert not PacsConnection.objects.exists()


def test_c_move_destination_defaults_to_the_projects_ae_title(
    project: Project, manager: User
) -> None:
    with pytest.raises(InvalidPacsConnectionError) as error:
        _dimse(project, manager, 104, retrieve_method="c-move")
    assert error.value.field == "move_destination"
    set_ae_title(project, "CHESTCT")
    connection = _dimse(project, manager, 104, retrieve_method="c-move")
    assert connection.move_destination == "CHESTCT"


def test_names_are_unique_per_project(project: Project, manager: User) -> None:
    create_pacs_connection(
        project=project,
        actor=manager,
        name="Main",
        kind="dicomweb",
        base_url="https://pacs.example.org/dicom-web",
    )
    with pytest.raises(PacsNameTakenError):
        create_pacs_connection(
            project=project,
            actor=manager,
            name="Main",
            kind="dicomweb",
            base_url="https://other.example.org/",
        )


def test_the_auth_header_never_reaches_the_audit_log(project: Project, manager: User) -> None:
    connection = create_pacs_connection(
        project=project, actor=manager, name="Main", kind="dicomweb",
        base_url="https://pacs.example.org/", auth_header="Bearer first-secret",
    )  # fmt: skip
    update_pacs_connection(
        connection=connection,
        actor=manager,
        changes={"auth_header": "Bearer second-secret", "name": "Renamed"},
    )
    delete_pacs_connection(connection=connection, actor=manager)
    events = list(AuditEvent.objects.filter(action__startswith="pacs.").order_by("pk"))
    assert [e.action for e in events] == ["pacs.create", "pacs.update", "pacs.delete"]
    assert events[0].changes["auth_header"] == ["", "set"]
    assert events[1].changes == {"name": ["Main", "Renamed"], "auth_header": ["set", "replaced"]}
    assert "secret" not in str([e.changes for e in events])
    assert not PacsConnection.objects.exists()


def test_pull_requests_are_validated(project: Project, manager: User) -> None:
    connection = _dimse(project, manager, 104)
    for uids in ([], ["1.2.x"], [f"1.2.{n}" for n in range(101)]):
        with pytest.raises(InvalidPullError):
            request_pacs_pull(connection=connection, actor=manager, study_instance_uids=uids)
    assert not Job.objects.exists()


# --- pulling ----------------------------------------------------------------------------------


def test_dicomweb_pull_ingests_with_progress_and_report(
    project: Project,
    manager: User,
    studies: list[Study],
    mocker: Any,
    send_task: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    progress = mocker.spy(services, "report_progress")
    with dicomweb_pacs(studies) as pacs, django_capture_on_commit_callbacks(execute=True):
        connection = create_pacs_connection(
            project=project, actor=manager, name="Web", kind="dicomweb", base_url=pacs.url
        )
        job = _pull(connection, manager, [s.uid for s in studies])
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.created_by == manager
    assert (job.done, job.total) == (5, 5)
    seen = [(c.kwargs["done"], c.kwargs["total"]) for c in progress.call_args_list]
    assert (0, 3) in seen
    assert (3, 3) in seen
    assert seen[-1] == (5, 5)
    assert job.result is not None
    assert (job.result["accepted"], job.result["rejected"]) == (5, 0)
    assert [s["status"] for s in job.result["studies"]] == ["retrieved", "retrieved"]
    assert Instance.objects.filter(project=project).count() == 5
    ingest = AuditEvent.objects.get(action="imaging.ingest")
    assert ingest.changes["source"] == [None, "pull"]
    assert ingest.actor == manager
    assert AuditEvent.objects.filter(action="pacs.pull").exists()
    series_ids = sorted(set(Instance.objects.values_list("series_id", flat=True)))
    send_task.assert_any_call(BUILD_VOLUMES_TASK, args=[series_ids])


def test_c_get_pull_ingests_and_a_second_pull_finds_duplicates(
    project: Project, manager: User, studies: list[Study]
) -> None:
    with dimse_pacs(studies) as pacs:
        connection = _dimse(project, manager, pacs.port)
        first = _pull(connection, manager, [studies[0].uid])
        second = _pull(connection, manager, [studies[0].uid])
    assert first.state == JobState.SUCCEEDED, first.error
    assert first.result is not None
    assert first.result["accepted"] == 3
    assert first.result["studies"][0]["completed"] == 3
    assert (first.done, first.total) == (3, 3)
    assert second.result is not None
    assert (second.result["accepted"], second.result["duplicates"]) == (0, 3)
    assert Instance.objects.filter(project=project).count() == 3


def test_one_failing_study_does_not_fail_the_job(
    project: Project, manager: User, studies: list[Study]
) -> None:
    with dicomweb_pacs(studies) as pacs:
        connection = create_pacs_connection(
            project=project, actor=manager, name="Web", kind="dicomweb", base_url=pacs.url
        )
        job = _pull(connection, manager, ["1.2.3.999", studies[1].uid])
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result is not None
    failed, retrieved = job.result["studies"]
    assert failed["status"] == "failed"
    assert "HTTP 404" in failed["error"]
    assert retrieved["status"] == "retrieved"
    assert job.result["accepted"] == 2


def test_unreachable_pacs_fails_the_job_with_a_clear_error(project: Project, manager: User) -> None:
    connection = _dimse(project, manager, free_port())
    job = _pull(connection, manager, ["1.2.3"])
    assert job.state == JobState.FAILED
    assert "PacsUnavailableError: The PACS cannot be reached." in job.error
    assert not Instance.objects.exists()


def test_pull_of_a_deleted_connection_fails(project: Project, manager: User) -> None:
    connection = _dimse(project, manager, 104)
    job = request_pacs_pull(connection=connection, actor=manager, study_instance_uids=["1.2"])
    delete_pacs_connection(connection=connection, actor=manager)
    pull_studies_task(str(job.pk))
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "deleted" in job.error


@pytest.mark.django_db(transaction=True)
def test_c_move_sends_to_our_listener_which_ingests(
    project: Project, manager: User, studies: list[Study]
) -> None:
    set_ae_title(project, "CHESTCT")
    with running_listener() as (_, listener_port), dimse_pacs(studies) as pacs:
        pacs.destinations["CHESTCT"] = ("127.0.0.1", listener_port)
        connection = _dimse(project, manager, pacs.port, retrieve_method="c-move")
        job = _pull(connection, manager, [s.uid for s in studies])
        wait_for(
            lambda: (
                AuditEvent.objects.filter(
                    action="imaging.ingest", changes__source=[None, "dimse"]
                ).count()
                == 2
            )
        )
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result is not None
    assert [s["completed"] for s in job.result["studies"]] == [3, 2]
    assert job.result["note"].startswith("C-MOVE")
    assert (job.done, job.total) == (5, 5)
    assert Instance.objects.filter(project=project).count() == 5
