"""Writes for imaging: stage an upload as a job, ingest it, change imaging settings."""

import functools
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import transaction

from annotator.accounts.models import User
from annotator.audit.services import diff, record_event, snapshot
from annotator.celery import app as celery_app
from annotator.core.errors import DomainError
from annotator.core.versions import lock_version
from annotator.imaging.archive import (
    ArchiveLimits,
    ArchiveReader,
    ItemRead,
    SkippedItem,
    count_items,
    walk_upload,
)
from annotator.imaging.convert import convert_file, is_convertible
from annotator.imaging.dicom import RejectedFileError
from annotator.imaging.ingest import FileOutcome, Ingestor, get_imaging_settings
from annotator.imaging.models import ImagingSettings
from annotator.imaging.pool import prepare_many
from annotator.jobs.models import Job, JobKind
from annotator.jobs.names import BUILD_VOLUMES_TASK
from annotator.jobs.services import enqueue_job, report_progress
from annotator.projects.models import Project

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 25
STREAM_CHUNK = 4 << 20
SETTINGS_FIELDS = [
    "deidentify",
    "retain_longitudinal_dates",
    "retain_patient_characteristics",
    "clean_descriptors",
    "keep_pseudonym_map",
    "safe_private_tags",
    "ae_title",
]


class EmptyUploadError(DomainError):
    """An upload without files."""

    code = "empty_upload"


class UploadTooLargeError(DomainError):
    """An upload above the configured limit."""

    code = "upload_too_large"


def upload_limits() -> ArchiveLimits:
    """Return the size limits uploads are held to (settings IMAGING_MAX_*)."""
    return ArchiveLimits(
        max_file_bytes=settings.IMAGING_MAX_FILE_BYTES,
        max_total_bytes=settings.IMAGING_MAX_UPLOAD_BYTES,
    )


def _safe_name(name: str) -> str:
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("..", "/", "")]
    return "/".join(parts)[-200:] or "upload"


def _new_staging() -> tuple[Path, Path]:
    staging = Path("uploads") / uuid.uuid4().hex
    folder = Path(settings.MEDIA_ROOT) / staging
    folder.mkdir(parents=True)
    return staging, folder


@transaction.atomic
def stage_upload(*, project: Project, actor: User, files: list[UploadedFile[bytes]]) -> Job:
    """Move uploaded files to a staging folder and queue the ingest job that reads them.

    Raises:
        EmptyUploadError: no files.
        UploadTooLargeError: the files exceed IMAGING_MAX_UPLOAD_BYTES together.
    """
    if not files:
        raise EmptyUploadError("Choose at least one file, folder or zip.", field="files")
    total = sum(f.size or 0 for f in files)
    if total > settings.IMAGING_MAX_UPLOAD_BYTES:
        raise UploadTooLargeError("The upload is larger than the limit.", field="files")
    staging, folder = _new_staging()
    staged: list[list[str]] = []
    try:
        for index, upload in enumerate(files):
            target = folder / f"{index:06d}"
            if isinstance(upload, TemporaryUploadedFile):
                shutil.move(upload.temporary_file_path(), target)
            else:
                with target.open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
            staged.append([_safe_name(upload.name or f"file-{index}"), target.name])
        return _enqueue_ingest(
            project=project, actor=actor, staging=staging, staged=staged, total=total
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@transaction.atomic
def stage_stream(*, project: Project, actor: User, stream: IO[bytes], name: str) -> Job:
    """Stream a raw request body (a zip, or one DICOM file) to staging and queue its ingest;
    no multipart parsing, so a whole study sent as one zip costs little more than a copy.

    Raises:
        EmptyUploadError: an empty body.
        UploadTooLargeError: more than IMAGING_MAX_UPLOAD_BYTES arrived.
    """
    staging, folder = _new_staging()
    target, total = folder / "000000", 0
    try:
        with target.open("wb") as out:
            while chunk := stream.read(STREAM_CHUNK):
                total += len(chunk)
                if total > settings.IMAGING_MAX_UPLOAD_BYTES:
                    raise UploadTooLargeError("The upload is larger than the limit.")
                out.write(chunk)
        if total == 0:
            raise EmptyUploadError("The request body is empty.")
        return _enqueue_ingest(
            project=project,
            actor=actor,
            staging=staging,
            staged=[[_safe_name(name), target.name]],
            total=total,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _enqueue_ingest(
    *, project: Project, actor: User, staging: Path, staged: list[list[str]], total: int
) -> Job:
    return enqueue_job(
        kind=JobKind.INGEST_UPLOAD,
        created_by=actor,
        project=project,
        params={"staging": str(staging), "files": staged, "bytes": total},
    )


def ingest_staged_upload(job: Job) -> tuple[dict[str, Any], None]:
    """Ingest every file of a staged upload with progress, then queue the volume builds."""
    assert job.project is not None  # noqa: S101 - upload jobs always belong to a project
    folder = Path(settings.MEDIA_ROOT) / job.params["staging"]
    files = [(name, folder / stored) for name, stored in job.params["files"]]
    limits = upload_limits()
    reader = ArchiveReader(limits)
    total = count_items(files)
    report_progress(job=job, done=0, total=total, message="Reading files")
    ingestor = Ingestor(project=job.project, actor=job.created_by, source="upload")
    skipped: list[SkippedItem] = []
    modalities = job.project.modalities or []
    default_modality = modalities[0] if len(modalities) == 1 else "OT"
    modality = str(job.params.get("modality") or default_modality)

    parallel = total >= settings.IMAGING_PARALLEL_MIN_FILES

    def sources() -> Iterator[tuple[str, Callable[[], bytes]]]:
        for item in walk_upload(files, limits):
            if isinstance(item, SkippedItem):
                skipped.append(item)
            elif not is_convertible(item.name):
                yield (
                    item.name,
                    (ItemRead(item, limits) if parallel else functools.partial(reader.read, item)),
                )
            else:  # a non-DICOM image: its converted slices go through the same path
                try:
                    converted = convert_file(
                        item.name,
                        reader.read(item),
                        modality=modality,
                        uid_root_seed=ingestor.secret,
                    )
                except RejectedFileError as error:
                    skipped.append(SkippedItem(item.name, error.code, error.message))
                    continue
                except Exception as error:  # one file must never stop the batch
                    logger.error("Converting a file failed with %s", type(error).__name__)
                    skipped.append(
                        SkippedItem(item.name, "processing_failed", "The file could not be read.")
                    )
                    continue
                for k, data in enumerate(converted):
                    yield f"{item.name}#{k}", functools.partial(bytes, data)

    workers = settings.IMAGING_INGEST_PROCESSES if parallel else 1
    spool = folder / "spool"
    spool.mkdir(exist_ok=True)
    done = 0
    try:
        for name, prepared in prepare_many(
            sources(),
            secret=ingestor.secret,
            options=ingestor.deid,
            workers=workers,
            spool=spool,
        ):
            ingestor.add_prepared(name=name, prepared=prepared)
            done += 1
            if done % PROGRESS_EVERY == 0:
                seen = min(done + len(skipped), total)
                report_progress(job=job, done=seen, message=f"{seen} of {total} files")
        for item in skipped:
            ingestor.report.add(FileOutcome(item.name, "rejected", item.code, item.reason))
        report = ingestor.finish()
    except BaseException:
        ingestor.abandon()
        raise
    finally:
        reader.close()
        shutil.rmtree(folder, ignore_errors=True)
    record_event(
        actor=job.created_by,
        action="imaging.ingest",
        obj=job,
        project=job.project,
        changes={
            "accepted": [None, report.accepted],
            "rejected": [None, report.rejected],
            "duplicates": [None, report.duplicates],
            "conflicts": [None, report.conflicts],
        },
    )
    queue_volume_builds(series_ids=sorted(ingestor.touched))
    return report.as_dict(), None


def queue_volume_builds(*, series_ids: list[int]) -> None:
    """Build the volume caches of these series after the current transaction commits."""
    if series_ids:
        transaction.on_commit(lambda: celery_app.send_task(BUILD_VOLUMES_TASK, args=[series_ids]))


@transaction.atomic
def update_imaging_settings(
    *, project: Project, actor: User, expected_version: int, changes: dict[str, Any]
) -> ImagingSettings:
    """Change a project's de-identification policy or AE title.

    Raises:
        StaleVersionError: the settings changed since `expected_version`.
    """
    current = get_imaging_settings(project=project)
    locked = lock_version(
        ImagingSettings.objects.all(),
        pk=current.pk,
        expected_version=expected_version,
        what="The imaging settings",
    )
    before = snapshot(locked, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(locked, name, value)
    changed = diff(before, snapshot(locked, SETTINGS_FIELDS))
    if not changed:
        return locked
    locked.version += 1
    locked.full_clean()
    locked.save()
    record_event(
        actor=actor, action="imaging.settings", obj=locked, project=project, changes=changed
    )
    return locked
