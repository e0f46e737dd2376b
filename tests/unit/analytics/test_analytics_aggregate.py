"""Aggregation helpers over stored records, with exact expected numbers."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics import AnalyticsInputError, FloorGrid, UnknownZoneError
from server.analytics.aggregate import (
    DAY_S,
    HOUR_S,
    clipped_dwell_s,
    contacts_per_person,
    count_per_bucket,
    direction_grid,
    dwell_per_zone,
    flow_matrix,
    heatmap_grid,
    interest_scores,
    violations_over_time,
)
from tests.unit.analytics.helpers import ZONE_A, ZONE_B, ZONE_R, ZONES

GRID = FloorGrid(0.0, 0.0, 3.0, 2.0, 1.0)  # 3 x 2 cells
S = 1_000_000


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_heatmap_grid_sums_rows_per_cell() -> None:
    grid = heatmap_grid(GRID, ints(0, 0, 5, 4), np.array([1.0, 2.5, 4.0, 0.5]))
    assert grid.tolist() == [[3.5, 0.0, 0.0], [0.0, 0.5, 4.0]]


def test_heatmap_rejects_cells_outside_the_grid_and_ragged_columns() -> None:
    with pytest.raises(AnalyticsInputError) as outside:
        heatmap_grid(GRID, ints(6), np.array([1.0]))
    assert outside.value.code == "bad_cell"
    with pytest.raises(AnalyticsInputError) as ragged:
        heatmap_grid(GRID, ints(1, 2), np.array([1.0]))
    assert ragged.value.code == "bad_shape"


def test_direction_grid_is_mean_velocity_per_cell() -> None:
    grid = direction_grid(
        GRID, ints(1, 1, 3), np.array([2.0, 2.0, 1.0]), np.array([[2.0, 0.0], [2.0, 4.0], [0, -1]])
    )
    assert grid[0, 1].tolist() == [1.0, 1.0]
    assert grid[1, 0].tolist() == [0.0, -1.0]
    assert grid[0, 0].tolist() == [0.0, 0.0]


def test_clipped_dwell() -> None:
    enter = ints(0, 5 * S, 20 * S)
    leave = ints(10 * S, 30 * S, 25 * S)
    assert clipped_dwell_s(enter, leave, 8 * S, 22 * S).tolist() == [2.0, 14.0, 2.0]


def test_interest_scores_weight_engaged_dwell_by_area() -> None:
    # A: 16 m2, two engaged visits of 8 s and 24 s, one 2-s passer-by; B: 16 m2, one 16-s visit; R: none
    zone_ids = ints(ZONE_A, ZONE_A, ZONE_A, ZONE_B)
    enter = ints(0, 10 * S, 40 * S, 0)
    leave = ints(8 * S, 34 * S, 42 * S, 16 * S)
    scores = interest_scores(ZONES, zone_ids, enter, leave, start_us=0, end_us=100 * S, min_dwell_s=3.0)
    a, b, r = scores[ZONE_A], scores[ZONE_B], scores[ZONE_R]
    assert (a.visits, a.engaged_visits, a.dwell_s, a.mean_dwell_s) == (3, 2, 32.0, 16.0)
    assert a.person_s_per_m2 == pytest.approx(2.0)
    assert (a.score, b.score, r.score) == (1.0, 0.5, 0.0)
    assert r.visits == 0


def test_interest_scores_unknown_zone() -> None:
    with pytest.raises(UnknownZoneError):
        interest_scores(ZONES, ints(77), ints(0), ints(S), start_us=0, end_us=S)


def test_flow_matrix_counts_in_range_and_from_outside() -> None:
    order = [ZONE_A, ZONE_B, ZONE_R]
    from_ids = ints(-1, ZONE_A, ZONE_A, ZONE_B, ZONE_A, -1)
    to_ids = ints(ZONE_A, ZONE_B, ZONE_B, ZONE_A, ZONE_R, ZONE_B)
    times = ints(0, S, 2 * S, 3 * S, 4 * S, 100 * S)
    flow = flow_matrix(order, from_ids, to_ids, times, start_us=0, end_us=10 * S)
    assert flow.counts.tolist() == [[0, 2, 1], [1, 0, 0], [0, 0, 0]]
    assert flow.from_outside.tolist() == [1, 0, 0]
    assert flow.arrows() == [(ZONE_A, ZONE_B, 2), (ZONE_A, ZONE_R, 1), (ZONE_B, ZONE_A, 1)]
    with pytest.raises(UnknownZoneError):
        flow_matrix(order, ints(5), ints(ZONE_A), ints(0), start_us=0, end_us=S)


@pytest.mark.parametrize(
    ("bucket_s", "offset_s", "starts_h", "counts"),
    [
        (HOUR_S, 0, [0, 1, 2], [2, 0, 1]),
        (DAY_S, 0, [0], [3]),
        (DAY_S, 2 * HOUR_S, [-2], [3]),  # local midnight is 22:00 UTC the day before
        (HOUR_S, 1800, [-0.5, 0.5, 1.5, 2.5], [1, 1, 0, 1]),
    ],
)
def test_visits_per_hour_and_day(
    bucket_s: int, offset_s: int, starts_h: list[float], counts: list[int]
) -> None:
    day = 19_000 * DAY_S * S
    times = ints(day + 10 * 60 * S, day + 40 * 60 * S, day + 150 * 60 * S, day + 5 * HOUR_S * S)
    buckets = count_per_bucket(
        times, start_us=day, end_us=day + 3 * HOUR_S * S, bucket_s=bucket_s, utc_offset_s=offset_s
    )
    assert ((buckets.bucket_start_us - day) / (HOUR_S * S)).tolist() == starts_h
    assert buckets.counts.tolist() == counts


def test_bad_bucket_range() -> None:
    with pytest.raises(AnalyticsInputError) as error:
        count_per_bucket(ints(), start_us=10, end_us=10, bucket_s=60)
    assert error.value.code == "bad_range"


def test_violations_over_time() -> None:
    starts = ints(10 * S, 50 * S, 70 * S)
    ends = ints(20 * S, 130 * S, 75 * S)
    buckets = violations_over_time(starts, ends, start_us=0, end_us=180 * S, bucket_s=60)
    assert buckets.started.tolist() == [2, 1, 0]
    assert buckets.active_s.tolist() == pytest.approx([20.0, 65.0, 10.0])


def test_contacts_per_person_counts_distinct_partners() -> None:
    assert contacts_per_person(ints(1, 2, 1, 3), ints(2, 1, 3, 4)) == {1: 2, 2: 1, 3: 2, 4: 1}
    assert contacts_per_person(ints(), ints()) == {}


def test_dwell_per_zone() -> None:
    stats = dwell_per_zone(
        [ZONE_A, ZONE_B],
        ints(ZONE_A, ZONE_A, ZONE_A),
        ints(0, 0, 0),
        ints(2 * S, 4 * S, 9 * S),
        start_us=0,
        end_us=S * 60,
    )
    assert (stats[ZONE_A].visits, stats[ZONE_A].total_dwell_s, stats[ZONE_A].median_dwell_s) == (3, 15.0, 4.0)
    assert stats[ZONE_A].mean_dwell_s == 5.0
    assert stats[ZONE_B].visits == 0
