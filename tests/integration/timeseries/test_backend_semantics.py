"""One set of assertions, run against a real InfluxDB 1.x (v1 HTTP API) and against the embedded store:
awkward names round-trip, filters, limits, rewrites, and group-by-time aggregates."""

from __future__ import annotations

import pytest

from server.timeseries import measurements as m
from server.timeseries.base import TimeSeriesBackend
from server.timeseries.types import Point, Row, SeriesQuery

pytestmark = pytest.mark.integration

S_NS = 1_000_000_000
T0 = 1_700_000_003 * S_NS  # deliberately not aligned to 10 s windows
AWKWARD = [
    "with space",
    "comma,inside",
    "equals=sign",
    "all , = three",
    "Zürich — 東京 🛒",
    "quote\"double and 'single'",
    "back\\slash in middle",
]


def test_awkward_names_round_trip(backend: TimeSeriesBackend) -> None:
    measurement = "odd meas,urement"
    points = [
        Point(measurement, {"site name": value, "k=ey": "v"}, {"field key": i, "s": value}, T0 + i)
        for i, value in enumerate(AWKWARD)
    ]
    backend.write_batch(points)
    rows = backend.query(SeriesQuery(measurement, T0, T0 + S_NS))
    assert rows == [
        Row(T0 + i, {"site name": value, "k=ey": "v"}, {"field key": i, "s": value})
        for i, value in enumerate(AWKWARD)
    ]
    for i, value in enumerate(AWKWARD):
        only = backend.query(SeriesQuery(measurement, T0, T0 + S_NS, tags={"site name": value}, fields=["s"]))
        assert only == [Row(T0 + i, {"site name": value, "k=ey": "v"}, {"s": value})]


def test_field_types_come_back(backend: TimeSeriesBackend) -> None:
    backend.write_batch([Point("types", {}, {"f": 1.25, "i": -7, "b": True, "s": ""}, T0)])
    (row,) = backend.query(SeriesQuery("types", T0, T0 + 1))
    assert row.fields == {"f": 1.25, "i": -7, "b": True, "s": ""}
    assert isinstance(row.fields["b"], bool)


def test_range_is_half_open_and_tag_filters_and_limit(backend: TimeSeriesBackend) -> None:
    backend.write_batch(
        [m.occupancy_point(site_id="s", time_ns=T0 + k * S_NS, people=k) for k in range(5)]
        + [
            m.occupancy_point(site_id="s", zone_id="z", time_ns=T0 + k * S_NS, people=10 + k)
            for k in range(5)
        ]
        + [m.occupancy_point(site_id="other", time_ns=T0, people=99)]
    )
    site_wide = backend.query(
        SeriesQuery(m.OCCUPANCY, T0 + S_NS, T0 + 4 * S_NS, tags={"site": "s", "zone": ""})
    )
    assert [(r.time_ns, r.fields["people"]) for r in site_wide] == [(T0 + k * S_NS, k) for k in (1, 2, 3)]
    zone = backend.query(SeriesQuery(m.OCCUPANCY, T0, T0 + 10 * S_NS, tags={"zone": "z"}, limit=2))
    assert zone == [
        Row(T0, {"site": "s", "zone": "z"}, {"people": 10}),
        Row(T0 + S_NS, {"site": "s", "zone": "z"}, {"people": 11}),
    ]
    everything = backend.query(SeriesQuery(m.OCCUPANCY, T0, T0 + 10 * S_NS, limit=3))
    assert [(r.time_ns, r.tags.get("site"), r.tags.get("zone")) for r in everything] == [
        (T0, "other", None),
        (T0, "s", None),
        (T0, "s", "z"),
    ]
    assert backend.query(SeriesQuery("nothing_here", T0, T0 + S_NS)) == []


def test_rewrite_keeps_one_point_and_merges_fields(backend: TimeSeriesBackend) -> None:
    backend.write_batch([Point("merge", {"site": "s"}, {"a": 1, "b": 2}, T0)])
    backend.write_batch([Point("merge", {"site": "s"}, {"b": 3}, T0)])
    assert backend.query(SeriesQuery("merge", T0, T0 + 1)) == [Row(T0, {"site": "s"}, {"a": 1, "b": 3})]


def test_positions_of_one_frame_stay_distinct(backend: TimeSeriesBackend) -> None:
    frame = [(pid, pid * 0.5, -pid * 0.25) for pid in range(20)]
    backend.write_batch(m.position_points(site_id="s", time_ns=T0, positions=frame))
    rows = backend.query(SeriesQuery(m.POSITIONS, T0, T0 + S_NS, tags={"site": "s"}))
    assert [(r.fields["person_id"], r.fields["x_m"], r.fields["y_m"]) for r in rows] == frame
    count = backend.query(SeriesQuery(m.POSITIONS, T0, T0 + S_NS, fields=["person_id"], aggregate="count"))
    assert count == [Row(T0, {}, {"person_id": 20})]


def _zone_counts() -> list[Point]:
    """Zone z1: entries 1..12 at 2.5 s steps from T0; zone z2: entries 100 at T0 + 1 s and T0 + 21 s."""
    points = [
        m.zone_count_point(
            site_id="s", zone_id="z1", time_ns=T0 + int(k * 2.5 * S_NS), entries=k + 1, exits=k % 2
        )
        for k in range(12)
    ]
    points += [
        m.zone_count_point(site_id="s", zone_id="z2", time_ns=T0 + S_NS, entries=100, exits=0),
        m.zone_count_point(site_id="s", zone_id="z2", time_ns=T0 + 21 * S_NS, entries=100, exits=5),
    ]
    return points


# z1 sample times (s after T0): 0,2.5,5,7.5 | 10,...; T0 = ...003 s, so epoch-aligned 10 s windows start at
# T0-3 s, T0+7 s, T0+17 s, T0+27 s. z1 entries per window: [1,2,3] (t=0,2.5,5), [4,5,6,7] (7.5..15),
# [8,9,10,11] (17.5..25), [12] (27.5). exits = k % 2.
W = [T0 - 3 * S_NS, T0 + 7 * S_NS, T0 + 17 * S_NS, T0 + 27 * S_NS]


@pytest.mark.parametrize(
    ("aggregate", "z1_entries", "z2_entries"),
    [
        ("sum", [6, 22, 38, 12], [100, None, 100, None]),
        ("max", [3, 7, 11, 12], [100, None, 100, None]),
        ("count", [3, 4, 4, 1], [1, None, 1, None]),
        ("last", [3, 7, 11, 12], [100, None, 100, None]),
        ("mean", [2.0, 5.5, 9.5, 12.0], [100.0, None, 100.0, None]),
    ],
)
def test_group_by_time_and_zone(
    backend: TimeSeriesBackend, aggregate: str, z1_entries: list[float], z2_entries: list[float | None]
) -> None:
    backend.write_batch(_zone_counts())
    rows = backend.query(
        SeriesQuery(
            m.ZONE_COUNTS,
            T0,
            T0 + 60 * S_NS,
            tags={"site": "s"},
            fields=["entries"],
            group_by_time_s=10,
            aggregate=aggregate,  # type: ignore[arg-type]
            group_by_tags=["zone"],
        )
    )
    expected = [Row(W[i], {"zone": "z1"}, {"entries": v}) for i, v in enumerate(z1_entries)]
    expected += [Row(W[i], {"zone": "z2"}, {"entries": v}) for i, v in enumerate(z2_entries) if v is not None]
    expected.sort(key=Row.sort_key)
    assert rows == expected


def test_aggregate_all_fields_over_whole_range(backend: TimeSeriesBackend) -> None:
    backend.write_batch(_zone_counts())
    rows = backend.query(
        SeriesQuery(m.ZONE_COUNTS, T0, T0 + 60 * S_NS, aggregate="sum", group_by_tags=["zone"])
    )
    assert rows == [
        Row(T0, {"zone": "z1"}, {"entries": 78, "exits": 6}),
        Row(T0, {"zone": "z2"}, {"entries": 200, "exits": 5}),
    ]
    total = backend.query(SeriesQuery(m.ZONE_COUNTS, T0, T0 + 60 * S_NS, fields=["exits"], aggregate="max"))
    assert total == [Row(T0, {}, {"exits": 5})]


def test_sub_second_windows(backend: TimeSeriesBackend) -> None:
    base = 1_700_000_000 * S_NS
    backend.write_batch([Point("fast", {}, {"v": float(k)}, base + k * 100_000_000) for k in range(10)])
    rows = backend.query(SeriesQuery("fast", base, base + S_NS, group_by_time_s=0.25, aggregate="mean"))
    windows = [base + k * 250_000_000 for k in range(4)]
    # samples at 0,100,...,900 ms: [0,250) -> 0,1,2; [250,500) -> 3,4; [500,750) -> 5,6,7; [750,1000) -> 8,9
    assert rows == [
        Row(windows[0], {}, {"v": 1.0}),
        Row(windows[1], {}, {"v": 3.5}),
        Row(windows[2], {}, {"v": 6.0}),
        Row(windows[3], {}, {"v": 8.5}),
    ]


def test_windows_shifted_by_an_offset(backend: TimeSeriesBackend) -> None:
    """Hours of a +05:30 store: hourly windows starting 30 minutes past the UTC hour (InfluxQL's
    `time(1h, 30m)`), the window of a point taken back to the last :30 before or at it."""
    hour = 3600 * S_NS
    base = 1_700_000_000 * S_NS // hour * hour  # a UTC hour
    minutes = [0, 29, 30, 89, 90, 150]
    backend.write_batch([Point("occ", {}, {"v": float(k)}, base + k * 60 * S_NS) for k in minutes])
    rows = backend.query(
        SeriesQuery("occ", base, base + 3 * hour, group_by_time_s=3600, window_offset_s=1800, aggregate="sum")
    )
    half = hour // 2
    # 0 and 29 -> [-0:30, 0:30); 30 and 89 -> [0:30, 1:30); 90 -> [1:30, 2:30); 150 -> [2:30, 3:30)
    assert rows == [
        Row(base - half, {}, {"v": 29.0}),
        Row(base + half, {}, {"v": 119.0}),
        Row(base + 3 * half, {}, {"v": 90.0}),
        Row(base + 5 * half, {}, {"v": 150.0}),
    ]
