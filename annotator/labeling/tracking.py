"""Lesion tracks: one patient's lesion followed across studies, a measurement per time point,
and the RECIST 1.1 evaluation of the patient (annotator/labeling/recist.py does the arithmetic).

A measurement copies the diameters the server computed for a length or bidirectional finding
(or takes them by hand for a lesion measured elsewhere), so later edits of the finding do not
change a stored time point until it is measured again.
"""

import math
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.accounts.models import User
from annotator.audit.services import diff, record_event, snapshot
from annotator.core.errors import NotFoundError
from annotator.core.versions import lock_version
from annotator.imaging.models import Patient, Study
from annotator.labeling.errors import (
    DuplicateTrackError,
    InvalidMeasurementError,
    InvalidTrackError,
    NotAllowedError,
)
from annotator.labeling.models import Annotation, LesionMeasurement, LesionTrack
from annotator.projects.access import Action, can, require
from annotator.projects.models import Project

TRACK_FIELDS = ["name", "nodal", "target"]
MEASUREMENT_FIELDS = ["annotation", "long_axis_mm", "short_axis_mm", "created_by"]
MEASURED_KINDS = ("length", "bidirectional")
# Larger than any lesion a body holds; catches centimetres or micrometres typed as millimetres.
MAX_DIAMETER_MM = 1000.0


@dataclass(frozen=True)
class MeasurementSaved:
    """The stored measurement and whether it replaced an earlier one of the same study."""

    measurement: LesionMeasurement
    replaced: bool


# --- tracks -------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidTrackError("Give the lesion a name.", field="name")
    return cleaned


def _require_unique_name(
    patient_id: int, owner_id: int | None, name: str, exclude: int | None = None
) -> None:
    clash = LesionTrack.objects.filter(patient_id=patient_id, created_by_id=owner_id, name=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise DuplicateTrackError(
            f"You already track a lesion of this patient named {name!r}.", field="name"
        )


def _save_track(track: LesionTrack) -> None:
    track.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            track.save()
    except IntegrityError as error:  # a concurrent create/rename took the name
        raise DuplicateTrackError(
            f"This patient already has a lesion named {track.name!r}.", field="name"
        ) from error


@transaction.atomic
def create_track(
    *,
    project: Project,
    patient: Patient,
    actor: User,
    name: str,
    nodal: bool = False,
    target: bool = True,
) -> LesionTrack:
    """Start following a lesion of a patient.

    Raises:
        NotFoundError: the patient is not in the project.
        DuplicateTrackError: the patient has a lesion of that name.
    """
    require(user=actor, project=project, action=Action.ANNOTATE)
    if patient.project_id != project.pk:
        raise NotFoundError("No such patient.", field="patient")
    cleaned = _clean_name(name)
    _require_unique_name(patient.pk, actor.pk, cleaned)
    track = LesionTrack(
        project=project,
        patient=patient,
        name=cleaned,
        nodal=nodal,
        target=target,
        created_by=actor,
    )
    _save_track(track)
    record_event(
        actor=actor,
        action="lesion_track.create",
        obj=track,
        project=project,
        changes={k: [None, v] for k, v in snapshot(track, TRACK_FIELDS).items()},
    )
    return track


def _require_owner(track: LesionTrack, actor: User) -> None:
    """Tracks are a reader's own (blinding): others may change them only as reviewers."""
    if track.created_by_id != actor.pk and not can(
        user=actor, project=track.project, action=Action.REVIEW
    ):
        raise NotAllowedError("Only the reader who made this track (or a reviewer) may change it.")


def _lock_track(track: LesionTrack, expected_version: int | None) -> LesionTrack:
    return lock_version(
        LesionTrack.objects.select_related("project"),
        pk=track.pk,
        expected_version=expected_version,
        what=f"Lesion track {track.pk}",
    )


@transaction.atomic
def update_track(
    *,
    track: LesionTrack,
    actor: User,
    expected_version: int,
    name: str | None = None,
    nodal: bool | None = None,
    target: bool | None = None,
) -> LesionTrack:
    """Rename a track or change whether it is a lymph node or a target lesion.

    Raises:
        StaleVersionError: the track changed since `expected_version`.
        DuplicateTrackError: the patient has another lesion of the new name.
    """
    require(user=actor, project=track.project, action=Action.ANNOTATE)
    locked = _lock_track(track, expected_version)
    _require_owner(locked, actor)
    before = snapshot(locked, TRACK_FIELDS)
    if name is not None:
        locked.name = _clean_name(name)
        _require_unique_name(
            locked.patient_id, locked.created_by_id, locked.name, exclude=locked.pk
        )
    if nodal is not None:
        locked.nodal = nodal
    if target is not None:
        locked.target = target
    changes = diff(before, snapshot(locked, TRACK_FIELDS))
    if not changes:
        return locked
    locked.version += 1
    _save_track(locked)
    record_event(
        actor=actor,
        action="lesion_track.update",
        obj=locked,
        project=locked.project,
        changes=changes,
    )
    return locked


@transaction.atomic
def delete_track(*, track: LesionTrack, actor: User, expected_version: int | None = None) -> None:
    """Stop following a lesion; its measurements go with it (the findings stay).

    Raises:
        StaleVersionError: `expected_version` is given and the track changed since.
    """
    require(user=actor, project=track.project, action=Action.ANNOTATE)
    locked = _lock_track(track, expected_version)
    _require_owner(locked, actor)
    record_event(
        actor=actor,
        action="lesion_track.delete",
        obj=locked,
        project=locked.project,
        changes={
            "name": [locked.name, None],
            "measurements": [locked.measurements.count(), None],
        },
    )
    locked.delete()


# --- measurements -------------------------------------------------------------------------------


def _diameter(value: object, what: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMeasurementError(f"The {what} is not a number.", field=field)
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InvalidMeasurementError(f"The {what} must be 0 mm or more.", field=field)
    if number > MAX_DIAMETER_MM:
        raise InvalidMeasurementError(
            f"The {what} of {number:g} mm is larger than {MAX_DIAMETER_MM:g} mm; "
            "diameters are in millimetres.",
            field=field,
        )
    return number


def _check_axes(track: LesionTrack, long_axis: float, short_axis: float | None) -> None:
    if short_axis is not None and short_axis > long_axis:
        raise InvalidMeasurementError(
            "The short axis cannot be longer than the long axis.", field="short_axis_mm"
        )
    if track.nodal and short_axis is None:
        raise InvalidMeasurementError(
            "A lymph node counts by its short axis; measure it bidirectionally.",
            field="short_axis_mm",
        )


def _check_study(track: LesionTrack, study: Study, field: str) -> None:
    if study.project_id != track.project_id:
        raise NotFoundError("No such study.", field=field)
    if study.patient_id != track.patient_id:
        raise InvalidMeasurementError(
            f"Study {study.pk} is of another patient than lesion {track.name!r}.", field=field
        )


def _store(
    track: LesionTrack,
    *,
    study: Study,
    actor: User,
    annotation: Annotation | None,
    long_axis: float,
    short_axis: float | None,
) -> MeasurementSaved:
    existing = (
        LesionMeasurement.objects.select_for_update().filter(track=track, study=study).first()
    )
    measurement = existing or LesionMeasurement(track=track, study=study)
    before = snapshot(measurement, MEASUREMENT_FIELDS) if existing else {}
    measurement.annotation = annotation
    measurement.long_axis_mm = long_axis
    measurement.short_axis_mm = short_axis
    measurement.created_by = actor
    if existing:
        measurement.created_at = timezone.now()  # when this time point was last measured
    measurement.full_clean(validate_constraints=False)
    measurement.save()
    changes = diff(before, snapshot(measurement, MEASUREMENT_FIELDS))
    changes["study"] = [study.pk if existing else None, study.pk]
    record_event(
        actor=actor,
        action="lesion_measurement.replace" if existing else "lesion_measurement.add",
        obj=measurement,
        project=track.project,
        changes=changes,
    )
    return MeasurementSaved(measurement=measurement, replaced=existing is not None)


@transaction.atomic
def add_measurement(*, track: LesionTrack, annotation: Annotation, actor: User) -> MeasurementSaved:
    """Record a length or bidirectional finding as the track's measurement on its study,
    replacing an earlier measurement of that study.

    Raises:
        NotFoundError: the finding is not in the track's project.
        InvalidMeasurementError: the finding is deleted, of another patient, of another kind,
            or has no computed diameters.
    """
    require(user=actor, project=track.project, action=Action.ANNOTATE)
    locked = _lock_track(track, None)
    _require_owner(locked, actor)
    if annotation.project_id != locked.project_id:
        raise NotFoundError("No such annotation.", field="annotation")
    if annotation.deleted:
        raise InvalidMeasurementError("The annotation is deleted.", field="annotation")
    if annotation.kind not in MEASURED_KINDS:
        raise InvalidMeasurementError(
            f"A {annotation.kind} finding has no diameters; use a length or bidirectional one.",
            field="annotation",
        )
    study = Study.objects.get(pk=annotation.study_id)
    _check_study(locked, study, "annotation")
    values = annotation.measurements or {}
    if annotation.kind == "length":
        long_axis = _diameter(values.get("length_mm"), "length", "annotation")
        short_axis = None
    else:
        long_axis = _diameter(values.get("long_axis_mm"), "long axis", "annotation")
        short_axis = _diameter(values.get("short_axis_mm"), "short axis", "annotation")
    _check_axes(locked, long_axis, short_axis)
    return _store(
        locked,
        study=study,
        actor=actor,
        annotation=annotation,
        long_axis=long_axis,
        short_axis=short_axis,
    )


@transaction.atomic
def add_manual_measurement(
    *,
    track: LesionTrack,
    study: Study,
    actor: User,
    long_axis_mm: float,
    short_axis_mm: float | None = None,
) -> MeasurementSaved:
    """Record diameters measured elsewhere (0 mm for a lesion that disappeared) as the track's
    measurement on a study, replacing an earlier one of that study.

    Raises:
        NotFoundError: the study is not in the track's project.
        InvalidMeasurementError: the study is of another patient, or the diameters are invalid.
    """
    require(user=actor, project=track.project, action=Action.ANNOTATE)
    locked = _lock_track(track, None)
    _require_owner(locked, actor)
    _check_study(locked, study, "study")
    long_axis = _diameter(long_axis_mm, "long axis", "long_axis_mm")
    short_axis = (
        None if short_axis_mm is None else _diameter(short_axis_mm, "short axis", "short_axis_mm")
    )
    _check_axes(locked, long_axis, short_axis)
    return _store(
        locked,
        study=study,
        actor=actor,
        annotation=None,
        long_axis=long_axis,
        short_axis=short_axis,
    )


@transaction.atomic
def remove_measurement(*, measurement: LesionMeasurement, actor: User) -> None:
    """Delete one time point's measurement of a track."""
    track = _lock_track(measurement.track, None)
    require(user=actor, project=track.project, action=Action.ANNOTATE)
    _require_owner(track, actor)
    record_event(
        actor=actor,
        action="lesion_measurement.remove",
        obj=measurement,
        project=track.project,
        changes={
            "study": [measurement.study_id, None],
            "long_axis_mm": [measurement.long_axis_mm, None],
            "short_axis_mm": [measurement.short_axis_mm, None],
        },
    )
    measurement.delete()
