"""Writes for PACS connections, searching them, and pulling studies into a project."""

import io
import logging
import re
from dataclasses import asdict
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction

from annotator.accounts.models import User
from annotator.audit.services import Changes, diff, record_event, snapshot
from annotator.core.errors import ConflictError, DomainError
from annotator.imaging.ingest import Ingestor, get_imaging_settings
from annotator.imaging.pacs import (
    PacsError,
    PacsSpec,
    RetrieveResult,
    retrieve_study,
    search_studies,
)
from annotator.imaging.services import queue_volume_builds
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import enqueue_job, report_progress
from annotator.pacs.models import PacsConnection, PacsKind, RetrieveMethod
from annotator.projects.models import Project

logger = logging.getLogger(__name__)

MAX_STUDIES_PER_PULL = 100
AE_TITLE = re.compile(r"^[ -\[\]-~]{1,16}$")  # printable ASCII without backslash
UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
FIELDS = [
    "name",
    "kind",
    "base_url",
    "host",
    "port",
    "called_ae_title",
    "calling_ae_title",
    "retrieve_method",
    "move_destination",
]


class InvalidPacsConnectionError(DomainError):
    """A connection lacks what its kind needs, or carries a malformed value."""

    code = "invalid_pacs_connection"


class PacsNameTakenError(ConflictError):
    """Another connection of the project has this name."""

    code = "pacs_name_taken"


class InvalidPullError(DomainError):
    """A pull request without studies, with too many, or with malformed UIDs."""

    code = "invalid_pull"


class PacsConnectionGoneError(DomainError):
    """The connection a pull job was started for no longer exists."""

    code = "pacs_connection_gone"


def connection_spec(connection: PacsConnection) -> PacsSpec:
    """Return the plain description of a connection that the PACS client code takes."""
    return PacsSpec(
        kind=connection.kind,
        base_url=connection.base_url,
        auth_header=connection.auth_header,
        host=connection.host,
        port=connection.port or 0,
        called_ae_title=connection.called_ae_title,
        calling_ae_title=connection.calling_ae_title,
        retrieve_method=connection.retrieve_method,
        move_destination=connection.move_destination,
        timeout=settings.PACS_TIMEOUT,
    )


def _validate(connection: PacsConnection) -> None:
    for name in ("called_ae_title", "calling_ae_title", "move_destination"):
        value = getattr(connection, name).strip()
        setattr(connection, name, value)
        if value and not AE_TITLE.match(value):
            raise InvalidPacsConnectionError(
                "An AE title has 1 to 16 printable ASCII characters, no backslash.", field=name
            )
    if connection.kind == PacsKind.DICOMWEB:
        if not connection.base_url:
            raise InvalidPacsConnectionError(
                "A DICOMweb connection needs its URL.", field="base_url"
            )
        return
    for name in ("host", "port", "called_ae_title"):
        if not getattr(connection, name):
            raise InvalidPacsConnectionError("A DIMSE connection needs this.", field=name)
    if connection.retrieve_method == RetrieveMethod.C_MOVE and not connection.move_destination:
        our_title = get_imaging_settings(project=connection.project).ae_title
        if not our_title:
            raise InvalidPacsConnectionError(
                "C-MOVE needs a destination: set the project's AE title in its imaging "
                "settings, or a move destination here.",
                field="move_destination",
            )
        connection.move_destination = our_title


def _save(connection: PacsConnection) -> None:
    _validate(connection)
    taken = PacsConnection.objects.filter(project=connection.project, name=connection.name)
    if taken.exclude(pk=connection.pk).exists():
        raise PacsNameTakenError("Another PACS connection has this name.", field="name")
    connection.full_clean()
    connection.save()


def _secret_change(before: str, after: str) -> Changes:
    """Say that the auth header changed, never what it is."""
    if before == after:
        return {}
    return {
        "auth_header": [
            "set" if before else "",
            "replaced" if before and after else ("set" if after else ""),
        ]
    }


@transaction.atomic
def create_pacs_connection(
    *,
    project: Project,
    actor: User,
    name: str,
    kind: str,
    base_url: str = "",
    auth_header: str = "",
    host: str = "",
    port: int | None = None,
    called_ae_title: str = "",
    calling_ae_title: str = "ANNOTATOR",
    retrieve_method: str = RetrieveMethod.C_GET,
    move_destination: str = "",
) -> PacsConnection:
    """Add a PACS connection to a project (managers; the API checks the role).

    Raises:
        InvalidPacsConnectionError: the kind's address is incomplete or malformed.
        PacsNameTakenError: the project already has a connection with this name.
    """
    connection = PacsConnection(
        project=project,
        name=name.strip(),
        kind=kind,
        base_url=base_url.strip(),
        auth_header=auth_header,
        host=host.strip(),
        port=port,
        called_ae_title=called_ae_title,
        calling_ae_title=calling_ae_title or "ANNOTATOR",
        retrieve_method=retrieve_method,
        move_destination=move_destination,
        created_by=actor,
    )
    _save(connection)
    changes = diff({}, snapshot(connection, FIELDS))
    changes.update(_secret_change("", auth_header))
    record_event(
        actor=actor, action="pacs.create", obj=connection, project=project, changes=changes
    )
    return connection


@transaction.atomic
def update_pacs_connection(
    *, connection: PacsConnection, actor: User, changes: dict[str, Any]
) -> PacsConnection:
    """Change a connection; `auth_header` absent keeps it, "" removes it.

    Raises:
        InvalidPacsConnectionError, PacsNameTakenError: as `create_pacs_connection`.
    """
    locked = PacsConnection.objects.select_for_update().get(pk=connection.pk)
    before, secret_before = snapshot(locked, FIELDS), locked.auth_header
    for name, value in changes.items():
        if name not in [*FIELDS, "auth_header"]:
            raise InvalidPacsConnectionError("This field cannot be changed.", field=name)
        setattr(
            locked,
            name,
            value.strip() if isinstance(value, str) and name != "auth_header" else value,
        )
    _save(locked)
    changed = diff(before, snapshot(locked, FIELDS))
    changed.update(_secret_change(secret_before, locked.auth_header))
    if changed:
        record_event(
            actor=actor, action="pacs.update", obj=locked, project=locked.project, changes=changed
        )
    return locked


@transaction.atomic
def delete_pacs_connection(*, connection: PacsConnection, actor: User) -> None:
    """Remove a connection; jobs that use it and have not started will fail."""
    record_event(
        actor=actor,
        action="pacs.delete",
        obj=connection,
        project=connection.project,
        changes={"name": [connection.name, None]},
    )
    connection.delete()


def search_pacs(
    *,
    connection: PacsConnection,
    actor: User,
    patient_id: str | None = None,
    patient_name: str | None = None,
    study_date_from: date | None = None,
    study_date_to: date | None = None,
    modality: str | None = None,
    accession_number: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Search a PACS for studies, and log that a search was made (never its filters).

    Raises:
        PacsError: the PACS is unreachable or failed the query.
    """
    results = search_studies(
        connection_spec(connection),
        patient_id=patient_id,
        patient_name=patient_name,
        study_date_from=study_date_from,
        study_date_to=study_date_to,
        modality=modality,
        accession_number=accession_number,
        limit=limit,
    )
    record_event(
        actor=actor,
        action="pacs.search",
        obj=connection,
        project=connection.project,
        changes={"results": [None, len(results)]},
    )
    return results


@transaction.atomic
def request_pacs_pull(
    *, connection: PacsConnection, actor: User, study_instance_uids: list[str]
) -> Job:
    """Queue a job that retrieves these studies from the PACS and ingests them.

    Raises:
        InvalidPullError: no studies, more than MAX_STUDIES_PER_PULL, or a malformed UID.
    """
    uids = list(dict.fromkeys(uid.strip() for uid in study_instance_uids))
    if not uids:
        raise InvalidPullError("Choose at least one study.", field="study_instance_uids")
    if len(uids) > MAX_STUDIES_PER_PULL:
        raise InvalidPullError(
            f"Pull at most {MAX_STUDIES_PER_PULL} studies at a time.", field="study_instance_uids"
        )
    if any(len(uid) > 64 or not UID.match(uid) for uid in uids):
        raise InvalidPullError("A Study Instance UID is malformed.", field="study_instance_uids")
    job = enqueue_job(
        kind=JobKind.PACS_PULL,
        created_by=actor,
        project=connection.project,
        params={"connection_id": connection.pk, "study_instance_uids": uids},
    )
    record_event(
        actor=actor,
        action="pacs.pull",
        obj=connection,
        project=connection.project,
        changes={"studies": [None, len(uids)], "job": [None, str(job.pk)]},
    )
    return job


class _PullProgress:
    """Turns per-study progress into the job's done/total over all studies."""

    def __init__(self, job: Job, studies: int) -> None:
        self.job = job
        self.studies = studies
        self.study = 0
        self.before = 0  # instances finished in earlier studies
        self.done = 0
        self.total: int | None = None

    def start(self, index: int) -> None:
        self.study = index
        self.before += self.done
        self.done = 0
        self.total = None

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        overall_done = self.before + done
        overall_total = None if total is None else max(self.before + total, overall_done)
        report_progress(
            job=self.job,
            done=overall_done,
            total=overall_total,
            message=f"Study {self.study + 1} of {self.studies}: {done} of "
            f"{total if total is not None else '?'} instances",
        )


def pull_studies(job: Job) -> tuple[dict[str, Any], None]:
    """Retrieve each requested study and ingest it (C-MOVE: the listener ingests).

    Raises:
        PacsConnectionGoneError: the connection was deleted.
        PacsError: every study failed (the first study's error).
    """
    connection = (
        PacsConnection.objects.select_related("project")
        .filter(pk=job.params["connection_id"])
        .first()
    )
    if connection is None:
        raise PacsConnectionGoneError("The PACS connection was deleted.")
    spec = connection_spec(connection)
    uids: list[str] = job.params["study_instance_uids"]
    ingestor = Ingestor(project=connection.project, actor=job.created_by, source="pull")
    progress = _PullProgress(job, len(uids))
    studies: list[dict[str, Any]] = []
    errors: list[PacsError] = []
    try:
        for index, uid in enumerate(uids):
            progress.start(index)
            counter = iter(range(1, 1 << 31))

            def ingest(data: bytes, index: int = index, counter: Any = counter) -> None:
                name = f"study-{index + 1}/{next(counter)}"
                ingestor.add(name=name, fp=io.BytesIO(data), size=len(data))

            try:
                retrieved = retrieve_study(spec, uid, on_instance=ingest, on_progress=progress)
            except PacsError as error:
                logger.warning(
                    "Job %s: study %s of %s failed: %s", job.pk, index + 1, len(uids), error.code
                )
                errors.append(error)
                studies.append({"index": index, "status": "failed", "error": error.message})
                continue
            studies.append({"index": index, "status": "retrieved", **_counts(retrieved)})
        report = ingestor.finish()
    except BaseException:
        ingestor.abandon()
        raise
    if errors and len(errors) == len(uids):
        raise errors[0]
    with transaction.atomic():
        record_event(
            actor=job.created_by,
            action="imaging.ingest",
            obj=job,
            project=connection.project,
            changes={
                "source": [None, "pull"],
                "accepted": [None, report.accepted],
                "rejected": [None, report.rejected],
                "duplicates": [None, report.duplicates],
                "conflicts": [None, report.conflicts],
            },
        )
        queue_volume_builds(series_ids=sorted(ingestor.touched))
    summary: dict[str, Any] = {**report.as_dict(), "studies": studies}
    if spec.kind == PacsKind.DIMSE and spec.retrieve_method == RetrieveMethod.C_MOVE:
        summary["note"] = "C-MOVE: the DICOM listener stored the instances (source dimse)."
    return summary, None


def _counts(result: RetrieveResult) -> dict[str, int]:
    return {k: v for k, v in asdict(result).items() if k != "status" and v is not None}
