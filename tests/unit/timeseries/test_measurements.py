"""Measurement builders: names, tags, fixed field types, and the per-person nanosecond spread."""

from __future__ import annotations

import pytest

from server.timeseries import measurements as m
from server.timeseries.validation import point_problem


def test_positions_spread_people_over_nanoseconds_and_keep_ids_out_of_tags() -> None:
    points = m.position_points(site_id=7, time_ns=1000, positions=[(11, 1, 2), (12, 3.5, 4.25)])
    assert [p.time_ns for p in points] == [1000, 1001]
    assert all(p.measurement == m.POSITIONS and dict(p.tags) == {"site": "7"} for p in points)
    assert dict(points[0].fields) == {"person_id": 11, "x_m": 1.0, "y_m": 2.0}
    assert isinstance(points[0].fields["x_m"], float)
    assert all(point_problem(p) is None for p in points)


def test_occupancy_site_wide_has_no_zone_tag() -> None:
    assert dict(m.occupancy_point(site_id="s", time_ns=1, people=3).tags) == {"site": "s"}
    zone = m.occupancy_point(site_id="s", zone_id=4, time_ns=1, people=3.0)  # type: ignore[arg-type]
    assert dict(zone.tags) == {"site": "s", "zone": "4"}
    assert zone.fields["people"] == 3
    assert isinstance(zone.fields["people"], int)


@pytest.mark.parametrize(
    ("point", "measurement", "tags", "field_types"),
    [
        (
            m.zone_count_point(site_id=1, zone_id=2, time_ns=5, entries=3, exits=1),
            m.ZONE_COUNTS,
            {"site": "1", "zone": "2"},
            {"entries": int, "exits": int},
        ),
        (
            m.violation_point(
                site_id=1,
                start_time_ns=5,
                person_a_id=1,
                person_b_id=2,
                min_distance_m=1,
                duration_s=6,
                sequence=2,
            ),
            m.VIOLATIONS,
            {"site": "1"},
            {"person_a_id": int, "person_b_id": int, "min_distance_m": float, "duration_s": float},
        ),
        (
            m.edge_health_point(
                device_id="d1",
                camera_id=3,
                time_ns=5,
                fps=25,
                inference_us=900.0,  # type: ignore[arg-type]
                dropped_frames=0,
                spool_depth=2,
            ),
            m.EDGE_HEALTH,
            {"device": "d1", "camera": "3"},
            {"fps": float, "inference_us": int, "dropped_frames": int, "spool_depth": int},
        ),
        (
            m.ingest_stats_point(
                instance="srv-1",
                time_ns=5,
                frames_accepted=1,
                frames_rejected=2,
                frames_duplicate=3,
                person_updates=4,
                timeseries_buffered=5,
                timeseries_dropped=6,
            ),
            m.INGEST_STATS,
            {"instance": "srv-1"},
            dict.fromkeys(
                (
                    "frames_accepted",
                    "frames_rejected",
                    "frames_duplicate",
                    "person_updates",
                    "timeseries_buffered",
                    "timeseries_dropped",
                ),
                int,
            ),
        ),
    ],
)
def test_builders(point, measurement, tags, field_types) -> None:
    assert point.measurement == measurement
    assert dict(point.tags) == tags
    assert {k: type(v) for k, v in point.fields.items()} == field_types
    assert point_problem(point) is None


def test_violation_sequence_offsets_time() -> None:
    point = m.violation_point(
        site_id=1, start_time_ns=100, person_a_id=1, person_b_id=2, min_distance_m=1, duration_s=6, sequence=3
    )
    assert point.time_ns == 103


def test_position_sampler_lets_one_frame_per_window_and_site() -> None:
    sampler = m.PositionSampler(interval_s=1.0)
    taken = [sampler.take("a", t) for t in (0, 400_000_000, 999_999_999, 1_000_000_000, 1_500_000_000)]
    assert taken == [True, False, False, True, False]
    assert sampler.take("b", 400_000_000)
    with pytest.raises(ValueError, match="positive"):
        m.PositionSampler(interval_s=0)


def test_position_sampler_does_not_sample_an_earlier_window_again() -> None:
    sampler = m.PositionSampler(interval_s=1.0)
    alternating = [sampler.take("a", t * 1_000_000_000) for t in (10, 11, 10, 11, 10, 12, 11)]
    assert alternating == [True, True, False, False, False, True, False]
