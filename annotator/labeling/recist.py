"""RECIST 1.1 target-lesion response from per-time-point lesion diameters (pure, no database).

The sum of diameters adds the long axis of every non-nodal target and the short axis of every
nodal target. Each follow-up is compared with the baseline (the first time point) and with the
nadir (the smallest sum at any earlier evaluable time point, baseline included):

- CR: every non-nodal target measures 0 mm and every nodal target's short axis is < 10 mm.
- PD: the sum grew by >= 20 % over the nadir and by >= 5 mm in absolute terms.
- PR: the sum shrank by >= 30 % from the baseline.
- SD: none of the above.
- NE: a target lesion has no (usable) measurement at that time point, or the baseline is
  incomplete.

CR is decided first (nodes under 10 mm are normal, so growth among them is not progression),
then PD (progression wins over a decrease from the baseline), then PR. The baseline gets no
category. Non-target lesions are listed, never summed.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MAX_TARGETS = 5
NODE_NORMAL_MM = 10.0
PR_DECREASE = 0.30
PD_INCREASE = 0.20
PD_ABSOLUTE_MM = 5.0
# Diameters are floats; thresholds are met when reached within this tolerance (in mm).
_TOLERANCE_MM = 1e-6


class Response(StrEnum):
    """RECIST 1.1 target-lesion response categories."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"


@dataclass(frozen=True)
class TimePoint:
    """One examination (study) of the patient."""

    study_id: int
    date: date | None


@dataclass(frozen=True)
class Diameters:
    """A lesion measured at one time point, in millimetres."""

    long_axis_mm: float
    short_axis_mm: float | None = None


@dataclass(frozen=True)
class Lesion:
    """One tracked lesion with its measurements by study id."""

    track_id: int
    name: str
    nodal: bool
    target: bool
    values: Mapping[int, Diameters]


@dataclass(frozen=True)
class LesionAtTimePoint:
    """A lesion's measurement at one time point and the diameter that counts toward the sum."""

    track_id: int
    name: str
    nodal: bool
    target: bool
    long_axis_mm: float | None
    short_axis_mm: float | None
    counted_mm: float | None


@dataclass(frozen=True)
class TimePointResult:
    """The sum of diameters at one time point and its response against baseline and nadir."""

    study_id: int
    date: date | None
    baseline: bool
    lesions: tuple[LesionAtTimePoint, ...]
    sum_mm: float | None
    nadir_mm: float | None
    change_from_baseline_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_mm: float | None
    change_from_nadir_pct: float | None
    response: Response | None
    missing: tuple[int, ...]


@dataclass(frozen=True)
class RecistResult:
    """Every time point in order, the non-target lesions, and what to be careful about."""

    time_points: tuple[TimePointResult, ...]
    target_ids: tuple[int, ...]
    non_target_ids: tuple[int, ...]
    warnings: tuple[str, ...]


def counted_diameter(lesion: Lesion, value: Diameters | None) -> float | None:
    """Return the diameter a target lesion adds to the sum, or None when it cannot be counted."""
    if value is None:
        return None
    axis = value.short_axis_mm if lesion.nodal else value.long_axis_mm
    if axis is None or not math.isfinite(axis) or axis < 0:
        return None
    return axis


def _reached(amount: float, threshold: float) -> bool:
    return amount >= threshold - _TOLERANCE_MM


def _pct(change: float, reference: float) -> float | None:
    return None if reference <= 0 else change / reference * 100.0


def _complete_response(targets: Sequence[Lesion], values: Mapping[int, float]) -> bool:
    for lesion in targets:
        value = values[lesion.track_id]
        if lesion.nodal:
            if value >= NODE_NORMAL_MM - _TOLERANCE_MM:
                return False
        elif value > _TOLERANCE_MM:
            return False
    return True


def classify(
    *,
    targets: Sequence[Lesion],
    values: Mapping[int, float],
    baseline_mm: float,
    nadir_mm: float,
    after_complete_response: bool = False,
) -> Response:
    """Return the response of a complete follow-up (every target counted) against baseline and
    nadir sums. A target that reappears after a complete response is progression."""
    total = sum(values[lesion.track_id] for lesion in targets)
    if _complete_response(targets, values):
        return Response.CR
    if after_complete_response:
        return Response.PD
    growth = total - nadir_mm
    if _reached(growth, PD_ABSOLUTE_MM) and _reached(growth, PD_INCREASE * nadir_mm):
        return Response.PD
    if baseline_mm > 0 and _reached(baseline_mm - total, PR_DECREASE * baseline_mm):
        return Response.PR
    return Response.SD


def _ordered(time_points: Sequence[TimePoint], warnings: list[str]) -> list[TimePoint]:
    if all(point.date is not None for point in time_points):
        return sorted(time_points, key=lambda p: (p.date, p.study_id))
    undated = [str(p.study_id) for p in time_points if p.date is None]
    warnings.append(
        f"Studies {', '.join(undated)} have no date; time points are taken in the order given."
    )
    return list(time_points)


def _check_lesions(
    targets: Sequence[Lesion], non_targets: Sequence[Lesion], warnings: list[str]
) -> None:
    if not targets:
        warnings.append("No target lesions: there is no sum of diameters to follow.")
    if len(targets) > MAX_TARGETS:
        warnings.append(
            f"RECIST 1.1 allows at most {MAX_TARGETS} target lesions (2 per organ); "
            f"{len(targets)} are marked as targets and all of them are summed."
        )
    if non_targets:
        names = ", ".join(lesion.name for lesion in non_targets)
        warnings.append(
            f"Non-target lesions ({names}) are listed but not summed; "
            "assess their progression separately."
        )


def _measure(
    point: TimePoint, lesions: Sequence[Lesion], warnings: list[str]
) -> tuple[list[LesionAtTimePoint], dict[int, float], list[int]]:
    """Return every lesion's row at a time point, the counted target diameters, and the ids of
    targets that cannot be counted."""
    rows: list[LesionAtTimePoint] = []
    counted: dict[int, float] = {}
    missing: list[int] = []
    for lesion in lesions:
        value = lesion.values.get(point.study_id)
        diameter = counted_diameter(lesion, value) if lesion.target else None
        if lesion.target and diameter is None:
            missing.append(lesion.track_id)
            if value is not None:
                warnings.append(
                    f"Target {lesion.name} has no usable "
                    f"{'short' if lesion.nodal else 'long'} axis at study {point.study_id}."
                )
        elif diameter is not None:
            counted[lesion.track_id] = diameter
        rows.append(
            LesionAtTimePoint(
                track_id=lesion.track_id,
                name=lesion.name,
                nodal=lesion.nodal,
                target=lesion.target,
                long_axis_mm=value.long_axis_mm if value else None,
                short_axis_mm=value.short_axis_mm if value else None,
                counted_mm=diameter,
            )
        )
    return rows, counted, missing


def _change(total: float | None, reference: float | None) -> tuple[float | None, float | None]:
    if total is None or reference is None:
        return None, None
    return total - reference, _pct(total - reference, reference)


def evaluate(*, time_points: Sequence[TimePoint], lesions: Sequence[Lesion]) -> RecistResult:
    """Compute sums of diameters, changes and the response category at every time point.

    Time points are ordered by date (in the given order when a date is missing); the first is
    the baseline. A study id given twice counts once.
    """
    warnings: list[str] = []
    unique: dict[int, TimePoint] = {}
    for point in time_points:
        unique.setdefault(point.study_id, point)
    ordered = _ordered(list(unique.values()), warnings)
    targets = [lesion for lesion in lesions if lesion.target]
    non_targets = [lesion for lesion in lesions if not lesion.target]
    _check_lesions(targets, non_targets, warnings)

    results: list[TimePointResult] = []
    baseline_mm: float | None = None
    nadir_mm: float | None = None
    had_complete_response = False
    for index, point in enumerate(ordered):
        rows, counted, missing = _measure(point, lesions, warnings)
        total = sum(counted.values()) if targets and not missing else None
        if index == 0:
            if targets and missing:
                warnings.append(
                    "The baseline lacks a usable measurement of a target lesion; follow-ups "
                    "cannot be compared with it."
                )
            baseline_mm = nadir_mm = total
            results.append(
                TimePointResult(
                    study_id=point.study_id,
                    date=point.date,
                    baseline=True,
                    lesions=tuple(rows),
                    sum_mm=total,
                    nadir_mm=None,
                    change_from_baseline_mm=None,
                    change_from_baseline_pct=None,
                    change_from_nadir_mm=None,
                    change_from_nadir_pct=None,
                    response=None,
                    missing=tuple(missing),
                )
            )
            continue
        response: Response | None = None
        if targets:
            response = (
                Response.NE
                if total is None or baseline_mm is None or nadir_mm is None
                else classify(
                    targets=targets,
                    values=counted,
                    baseline_mm=baseline_mm,
                    nadir_mm=nadir_mm,
                    after_complete_response=had_complete_response,
                )
            )
            had_complete_response = had_complete_response or response == Response.CR
        from_baseline_mm, from_baseline_pct = _change(total, baseline_mm)
        from_nadir_mm, from_nadir_pct = _change(total, nadir_mm)
        results.append(
            TimePointResult(
                study_id=point.study_id,
                date=point.date,
                baseline=False,
                lesions=tuple(rows),
                sum_mm=total,
                nadir_mm=nadir_mm,
                change_from_baseline_mm=from_baseline_mm,
                change_from_baseline_pct=from_baseline_pct,
                change_from_nadir_mm=from_nadir_mm,
                change_from_nadir_pct=from_nadir_pct,
                response=response,
                missing=tuple(missing),
            )
        )
        if total is not None and nadir_mm is not None:
            nadir_mm = min(nadir_mm, total)
    return RecistResult(
        time_points=tuple(results),
        target_ids=tuple(lesion.track_id for lesion in targets),
        non_target_ids=tuple(lesion.track_id for lesion in non_targets),
        warnings=tuple(warnings),
    )
