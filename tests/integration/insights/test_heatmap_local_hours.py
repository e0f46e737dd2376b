"""The heat map's hour and day frames are the store's local hours and days in a half- or three-quarter-hour zone:
an hour row (a UTC hour) that a frame boundary cuts is read from its minute slices, each part going to its own
frame. Before, the whole UTC hour went to the frame of its start: the 10:00 frame of a store in Kolkata held
09:30-10:30."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from server.insights.heat_query import _bucket_start, heatmap
from server.insights.models import HeatmapHour, HeatmapSlice
from server.inventory.localtime import zone_named
from server.inventory.models import Site

pytestmark = [pytest.mark.integration]

COLUMNS, ROWS = 6, 4
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
HOURS = 30


def _store(site: Site, *, sliced: set[int] | None = None) -> list[tuple[datetime, np.ndarray[Any, Any]]]:
    """HOURS hour rows from T0, each the sum of its 60 minute slices (as the recorder stores them; the slices of
    hours outside `sliced` are not stored, when given). Returns every minute's (start, person_s per cell)."""
    rng = np.random.default_rng(2026)
    size = COLUMNS * ROWS
    minutes, hours, slices = [], [], []
    for hour in range(HOURS):
        start = T0 + timedelta(hours=hour)
        total = np.zeros(size)
        for minute in range(60):
            moment = start + timedelta(minutes=minute)
            values = np.zeros(size, dtype="<f4")
            cells = np.sort(rng.choice(size, 3, replace=False)).astype("<i4")
            values[cells] = rng.integers(1, 9, 3)  # whole seconds: sums exact in any order
            total += values
            minutes.append((moment, values.astype(np.float64)))
            if sliced is None or hour in sliced:
                slices.append(
                    HeatmapSlice(
                        site=site,
                        start=moment,
                        duration_s=60,
                        columns=COLUMNS,
                        rows=ROWS,
                        cell_m=0.5,
                        cell_index=cells.tobytes(),
                        person_s=values[cells].tobytes(),
                        displacement_x_m=np.zeros(3, dtype="<f4").tobytes(),
                        displacement_y_m=np.zeros(3, dtype="<f4").tobytes(),
                    )
                )
        hours.append(
            HeatmapHour(
                site=site,
                hour_start=start,
                columns=COLUMNS,
                rows=ROWS,
                cell_m=0.5,
                person_s=total.astype("<f4").tobytes(),
                displacement_x_m=np.zeros(size, dtype="<f4").tobytes(),
                displacement_y_m=np.zeros(size, dtype="<f4").tobytes(),
            )
        )
    HeatmapHour.objects.bulk_create(hours)
    HeatmapSlice.objects.bulk_create(slices)
    return minutes


def _frames_by_minute(
    minutes: list[tuple[datetime, np.ndarray[Any, Any]]],
    *,
    start: datetime,
    end: datetime,
    bucket_s: int,
    tz: str,
) -> dict[str, float]:
    """Each frame's person-seconds from the minutes that lie in it: the truth."""
    zone = zone_named(tz)
    frames: dict[str, float] = {}
    for moment, values in minutes:
        if start <= moment < end:
            key = _bucket_start(moment, bucket_s, zone).astimezone(zone).isoformat()
            frames[key] = frames.get(key, 0.0) + float(values.sum())
    return frames


@pytest.mark.django_db
@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Asia/Kathmandu"])  # +05:30, +05:45
@pytest.mark.parametrize(("bucket", "bucket_s"), [("1h", 3600), ("1d", 86_400)])
def test_local_hour_and_day_frames_hold_their_own_minutes(tz: str, bucket: str, bucket_s: int) -> None:
    site = Site.objects.create(name="Bengaluru", timezone=tz)
    minutes = _store(site)
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(hours=HOURS)
    answer = heatmap(site_id=site.pk, start=start, end=end, bucket=bucket, tz=tz)
    got = {frame["t"]: frame["total_person_s"] for frame in answer["frames"]}
    expected = _frames_by_minute(minutes, start=start, end=end, bucket_s=bucket_s, tz=tz)
    assert got == expected
    offset = "+05:30" if tz == "Asia/Kolkata" else "+05:45"
    assert all(key.endswith(offset) for key in got)
    if bucket == "1h":  # local o'clock: 05:00 (T0 + 10 min is 05:40 / 05:55)
        assert next(iter(got)).endswith(":00:00" + offset)
    assert answer["total_person_s"] == sum(expected.values())


@pytest.mark.django_db
def test_an_hour_without_slices_keeps_its_row() -> None:
    # Hours whose slices are not stored (the analytics heat bucket set to an hour): their rows still count, in the
    # frame of their start, so nothing is lost from the frames or the total.
    site = Site.objects.create(name="Pune", timezone="Asia/Kolkata")
    minutes = _store(site, sliced=set(range(0, HOURS, 2)))
    start, end = T0, T0 + timedelta(hours=HOURS)
    answer = heatmap(site_id=site.pk, start=start, end=end, bucket="1h", tz="Asia/Kolkata")
    assert answer["total_person_s"] == sum(float(values.sum()) for _, values in minutes)
    assert sum(frame["total_person_s"] for frame in answer["frames"]) == answer["total_person_s"]


@pytest.mark.django_db
def test_whole_hour_zones_read_no_slices(django_assert_max_num_queries: Any) -> None:
    # In Berlin every frame boundary is a UTC hour: the middle hours come from their rows alone (one query for the
    # grid, the hour rows, and the partial hours at the ends), as before.
    site = Site.objects.create(name="Berlin", timezone="Europe/Berlin")
    minutes = _store(site)
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(hours=HOURS)
    with django_assert_max_num_queries(6):
        answer = heatmap(site_id=site.pk, start=start, end=end, bucket="1h", tz="Europe/Berlin")
    assert {frame["t"]: frame["total_person_s"] for frame in answer["frames"]} == _frames_by_minute(
        minutes, start=start, end=end, bucket_s=3600, tz="Europe/Berlin"
    )
