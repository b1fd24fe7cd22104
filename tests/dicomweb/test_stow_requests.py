"""STOW-RS through Django's test client: multipart edge cases, limits, permissions, errors."""

import io
from collections.abc import Callable
from typing import Any

import pydicom
import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.imaging.models import Instance
from annotator.projects.models import Project, Role
from api.dicomweb.base import LengthRequired, PayloadTooLarge
from api.dicomweb.multipart import BodyTooLargeError, LimitedReader, MultipartError, iter_parts
from api.dicomweb.stow import request_body
from tests.dicomweb.helpers import dicomweb_path, multipart
from tests.imaging.dicom_files import ct_files, real_file

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]
DICOM_TYPE = 'multipart/related; type="application/dicom"; boundary=b0und4ry'


def _post(
    client: APIClient,
    project: Project,
    body: bytes,
    content_type: str = DICOM_TYPE,
    suffix: str = "",
) -> Any:
    return client.generic(
        "POST", f"{dicomweb_path(project)}/studies{suffix}", body, content_type=content_type
    )


def _report(response: Any) -> pydicom.Dataset:
    assert response["Content-Type"] == "application/dicom+json"
    return pydicom.Dataset.from_json(response.json())


def test_multipart_preamble_padding_quotes_and_headerless_parts(
    client_for: Client, project: Project, manager: User
) -> None:
    files = [data for _, data in ct_files(slices=3, size=16)]
    body = multipart(
        [files[0], (None, files[1]), ("Application/DICOM; foo=bar", files[2])],
        boundary="weird'boundary",
        preamble=b"ignore me\r\n",
        epilogue=b"trailing epilogue",
    )
    body = body.replace(b"--weird'boundary\r\n", b"--weird'boundary \t\r\n", 1)  # padding
    content_type = 'Multipart/Related; boundary="weird\'boundary"; type="application/dicom"'
    response = _post(client_for(manager), project, body, content_type)
    assert response.status_code == 200, response.content
    report = _report(response)
    assert len(report.ReferencedSOPSequence) == 3
    assert "FailedSOPSequence" not in report
    event = AuditEvent.objects.get(action="imaging.stow")
    assert event.changes["accepted"] == [None, 3]


def test_truncated_body_keeps_the_complete_parts(
    client_for: Client, project: Project, manager: User
) -> None:
    files = [data for _, data in ct_files(slices=2, size=16)]
    body = multipart([files[0], files[1][:100]], close=False)
    response = _post(client_for(manager), project, body)
    assert response.status_code == 202
    report = _report(response)
    assert len(report.ReferencedSOPSequence) == 1
    assert [i.FailureReason for i in report.FailedSOPSequence] == [0xC000]
    assert Instance.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"no boundary anywhere", DICOM_TYPE, 400),
        (b"--b0und4ry--\r\n", DICOM_TYPE, 400),
        (b"--b0und4ry\r\nContent-Type application/dicom\r\n\r\nx\r\n--b0und4ry--", DICOM_TYPE, 400),
        (b"x", 'multipart/related; type="application/dicom"', 400),
        (b"x", "application/dicom", 415),
        (b"x", 'multipart/related; type="application/dicom+json"; boundary=b', 415),
    ],
)
def test_malformed_bodies_are_refused(
    client_for: Client, project: Project, manager: User, body: bytes, content_type: str, status: int
) -> None:
    response = _post(client_for(manager), project, body, content_type)
    assert response.status_code == status
    assert response.json()["code"]  # the API's error format
    assert not Instance.objects.exists()


def test_parts_that_are_not_dicom_or_too_large_fail_alone(
    client_for: Client, project: Project, manager: User, settings: Any
) -> None:
    settings.IMAGING_MAX_FILE_BYTES = 4000
    small = real_file("MR_small_RLE.dcm").read_bytes()  # ~6 KB: above the per-file limit
    files = [data for _, data in ct_files(slices=1, size=16)]
    body = multipart([files[0], ("application/json", b"{}"), small])
    response = _post(client_for(manager), project, body)
    assert response.status_code == 202
    assert [i.FailureReason for i in _report(response).FailedSOPSequence] == [0xC000, 0xA700]


def test_content_length_above_the_limit_is_413(
    client_for: Client, project: Project, manager: User, settings: Any
) -> None:
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000
    body = multipart([data for _, data in ct_files(slices=1, size=16)])
    response = _post(client_for(manager), project, body)
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"


def test_request_body_streams_chunked_only_when_the_server_dechunks() -> None:
    factory = RequestFactory()
    request = factory.post("/", data=b"", content_type="multipart/related")
    request.META.pop("CONTENT_LENGTH", None)
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    with pytest.raises(LengthRequired):
        request_body(request, 100)
    request.META["wsgi.input_terminated"] = True
    request.META["wsgi.input"] = io.BytesIO(b"x" * 200)
    stream = request_body(request, 100)
    with pytest.raises(BodyTooLargeError):
        stream.read(1000)
    request.META["CONTENT_LENGTH"] = "101"
    with pytest.raises(PayloadTooLarge):
        request_body(request, 100)


def test_reader_finds_boundaries_across_chunks() -> None:
    contents = [b"\r\n--b0und4r", b"", b"x" * 1000 + b"\r\n--b0und", b"\r\n\r\n"]
    body = multipart([("application/octet-stream", c) for c in contents])
    for chunk_bytes in (1, 2, 3, 7, 64, 1 << 16):
        parts = iter_parts(
            io.BytesIO(body),
            "b0und4ry",
            max_part_bytes=1 << 20,
            spool_bytes=10,
            chunk_bytes=chunk_bytes,
        )
        assert [p.file.read() for p in parts] == contents
    limited = LimitedReader(io.BytesIO(body), 100)
    with pytest.raises(BodyTooLargeError):
        list(iter_parts(limited, "b0und4ry", max_part_bytes=1 << 20, spool_bytes=10))
    with pytest.raises(MultipartError):
        list(iter_parts(io.BytesIO(body), "", max_part_bytes=1, spool_bytes=1))


def test_stow_into_a_study_checks_each_part(
    client_for: Client, project: Project, manager: User
) -> None:
    files = [data for _, data in ct_files(slices=2, size=16)]
    sent_study = pydicom.dcmread(io.BytesIO(files[0])).StudyInstanceUID
    other = real_file("CT_small.dcm").read_bytes()
    response = _post(
        client_for(manager), project, multipart([files[0], other]), suffix=f"/{sent_study}"
    )
    assert response.status_code == 202
    report = _report(response)
    failed = report.FailedSOPSequence[0]
    assert (failed.FailureReason, failed.ReferencedSOPInstanceUID) == (
        43264,
        pydicom.dcmread(real_file("CT_small.dcm")).SOPInstanceUID,
    )
    assert report.RetrieveURL.endswith(
        f"/studies/{Instance.objects.get().series.study.study_instance_uid}"
    )


def test_stow_needs_membership_import_right_and_authentication(
    client_for: Client,
    project: Project,
    member_of: Callable[[str], User],
    user: User,
) -> None:
    body = multipart([data for _, data in ct_files(slices=1, size=16)])
    assert _post(client_for(user), project, body).status_code == 404
    assert client_for(user).get(f"{dicomweb_path(project)}/studies").status_code == 404
    annotator = client_for(member_of(Role.ANNOTATOR))
    forbidden = _post(annotator, project, body)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    assert annotator.get(f"{dicomweb_path(project)}/studies").status_code == 200
    anonymous = _post(APIClient(), project, body)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert APIClient().get(f"{dicomweb_path(project)}/studies").status_code == 401
    assert not Instance.objects.exists()
