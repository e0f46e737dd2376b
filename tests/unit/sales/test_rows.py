"""Point-of-sale rows: one table of inputs with the expected row or the expected errors (line, field, reason)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from server.sales.rows import parse_csv, parse_items

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "expected_rows", "expected_errors"),
    [
        ("time,till,amount\n2026-12-01T10:00:00Z,1,12.50\n", 1, []),
        ("time;till;amount\n2026-12-01T10:00:00+01:00;T2;3\n", 1, []),  # semicolons
        ("\ufefftime,till,amount,currency,transaction_id\n2026-12-01 10:00,1,-2.00,eur,X-1\n", 1, []),
        ("time,till,amount\n\n2026-12-01T10:00:00Z,1,1\n\n", 1, []),  # blank lines skipped
        ("time,till\n", 0, [(1, "amount", "missing column")]),
        ("time,till,amount,price\n", 0, [(1, "price", "unknown column")]),
        ("", 0, [(1, "", "the file is empty")]),
        ("time,till,amount\nyesterday,1,3\n", 0, [(2, "time", "not an ISO 8601")]),
        ("time,till,amount\n2026-12-01T10:00:00Z,,3\n", 0, [(2, "till", "required")]),
        ("time,till,amount\n2026-12-01T10:00:00Z,1,3,50\n", 0, [(2, "", "4 cells")]),
        ('time,till,amount\n2026-12-01T10:00:00Z,1,"1,50"\n', 0, [(2, "amount", "not a decimal")]),
        ("time,till,amount\n2026-12-01T10:00:00Z,1,1.505\n", 0, [(2, "amount", "2 decimal places")]),
        ("time,till,amount\n2026-12-01T10:00:00Z,1,NaN\n", 0, [(2, "amount", "finite")]),
        ("time,till,amount,currency\n2026-12-01T10:00:00Z,1,1,EURO\n", 0, [(2, "currency", "ISO 4217")]),
        (
            "time,till,amount\n2026-12-01T10:00:00Z,1,1\nbad,,x\n",
            1,
            [(3, "time", "ISO 8601"), (3, "till", "required"), (3, "amount", "not a decimal")],
        ),
    ],
)
def test_csv_rows(text: str, expected_rows: int, expected_errors: list[tuple[int, str, str]]) -> None:
    parsed = parse_csv(text.encode(), zone=PARIS)
    assert len(parsed.rows) == expected_rows
    got = [(e.where["line"], e.field, e.reason) for e in parsed.errors]
    assert len(got) == len(expected_errors), got
    for (line, field, reason), (want_line, want_field, want_reason) in zip(got, expected_errors, strict=True):
        assert (line, field) == (want_line, want_field)
        assert want_reason in reason


def test_csv_values_and_local_time() -> None:
    parsed = parse_csv(b"time,till,amount,currency\n2026-12-01 10:00,A,7.5,eur\n", zone=PARIS)
    row = parsed.rows[0]
    assert row.occurred_at.astimezone(UTC) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Paris is UTC+1
    assert row.amount == Decimal("7.50")
    assert row.currency == "EUR"
    assert row.key == "2026-12-01T09:00:00+00:00|A|7.50"  # the key holds the moment in UTC


def test_not_utf8_is_a_line_error() -> None:
    parsed = parse_csv("time,till,amount\n2026-12-01T10:00:00Z,caisse é,1\n".encode("latin-1"), zone=PARIS)
    assert parsed.errors[0].field == ""
    assert "UTF-8" in parsed.errors[0].reason


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"till": "1", "amount": "1"}, "time"),
        ({"time": "2026-12-01T10:00:00Z", "amount": 1}, "till"),
        ({"time": "2026-12-01T10:00:00Z", "till": "1", "amount": True}, "amount"),
        ({"time": "2026-12-01T10:00:00Z", "till": "1", "amount": 1, "colour": "red"}, "colour"),
        (
            {"time": "2026-12-01T10:00:00Z", "till": "1", "amount": 1, "transaction_id": "x" * 129},
            "transaction_id",
        ),
    ],
)
def test_json_items_name_the_index_and_field(item: dict[str, object], field: str) -> None:
    good = {"time": "2026-12-01T10:00:00Z", "till": "1", "amount": 2, "transaction_id": "T-1"}
    parsed = parse_items([good, item], zone=PARIS)
    assert len(parsed.rows) == 1
    assert parsed.rows[0].key == "id:T-1"
    assert [(e.where, e.field) for e in parsed.errors] == [({"index": 1}, field)]


def test_json_item_that_is_not_an_object() -> None:
    parsed = parse_items(["2026-12-01,1,2"], zone=PARIS)
    assert parsed.errors[0].as_dict() == {"index": 0, "field": "", "reason": "each transaction is an object"}


def test_the_same_moment_in_another_offset_is_the_same_transaction() -> None:
    """Without a transaction id the key is time|till|amount: 10:00+01:00 and 09:00Z are one sale (a till system
    that re-exports in another offset must not double the sales)."""
    a = parse_items([{"time": "2026-11-30T10:00:00+01:00", "till": "1", "amount": "5"}], zone=UTC).rows[0]
    b = parse_items([{"time": "2026-11-30T09:00:00Z", "till": "1", "amount": "5"}], zone=UTC).rows[0]
    assert a.key == b.key


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", "after 2000"),  # was an OverflowError (a 500) on the way to UTC
        ("9999-12-31T23:59:59-01:00", "future"),
        ("2999-01-01T00:00:00Z", "future"),  # a typo'd year counted as a sale some day
        ("1999-12-31T23:00:00Z", "after 2000"),
    ],
)
def test_times_out_of_range_are_row_errors(time: str, reason: str) -> None:
    parsed = parse_items([{"time": time, "till": "1", "amount": "1"}], zone=PARIS)
    assert parsed.rows == []
    assert [(error.field, reason in error.reason) for error in parsed.errors] == [("time", True)], (
        parsed.errors
    )


def test_a_time_within_the_next_day_is_accepted() -> None:
    """Till clocks run a little ahead; a day of slack."""
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert len(parse_items([{"time": soon, "till": "1", "amount": "1"}], zone=PARIS).rows) == 1


def test_one_transaction_id_with_two_different_sales_is_an_error() -> None:
    """The second row used to vanish as a "duplicate": a till export with a reused id lost a sale silently.
    The same row twice is still a plain duplicate."""
    text = (
        "time,till,amount,transaction_id\n"
        "2026-11-30T09:00:00Z,1,10.00,R-1\n"
        "2026-11-30T09:00:00Z,1,10.00,R-1\n"
        "2026-11-30T09:05:00Z,2,4.50,R-1\n"
    )
    parsed = parse_csv(text.encode(), zone=UTC)
    assert [(e.where, e.field) for e in parsed.errors] == [({"line": 4}, "transaction_id")]
    assert "line 2" in parsed.errors[0].reason
    items = [
        {"time": "2026-11-30T09:00:00Z", "till": "1", "amount": "10", "transaction_id": "R-9"},
        {"time": "2026-11-30T09:00:00Z", "till": "1", "amount": "11", "transaction_id": "R-9"},
    ]
    assert [e.where for e in parse_items(items, zone=UTC).errors] == [{"index": 1}]
