"""The single ingest path every door ends in: validate, de-identify, dedupe, store, group.

Upload, STOW-RS, DIMSE C-STORE and PACS pulls all feed files to an `Ingestor`, which keeps
one project's hierarchy rows cached, writes each accepted object once and bulk-inserts the
instance rows. A file is stored fully or not at all; the rest of the batch goes on.
"""

import hmac
import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import F

from annotator.accounts.models import User
from annotator.imaging.deid import DeidOptions
from annotator.imaging.dicom import DicomHeader, RejectedFileError
from annotator.imaging.models import (
    ImagingSettings,
    Instance,
    Patient,
    PseudonymEntry,
    Series,
    SeriesStatus,
    Study,
)
from annotator.imaging.prepare import PreparedFile, prepare_file
from annotator.projects.models import Project

logger = logging.getLogger(__name__)
FLUSH_EVERY = 64
MAX_REPORTED_FILES = 1000


@dataclass
class FileOutcome:
    """What happened to one file."""

    name: str
    status: str  # accepted | duplicate | conflict | rejected
    code: str = ""
    reason: str = ""
    sop_instance_uid: str = ""


@dataclass
class IngestReport:
    """Counts per outcome, the per-file details of everything not accepted, the series."""

    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    files: list[dict[str, str]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)

    def add(self, outcome: FileOutcome) -> None:
        """Count an outcome; keep details of the ones a person must look at."""
        key = {
            "accepted": "accepted",
            "duplicate": "duplicates",
            "conflict": "conflicts",
            "rejected": "rejected",
        }[outcome.status]
        setattr(self, key, getattr(self, key) + 1)
        if outcome.status != "accepted" and len(self.files) < MAX_REPORTED_FILES:
            self.files.append({k: v for k, v in asdict(outcome).items() if v})

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return asdict(self)


def get_imaging_settings(*, project: Project) -> ImagingSettings:
    """Return the project's imaging settings, creating the defaults (de-identify on)."""
    settings, _ = ImagingSettings.objects.get_or_create(project=project)
    return settings


def deid_options(settings: ImagingSettings) -> DeidOptions:
    """Return the de-identification options a project's settings ask for."""
    return DeidOptions(
        retain_longitudinal_dates=settings.retain_longitudinal_dates,
        retain_patient_characteristics=settings.retain_patient_characteristics,
        clean_descriptors=settings.clean_descriptors,
        safe_private_tags=tuple(settings.safe_private_tags),
    )


def storage_name(project_id: int, header: DicomHeader) -> str:
    """Return where an object's file lives in the default storage."""
    return (
        f"projects/{project_id}/dicom/{header.study_instance_uid}/"
        f"{header.series_instance_uid}/{header.sop_instance_uid}.dcm"
    )


def _save(name: str, prepared: PreparedFile) -> str:
    """Put a prepared file into the default storage; a spooled file on the same file system
    is renamed into place rather than copied."""
    if not prepared.spooled:
        return default_storage.save(name, ContentFile(prepared.data))
    if isinstance(default_storage, FileSystemStorage):
        name = default_storage.get_available_name(name)
        target = Path(default_storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(prepared.spooled, target)
        if default_storage.file_permissions_mode is not None:
            target.chmod(default_storage.file_permissions_mode)
        return name
    with open(prepared.spooled, "rb") as handle:
        return default_storage.save(name, File(handle))


class Ingestor:
    """Ingest files into one project; call `add` per file and `finish` once."""

    def __init__(self, *, project: Project, actor: User | None, source: str) -> None:
        self.project = project
        self.actor = actor
        self.source = source
        self.settings = get_imaging_settings(project=project)
        self.secret = bytes.fromhex(self.settings.secret)
        self.report = IngestReport()
        self._patients: dict[str, Patient] = {}
        self._studies: dict[str, Study] = {}
        self._series: dict[str, Series] = {}
        self._pending: list[Instance] = []
        self._pending_files: list[str] = []
        self._pending_uids: dict[str, str] = {}
        self.touched: set[int] = set()
        self._known: dict[int, dict[str, str]] = {}
        self.deid = deid_options(self.settings) if self.settings.deidentify else None

    def _digests(self, series: Series) -> dict[str, str]:
        """Return {SOP Instance UID: digest} of what the series already holds (one query)."""
        if series.pk not in self._known:
            self._known[series.pk] = dict(
                Instance.objects.filter(series=series).values_list(
                    "sop_instance_uid", "content_digest"
                )
            )
        return self._known[series.pk]

    # --- one file ----------------------------------------------------------------------------

    def add(self, *, name: str, fp: IO[bytes], size: int) -> FileOutcome:
        """Ingest one file; never raises for a bad file (the outcome says why), but does for
        storage or database failures, which the caller may retry."""
        prepared = prepare_file(fp.read(), secret=self.secret, options=self.deid)
        return self.add_prepared(name=name, prepared=prepared)

    def add_prepared(self, *, name: str, prepared: PreparedFile) -> FileOutcome:
        """Store a file `prepare_file` made (in this process or in a pool)."""
        try:
            outcome = self._store(name, prepared)
        except RejectedFileError as error:
            outcome = FileOutcome(name, "rejected", error.code, error.message)
        self.report.add(outcome)
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()
        return outcome

    def _store(self, name: str, prepared: PreparedFile) -> FileOutcome:
        try:
            return self._store_prepared(name, prepared)
        finally:
            if prepared.spooled:  # moved into storage when accepted; otherwise not needed
                Path(prepared.spooled).unlink(missing_ok=True)

    def _store_prepared(self, name: str, prepared: PreparedFile) -> FileOutcome:
        if prepared.rejection is not None or prepared.header is None:
            code, message = prepared.rejection or ("processing_failed", "Not processed.")
            raise RejectedFileError(code, message)
        header, digest = prepared.header, prepared.digest
        series = self._series_for(
            header, prepared.pseudonym, prepared.original_patient_id, prepared.burned_in
        )
        known = self._pending_uids.get(header.sop_instance_uid) or self._digests(series).get(
            header.sop_instance_uid
        )
        if known is not None:
            status = "duplicate" if hmac.compare_digest(known, digest) else "conflict"
            reason = (
                "Already stored."
                if status == "duplicate"
                else "Another file with this SOP Instance UID is already stored; kept it."
            )
            return FileOutcome(name, status, status, reason, header.sop_instance_uid)
        if (
            header.is_image
            and series.frame_of_reference_uid
            and header.frame_of_reference_uid
            and header.frame_of_reference_uid != series.frame_of_reference_uid
        ):
            raise RejectedFileError(
                "mixed_frame_of_reference",
                "This image's frame of reference differs from its series'.",
            )
        stored = _save(storage_name(self.project.pk, header), prepared)
        self._pending_files.append(stored)
        self._pending_uids[header.sop_instance_uid] = digest
        self._pending.append(
            Instance(
                project=self.project,
                series=series,
                sop_instance_uid=header.sop_instance_uid,
                sop_class_uid=header.sop_class_uid,
                transfer_syntax_uid=header.transfer_syntax_uid,
                instance_number=header.instance_number,
                file=stored,
                file_size=prepared.stored_size,
                content_digest=digest,
                is_image=header.is_image,
                rows=header.rows,
                columns=header.columns,
                number_of_frames=header.number_of_frames,
                geometry=header.geometry,
            )
        )
        return FileOutcome(name, "accepted", sop_instance_uid=header.sop_instance_uid)

    # --- hierarchy -----------------------------------------------------------------------------

    def _patient(self, pseudonym: str, original_id: str) -> Patient:
        patient = self._patients.get(pseudonym)
        if patient is None:
            patient, created = Patient.objects.get_or_create(
                project=self.project, pseudonym=pseudonym
            )
            keep = self.settings.deidentify and self.settings.keep_pseudonym_map
            if created and keep and original_id:
                PseudonymEntry.objects.get_or_create(
                    patient=patient, defaults={"original_patient_id": original_id[:64]}
                )
            self._patients[pseudonym] = patient
        return patient

    @staticmethod
    def _flag(series: Series, flagged: bool) -> Series:
        """Mark a series for burned-in-text review when one of its files may carry it."""
        if flagged and not series.burned_in_risk:
            Series.objects.filter(pk=series.pk).update(burned_in_risk=True)
            series.burned_in_risk = True
        return series

    def _series_for(
        self, header: DicomHeader, pseudonym: str, original_id: str, flagged: bool
    ) -> Series:
        series = self._series.get(header.series_instance_uid)
        if series is not None:
            return self._flag(series, flagged)
        study = self._studies.get(header.study_instance_uid)
        if study is None:
            study, _ = Study.objects.get_or_create(
                project=self.project,
                study_instance_uid=header.study_instance_uid,
                defaults={
                    "patient": self._patient(pseudonym, original_id),
                    "study_date": header.study_date,
                    "study_time": header.study_time,
                    "accession_number": header.accession_number,
                    "description": header.study_description,
                },
            )
            self._studies[header.study_instance_uid] = study
        series, created = Series.objects.get_or_create(
            project=self.project,
            series_instance_uid=header.series_instance_uid,
            defaults={
                "study": study,
                "modality": header.modality,
                "series_number": header.series_number,
                "description": header.series_description,
                "body_part": header.body_part,
                "laterality": header.laterality,
                "is_image": header.is_image,
                "frame_of_reference_uid": header.frame_of_reference_uid,
                "burned_in_risk": flagged,
                "display": {
                    **header.display,
                    "view_position": header.view_position,
                    "frame_time_ms": header.frame_time_ms,
                },
            },
        )
        self._flag(series, flagged and not created)
        self._series[header.series_instance_uid] = series
        return series

    # --- batches -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Insert the pending instance rows; on a lost race, fall back row by row.

        If the database fails otherwise, the files written for these rows are deleted.
        """
        if not self._pending:
            return
        pending, files = self._pending, self._pending_files
        try:
            with transaction.atomic():
                Instance.objects.bulk_create(pending)
                self._count(pending)
        except IntegrityError:
            self._pending, self._pending_files, self._pending_uids = [], [], {}
            self._insert_one_by_one(pending, files)
            return
        except BaseException:
            self.abandon()  # the rows are not there: do not leave their files behind
            raise
        self._pending, self._pending_files, self._pending_uids = [], [], {}

    def _insert_one_by_one(self, pending: list[Instance], files: list[str]) -> None:
        for instance, name in zip(pending, files, strict=True):
            try:
                with transaction.atomic():
                    instance.save()
                    self._count([instance])
            except IntegrityError:  # another door stored it meanwhile: keep theirs
                default_storage.delete(name)
                self.report.accepted -= 1
                self.report.add(
                    FileOutcome(
                        name,
                        "duplicate",
                        "duplicate",
                        "Stored concurrently.",
                        instance.sop_instance_uid,
                    )
                )

    def _count(self, instances: list[Instance]) -> None:
        for series_id, n in Counter(i.series_id for i in instances).items():
            Series.objects.filter(pk=series_id).update(
                instance_count=F("instance_count") + n, status=SeriesStatus.RECEIVING
            )
            self.touched.add(series_id)

    def finish(self) -> IngestReport:
        """Flush, and summarise the series this ingest touched."""
        self.flush()
        for series in Series.objects.filter(pk__in=self.touched).order_by("pk"):
            self.report.series.append(
                {
                    "id": series.pk,
                    "modality": series.modality,
                    "instances": series.instance_count,
                    "burned_in_risk": series.burned_in_risk,
                }
            )
        return self.report

    def abandon(self) -> None:
        """Delete files written for rows that were never inserted (after a crash mid-batch)."""
        for name in self._pending_files:
            default_storage.delete(name)
        self._pending, self._pending_files, self._pending_uids = [], [], {}
