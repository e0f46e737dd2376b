"""The site's local hours and days on SQLite (the embedded default's database): `LocalBucket`'s function there
agrees with `bucket_start`, DST nights included. The function is run by SQLite itself, on timestamps stored as
Django stores them (UTC text, microseconds when there are any)."""

from __future__ import annotations

import sqlite3
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from server.inventory.local_buckets import sqlite_local_bucket
from server.inventory.localtime import DAY, HOUR, bucket_start, local_instant


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"])
def test_sqlite_buckets_are_pythons(zone: str) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    moments = [
        start + timedelta(minutes=13 * i, microseconds=(i % 3) * 250_000) for i in range(0, 60 * 24 * 5)
    ]
    moments += [start + timedelta(days=245, minutes=13 * i) for i in range(0, 60 * 24)]  # the clocks go back
    db = sqlite3.connect(":memory:")
    db.create_function("retail_local_bucket", 3, sqlite_local_bucket, deterministic=True)
    db.execute("CREATE TABLE visit (at TEXT)")
    db.executemany("INSERT INTO visit VALUES (?)", [(str(m.replace(tzinfo=None)),) for m in moments])
    for bucket in (HOUR, DAY):
        rows = db.execute("SELECT at, retail_local_bucket(at, ?, ?) FROM visit", (bucket, zone)).fetchall()
        wrong = []
        for at, value in rows:
            moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
            got = datetime.fromisoformat(value)
            # An hour comes back as its UTC start, a day as its local midnight (read back as the instant).
            got = got.replace(tzinfo=UTC) if bucket == HOUR else local_instant(got, tz)
            if got != bucket_start(moment, bucket, tz):
                wrong.append((at, value))
        assert wrong == [], (bucket, wrong[:3])
    assert sqlite_local_bucket(None, DAY, zone) is None
