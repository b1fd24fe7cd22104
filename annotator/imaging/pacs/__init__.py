"""Talking to a remote PACS: search studies (QIDO-RS or C-FIND) and retrieve them (WADO-RS,
C-GET or C-MOVE). Plain data in and out: no models, no database.

Callbacks (`on_instance`, `on_progress`) always run in the calling thread, even for C-GET
(whose C-STOREs arrive on pynetdicom's association thread and are handed over through a
queue), so a caller may use the database from them.
"""

from datetime import date
from typing import Any

from annotator.imaging.pacs.common import (
    C_GET,
    C_MOVE,
    DICOMWEB,
    DIMSE,
    MAX_LIMIT,
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
    study_result,
)
from annotator.imaging.pacs.dimse import _c_find_studies, _c_get_study, _c_move_study
from annotator.imaging.pacs.web import _qido_studies, _wado_study


def search_studies(
    spec: PacsSpec,
    *,
    patient_id: str | None = None,
    patient_name: str | None = None,
    study_date_from: date | None = None,
    study_date_to: date | None = None,
    modality: str | None = None,
    accession_number: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Search the PACS for studies (QIDO-RS or C-FIND at STUDY level).

    Raises:
        PacsUnavailableError: unreachable, timed out, or refused us.
        PacsRequestError: it answered with a failure.
    """
    query = StudyQuery(
        patient_id=patient_id,
        patient_name=patient_name,
        study_date_from=study_date_from,
        study_date_to=study_date_to,
        modality=modality,
        accession_number=accession_number,
    )
    limit = max(1, min(limit, MAX_LIMIT))
    if spec.kind == DICOMWEB:
        return [study_result(ds) for ds in _qido_studies(spec, query, limit)]
    return [study_result(ds) for ds in _c_find_studies(spec, query, limit)]


def count_study_instances(spec: PacsSpec, study_instance_uid: str) -> int | None:
    """Return NumberOfStudyRelatedInstances as the PACS reports it (None when it does not).

    Raises:
        PacsError: as `search_studies`.
    """
    query = StudyQuery(study_instance_uid=study_instance_uid)
    found = (
        _qido_studies(spec, query, 1) if spec.kind == DICOMWEB else _c_find_studies(spec, query, 1)
    )
    return _int(found[0], "NumberOfStudyRelatedInstances") if found else None


def retrieve_study(
    spec: PacsSpec,
    study_instance_uid: str,
    *,
    on_instance: InstanceCallback,
    on_progress: ProgressCallback,
) -> RetrieveResult:
    """Retrieve one study: WADO-RS or C-GET hand each object to `on_instance` (Part 10 bytes);
    C-MOVE sends them to `spec.move_destination` and only reports progress.

    `on_progress(done, total)` follows the PACS's sub-operation counts (or, for WADO-RS,
    NumberOfStudyRelatedInstances). An exception from `on_instance` fails that object only.

    Raises:
        PacsError: as `search_studies`.
    """
    if spec.kind == DICOMWEB:
        return _wado_study(spec, study_instance_uid, on_instance, on_progress)
    if spec.retrieve_method == C_MOVE:
        return _c_move_study(spec, study_instance_uid, on_progress)
    return _c_get_study(spec, study_instance_uid, on_instance, on_progress)


__all__ = [
    "C_GET",
    "C_MOVE",
    "DICOMWEB",
    "DIMSE",
    "MAX_LIMIT",
    "InstanceCallback",
    "PacsError",
    "PacsRequestError",
    "PacsSpec",
    "PacsUnavailableError",
    "ProgressCallback",
    "RetrieveResult",
    "StudyQuery",
    "count_study_instances",
    "encode_dataset",
    "retrieve_study",
    "search_studies",
    "study_result",
]
