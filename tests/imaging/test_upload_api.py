"""POST /projects/{id}/uploads/: staging, the ingest job, zip safety, permissions."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Instance, Series
from annotator.imaging.tasks import ingest_upload_task
from annotator.jobs.models import Job, JobState
from annotator.projects.models import Project, Role
from tests.imaging.dicom_files import ct_files, make_zip, real_file

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def _upload(
    client: APIClient, project: Project, files: dict[str, bytes], mocker: Any
) -> tuple[Any, Job | None]:
    send_task = mocker.patch("annotator.jobs.services.celery_app.send_task")
    mocker.patch("annotator.imaging.services.celery_app.send_task")
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files.items()]}
    response = client.post(f"/api/v1/projects/{project.pk}/uploads/", payload, format="multipart")
    if response.status_code != 202:
        return response, None
    assert send_task.call_count <= 1
    job_id = response.json()["id"]
    ingest_upload_task(job_id)  # what the worker would run
    return response, Job.objects.get(pk=job_id)


def test_upload_files_and_zip_reports_per_file(
    client_for: Client, project: Project, manager: User, mocker: Any
) -> None:
    series = ct_files(slices=4)
    archive = make_zip(
        {
            "study/a/1.dcm": series[2][1],
            "study/a/2.dcm": series[3][1],
            "study/DICOMDIR": b"index",
            "../escape.dcm": series[0][1],
            "/etc/abs.dcm": series[0][1],
            "study/link.dcm": b"/etc/passwd",
            "study/notes.txt": b"not dicom",
        },
        symlinks=("study/link.dcm",),
    )
    response, job = _upload(
        client_for(manager),
        project,
        {"one.dcm": series[0][1], "two.dcm": series[1][1], "exam.zip": archive},
        mocker,
    )
    assert response.status_code == 202
    assert job is not None
    assert job.state == JobState.SUCCEEDED, job.error
    report = job.result
    assert report is not None
    assert report["accepted"] == 4
    codes = {f["name"].rsplit("/", 1)[-1]: f["code"] for f in report["files"]}
    assert codes == {
        "DICOMDIR": "dicomdir",
        "escape.dcm": "unsafe_path",
        "abs.dcm": "unsafe_path",
        "link.dcm": "unsafe_path",
        "notes.txt": "not_dicom",
    }
    assert (job.done, job.total) == (9, 9)
    assert Instance.objects.filter(project=project).count() == 4


def test_zip_bomb_member_is_rejected(
    client_for: Client, project: Project, manager: User, mocker: Any
) -> None:
    bomb = make_zip({"zeros.dcm": b"\0" * (20 << 20)})
    _, job = _upload(client_for(manager), project, {"bomb.zip": bomb}, mocker)
    assert job is not None
    assert job.result["files"][0]["code"] == "zip_bomb"  # type: ignore[index]
    assert not Instance.objects.exists()


def test_upload_needs_import_right_and_membership(
    client_for: Client, project: Project, member_of: Callable[[str], User], user: User, mocker: Any
) -> None:
    data = {"a.dcm": real_file("CT_small.dcm").read_bytes()}
    response, _ = _upload(client_for(member_of(Role.ANNOTATOR)), project, data, mocker)
    assert response.status_code == 403
    response, _ = _upload(client_for(user), project, data, mocker)
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_upload_without_files_is_400(client_for: Client, project: Project, manager: User) -> None:
    response = client_for(manager).post(
        f"/api/v1/projects/{project.pk}/uploads/", {}, format="multipart"
    )
    assert response.status_code == 400
    assert "files" in response.json()["errors"]


def test_oversized_upload_is_refused(
    client_for: Client, project: Project, manager: User, settings: Any, mocker: Any
) -> None:
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000
    response, _ = _upload(
        client_for(manager), project, {"a.dcm": real_file("CT_small.dcm").read_bytes()}, mocker
    )
    assert response.status_code == 400
    assert response.json()["code"] == "upload_too_large"
    assert not Job.objects.exists()


def test_series_and_studies_listing(
    client_for: Client,
    project: Project,
    manager: User,
    user: User,
    mocker: Any,
    django_assert_max_num_queries: Any,
) -> None:
    _upload(client_for(manager), project, dict(ct_files(slices=3)), mocker)
    client = client_for(manager)
    with django_assert_max_num_queries(6):
        listed = client.get(f"/api/v1/projects/{project.pk}/series/?modality=CT").json()
    assert listed["count"] == 1
    series = listed["results"][0]
    assert (series["instance_count"], series["status"]) == (3, "receiving")
    studies = client.get(f"/api/v1/projects/{project.pk}/studies/").json()["results"]
    assert studies[0]["series_count"] == 1
    assert client_for(user).get(f"/api/v1/projects/{project.pk}/series/").status_code == 404
    assert (
        client.get(f"/api/v1/projects/{project.pk}/series/{series['id']}/").json()["modality"]
        == "CT"
    )
    other = Series.objects.get()
    assert (
        client_for(user).get(f"/api/v1/projects/{project.pk}/series/{other.pk}/").status_code == 404
    )


def test_imaging_settings_and_pseudonyms_are_for_managers(
    client_for: Client, project: Project, manager: User, member_of: Callable[[str], User]
) -> None:
    client = client_for(manager)
    url = f"/api/v1/projects/{project.pk}/imaging-settings/"
    current = client.get(url).json()
    assert current["deidentify"] is True
    assert "secret" not in current
    changed = client.patch(
        url,
        {"version": current["version"], "keep_pseudonym_map": True, "ae_title": "CHEST_CT"},
        format="json",
    )
    assert changed.status_code == 200
    stale = client.patch(url, {"version": current["version"], "deidentify": False}, format="json")
    assert stale.status_code == 409
    reader = client_for(member_of(Role.ANNOTATOR))
    assert reader.patch(url, {"version": 2, "deidentify": False}, format="json").status_code == 403
    assert reader.get(f"/api/v1/projects/{project.pk}/pseudonyms/").status_code == 403
    assert client.get(f"/api/v1/projects/{project.pk}/pseudonyms/").json()["count"] == 0


def test_raw_zip_body_upload(
    client_for: Client, project: Project, manager: User, mocker: Any
) -> None:
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    mocker.patch("annotator.imaging.services.celery_app.send_task")
    archive = make_zip(dict(ct_files(slices=3)))
    client = client_for(manager)
    url = f"/api/v1/projects/{project.pk}/uploads/?filename=study.zip"
    response = client.post(url, archive, content_type="application/zip")
    assert response.status_code == 202, response.json()
    ingest_upload_task(response.json()["id"])
    job = Job.objects.get(pk=response.json()["id"])
    assert job.result["accepted"] == 3  # type: ignore[index]
    empty = client.post(url, b"", content_type="application/zip")
    assert (empty.status_code, empty.json()["code"]) == (400, "empty_upload")
    wrong = client.post(url, {"files": "x"}, format="json")
    assert wrong.status_code == 415
    assert Job.objects.count() == 1


def test_large_upload_uses_the_process_pool(
    client_for: Client, project: Project, manager: User, settings: Any, mocker: Any
) -> None:
    settings.IMAGING_PARALLEL_MIN_FILES = 2
    settings.IMAGING_INGEST_PROCESSES = 2
    files = dict(ct_files(slices=4))
    files["broken.dcm"] = b"not dicom at all" * 20
    _, job = _upload(client_for(manager), project, files, mocker)
    assert job is not None
    assert (job.result["accepted"], job.result["rejected"]) == (4, 1)  # type: ignore[index]
    assert job.result["files"][0]["code"] == "not_dicom"  # type: ignore[index]


def test_pool_reads_zip_members_itself_and_spools_what_it_prepares(
    client_for: Client, project: Project, manager: User, settings: Any, mocker: Any
) -> None:
    import io
    import zipfile
    from pathlib import Path

    settings.IMAGING_PARALLEL_MIN_FILES = 2
    settings.IMAGING_INGEST_PROCESSES = 2
    series = ct_files(slices=5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, (name, data) in enumerate(series):
            method = zipfile.ZIP_STORED if n % 2 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
        archive.writestr("again/same.dcm", series[0][1], compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("broken.dcm", b"x" * 400)
    raw = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        broken = archive.getinfo("broken.dcm")
    start = broken.header_offset + 30 + len(broken.filename)
    raw[start : start + 4] = b"yyyy"  # the stored bytes no longer match the member's CRC
    mocker.patch("annotator.jobs.services.celery_app.send_task")
    mocker.patch("annotator.imaging.services.celery_app.send_task")
    client = client_for(manager)
    url = f"/api/v1/projects/{project.pk}/uploads/?filename=study.zip"
    response = client.post(url, bytes(raw), content_type="application/zip")
    assert response.status_code == 202
    ingest_upload_task(response.json()["id"])
    job = Job.objects.get(pk=response.json()["id"])
    result: Any = job.result
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (5, 1, 1)
    codes = {f["name"].rsplit("/", 1)[-1]: f.get("code") for f in result["files"]}
    assert codes["broken.dcm"] == "bad_zip"
    stored = [Path(i.file.path) for i in Instance.objects.all()]
    assert len(stored) == 5
    assert all(p.exists() for p in stored)
    staging = Path(settings.MEDIA_ROOT) / job.params["staging"]
    assert not staging.exists()  # the zip and the spool are gone, duplicates included


def test_warm_up_prepares_a_tiny_image() -> None:
    from annotator.imaging.pool import _ready

    assert _ready() is True
