"""The PACS client code against fake remote PACS: query mapping, retrieval, failures."""

import io
import threading
from datetime import date

import pytest
from pydicom import dcmread

from annotator.imaging.pacs import (
    PacsRequestError,
    PacsSpec,
    PacsUnavailableError,
    retrieve_study,
    search_studies,
)
from tests.pacs.fake_pacs import Study, dicomweb_pacs, dimse_pacs, free_port, make_studies


@pytest.fixture(scope="module")
def studies() -> list[Study]:
    return make_studies()


def _dimse(port: int, **kwargs: object) -> PacsSpec:
    return PacsSpec(
        kind="dimse",
        host="127.0.0.1",
        port=port,
        called_ae_title="FAKEPACS",
        calling_ae_title="ANNOTATOR",
        timeout=5,
        **kwargs,
    )  # type: ignore[arg-type]


def test_dicomweb_search_maps_filters_to_qido(studies: list[Study]) -> None:
    with dicomweb_pacs(studies) as pacs:
        results = search_studies(
            PacsSpec(kind="dicomweb", base_url=pacs.url),
            patient_id="PAT-A",
            patient_name="ALPHA",
            study_date_from=date(2020, 1, 1),
            study_date_to=date(2020, 12, 31),
            modality="CT",
            accession_number="ACC-1",
            limit=10,
        )
    query = pacs.queries[-1]
    assert query["PatientID"] == ["PAT-A"]
    assert query["PatientName"] == ["ALPHA*"]  # a prefix search unless wildcards are given
    assert query["StudyDate"] == ["20200101-20201231"]
    assert query["ModalitiesInStudy"] == ["CT"]
    assert query["AccessionNumber"] == ["ACC-1"]
    assert query["limit"] == ["10"]
    assert "NumberOfStudyRelatedInstances" in query["includefield"]
    [found] = results
    assert found["study_instance_uid"] == studies[0].uid
    assert (found["patient_id"], found["patient_name"]) == ("PAT-A", "ALPHA^ANNA")
    assert found["modalities_in_study"] == ["CT"]
    assert found["number_of_instances"] == 3


def test_dimse_search_maps_filters_to_c_find(studies: list[Study]) -> None:
    with dimse_pacs(studies) as pacs:
        results = search_studies(
            _dimse(pacs.port), patient_name="BE*", study_date_from=date(2021, 3, 4), modality="CT"
        )
    query = pacs.identifiers[-1]
    assert query.QueryRetrieveLevel == "STUDY"
    assert query.PatientName == "BE*"  # wildcards are kept as typed
    assert query.StudyDate == "20210304-"
    assert query.ModalitiesInStudy == "CT"
    assert query.PatientID == ""  # a return key, not a filter
    assert {r["study_instance_uid"] for r in results} == {s.uid for s in studies}
    assert {r["number_of_instances"] for r in results} == {3, 2}
    assert results[0]["study_date"].count("-") in (0, 2)


def test_a_single_day_is_an_exact_date(studies: list[Study]) -> None:
    with dimse_pacs(studies) as pacs:
        search_studies(
            _dimse(pacs.port), study_date_from=date(2021, 3, 4), study_date_to=date(2021, 3, 4)
        )
    assert pacs.identifiers[-1].StudyDate == "20210304"


def test_unreachable_pacs_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(PacsUnavailableError, match="cannot be reached"):
        search_studies(PacsSpec(kind="dicomweb", base_url=f"http://127.0.0.1:{port}/"))
    with pytest.raises(PacsUnavailableError, match="cannot be reached"):
        search_studies(_dimse(port))


def test_wrong_credentials_and_refused_association(studies: list[Study]) -> None:
    with dicomweb_pacs(studies, token="Bearer right") as pacs:
        with pytest.raises(PacsUnavailableError, match="credentials"):
            search_studies(PacsSpec(kind="dicomweb", base_url=pacs.url, auth_header="Bearer no"))
        ok = search_studies(
            PacsSpec(kind="dicomweb", base_url=pacs.url, auth_header="Bearer right")
        )
    assert len(ok) == 2
    with dimse_pacs(studies, require_called_aet=True) as pacs:
        spec = PacsSpec(
            kind="dimse", host="127.0.0.1", port=pacs.port, called_ae_title="OTHER", timeout=5
        )
        with pytest.raises(PacsUnavailableError, match="refused the association"):
            search_studies(spec)


def test_wado_retrieve_hands_over_each_instance_with_progress(studies: list[Study]) -> None:
    received: list[bytes] = []
    progress: list[tuple[int, int | None]] = []
    with dicomweb_pacs(studies) as pacs:
        result = retrieve_study(
            PacsSpec(kind="dicomweb", base_url=pacs.url),
            studies[0].uid,
            on_instance=received.append,
            on_progress=lambda d, t: progress.append((d, t)),
        )
    assert len(received) == 3
    uids = {dcmread(io.BytesIO(data)).SOPInstanceUID for data in received}
    assert uids == {dcmread(io.BytesIO(data)).SOPInstanceUID for data in studies[0].files}
    assert progress[0] == (0, 3)
    assert progress[-1] == (3, 3)
    assert (result.completed, result.failed) == (3, 0)


def test_c_get_hands_over_instances_in_the_calling_thread(studies: list[Study]) -> None:
    threads: set[int] = set()
    received: list[bytes] = []
    progress: list[tuple[int, int | None]] = []

    def on_instance(data: bytes) -> None:
        threads.add(threading.get_ident())
        received.append(data)

    with dimse_pacs(studies) as pacs:
        result = retrieve_study(
            _dimse(pacs.port),
            studies[0].uid,
            on_instance=on_instance,
            on_progress=lambda d, t: progress.append((d, t)),
        )
    assert threads == {threading.get_ident()}
    assert len(received) == 3
    assert progress[-1] == (3, 3)
    assert (result.completed, result.failed, result.status) == (3, 0, 0)


def test_c_get_reports_an_instance_the_caller_could_not_store(studies: list[Study]) -> None:
    calls = []

    def on_instance(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 2:
            raise OSError("disk full")

    with dimse_pacs(studies) as pacs:
        result = retrieve_study(
            _dimse(pacs.port),
            studies[0].uid,
            on_instance=on_instance,
            on_progress=lambda d, t: None,
        )
    assert (result.completed, result.failed) == (2, 1)
    assert result.status == 0xB000  # the PACS reports the sub-operation failure as a warning


def test_c_get_of_an_unknown_study_retrieves_nothing(studies: list[Study]) -> None:
    with dimse_pacs(studies) as pacs:
        result = retrieve_study(
            _dimse(pacs.port), "1.2.3.4", on_instance=lambda d: None, on_progress=lambda d, t: None
        )
    assert (result.completed, result.received) == (0, 0)


def test_qido_error_status_is_a_request_error(studies: list[Study]) -> None:
    with dicomweb_pacs(studies) as pacs, pytest.raises(PacsRequestError, match="HTTP 404"):
        retrieve_study(
            PacsSpec(kind="dicomweb", base_url=pacs.url + "/nowhere/deeper"),
            studies[0].uid,
            on_instance=lambda d: None,
            on_progress=lambda d, t: None,
        )


def test_c_get_stops_when_the_caller_fails(studies: list[Study]) -> None:
    def on_progress(done: int, total: int | None) -> None:
        raise RuntimeError("database gone")

    with dimse_pacs(studies) as pacs, pytest.raises(RuntimeError, match="database gone"):
        retrieve_study(
            _dimse(pacs.port), studies[0].uid, on_instance=lambda d: None, on_progress=on_progress
        )
