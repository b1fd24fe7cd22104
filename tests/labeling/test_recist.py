"""RECIST 1.1 sums, changes against baseline and nadir, and response categories (pure)."""

from datetime import date

import pytest

from annotator.labeling.recist import Diameters, Lesion, Response, TimePoint, evaluate


def points(count: int) -> list[TimePoint]:
    """Return `count` time points, study ids 1.., three months apart."""
    return [TimePoint(study_id=n + 1, date=date(2024, 1 + 3 * n, 1)) for n in range(count)]


def lesion(
    track_id: int,
    *values: float | tuple[float, float] | None,
    nodal: bool = False,
    target: bool = True,
) -> Lesion:
    """A lesion measured at studies 1, 2, …: a number is a long axis, a pair long and short."""
    measured: dict[int, Diameters] = {}
    for study_id, value in enumerate(values, start=1):
        if value is None:
            continue
        if isinstance(value, tuple):
            measured[study_id] = Diameters(long_axis_mm=value[0], short_axis_mm=value[1])
        else:
            measured[study_id] = Diameters(long_axis_mm=value)
    return Lesion(
        track_id=track_id, name=f"L{track_id}", nodal=nodal, target=target, values=measured
    )


def responses(*lesions: Lesion) -> list[Response | None]:
    count = max(max(item.values, default=0) for item in lesions)
    result = evaluate(time_points=points(count), lesions=lesions)
    return [point.response for point in result.time_points]


def test_evaluate_sums_long_axis_of_lesions_and_short_axis_of_nodes() -> None:
    result = evaluate(
        time_points=points(1),
        lesions=[lesion(1, (30.0, 20.0)), lesion(2, (25.0, 15.0), nodal=True)],
    )
    [baseline] = result.time_points
    assert baseline.baseline is True
    assert baseline.sum_mm == pytest.approx(45.0)
    assert [row.counted_mm for row in baseline.lesions] == [30.0, 15.0]
    assert baseline.response is None
    assert baseline.change_from_baseline_pct is None


def test_evaluate_reports_change_against_baseline_and_nadir() -> None:
    result = evaluate(time_points=points(3), lesions=[lesion(1, 100.0, 50.0, 55.0)])
    third = result.time_points[2]
    assert third.sum_mm == pytest.approx(55.0)
    assert third.nadir_mm == pytest.approx(50.0)
    assert third.change_from_baseline_mm == pytest.approx(-45.0)
    assert third.change_from_baseline_pct == pytest.approx(-45.0)
    assert third.change_from_nadir_mm == pytest.approx(5.0)
    assert third.change_from_nadir_pct == pytest.approx(10.0)


def test_evaluate_partial_response_at_exactly_30_percent_decrease() -> None:
    assert responses(lesion(1, 60.0, 42.0), lesion(2, 40.0, 28.0)) == [None, Response.PR]


def test_evaluate_stable_just_under_30_percent_decrease() -> None:
    assert responses(lesion(1, 60.0, 42.0), lesion(2, 40.0, 28.1)) == [None, Response.SD]


def test_evaluate_partial_response_boundary_survives_float_rounding() -> None:
    # 10.1 - 7.07 < 0.3 * 10.1 in binary floating point, though it is exactly 30 %
    assert responses(lesion(1, 10.1, 7.07)) == [None, Response.PR]


def test_evaluate_progression_boundary_survives_float_rounding() -> None:
    # 30.12 - 25.1 < 0.2 * 25.1 in binary floating point, though it is exactly 20 %
    assert responses(lesion(1, 25.1, 30.12)) == [None, Response.PD]


def test_evaluate_progression_at_exactly_20_percent_and_5_mm_over_nadir() -> None:
    assert responses(lesion(1, 50.0, 60.0)) == [None, Response.PD]


def test_evaluate_stable_just_under_20_percent_increase() -> None:
    assert responses(lesion(1, 50.0, 59.9)) == [None, Response.SD]


def test_evaluate_20_percent_increase_under_5_mm_is_stable() -> None:
    # +24.5 % but only +4.9 mm
    assert responses(lesion(1, 20.0, 24.9)) == [None, Response.SD]


def test_evaluate_20_percent_increase_of_exactly_5_mm_is_progression() -> None:
    assert responses(lesion(1, 20.0, 25.0)) == [None, Response.PD]


def test_evaluate_measures_progression_from_nadir_after_a_decrease() -> None:
    # 60 is 40 % below the baseline but 20 % (10 mm) above the nadir of 50
    assert responses(lesion(1, 100.0, 50.0, 60.0)) == [None, Response.PR, Response.PD]


def test_evaluate_below_progression_from_nadir_keeps_partial_response() -> None:
    assert responses(lesion(1, 100.0, 50.0, 59.0)) == [None, Response.PR, Response.PR]


def test_evaluate_nadir_is_the_smallest_earlier_sum_not_the_last() -> None:
    result = evaluate(time_points=points(4), lesions=[lesion(1, 100.0, 50.0, 58.0, 61.0)])
    assert [p.nadir_mm for p in result.time_points] == [None, 100.0, 50.0, 50.0]
    assert [p.response for p in result.time_points] == [None, "PR", "PR", "PD"]


def test_evaluate_baseline_counts_as_nadir() -> None:
    assert responses(lesion(1, 40.0, 48.0)) == [None, Response.PD]


def test_evaluate_complete_response_needs_every_lesion_gone_and_nodes_under_10_mm() -> None:
    assert responses(lesion(1, 30.0, 0.0), lesion(2, (30.0, 20.0), (12.0, 9.9), nodal=True)) == [
        None,
        Response.CR,
    ]


def test_evaluate_node_of_10_mm_is_not_complete_response() -> None:
    assert responses(lesion(1, 30.0, 0.0), lesion(2, (30.0, 20.0), (12.0, 10.0), nodal=True)) == [
        None,
        Response.PR,
    ]


def test_evaluate_remaining_lesion_is_not_complete_response() -> None:
    assert responses(lesion(1, 30.0, 0.0), lesion(2, 10.0, 1.0)) == [None, Response.PR]


def test_evaluate_regrowth_from_zero_nadir_needs_5_mm() -> None:
    # nadir 0 without a complete response before (a node still >= 10 mm): the 5 mm rule holds
    node = (20.0, 12.0)
    assert responses(lesion(1, 10.0, 0.0, 5.0), lesion(2, node, node, node, nodal=True)) == [
        None,
        Response.PR,
        Response.PD,
    ]
    assert responses(lesion(1, 10.0, 0.0, 4.9), lesion(2, node, node, node, nodal=True)) == [
        None,
        Response.PR,
        Response.SD,  # 22 -> 12 -> 16.9 mm: +4.9 mm over the nadir is not yet progression
    ]


def test_evaluate_missing_target_is_not_evaluable() -> None:
    result = evaluate(
        time_points=points(3), lesions=[lesion(1, 50.0, None, 40.0), lesion(2, 50.0, 30.0, 40.0)]
    )
    ne = result.time_points[1]
    assert ne.response == Response.NE
    assert ne.sum_mm is None
    assert ne.missing == (1,)
    assert ne.change_from_baseline_pct is None
    # the unevaluable time point is no nadir: the last is compared with the baseline's 100
    assert result.time_points[2].nadir_mm == 100.0
    assert result.time_points[2].response == Response.SD


def test_evaluate_incomplete_baseline_makes_every_follow_up_not_evaluable() -> None:
    result = evaluate(
        time_points=points(3), lesions=[lesion(1, None, 40.0, 40.0), lesion(2, 50.0, 30.0, 20.0)]
    )
    assert [p.response for p in result.time_points] == [None, Response.NE, Response.NE]
    assert result.time_points[0].missing == (1,)
    assert any("baseline lacks" in warning for warning in result.warnings)


def test_evaluate_nodal_target_without_short_axis_is_not_evaluable() -> None:
    result = evaluate(time_points=points(2), lesions=[lesion(1, (30.0, 20.0), 25.0, nodal=True)])
    assert result.time_points[1].response == Response.NE
    assert result.time_points[1].lesions[0].long_axis_mm == 25.0
    assert any("short axis" in warning for warning in result.warnings)


def test_evaluate_lists_non_targets_without_summing_them() -> None:
    result = evaluate(
        time_points=points(2),
        lesions=[lesion(1, 40.0, 20.0), lesion(2, 50.0, 90.0, target=False)],
    )
    assert result.non_target_ids == (2,)
    assert result.target_ids == (1,)
    assert [p.sum_mm for p in result.time_points] == [40.0, 20.0]
    assert result.time_points[1].response == Response.PR
    assert result.time_points[1].lesions[1].long_axis_mm == 90.0
    assert result.time_points[1].lesions[1].counted_mm is None
    assert result.warnings == (
        "Non-target lesions (L2) are listed but not summed; assess their progression separately.",
    )


def test_evaluate_warns_about_more_than_five_targets_and_still_sums_them() -> None:
    six = [lesion(n, 10.0, 5.0) for n in range(1, 7)]
    result = evaluate(time_points=points(2), lesions=six)
    assert result.time_points[0].sum_mm == 60.0
    assert result.time_points[1].response == Response.PR
    assert len(result.warnings) == 1
    assert "at most 5 target lesions" in result.warnings[0]


def test_evaluate_five_targets_are_fine() -> None:
    five = [lesion(n, 10.0, 5.0) for n in range(1, 6)]
    assert evaluate(time_points=points(2), lesions=five).warnings == ()


def test_evaluate_orders_time_points_by_date() -> None:
    later, earlier = TimePoint(7, date(2024, 6, 1)), TimePoint(3, date(2024, 1, 1))
    result = evaluate(
        time_points=[later, earlier],
        lesions=[
            Lesion(1, "A", False, True, {3: Diameters(40.0), 7: Diameters(20.0)}),
        ],
    )
    assert [p.study_id for p in result.time_points] == [3, 7]
    assert [p.baseline for p in result.time_points] == [True, False]
    assert result.time_points[1].response == Response.PR


def test_evaluate_keeps_given_order_and_warns_when_a_date_is_missing() -> None:
    result = evaluate(
        time_points=[TimePoint(7, None), TimePoint(3, date(2024, 1, 1))],
        lesions=[Lesion(1, "A", False, True, {3: Diameters(40.0), 7: Diameters(20.0)})],
    )
    assert [p.study_id for p in result.time_points] == [7, 3]
    assert "Studies 7 have no date" in result.warnings[0]


def test_evaluate_without_targets_gives_no_category() -> None:
    result = evaluate(time_points=points(2), lesions=[lesion(1, 10.0, 20.0, target=False)])
    assert [p.response for p in result.time_points] == [None, None]
    assert [p.sum_mm for p in result.time_points] == [None, None]
    assert result.warnings[0].startswith("No target lesions")


def test_evaluate_counts_a_repeated_study_once() -> None:
    result = evaluate(
        time_points=[*points(2), TimePoint(study_id=1, date=date(2024, 1, 1))],
        lesions=[lesion(1, 40.0, 20.0)],
    )
    assert [p.study_id for p in result.time_points] == [1, 2]


def test_evaluate_a_lesion_reappearing_after_complete_response_is_progression() -> None:
    assert responses(lesion(1, 20.0, 0.0, 4.0)) == [None, Response.CR, Response.PD]
    assert responses(lesion(1, 20.0, 0.0, 0.0)) == [None, Response.CR, Response.CR]
