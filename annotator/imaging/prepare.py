"""The CPU-bound half of ingest, as a pure function that can run in another process:
parse, validate, de-identify, encode and digest one file. No Django, no database."""

import hashlib
import hmac
import io
import logging
from dataclasses import dataclass

from pydicom.dataset import Dataset

from annotator.imaging.deid import DeidOptions, burned_in_risk, deidentify
from annotator.imaging.dicom import (
    DicomHeader,
    RejectedFileError,
    extract_header,
    read_dataset,
    validate_dataset,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedFile:
    """A file ready to store (or the reason it cannot be); picklable between processes."""

    header: DicomHeader | None = None
    data: bytes = b""
    digest: str = ""
    pseudonym: str = ""
    original_patient_id: str = ""
    burned_in: bool = False
    rejection: tuple[str, str] | None = None  # (code, message)
    # Set instead of `data` when a pool process wrote the bytes to a spool file itself, so the
    # file never travels through a pipe (see pool.py); `size` is then its length.
    spooled: str = ""
    size: int = 0

    @property
    def stored_size(self) -> int:
        """Return the length of the bytes to store, wherever they are."""
        return self.size if self.spooled else len(self.data)


def dataset_body(raw: bytes) -> bytes:
    """Return a file's dataset bytes without preamble and file meta, so the same object sent
    by upload (Part 10) and by C-STORE (another meta) digests the same."""
    if len(raw) > 144 and raw[128:132] == b"DICM" and raw[132:136] == b"\x02\x00\x00\x00":
        group_length = int.from_bytes(raw[140:144], "little")
        return raw[144 + group_length :]
    return raw


def encode(ds: Dataset) -> bytes:
    """Write a dataset as a Part 10 file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def prepare_file(raw: bytes, *, secret: bytes, options: DeidOptions | None) -> PreparedFile:
    """Turn received bytes into what is stored: de-identified when `options` is given."""
    try:
        digest = hmac.new(secret, dataset_body(raw), hashlib.sha256).hexdigest()
        ds = read_dataset(io.BytesIO(raw), size=len(raw))
        is_image = validate_dataset(ds)
        original_patient_id = str(ds.get("PatientID", "") or "")
        flagged = burned_in_risk(ds)
        if options is not None:
            result = deidentify(ds, secret=secret, options=options)
            ds, pseudonym = result.dataset, result.pseudonym
            flagged = flagged or result.burned_in_risk
        else:
            pseudonym = original_patient_id or "UNKNOWN"
        return PreparedFile(
            header=extract_header(ds, is_image=is_image),
            data=encode(ds),
            digest=digest,
            pseudonym=pseudonym,
            original_patient_id=original_patient_id,
            burned_in=flagged,
        )
    except RejectedFileError as error:
        return PreparedFile(rejection=(error.code, error.message))
    except Exception as error:  # one file must never stop the batch
        # Only the type is logged: pydicom's exception texts can quote header values (PHI).
        logger.error("Preparing a file failed with %s", type(error).__name__)
        return PreparedFile(rejection=("processing_failed", "The file could not be processed."))
