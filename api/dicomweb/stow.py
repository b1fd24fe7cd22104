"""STOW-RS: store instances sent as multipart/related; type="application/dicom" (PS3.18 10.5).

Each part is spooled to a temporary file and fed to the project's `Ingestor` (the door every
import goes through) before the next part is read, so memory stays bounded. The answer is a
Store Instances Response in application/dicom+json:

* ReferencedSOPSequence lists stored instances and duplicates (same UID, same content: not
  stored twice) with their RetrieveURL. When the project de-identifies, the stored UIDs differ
  from the sent ones (they are remapped deterministically under the project's secret): this
  sequence reports the **stored** UIDs, the ones to retrieve with.
* FailedSOPSequence lists the parts not stored, with the UIDs as sent (when readable) and a
  FailureReason (PS3.18 Table I.2-2, plus 0x0111 from the DIMSE Storage status codes):

  ================================================  =======================================
  why                                               FailureReason
  ================================================  =======================================
  conflict: same SOP Instance UID, other content    0x0111 (273) duplicate SOP instance
  studies/{study} but the part is of another study  0xA900 (43264) data set does not match
  part above IMAGING_MAX_FILE_BYTES, or body above  0xA700 (42752) out of resources
  IMAGING_MAX_UPLOAD_BYTES (chunked bodies only)
  unsupported_transfer_syntax                       0xC122 (49442) transfer syntax not supported
  unsupported_sop_class                             0x0122 (290) SOP class not supported
  mixed_frame_of_reference, an unexpected error     0x0110 (272) processing failure
  anything else (not_dicom, empty_file, truncated,  0xC000 (49152) cannot understand
  missing_uid, invalid_uid, no_pixel_data,
  undecodable_pixels, a part that is not
  application/dicom, a body cut short)
  ================================================  =======================================

HTTP status: 200 when every part was stored or referenced, 202 when some failed, 409 when none
was stored; 400 for a body that is not multipart, 413 for a Content-Length above the limit,
415 for another media type (metadata + bulk data STOW is not supported).
"""

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pydicom
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.imaging.deid import remap_uid
from annotator.imaging.dicomweb import DICOM, json_attribute
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Instance
from annotator.imaging.services import queue_volume_builds
from annotator.projects.access import Action
from annotator.projects.models import Project
from api.auth import request_user
from api.dicomweb.base import (
    DicomWebView,
    LengthRequired,
    PayloadTooLarge,
    dicom_json_response,
    instance_url,
)
from api.dicomweb.multipart import (
    BodyPart,
    BodyTooLargeError,
    LimitedReader,
    MultipartError,
    Readable,
    iter_parts,
)
from api.dicomweb.negotiation import parse_media_type, require_json
from api.dicomweb.wado import accept_ranges
from api.permissions import require_action

logger = logging.getLogger(__name__)
DUPLICATE_CONFLICT = 0x0111
PROCESSING_FAILURE = 0x0110
OUT_OF_RESOURCES = 0xA700
STUDY_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
FAILURE_REASONS = {
    "conflict": DUPLICATE_CONFLICT,
    "unsupported_transfer_syntax": 0xC122,
    "unsupported_sop_class": 0x0122,
    "mixed_frame_of_reference": PROCESSING_FAILURE,
}
LOOKUP_BATCH = 1000


@dataclass
class StoreResult:
    """Stored UIDs per part (in order) and failures as (sent class, sent instance, reason)."""

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, int]] = field(default_factory=list)


def request_body(request: HttpRequest, limit: int) -> Readable:
    """Return the request body as a stream of at most `limit` bytes.

    Raises:
        PayloadTooLarge: Content-Length above `limit`.
        LengthRequired: a chunked body the server does not de-chunk (runserver).
        ParseError: a malformed Content-Length.
    """
    length = request.META.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError as error:
            raise exceptions.ParseError("Malformed Content-Length.") from error
        if size > limit:
            raise PayloadTooLarge()
        return request
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        if request.META.get("wsgi.input_terminated"):  # gunicorn de-chunks for us
            return LimitedReader(request.META["wsgi.input"], limit)
        raise LengthRequired()
    return io.BytesIO()


def _sent_uids(fp: IO[bytes]) -> tuple[str, str, str]:
    """Return (SOP Class, SOP Instance, Study Instance) UIDs as sent, "" where unreadable."""
    try:
        ds = pydicom.dcmread(
            fp,
            stop_before_pixels=True,
            force=True,
            specific_tags=["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"],
        )
        sop_class, sop_instance, study = (
            str(ds.get(k, "") or "")[:64]
            for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID")
        )
        return sop_class, sop_instance, study
    except Exception:  # an unreadable part is reported by the ingest itself
        return "", "", ""
    finally:
        fp.seek(0)


class _Store:
    """Feed parts to an ingestor and collect what happened to each."""

    def __init__(self, ingestor: Ingestor, study: str | None) -> None:
        self.ingestor = ingestor
        self.study = study
        self.result = StoreResult()

    def same_study(self, sent: str) -> bool:
        if self.study is None or not sent or sent == self.study:
            return True
        settings_ = self.ingestor.settings
        return settings_.deidentify and remap_uid(sent, secret=self.ingestor.secret) == self.study

    def add(self, part: BodyPart) -> None:
        failed = self.result.failed
        if part.content_type not in ("", DICOM):
            failed.append(("", "", CANNOT_UNDERSTAND))
            return
        if part.too_large:
            failed.append(("", "", OUT_OF_RESOURCES))
            return
        sop_class, sop_instance, study = _sent_uids(part.file)
        if not self.same_study(study):
            failed.append((sop_class, sop_instance, STUDY_MISMATCH))
            return
        try:
            outcome = self.ingestor.add(
                name=f"stow-part-{part.index + 1}", fp=part.file, size=part.size
            )
        except Exception:
            logger.exception(
                "STOW part %s into project %s failed", part.index + 1, self.ingestor.project.pk
            )
            failed.append((sop_class, sop_instance, PROCESSING_FAILURE))
            return
        if outcome.status in ("accepted", "duplicate"):
            self.result.stored.append(outcome.sop_instance_uid)
        else:
            reason = FAILURE_REASONS.get(
                outcome.status if outcome.status == "conflict" else outcome.code, CANNOT_UNDERSTAND
            )
            failed.append((sop_class, sop_instance, reason))


def store_parts(
    *, project: Project, actor: User, parts: Iterator[BodyPart], study: str | None
) -> StoreResult:
    """Ingest every part, then record the import and queue volume builds.

    Raises:
        MultipartError: the body is malformed before any part was read.
        BodyTooLargeError: the body overflowed before any part was read.
    """
    store = _Store(Ingestor(project=project, actor=actor, source="stow"), study)
    ingestor = store.ingestor
    try:
        try:
            for part in parts:
                store.add(part)
        except (MultipartError, BodyTooLargeError) as error:
            if not (store.result.stored or store.result.failed):
                raise
            reason = OUT_OF_RESOURCES if isinstance(error, BodyTooLargeError) else CANNOT_UNDERSTAND
            store.result.failed.append(("", "", reason))
        report = ingestor.finish()
    except BaseException:
        ingestor.abandon()
        raise
    record_event(
        actor=actor,
        action="imaging.stow",
        obj=project,
        project=project,
        changes={
            "accepted": [None, report.accepted],
            "duplicates": [None, report.duplicates],
            "failed": [None, len(store.result.failed)],
        },
    )
    queue_volume_builds(series_ids=sorted(ingestor.touched))
    return store.result


def _stored(project: Project, uids: list[str]) -> dict[str, tuple[str, str, str]]:
    """Return {SOP Instance UID: (class, series UID, study UID)} of stored instances."""
    found: dict[str, tuple[str, str, str]] = {}
    unique = sorted(set(uids))
    for start in range(0, len(unique), LOOKUP_BATCH):
        rows: QuerySet[Instance, tuple[str, str, str, str]] = Instance.objects.filter(
            project=project,
            sop_instance_uid__in=unique[start : start + LOOKUP_BATCH],
        ).values_list(
            "sop_instance_uid",
            "sop_class_uid",
            "series__series_instance_uid",
            "series__study__study_instance_uid",
        )
        for uid, sop_class, series, study in rows:
            found[uid] = (sop_class, series, study)
    return found


def store_response(project: Project, result: StoreResult, studies_url: str) -> dict[str, Any]:
    """Build the Store Instances Response dataset (DICOM JSON)."""
    stored = _stored(project, result.stored)
    referenced, studies = [], set()
    for uid in result.stored:
        sop_class, series, study = stored.get(uid, ("", "", ""))
        studies.add(study)
        referenced.append(
            {
                "00081150": json_attribute("UI", sop_class),
                "00081155": json_attribute("UI", uid),
                "00081190": json_attribute("UR", instance_url(studies_url, study, series, uid)),
            }
        )
    failed = [
        {
            "00081150": json_attribute("UI", sop_class),
            "00081155": json_attribute("UI", sop_instance),
            "00081197": json_attribute("US", reason),
        }
        for sop_class, sop_instance, reason in result.failed
    ]
    data: dict[str, Any] = {}
    if len(studies) == 1:
        data["00081190"] = json_attribute("UR", f"{studies_url}/{studies.pop()}")
    if failed:
        data["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        data["00081199"] = {"vr": "SQ", "Value": referenced}
    return data


class StoreView(DicomWebView):
    """POST /studies or /studies/{study}: STOW-RS (needs the import right)."""

    def post(self, request: Request, project_pk: int, study: str | None = None) -> HttpResponse:
        project = self.get_project()
        require_action(request, project, Action.IMPORT_DATA)
        require_json(accept_ranges(request))
        media_type, params = parse_media_type(request.META.get("CONTENT_TYPE", ""))
        part_type = params.get("type", DICOM).lower()
        if media_type != "multipart/related" or part_type != DICOM:
            raise exceptions.UnsupportedMediaType(
                media_type, 'Send multipart/related; type="application/dicom".'
            )
        body = request_body(request._request, settings.IMAGING_MAX_UPLOAD_BYTES)
        parts = iter_parts(
            body,
            params.get("boundary", ""),
            max_part_bytes=settings.IMAGING_MAX_FILE_BYTES,
            spool_bytes=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            temp_dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        try:
            result = store_parts(
                project=project, actor=request_user(request), parts=parts, study=study
            )
        except MultipartError as error:
            raise exceptions.ParseError(str(error)) from error
        except BodyTooLargeError as error:
            raise PayloadTooLarge() from error
        if not (result.stored or result.failed):
            raise exceptions.ParseError("The body has no parts.")
        status = 200 if not result.failed else 202 if result.stored else 409
        return dicom_json_response(
            store_response(project, result, self.studies_url(project)), status=status
        )
