"""Rule schedules: weekly windows in the site's time zone, inside / outside / always, and bad windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.errors import FieldError
from server.notifications.schedule import parse_windows, schedule_allows

OPENING = [{"days": [0, 1, 2, 3, 4, 5], "start": "09:00", "end": "20:00"}]  # Monday–Saturday
NIGHT = [{"days": [4], "start": "22:00", "end": "06:00"}]  # Friday night into Saturday


@pytest.mark.parametrize(
    ("mode", "windows", "moment_utc", "tz", "allowed"),
    [
        ("always", [], datetime(2026, 12, 1, 3, 0, tzinfo=UTC), "UTC", True),
        # Tuesday 10:00 in Berlin (09:00 UTC) is inside opening hours
        ("inside", OPENING, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "Europe/Berlin", True),
        ("outside", OPENING, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "Europe/Berlin", False),
        # 08:30 UTC is 09:30 in Berlin (inside) but 08:30 in London (outside): the site's zone decides
        ("outside", OPENING, datetime(2026, 12, 1, 8, 30, tzinfo=UTC), "Europe/Berlin", False),
        ("outside", OPENING, datetime(2026, 12, 1, 8, 30, tzinfo=UTC), "Europe/London", True),
        # the end is exclusive, the start inclusive
        ("inside", OPENING, datetime(2026, 12, 1, 20, 0, tzinfo=UTC), "UTC", False),
        ("inside", OPENING, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "UTC", True),
        # Sunday is not an opening day
        ("outside", OPENING, datetime(2026, 12, 6, 12, 0, tzinfo=UTC), "UTC", True),
        # a window past midnight: Friday 23:00 and Saturday 05:00 inside, Saturday 23:00 and Friday 05:00 not
        ("inside", NIGHT, datetime(2026, 12, 4, 23, 0, tzinfo=UTC), "UTC", True),
        ("inside", NIGHT, datetime(2026, 12, 5, 5, 0, tzinfo=UTC), "UTC", True),
        ("inside", NIGHT, datetime(2026, 12, 5, 23, 0, tzinfo=UTC), "UTC", False),
        ("inside", NIGHT, datetime(2026, 12, 4, 5, 0, tzinfo=UTC), "UTC", False),
        # an unknown zone falls back to UTC
        ("inside", OPENING, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "Mars/Olympus", True),
    ],
)
def test_schedule_allows(mode, windows, moment_utc, tz, allowed):
    assert schedule_allows(mode=mode, windows=parse_windows(windows), moment=moment_utc, tz=tz) is allowed


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("09:00-17:00", "schedule_windows"),
        ([{"days": [7], "start": "09:00", "end": "10:00"}], "schedule_windows[0]"),
        ([{"days": [], "start": "09:00", "end": "10:00"}], "schedule_windows[0]"),
        ([{"days": [1], "start": "9:00", "end": "10:00"}], "schedule_windows[0].start"),
        ([{"days": [1], "start": "09:00", "end": "24:00"}], "schedule_windows[0].end"),
        ([{"days": [1], "start": "09:00", "end": "10:00", "tz": "UTC"}], "schedule_windows[0]"),
        ([{"days": [True], "start": "09:00", "end": "10:00"}], "schedule_windows[0]"),
    ],
)
def test_bad_windows_name_the_field(raw, field):
    with pytest.raises(FieldError) as caught:
        parse_windows(raw)
    assert caught.value.field == field
    assert caught.value.code == "invalid_schedule"


def test_naive_moment_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_allows(mode="inside", windows=parse_windows(OPENING), moment=datetime(2026, 1, 1), tz="UTC")
