"""When a scheduled report is due and which period it covers (local days; DST-aware), by table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.reports.periods import due_period


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "weekday", "hour", "tz", "now", "last", "expected"),
    [
        # daily at 07:00 UTC: before 07:00 the day before yesterday is the newest period
        ("daily", 0, 7, "UTC", "2026-12-02T06:59", None, ("2026-11-30T00:00", "2026-12-01T00:00")),
        ("daily", 0, 7, "UTC", "2026-12-02T07:00", None, ("2026-12-01T00:00", "2026-12-02T00:00")),
        # already sent
        ("daily", 0, 7, "UTC", "2026-12-02T08:00", "2026-12-02T00:00", None),
        (
            "daily",
            0,
            7,
            "UTC",
            "2026-12-03T08:00",
            "2026-12-02T00:00",
            ("2026-12-02T00:00", "2026-12-03T00:00"),
        ),
        # local days: Paris is UTC+1 in winter
        ("daily", 0, 6, "Europe/Paris", "2026-12-02T05:30", None, ("2026-11-30T23:00", "2026-12-01T23:00")),
        # a local day of 23 hours (DST starts 2026-03-29 in Paris)
        ("daily", 0, 6, "Europe/Paris", "2026-03-30T05:00", None, ("2026-03-28T23:00", "2026-03-29T22:00")),
        # weekly on Monday (2026-11-30 is a Monday) at 07:00: the 7 days before
        ("weekly", 0, 7, "UTC", "2026-12-02T12:00", None, ("2026-11-23T00:00", "2026-11-30T00:00")),
        ("weekly", 0, 7, "UTC", "2026-11-30T06:00", None, ("2026-11-16T00:00", "2026-11-23T00:00")),
        ("weekly", 0, 7, "UTC", "2026-12-02T12:00", "2026-11-30T00:00", None),
        (
            "weekly",
            2,
            7,
            "UTC",
            "2026-12-02T12:00",
            "2026-11-30T00:00",
            ("2026-11-25T00:00", "2026-12-02T00:00"),
        ),
    ],
)
def test_due_period(
    frequency: str,
    weekday: int,
    hour: int,
    tz: str,
    now: str,
    last: str | None,
    expected: tuple[str, str] | None,
) -> None:
    got = due_period(
        frequency=frequency,
        weekday=weekday,
        send_hour=hour,
        timezone=tz,
        now=_utc(now),
        last_period_end=_utc(last) if last else None,
    )
    assert got == (None if expected is None else (_utc(expected[0]), _utc(expected[1])))
