"""Import existing labels of a series as a mask annotation with source "import".

Formats, told apart by content (never by file name): DICOM SEG (`import_seg`), RT Structure
Set contours rasterized onto the series (`import_rtstruct`) and NIfTI label maps, plain or
gzipped (`import_nifti`). Every reader places the labels on the voxel grid of the series' main
stack and refuses, with the reason, anything that does not lie on it. Each source segment then
becomes one segment of a new mask annotation in the task's "import" set, labelled with a mask
label of the schema. Nothing is stored when anything is refused.
"""

import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pydicom
from django.db import transaction
from pydicom.errors import InvalidDicomError

from annotator.accounts.models import User
from annotator.audit.services import record_event
from annotator.imaging.geometry import StackGeometry
from annotator.imaging.models import Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.annotations import create_annotation
from annotator.labeling.errors import ImportRejectedError
from annotator.labeling.import_nifti import NIFTI2_HEADER_SIZE, nifti_version, read_nifti
from annotator.labeling.import_rtstruct import RTSTRUCT_SOP_CLASS_UID, read_rtstruct
from annotator.labeling.import_seg import SEG_SOP_CLASS_UID, SourceSegments, read_seg
from annotator.labeling.masks import write_segments
from annotator.labeling.models import Annotation, AnnotationSet, LabelingTask, SetKind, Source
from annotator.projects.access import Action, require
from annotator.projects.schema import LabelKind
from annotator.projects.selectors import get_current_label_schema

#: Largest label file accepted (the API answers 413 above it).
MAX_IMPORT_BYTES = 512 * 1024 * 1024
#: Largest NIfTI accepted after gunzip (a 512 x 512 x 300 int16 map is 150 MiB).
MAX_INFLATED_BYTES = 2 * 1024 * 1024 * 1024
MAX_SEGMENTS = 255
_GZIP_MAGIC = b"\x1f\x8b"


class LabelFormat(StrEnum):
    """The label file formats that can be imported."""

    SEG = "seg"
    RTSTRUCT = "rtstruct"
    NIFTI = "nifti"

    @property
    def display_name(self) -> str:
        """Return the format's name for messages."""
        return _TITLES[self]


_TITLES = {
    LabelFormat.SEG: "DICOM SEG",
    LabelFormat.RTSTRUCT: "DICOM RT Structure Set",
    LabelFormat.NIFTI: "NIfTI label map",
}


@dataclass(frozen=True)
class ImportedSegment:
    """One source segment as stored: its number in the annotation and where it came from."""

    number: int
    label: str
    source_number: int
    source_name: str
    voxels: int


@dataclass(frozen=True)
class LabelImport:
    """The annotation an import made, the file's format and its segments."""

    annotation: Annotation
    format: LabelFormat
    segments: tuple[ImportedSegment, ...]


# --- reading ------------------------------------------------------------------------------------


def detect_format(data: bytes) -> LabelFormat:
    """Return the format of a label file from its content (DICOM header, NIfTI magic, gzip).

    Raises:
        ImportRejectedError: none of the importable formats.
    """
    return _identify(data)[0]


def read_labels(*, data: bytes, geometry: StackGeometry) -> tuple[LabelFormat, SourceSegments]:
    """Return the file's format and its (source number, name, bool volume [k, j, i]) segments.

    Raises:
        ImportRejectedError: unknown format, unreadable file, or labels off the stack's grid.
    """
    label_format, dataset = _identify(data)
    if label_format == LabelFormat.NIFTI:
        return label_format, read_nifti(gunzip_bounded(data), geometry)
    if label_format == LabelFormat.SEG:
        return label_format, read_seg(dataset, geometry)
    return label_format, read_rtstruct(dataset, geometry)


def _identify(data: bytes) -> tuple[LabelFormat, Any]:
    """Return the format and, for DICOM, the parsed dataset (None for NIfTI)."""
    head = data[:NIFTI2_HEADER_SIZE]
    if data[:2] == _GZIP_MAGIC:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, NIFTI2_HEADER_SIZE)
        except zlib.error as exc:
            raise ImportRejectedError("The gzip file is damaged.") from exc
        if nifti_version(head) is None:
            raise ImportRejectedError("A gzip file must hold a NIfTI image (.nii.gz).")
        return LabelFormat.NIFTI, None
    if nifti_version(head) is not None:
        return LabelFormat.NIFTI, None
    dataset = _read_dicom(data)
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class == SEG_SOP_CLASS_UID:
        return LabelFormat.SEG, dataset
    if sop_class == RTSTRUCT_SOP_CLASS_UID:
        return LabelFormat.RTSTRUCT, dataset
    raise ImportRejectedError(
        f"The DICOM file is a {dataset.get('Modality') or 'non-label'} object "
        f"(SOP class {sop_class or 'missing'}); import a DICOM SEG or RT Structure Set."
    )


def _read_dicom(data: bytes) -> Any:
    has_preamble = data[128:132] == b"DICM"
    # Without the Part 10 preamble, only a stream that starts with a group 0002 or 0008 tag is
    # worth parsing: `force` would read anything.
    if not has_preamble and data[:2] not in (b"\x02\x00", b"\x08\x00"):
        raise ImportRejectedError(
            "Unrecognized file: import a DICOM SEG, a DICOM RT Structure Set or a NIfTI label "
            "map (.nii or .nii.gz)."
        )
    try:
        return pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ImportRejectedError(
            f"The DICOM file could not be read ({type(exc).__name__})."
        ) from exc


def gunzip_bounded(data: bytes) -> bytes:
    """Return gzip data inflated (other data as is), refusing more than MAX_INFLATED_BYTES."""
    if data[:2] != _GZIP_MAGIC:
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data, MAX_INFLATED_BYTES + 1)
    except zlib.error as exc:
        raise ImportRejectedError("The gzip file is damaged.") from exc
    if len(inflated) > MAX_INFLATED_BYTES:
        raise ImportRejectedError(
            f"The NIfTI image is larger than {MAX_INFLATED_BYTES >> 20} MiB uncompressed."
        )
    if not inflater.eof:
        raise ImportRejectedError("The gzip file is truncated.")
    return inflated


# --- labels -------------------------------------------------------------------------------------


def map_segments(
    *,
    sources: Sequence[tuple[int, str]],
    labels: Sequence[Mapping[str, Any]],
    label_map: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the mask label key of each (source number, source name), in order.

    `label_map` ({source name or number: label key}) is tried first, then a case-insensitive
    match of the source name with a mask label's key, then with its name.

    Raises:
        ImportRejectedError: a mapping names no mask label or no source segment, or a segment
            stays unmapped (the reason lists the mask labels).
    """
    masks = {str(label["key"]): label for label in labels if label["kind"] == LabelKind.MASK}
    available = ", ".join(f"{key} ({label.get('name') or key})" for key, label in masks.items())
    explicit = {str(k).strip(): str(v) for k, v in (label_map or {}).items()}
    wrong = sorted(key for key in set(explicit.values()) if key not in masks)
    if wrong:
        raise ImportRejectedError(
            f"label_map names {', '.join(wrong)}, not mask labels of this project; mask labels: "
            f"{available or 'none'}.",
            field="label_map",
        )
    known = {str(number) for number, _ in sources} | {name for _, name in sources}
    known_lower = {name.casefold() for name in known}
    unused = sorted(
        key for key in explicit if key not in known and key.casefold() not in known_lower
    )
    if unused:
        described = ", ".join(f"{number} '{name}'" for number, name in sources)
        raise ImportRejectedError(
            f"label_map names {', '.join(repr(k) for k in unused)}, which the file does not "
            f"hold; its segments: {described}.",
            field="label_map",
        )
    explicit_lower = {key.casefold(): value for key, value in explicit.items()}
    by_name: dict[str, str] = {key.casefold(): key for key in masks}
    for key, label in masks.items():
        by_name.setdefault(str(label.get("name") or "").strip().casefold(), key)
    chosen: list[str] = []
    missing: list[str] = []
    for number, name in sources:
        found = (
            explicit.get(str(number))
            or explicit.get(name)
            or explicit_lower.get(name.strip().casefold())
            or by_name.get(name.strip().casefold())
        )
        if found is None:
            missing.append(f"{number} '{name}'")
        chosen.append(found or "")
    if missing:
        raise ImportRejectedError(
            f"No mask label for segment(s) {', '.join(missing)}. Map them with label_map "
            f"({{source name or number: label key}}); mask labels: {available or 'none'}.",
            field="label_map",
        )
    return chosen


# --- the service --------------------------------------------------------------------------------


def import_labels(
    *,
    task: LabelingTask,
    actor: User,
    name: str,
    data: bytes,
    label_map: dict[str, str] | None = None,
) -> Annotation:
    """Import a label file onto the task's series as a mask annotation (source "import").

    Raises:
        NotFoundError, PermissionDeniedError: the actor may not import data into the project.
        ImportRejectedError: see `import_label_file`.
    """
    return import_label_file(
        task=task, actor=actor, name=name, data=data, label_map=label_map
    ).annotation


def import_label_file(
    *,
    task: LabelingTask,
    actor: User,
    name: str,
    data: bytes,
    label_map: Mapping[str, str] | None = None,
) -> LabelImport:
    """Import a label file and report its segments; `name` (the file name) is never stored.

    Empty source segments are skipped. Nothing is stored when anything is refused.

    Raises:
        NotFoundError, PermissionDeniedError: the actor may not import data into the project.
        ImportRejectedError: the file is too large, of no importable format, off the series'
            grid, without labelled voxels, or its segments do not map to mask labels.
    """
    require(user=actor, project=task.project, action=Action.IMPORT_DATA)
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRejectedError(f"The file is larger than {MAX_IMPORT_BYTES >> 20} MiB.")
    stack = _main_stack(task)
    label_format, found = read_labels(data=data, geometry=stack_geometry(stack))
    found = [(number, source_name, mask) for number, source_name, mask in found if mask.any()]
    if not found:
        raise ImportRejectedError(f"The {label_format.display_name} holds no labelled voxels.")
    if len(found) > MAX_SEGMENTS:
        raise ImportRejectedError(
            f"The {label_format.display_name} holds {len(found)} segments; "
            f"at most {MAX_SEGMENTS} fit."
        )
    schema = get_current_label_schema(project=task.project)
    keys = map_segments(
        sources=[(number, source_name) for number, source_name, _ in found],
        labels=schema.labels,
        label_map=label_map,
    )
    segments = tuple(
        ImportedSegment(
            number=position,
            label=key,
            source_number=number,
            source_name=source_name,
            voxels=int(np.count_nonzero(mask)),
        )
        for position, (key, (number, source_name, mask)) in enumerate(
            zip(keys, found, strict=True), start=1
        )
    )
    with transaction.atomic():
        annotation_set = _import_set(task, actor)
        annotation = create_annotation(
            annotation_set=annotation_set,
            actor=actor,
            label_key=keys[0],
            data={
                "segments": [
                    {"number": s.number, "label": s.label, "attributes": {}} for s in segments
                ]
            },
            stack=stack,
            source=Source.IMPORT,
        )
        annotation = write_segments(
            annotation=annotation,
            actor=actor,
            expected_version=annotation.version,
            segments={s.number: mask for s, (_, _, mask) in zip(segments, found, strict=True)},
            source=Source.IMPORT,
            note=f"Imported from a {label_format.display_name}.",
        )
        record_event(
            actor=actor,
            action="annotation.import",
            obj=annotation,
            project=task.project,
            changes={
                "format": [None, label_format.value],
                "segments": [None, len(segments)],
                "version": [None, annotation.version],
            },
        )
    return LabelImport(annotation=annotation, format=label_format, segments=segments)


def _main_stack(task: LabelingTask) -> Stack:
    if task.series_id is None:
        raise ImportRejectedError(
            "Labels are imported onto a series; this task covers a whole study."
        )
    stack = Stack.objects.filter(series_id=task.series_id, index=0).first()
    if stack is None:
        raise ImportRejectedError("The series has no image stack to place labels on.")
    return stack


def _import_set(task: LabelingTask, actor: User) -> AnnotationSet:
    """Return the task's import set, creating it once (the task row lock serializes this)."""
    LabelingTask.objects.select_for_update().filter(pk=task.pk).values_list("pk").get()
    existing = AnnotationSet.objects.filter(task=task, kind=SetKind.IMPORT).order_by("pk").first()
    if existing is not None:
        return existing
    created = AnnotationSet(task=task, kind=SetKind.IMPORT, created_by=actor)
    created.full_clean()
    created.save()
    return created
