"""QIDO-RS and WADO-RS through Django's test client: query budgets, errors, negotiation."""

import io
import json
from collections.abc import Callable
from typing import Any

import pydicom
import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.ingest import get_imaging_settings
from annotator.imaging.models import Instance, Study
from annotator.projects.models import Project
from tests.dicomweb.helpers import dicomweb_path, ingest
from tests.imaging.dicom_files import ct_files, real_file, to_bytes

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def _ingest_studies(project: Project, count: int, slices: int = 2) -> None:
    for n in range(count):
        ingest(project, ct_files(slices=slices, size=16, patient_id=f"P{n}"))


@pytest.mark.parametrize("resource", ["studies", "series", "instances"])
def test_search_query_count_does_not_grow_with_results(
    client_for: Client,
    project: Project,
    manager: User,
    resource: str,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(manager)
    _ingest_studies(project, 1)
    with django_assert_max_num_queries(5):
        small = client.get(f"{dicomweb_path(project)}/{resource}?includefield=all")
    _ingest_studies(project, 4, slices=3)
    with django_assert_max_num_queries(5):
        large = client.get(f"{dicomweb_path(project)}/{resource}?includefield=all")
    assert small.status_code == large.status_code == 200
    assert large["Content-Type"] == "application/dicom+json"
    assert len(large.json()) > len(small.json())


def test_search_matching_rules(client_for: Client, project: Project, manager: User) -> None:
    ingest(project, ct_files(slices=2, size=16))
    ingest(project, [("mr", real_file("MR_small_RLE.dcm").read_bytes())])
    ct = Study.objects.get(series__modality="CT")
    Study.objects.filter(pk=ct.pk).update(study_time="093015.25")
    client, base = client_for(manager), dicomweb_path(project)

    def uids(query: str, resource: str = "studies") -> list[str]:
        response = client.get(f"{base}/{resource}?{query}")
        assert response.status_code == 200, response.content
        return [item["0020000D"]["Value"][0] for item in response.json()]

    assert uids("StudyTime=0930") == [ct.study_instance_uid]
    assert uids("StudyTime=093000-093015") == [ct.study_instance_uid]
    assert uids("StudyTime=093016-093100") == []
    assert uids("00080020=19000101-") != []  # a tag in hex works like its keyword
    assert uids(f"StudyInstanceUID=1.2.3,{ct.study_instance_uid}") == [ct.study_instance_uid]
    assert uids("Modality=CT") == [ct.study_instance_uid]  # relational: a series matches
    assert uids("SOPClassUID=1.2.840.10008.5.1.4.1.1.2") == [ct.study_instance_uid]
    number = ct.series.get().series_number
    assert uids(f"SeriesNumber={number}&Modality=CT", "series") == [ct.study_instance_uid]
    assert uids(f"SeriesNumber={number + 1}&Modality=CT", "series") == []
    assert uids("AccessionNumber=*&PatientID=") != []
    many = client.get(f"{base}/studies?limit=1")
    assert many["Warning"].startswith("299")  # more results can be requested
    ignored = client.get(f"{base}/studies?OperatorsName=x&fuzzymatching=true")
    assert ignored.status_code == 200
    assert "OperatorsName" in ignored["Warning"]


@pytest.mark.parametrize(
    "query",
    [
        "StudyDate=2020",
        "StudyDate=20201340",
        "NoSuchKey=1",
        "SeriesNumber=one",
        "limit=-1",
        "StudyTime=9am",
        "00081032.00080100=x",
        "includefield=NotAThing",
        "StudyInstanceUID=abc",
    ],
)
def test_bad_queries_are_400(
    client_for: Client, project: Project, manager: User, query: str
) -> None:
    response = client_for(manager).get(f"{dicomweb_path(project)}/studies?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"


def test_retrieve_errors_and_negotiation(
    client_for: Client, project: Project, manager: User
) -> None:
    ingest(project, ct_files(slices=1, size=16))
    instance = Instance.objects.select_related("series__study").get()
    path = (
        f"{dicomweb_path(project)}/studies/{instance.series.study.study_instance_uid}/series/"
        f"{instance.series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )
    client = client_for(manager)

    def get(suffix: str, accept: str) -> Any:
        return client.get(path + suffix, HTTP_ACCEPT=accept)

    assert get("/frames/2", "*/*").status_code == 404
    assert get("/frames/0", "*/*").status_code == 400
    assert get("/frames/1", 'multipart/related; type="image/jp2"').status_code == 406
    assert get("/frames/1", "application/json").json()["code"] == "not_acceptable"
    assert (
        get(
            "",
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
        ).status_code
        == 406
    )
    assert get("/metadata", "application/dicom+xml").status_code == 406
    assert get("/rendered", "image/gif").status_code == 406
    assert get("/rendered?window=40", "image/png").status_code == 400
    assert get("/rendered?viewport=0,10", "image/png").status_code == 400
    assert get("/bulkdata/00100010", "*/*").status_code == 404
    single = get("", "application/dicom")  # one instance may come without multipart
    assert single["Content-Type"].startswith("application/dicom")
    with instance.file.open("rb") as fp:
        assert single.content == fp.read()
    assert get("?accept=application/dicom", "image/png").status_code == 200  # overrides
    assert get("?accept=image/png", "*/*").status_code == 406
    rendered = client.get(path + "/rendered?accept=image/png")
    assert rendered["Content-Type"] == "image/png"


def test_metadata_links_nested_bulk_data(
    client_for: Client, project: Project, manager: User
) -> None:
    settings = get_imaging_settings(project=project)
    settings.deidentify = False  # de-identification removes icon images
    settings.save()
    name, data = ct_files(slices=1, size=16)[0]
    ds = pydicom.dcmread(io.BytesIO(data))
    icon = pydicom.Dataset()
    icon.Rows, icon.Columns = 64, 64
    icon.add_new(0x7FE00010, "OB", bytes(range(256)) * 16)
    ds.IconImageSequence = [icon]
    ingest(project, [(name, to_bytes(ds))])
    instance = Instance.objects.select_related("series__study").get()
    series = instance.series
    client = client_for(manager)
    base = f"{dicomweb_path(project)}/studies/{series.study.study_instance_uid}"
    response = client.get(f"{base}/metadata")
    metadata = json.loads(b"".join(response.streaming_content))
    assert len(metadata) == 1
    uri = metadata[0]["00880200"]["Value"][0]["7FE00010"]["BulkDataURI"]
    assert uri.endswith(f"/instances/{instance.sop_instance_uid}/bulkdata/00880200/0/7FE00010")
    bulk = client.get(uri.split("testserver", 1)[1])
    assert bulk.status_code == 200
    assert bytes(range(256)) * 16 in bulk.content
    assert bulk["Content-Type"].startswith('multipart/related; type="application/octet-stream"')
