"""Search and retrieve over DICOMweb (QIDO-RS, WADO-RS) with dicomweb-client."""

import logging

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from annotator.imaging.pacs.common import (
    STATUS_SUCCESS,
    STUDY_FIELDS,
    InstanceCallback,
    PacsError,
    PacsRequestError,
    PacsSpec,
    PacsUnavailableError,
    ProgressCallback,
    RetrieveResult,
    StudyQuery,
    _int,
    encode_dataset,
)

logger = logging.getLogger(__name__)
# dicomweb_client logs request headers (our Authorization value) and query URLs (patient
# names) at DEBUG; keep it at WARNING whatever the root level is.
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)


def _client(spec: PacsSpec) -> DICOMwebClient:
    headers = {"Authorization": spec.auth_header} if spec.auth_header else None
    client = DICOMwebClient(url=spec.base_url.rstrip("/"), headers=headers, timeout=spec.timeout)
    client.set_http_retry_params(retry=False)  # a person or a job retries; never block here
    return client


def _http_error(error: requests.RequestException) -> PacsError:
    if isinstance(error, requests.HTTPError) and error.response is not None:
        code = error.response.status_code
        if code in (401, 403):
            return PacsUnavailableError(f"The PACS refused our credentials (HTTP {code}).")
        if code >= 500:
            return PacsUnavailableError(f"The PACS failed to answer (HTTP {code}).")
        return PacsRequestError(f"The PACS refused the request (HTTP {code}).")
    if isinstance(error, requests.Timeout):
        return PacsUnavailableError("The PACS did not answer in time.")
    return PacsUnavailableError("The PACS cannot be reached.")


def _qido_studies(spec: PacsSpec, query: StudyQuery, limit: int) -> list[Dataset]:
    try:
        found = _client(spec).search_for_studies(
            limit=limit, fields=list(STUDY_FIELDS), search_filters=dict(query.filters())
        )
    except requests.RequestException as error:
        raise _http_error(error) from error
    except ValueError as error:  # a body that is not DICOM JSON
        raise PacsRequestError("The PACS answered with something that is not DICOM JSON.") from (
            error
        )
    return [Dataset.from_json(item) for item in found[:limit]]


def _wado_study(
    spec: PacsSpec, study_uid: str, on_instance: InstanceCallback, on_progress: ProgressCallback
) -> RetrieveResult:
    found = _qido_studies(spec, StudyQuery(study_instance_uid=study_uid), 1)
    total = _int(found[0], "NumberOfStudyRelatedInstances") if found else None
    result = RetrieveResult()
    on_progress(0, total)
    try:
        for ds in _client(spec).iter_study(study_uid):
            result.received += 1
            try:
                on_instance(encode_dataset(ds))
                result.completed += 1
            except Exception:
                logger.exception("Handling a retrieved object failed")
                result.failed += 1
            total = max(total or 0, result.received) if total is not None else None
            on_progress(result.received, total)
    except requests.RequestException as error:
        raise _http_error(error) from error
    result.status = STATUS_SUCCESS
    return result
