"""DICOMweb against a live server with dicomweb-client: STOW, QIDO, WADO, as a viewer uses it."""

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import requests
from django.core.files.storage import default_storage
from PIL import Image
from pydicom.encaps import generate_frames

from annotator.accounts.models import User
from annotator.imaging.models import Instance, Series, Study
from annotator.imaging.synthetic import make_ct_series
from annotator.projects.models import Project
from api.dicomweb.multipart import iter_parts
from tests.dicomweb.helpers import WebClient, dicomweb_path, token_for
from tests.factories import make_project
from tests.imaging.dicom_files import real_file

pytestmark = pytest.mark.django_db(transaction=True)
REAL_FILES = ("CT_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm")
CORNERSTONE_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"


def _stored_bytes(instance: Instance) -> bytes:
    with default_storage.open(instance.file.name, "rb") as fp:
        return bytes(fp.read())


def _parts(response: requests.Response) -> list[bytes]:
    """Split a multipart response with the server's own reader (tested separately)."""
    boundary = response.headers["Content-Type"].split("boundary=")[1].split(";")[0].strip('"')
    parts = iter_parts(
        io.BytesIO(response.content), boundary, max_part_bytes=1 << 30, spool_bytes=1 << 30
    )
    return [part.file.read() for part in parts]


def _store_everything(web_client: WebClient, manager: User, project: Project) -> Any:
    client = web_client(manager, project)
    datasets = make_ct_series(slices=6, size=32, nodules=0)
    datasets += [pydicom.dcmread(real_file(name)) for name in REAL_FILES]
    return client, client.store_instances(datasets)


def _series(modality: str, instances: int | None = None) -> Series:
    found = Series.objects.select_related("study", "study__patient").filter(modality=modality)
    return found.get(instance_count=instances) if instances else found.get()


def test_store_then_search_studies_series_and_instances(
    web_client: WebClient, manager: User, project: Project
) -> None:
    client, stored = _store_everything(web_client, manager, project)
    assert "FailedSOPSequence" not in stored
    referenced = {item.ReferencedSOPInstanceUID: item for item in stored.ReferencedSOPSequence}
    instances = {i.sop_instance_uid: i for i in Instance.objects.select_related("series__study")}
    assert set(referenced) == set(instances)  # the stored (remapped) UIDs, not the sent ones
    some = next(iter(instances.values()))
    assert referenced[some.sop_instance_uid].RetrieveURL.endswith(
        f"{dicomweb_path(project)}/studies/{some.series.study.study_instance_uid}/series/"
        f"{some.series.series_instance_uid}/instances/{some.sop_instance_uid}"
    )

    studies = client.search_for_studies()
    assert len(studies) == 4
    ct = _series("CT", 6)
    found = client.search_for_studies(search_filters={"PatientID": ct.study.patient.pseudonym})
    assert [s["0020000D"]["Value"] for s in found] == [[ct.study.study_instance_uid]]
    study = found[0]
    assert study["00201206"]["Value"] == [1]  # NumberOfStudyRelatedSeries
    assert study["00201208"]["Value"] == [6]  # NumberOfStudyRelatedInstances
    assert study["00080061"]["Value"] == ["CT"]  # ModalitiesInStudy
    assert study["00100010"]["Value"] == [{"Alphabetic": ct.study.patient.pseudonym}]
    assert study["00081190"]["Value"][0].endswith(f"/studies/{ct.study.study_instance_uid}")
    assert "Value" not in study["00100030"]  # PatientBirthDate: required, unknown, empty

    day = ct.study.study_date
    assert day is not None
    in_range = client.search_for_studies(search_filters={"StudyDate": f"{day:%Y%m%d}-"})
    assert ct.study.study_instance_uid in {s["0020000D"]["Value"][0] for s in in_range}
    assert client.search_for_studies(search_filters={"StudyDate": "-19000101"}) == []
    mr = client.search_for_studies(search_filters={"ModalitiesInStudy": "MR"})
    assert [s["00080061"]["Value"] for s in mr] == [["MR"]]
    assert client.search_for_studies(search_filters={"PatientName": "anon-*"}) == studies
    page = client.search_for_studies(limit=2, offset=1)
    assert page == studies[1:3]
    described = client.search_for_studies(fields=["StudyDescription"])
    assert all("00081030" in s for s in described)

    series = client.search_for_series(
        ct.study.study_instance_uid, search_filters={"Modality": "CT"}
    )
    assert len(series) == 1
    assert series[0]["00201209"]["Value"] == [6]  # NumberOfSeriesRelatedInstances
    assert len(client.search_for_series(search_filters={"Modality": "MR"})) == 1
    assert len(client.search_for_series(search_filters={"Modality": "C?"})) == 2

    listed = client.search_for_instances(
        ct.study.study_instance_uid, ct.series_instance_uid, fields=["00280030"]
    )
    assert [i["00200013"]["Value"] for i in listed] == [[n] for n in range(1, 7)]
    assert all(i["00280010"]["Value"] == [32] and "00280030" in i for i in listed)
    ct_class = "1.2.840.10008.5.1.4.1.1.2"
    assert len(client.search_for_instances(search_filters={"SOPClassUID": ct_class})) == 7
    second = client.search_for_instances(
        search_filters={"InstanceNumber": "2", "SeriesInstanceUID": ct.series_instance_uid}
    )
    assert [i["00200013"]["Value"] for i in second] == [[2]]


def test_retrieve_instances_metadata_frames_and_rendered(
    web_client: WebClient,
    manager: User,
    project: Project,
    live_server: Any,
) -> None:
    client, _ = _store_everything(web_client, manager, project)
    ct = _series("CT", 6)
    study, series = ct.study.study_instance_uid, ct.series_instance_uid
    first = Instance.objects.filter(series=ct).order_by("instance_number").first()
    assert first is not None
    stored = _stored_bytes(first)

    # Instances, series, studies: exactly the stored files.
    dataset = client.retrieve_instance(study, series, first.sop_instance_uid)
    assert dataset.SOPInstanceUID == first.sop_instance_uid
    token = {"Authorization": f"Token {token_for(manager)}"}
    base = f"{live_server.url}{dicomweb_path(project)}/studies/{study}"
    raw = requests.get(
        f"{base}/series/{series}/instances/{first.sop_instance_uid}",
        headers={**token, "Accept": 'multipart/related; type="application/dicom"'},
        timeout=30,
    )
    assert _parts(raw) == [stored]
    whole = requests.get(
        f"{base}/series/{series}",
        timeout=30,
        headers={
            **token,
            "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
        },
    )
    in_order = Instance.objects.filter(series=ct).order_by("stack_position", "instance_number")
    assert _parts(whole) == [_stored_bytes(i) for i in in_order]
    assert len(client.retrieve_series(study, series)) == 6
    assert len(client.retrieve_study(study)) == 6

    # A compressed file: as stored with transfer-syntax=* (dicomweb-client's default for one
    # instance), decompressed without the parameter (the PS3.18 default).
    j2k = _series("NM").instances.get()
    j2k_path = (
        j2k.series.study.study_instance_uid,
        j2k.series.series_instance_uid,
        j2k.sop_instance_uid,
    )
    j2k_stored = pydicom.dcmread(io.BytesIO(_stored_bytes(j2k)))
    as_stored = client.retrieve_instance(*j2k_path, media_types=(("application/dicom", "*"),))
    assert as_stored.file_meta.TransferSyntaxUID == j2k_stored.file_meta.TransferSyntaxUID
    assert as_stored.PixelData == j2k_stored.PixelData
    decoded = client.retrieve_instance(*j2k_path, media_types=("application/dicom",))
    assert decoded.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(decoded.pixel_array, j2k_stored.pixel_array)

    # Metadata: what Cornerstone reads first.
    metadata = client.retrieve_series_metadata(study, series)
    assert metadata[0]["00080018"]["Value"] == [first.sop_instance_uid]
    assert all(m["00280010"]["Value"] == [32] for m in metadata)
    pixel_uri = metadata[0]["7FE00010"]["BulkDataURI"]
    assert pixel_uri.endswith(f"/instances/{first.sop_instance_uid}/bulkdata/7FE00010")
    assert metadata[0]["00083002"]["Value"] == ["1.2.840.10008.1.2.1"]
    stored_ds = pydicom.dcmread(io.BytesIO(stored))
    # dicomweb-client sends "Host: localhost" without the port, so URIs built from the Host
    # header lack the live server's port: put it back.
    pixel_uri = live_server.url + pixel_uri.split("localhost", 1)[1]
    assert client.retrieve_bulkdata(pixel_uri, media_types=("application/octet-stream",)) == [
        stored_ds.PixelData
    ]

    # Frames: native bytes; compressed frames as stored when the client takes any syntax.
    native = client.retrieve_instance_frames(
        study, series, first.sop_instance_uid, [1], media_types=("application/octet-stream",)
    )
    assert native == [stored_ds.PixelData]
    as_cornerstone = requests.get(
        f"{base}/series/{series}/instances/{first.sop_instance_uid}/frames/1",
        headers={**token, "Accept": CORNERSTONE_ACCEPT},
        timeout=30,
    )
    part_type = "Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert part_type in as_cornerstone.text[:300]
    assert _parts(as_cornerstone) == [stored_ds.PixelData]
    frame = next(generate_frames(j2k_stored.PixelData, number_of_frames=1))
    assert client.retrieve_instance_frames(
        *j2k_path, [1], media_types=(("application/octet-stream", "*"),)
    ) == [frame]
    assert client.retrieve_instance_frames(
        *j2k_path, [1], media_types=(("image/jp2", "1.2.840.10008.1.2.4.91"),)
    ) == [frame]
    assert client.retrieve_instance_frames(
        *j2k_path, [1], media_types=("application/octet-stream",)
    ) == [j2k_stored.pixel_array.astype("<u2").tobytes()]
    cornerstone = requests.get(
        f"{live_server.url}{dicomweb_path(project)}/studies/"
        f"{j2k_path[0]}/series/{j2k_path[1]}/instances/{j2k_path[2]}"
        "/frames/1",
        headers={**token, "Accept": CORNERSTONE_ACCEPT},
        timeout=30,
    )
    assert "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.91" in cornerstone.text[:300]
    assert _parts(cornerstone) == [frame]
    rle = _series("MR").instances.get()
    rle_ds = pydicom.dcmread(io.BytesIO(_stored_bytes(rle)))
    assert client.retrieve_instance_frames(
        rle.series.study.study_instance_uid,
        rle.series.series_instance_uid,
        rle.sop_instance_uid,
        [1],
        media_types=(("application/octet-stream", "*"),),
    ) == [next(generate_frames(rle_ds.PixelData, number_of_frames=1))]

    # Rendered: real JPEG and PNG images.
    jpeg = client.retrieve_instance_rendered(
        study, series, first.sop_instance_uid, media_types=("image/jpeg",)
    )
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    png = client.retrieve_instance_rendered(
        *j2k_path, media_types=("image/png",), params={"window": "500,1000", "viewport": "64,64"}
    )
    picture = Image.open(io.BytesIO(png))
    assert (picture.format, max(picture.size)) == ("PNG", 64)
    thumbnail = requests.get(f"{base}/series/{series}/thumbnail", headers=token, timeout=30)
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 128


def test_stow_reports_partial_failure_and_study_mismatch(
    web_client: WebClient,
    manager: User,
    project: Project,
    live_server: Any,
) -> None:
    client = web_client(manager, project)
    datasets = make_ct_series(slices=3, size=16, nodules=0)
    sent_study = datasets[0].StudyInstanceUID
    stored = client.store_instances(datasets[:1], study_instance_uid=sent_study)
    assert len(stored.ReferencedSOPSequence) == 1
    stored_study = Study.objects.get().study_instance_uid
    assert stored_study != sent_study  # de-identified: UIDs are remapped
    # The stored study UID works as the target too (what a client learns from QIDO).
    again = client.store_instances(datasets[1:2], study_instance_uid=stored_study)
    assert again.RetrieveURL.endswith(f"/studies/{stored_study}")

    other = pydicom.dcmread(real_file("CT_small.dcm"))
    with pytest.raises(requests.HTTPError) as refused:
        client.store_instances([other], study_instance_uid=sent_study)
    assert refused.value.response.status_code == 409
    report = pydicom.Dataset.from_json(refused.value.response.json())
    assert [i.FailureReason for i in report.FailedSOPSequence] == [0xA900]
    assert report.FailedSOPSequence[0].ReferencedSOPInstanceUID == other.SOPInstanceUID

    # One good part and one that is not DICOM: 202 with both sequences.
    good = io.BytesIO()
    datasets[2].save_as(good, enforce_file_format=True)
    body = (
        b"--XYZ\r\nContent-Type: application/dicom\r\n\r\n"
        + good.getvalue()
        + b"\r\n--XYZ\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--XYZ--\r\n"
    )
    response = requests.post(
        live_server.url + dicomweb_path(project) + "/studies",
        data=body,
        timeout=30,
        headers={
            "Authorization": f"Token {token_for(manager)}",
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=XYZ',
        },
    )
    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/dicom+json"
    report = pydicom.Dataset.from_json(response.json())
    assert len(report.ReferencedSOPSequence) == 1
    assert [i.FailureReason for i in report.FailedSOPSequence] == [0xC000]
    assert Instance.objects.count() == 3


def test_duplicates_are_referenced_without_a_second_copy(
    web_client: WebClient, manager: User, project: Project
) -> None:
    client = web_client(manager, project)
    datasets = make_ct_series(slices=3, size=16, nodules=0)
    first = client.store_instances(datasets)
    folder = default_storage.path(f"projects/{project.pk}")
    files = sorted(p.name for p in Path(folder).rglob("*.dcm"))
    second = client.store_instances(datasets)
    assert [i.ReferencedSOPInstanceUID for i in second.ReferencedSOPSequence] == [
        i.ReferencedSOPInstanceUID for i in first.ReferencedSOPSequence
    ]
    assert "FailedSOPSequence" not in second
    assert Instance.objects.count() == 3
    assert sorted(p.name for p in Path(folder).rglob("*.dcm")) == files

    changed = datasets[0]
    changed.PixelData = bytes(len(changed.PixelData))  # same UID, other content
    with pytest.raises(requests.HTTPError) as conflict:
        client.store_instances([changed])
    report = pydicom.Dataset.from_json(conflict.value.response.json())
    assert [i.FailureReason for i in report.FailedSOPSequence] == [0x0111]


def test_other_projects_uids_are_not_found(
    web_client: WebClient, manager: User, project: Project
) -> None:
    other = make_project(owner=manager, name="Other")
    web_client(manager, other).store_instances([pydicom.dcmread(real_file("CT_small.dcm"))])
    theirs = Instance.objects.select_related("series__study").get(project=other)
    study, series = theirs.series.study.study_instance_uid, theirs.series.series_instance_uid
    mine = web_client(manager, project)
    for call in (
        lambda: mine.retrieve_study(study),
        lambda: mine.retrieve_series_metadata(study, series),
        lambda: mine.retrieve_instance_frames(study, series, theirs.sop_instance_uid, [1]),
        lambda: mine.search_for_series(study),
    ):
        with pytest.raises(requests.HTTPError) as missing:
            call()
        assert missing.value.response.status_code == 404
    assert mine.search_for_studies(search_filters={"StudyInstanceUID": study}) == []
