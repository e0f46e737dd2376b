"""The heat-map query read in chunks in the binary protocol and summed on whole arrays gives the answers of the
row-by-row algorithm it replaced (kept here as the reference), to the last bit of every value; the per-frame
visitor counts of the small-count suppression are those of counting each visit's buckets exactly; the visits'
series from one pass are those of the two queries before."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.test import override_settings
from rest_framework.test import APIClient

from server.insights import heat_query, selectors
from server.insights.models import HeatmapHour, HeatmapSlice, PersonVisit
from server.inventory.models import Site
from server.retention.privacy import distinct_visitors, frame_visitors
from server.retention.suppression import suppress_heatmap
from tests.integration.api.conftest import make_user

pytestmark = [pytest.mark.integration]

COLUMNS, ROWS = 12, 8
# Berlin leaves summer time on 2026-10-25 03:00 local: the range holds a 25-hour day.
T0 = datetime(2026, 10, 23, 22, 0, tzinfo=UTC)
HOURS = 100


def _values(rng: np.random.Generator, size: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Mostly empty cells, some on half cents (0.005 steps, where rounding to 0.01 is decided), some -0.0."""
    values = rng.gamma(0.4, 20.0, size) * (rng.random(size) < 0.4)
    halves = rng.random(size) < 0.1
    values[halves] = rng.integers(0, 2000, int(halves.sum())) * 0.005
    return values.astype("<f4")


def _signed(rng: np.random.Generator, size: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    values = rng.normal(0.0, 2.0, size).astype("<f4")
    values[rng.random(size) < 0.2] = np.float32(-0.0)
    return values


@pytest.fixture
def floor(db: None) -> dict[str, Any]:
    """100 hour rows of a 12 x 8 grid (one hour of an older 6 x 4 grid among them), minute slices in the first
    and last hours (two at the same minute), visits with exact and near-boundary times."""
    rng = np.random.default_rng(20261201)
    site = Site.objects.create(name="Heat", timezone="Europe/Berlin")
    size = COLUMNS * ROWS
    hours = []
    for hour in range(HOURS):
        columns, rows = (6, 4) if hour == 40 else (COLUMNS, ROWS)
        hours.append(
            HeatmapHour(
                site=site,
                hour_start=T0 + timedelta(hours=hour),
                columns=columns,
                rows=rows,
                cell_m=0.5,
                person_s=_values(rng, columns * rows).tobytes(),
                displacement_x_m=_signed(rng, columns * rows).tobytes(),
                displacement_y_m=_signed(rng, columns * rows).tobytes(),
            )
        )
    rng.shuffle(hours)  # stored out of time order: the sums must not depend on the table's order
    HeatmapHour.objects.bulk_create(hours)
    slices = []
    for minute in [-50, -20, -20, -1, HOURS * 60 + 3, HOURS * 60 + 3, HOURS * 60 + 40]:
        cells = np.sort(rng.choice(size, 20, replace=False)).astype("<i4")
        slices.append(
            HeatmapSlice(
                site=site,
                start=T0 + timedelta(minutes=minute),
                duration_s=60,
                columns=COLUMNS,
                rows=ROWS,
                cell_m=0.5,
                cell_index=cells.tobytes(),
                person_s=_values(rng, 20).tobytes(),
                displacement_x_m=_signed(rng, 20).tobytes(),
                displacement_y_m=_signed(rng, 20).tobytes(),
            )
        )
    HeatmapSlice.objects.bulk_create(slices)
    visits = []
    for person in range(400):
        started = T0 + timedelta(seconds=float(rng.uniform(-7200, HOURS * 3600)))
        if person % 7 == 0:  # on a whole hour, or a microsecond before one
            started = started.replace(minute=0, second=0, microsecond=0) - timedelta(microseconds=person % 2)
        ended = None if person % 50 == 0 else started + timedelta(seconds=float(rng.uniform(0, 7200)))
        visits.append(PersonVisit(site=site, person_id=person % 150, started_at=started, ended_at=ended))
    PersonVisit.objects.bulk_create(visits)
    return {"site": site}


def _reference_heatmap(
    *, site_id: int, start: datetime, end: datetime, bucket: str | None, tz: str
) -> dict[str, Any]:
    """The algorithm before the chunked, vectorised one: every stored row decoded and added one at a time (hour
    rows in time order, then the slices in time order), every value rounded by Python."""
    bucket_s = heat_query.HEATMAP_BUCKETS_S[bucket] if bucket else None
    hours = bucket_s is None or bucket_s >= 3600
    shape = heat_query._newest_shape(site_id=site_id, start=start, end=end, hours=hours)
    assert shape is not None
    size = shape[0] * shape[1]
    zone = zoneinfo.ZoneInfo(tz)
    rows: list[tuple[Any, ...]] = []
    ranges = heat_query._heat_ranges(start, end, hours)  # no hour is cut: no slices in the middle hours
    for low, high in ranges.hours:
        for row in HeatmapHour.objects.filter(
            site_id=site_id, hour_start__gte=low, hour_start__lt=high
        ).order_by("hour_start"):
            if (row.columns, row.rows, row.cell_m) == shape:
                rows.append(
                    (row.hour_start, None, *(np.frombuffer(bytes(v), dtype="<f4") for v in _arrays(row)))
                )
    for low, high in ranges.slices:
        for piece in HeatmapSlice.objects.filter(site_id=site_id, start__gte=low, start__lt=high).order_by(
            "start", "id"
        ):
            if (piece.columns, piece.rows, piece.cell_m) == shape:
                rows.append(
                    (
                        piece.start,
                        np.frombuffer(bytes(piece.cell_index), dtype="<i4").astype(np.int64),
                        *(np.frombuffer(bytes(v), dtype="<f4") for v in _arrays(piece)),
                    )
                )

    def empty() -> list[Any]:
        return [np.zeros(size), np.zeros(size), np.zeros(size)]

    def add(target: list[Any], cells: Any, values: tuple[Any, ...]) -> None:
        for array, value in zip(target, values, strict=True):
            if cells is None:
                array += value
            else:
                np.add.at(array, cells[cells < size], value[cells < size])

    def cells_of(target: list[Any]) -> list[list[float | int]]:
        return [
            [
                int(i % shape[0]),
                int(i // shape[0]),
                round(float(target[0][i]), 2),
                round(float(target[1][i]), 2),
                round(float(target[2][i]), 2),
            ]
            for i in np.flatnonzero(target[0] > 0)
        ]

    total = empty()
    frames: dict[datetime, list[Any]] = {}
    for moment, cells, *values in rows:
        add(total, cells, tuple(values))
        if bucket_s is not None:
            key = heat_query._bucket_start(moment, bucket_s, zone)
            add(frames.setdefault(key, empty()), cells, tuple(values))
    result: dict[str, Any] = {
        "cell_m": shape[2],
        "columns": shape[0],
        "rows": shape[1],
        "cells": cells_of(total),
        "total_person_s": round(float(total[0].sum()), 2),
    }
    if bucket_s is not None:
        result["bucket"] = bucket
        result["frames"] = [
            {
                "t": key.astimezone(zone).isoformat(),
                "total_person_s": round(float(frame[0].sum()), 2),
                "cells": cells_of(frame),
            }
            for key, frame in sorted(frames.items())
        ]
    return result


def _arrays(row: Any) -> tuple[Any, Any, Any]:
    return row.person_s, row.displacement_x_m, row.displacement_y_m


def _exact(answer: dict[str, Any]) -> str:
    """The answer as JSON (tuples and lists alike, -0.0 apart from 0.0, every float's shortest repr)."""
    return json.dumps(answer, sort_keys=True)


RANGES = [
    (T0, T0 + timedelta(hours=HOURS)),  # whole hours
    (T0 - timedelta(minutes=55), T0 + timedelta(hours=HOURS, minutes=50)),  # slices at both ends
    (T0 + timedelta(hours=3, minutes=10), T0 + timedelta(hours=60)),
]


@pytest.mark.parametrize("bucket", [None, "1h", "1d", "15m"])
@pytest.mark.parametrize("span", range(len(RANGES)))
@pytest.mark.parametrize("chunk_cells", [1 << 18, COLUMNS * ROWS * 7, 1])  # one page; pages of 7 rows; of 1
def test_the_heatmap_equals_the_row_by_row_sums(
    floor: dict[str, Any], monkeypatch: pytest.MonkeyPatch, bucket: str | None, span: int, chunk_cells: int
) -> None:
    monkeypatch.setattr(heat_query, "_HEAT_CHUNK_CELLS", chunk_cells)
    start, end = RANGES[span]
    if bucket == "15m":  # from the minute slices only: the first hour's
        start, end = RANGES[1][0], RANGES[1][0] + timedelta(hours=1)
    site_id = floor["site"].pk
    answer = heat_query.heatmap(site_id=site_id, start=start, end=end, bucket=bucket, tz="Europe/Berlin")
    expected = _reference_heatmap(site_id=site_id, start=start, end=end, bucket=bucket, tz="Europe/Berlin")
    assert answer["cells"], "the floor must have shown cells"
    if bucket == "1d":
        assert len(answer["frames"]) >= 3
    assert _exact(answer) == _exact(expected)


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Australia/Lord_Howe"])  # +5:30; a half-hour DST change
@pytest.mark.parametrize("span", range(len(RANGES)))
def test_hour_frames_off_the_utc_hours_equal_the_row_by_row_sums(
    floor: dict[str, Any], tz: str, span: int
) -> None:
    # Local hours that are not UTC hours: a frame is still one hour row (held as that row), and at the range's
    # ends the minute slices of a partial hour are added to the frame of an hour row.
    start, end = RANGES[span]
    site_id = floor["site"].pk
    answer = heat_query.heatmap(site_id=site_id, start=start, end=end, bucket="1h", tz=tz)
    expected = _reference_heatmap(site_id=site_id, start=start, end=end, bucket="1h", tz=tz)
    assert len(answer["frames"]) > 1
    assert _exact(answer) == _exact(expected)


def test_the_api_with_suppression_answers_as_before(floor: dict[str, Any]) -> None:
    """Through the endpoint, suppression on (k = 8, so that some hours are quiet): the reference heat map
    suppressed with per-frame visitor counts made by counting each visit's buckets one by one."""
    site = floor["site"]
    start, end = RANGES[1]
    with override_settings(PRIVACY_MIN_PERSONS=8, PRIVACY_MIN_CELL_PERSON_S=1.0):
        client = APIClient()
        client.force_authenticate(make_user("heat-staff", "staff"))
        answer = client.get(
            f"/api/sites/{site.pk}/analytics/heatmap",
            {"start": start.isoformat(), "end": end.isoformat(), "bucket": "1h"},
        )
        assert answer.status_code == 200, answer.content
        reference = _reference_heatmap(site_id=site.pk, start=start, end=end, bucket="1h", tz="Europe/Berlin")
        frame_starts = [datetime.fromisoformat(frame["t"]) for frame in reference["frames"]]
        expected = suppress_heatmap(
            reference,
            distinct_persons=distinct_visitors(site_id=site.pk, start=start, end=end, at_most=8),
            min_persons=8,
            min_cell_person_s=1.0,
            frame_persons=_counted_frame_visitors(site.pk, start, end, frame_starts, 3600),
        )
    body = answer.json()
    assert any(frame.get("suppressed") for frame in body["frames"]), "some hour must be quiet"
    assert any(frame["cells"] for frame in body["frames"])
    for key in expected:
        assert _exact(body[key]) == _exact(expected[key]), key


def _counted_frame_visitors(
    site_id: int, start: datetime, end: datetime, frame_starts: list[datetime], bucket_s: int
) -> list[int]:
    """frame_visitors by its definition, in integer microseconds: a visit counts in the buckets from the one
    holding its start to the one holding its end (now, when open), clipped to the frames' grid."""
    now = datetime.now(tz=UTC)
    origin = frame_starts[0]
    step_us = bucket_s * 1_000_000

    def bucket(moment: datetime) -> int:
        return ((moment - origin) // timedelta(microseconds=1)) // step_us

    counts = []
    visits = [
        (bucket(v.started_at), bucket(v.ended_at or now))
        for v in PersonVisit.objects.filter(site_id=site_id, started_at__lt=end)
        if v.ended_at is None or v.ended_at >= start
    ]
    for frame in frame_starts:
        g = bucket(frame)
        counts.append(sum(1 for first, last in visits if first <= g <= last))
    return counts


@pytest.mark.parametrize("bucket_s", [60, 900, 3600, 86_400])
def test_frame_visitors_count_each_visits_buckets_exactly(floor: dict[str, Any], bucket_s: int) -> None:
    site_id = floor["site"].pk
    start = T0 - timedelta(hours=1)
    end = start + timedelta(seconds=bucket_s * min(200, 4 * 86_400 // bucket_s))
    frame_starts = [
        start + timedelta(seconds=bucket_s * i)
        for i in range(0, (end - start) // timedelta(seconds=bucket_s), 3)
    ]
    counted = _counted_frame_visitors(site_id, start, end, frame_starts, bucket_s)
    assert sum(counted) > 0
    assert (
        frame_visitors(site_id=site_id, start=start, end=end, frame_starts=frame_starts, bucket_s=bucket_s)
        == counted
    )


@pytest.mark.parametrize(
    ("persons", "visits", "at_most"), [(2, 1500, 3), (5, 1500, 3), (2, 10, 3), (7, 30, 10)]
)
def test_distinct_visitors_counts_persons_up_to_at_most(
    db: None, persons: int, visits: int, at_most: int
) -> None:
    """Many visits of few persons (more than the first visits looked at) and few visits."""
    site = Site.objects.create(name="Few")
    PersonVisit.objects.bulk_create(
        PersonVisit(site=site, person_id=i % persons, started_at=T0 + timedelta(seconds=i), ended_at=None)
        for i in range(visits)
    )
    assert distinct_visitors(site_id=site.pk, start=T0, end=T0 + timedelta(days=1), at_most=at_most) == min(
        persons, at_most
    )


@pytest.mark.parametrize("bucket", ["hour", "day"])
@pytest.mark.parametrize("include_staff", [False, True])
def test_visits_in_one_pass_answer_as_the_two_queries(db: None, bucket: str, include_staff: bool) -> None:
    """The visits' series and staff count from one grouped pass equal the two queries they replaced (visitors
    grouped, staff counted), hours that only staff visited included."""
    site = Site.objects.create(name="Visits")
    rng = np.random.default_rng(3)
    PersonVisit.objects.bulk_create(
        PersonVisit(
            site=site,
            person_id=i,
            started_at=T0 + timedelta(seconds=float(second)),
            ended_at=None,
            staff=bool(i % 4 == 0 or second > 50 * 3600),  # the last hours: staff only
        )
        for i, second in enumerate(rng.uniform(-3600, 60 * 3600, 500))
    )
    start, end = T0, T0 + timedelta(hours=55)
    trunc = TruncHour if bucket == "hour" else TruncDay
    detected = PersonVisit.objects.filter(site_id=site.pk, started_at__gte=start, started_at__lt=end)
    expected = [
        {"t": r["t"].isoformat(), "count": r["count"]}
        for r in detected.filter(Q() if include_staff else Q(staff=False))
        .annotate(t=trunc("started_at"))
        .values("t")
        .annotate(count=Count("id"))
        .order_by("t")
    ]
    answer = selectors.visits(
        site_id=site.pk, start=start, end=end, bucket=bucket, include_staff=include_staff
    )
    assert answer["series"] == expected
    assert answer["total"] == answer["detected_visitors"] == sum(point["count"] for point in expected)
    assert answer["staff"] == detected.filter(staff=True).count() > 0
