"""InfluxQL text for SeriesQuery and parsing of /query answers (plain, chunked, errors)."""
# ruff: noqa: S608  (expected InfluxQL texts, not SQL built from input)

from __future__ import annotations

import json

import pytest

from server.timeseries.errors import TimeSeriesQueryError
from server.timeseries.influxql import build_influxql, parse_query_answer, quote_identifier, quote_string
from server.timeseries.types import Row, SeriesQuery

S, E = 1_000_000_000_000, 2_000_000_000_000


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (
            SeriesQuery("positions", S, E),
            f'SELECT *::field FROM "positions" WHERE time >= {S} AND time < {E} GROUP BY *',
        ),
        (
            SeriesQuery("m", S, E, tags={"site": "a'b", "zone": ""}, fields=["x_m", 'we"ird'], limit=5),
            f'SELECT "x_m","we\\"ird" FROM "m" WHERE time >= {S} AND time < {E} AND "site" = \'a\\\'b\''
            " AND \"zone\" = '' GROUP BY * LIMIT 5",
        ),
        (
            SeriesQuery(
                "m", S, E, fields=["people"], group_by_time_s=60, aggregate="mean", group_by_tags=["zone"]
            ),
            f'SELECT mean("people") AS "people" FROM "m" WHERE time >= {S} AND time < {E}'
            ' GROUP BY time(60000000000ns), "zone" fill(none)',
        ),
        (
            SeriesQuery("m", S, E, aggregate="count"),
            f'SELECT count(*) FROM "m" WHERE time >= {S} AND time < {E}',
        ),
        (
            SeriesQuery("m", S, E, group_by_time_s=3600, window_offset_s=1800, aggregate="max"),
            f'SELECT max(*) FROM "m" WHERE time >= {S} AND time < {E}'
            " GROUP BY time(3600000000000ns, 1800000000000ns) fill(none)",
        ),
        (
            SeriesQuery("m", S, E, group_by_time_s=0.5, aggregate="last"),
            f'SELECT last(*) FROM "m" WHERE time >= {S} AND time < {E} GROUP BY time(500000000ns) fill(none)',
        ),
    ],
)
def test_build_influxql(query: SeriesQuery, text: str) -> None:
    assert build_influxql(query) == text


def test_quoting() -> None:
    assert quote_identifier('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_string("it's \\ ok") == "'it\\'s \\\\ ok'"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"start_ns": 5, "end_ns": 5}, "bad_time_range"),
        ({"group_by_time_s": 10.0}, "missing_aggregate"),
        ({"group_by_time_s": 0.0, "aggregate": "mean"}, "bad_interval"),
        ({"aggregate": "median"}, "bad_aggregate"),
        ({"group_by_tags": ["zone"]}, "missing_aggregate"),
        ({"fields": []}, "no_fields"),
        ({"limit": 0}, "bad_limit"),
    ],
)
def test_series_query_validation(kwargs: dict[str, object], code: str) -> None:
    arguments: dict[str, object] = {"measurement": "m", "start_ns": 0, "end_ns": 10, **kwargs}
    with pytest.raises(TimeSeriesQueryError) as caught:
        SeriesQuery(**arguments)  # type: ignore[arg-type]
    assert caught.value.code == code


def _doc(series: list[dict[str, object]], **extra: object) -> str:
    return json.dumps({"results": [{"statement_id": 0, "series": series, **extra}]})


def test_parse_raw_chunked_answer_merges_series_and_sorts() -> None:
    q = SeriesQuery("m", S, E, limit=3)
    chunk1 = _doc(
        [
            {
                "name": "m",
                "tags": {"site": "b", "zone": ""},
                "columns": ["time", "v", "s"],
                "values": [[S + 2, 1, None]],
            }
        ],
        partial=True,
    )
    chunk2 = _doc(
        [
            {
                "name": "m",
                "tags": {"site": "a"},
                "columns": ["time", "v", "s"],
                "values": [[S + 2, 2.5, "x"]],
            },
            {
                "name": "m",
                "tags": {"site": "a"},
                "columns": ["time", "v", "s"],
                "values": [[S + 1, None, None]],
            },
            {"name": "m", "tags": {"site": "a"}, "columns": ["time", "v", "s"], "values": [[S + 9, 3, None]]},
            {"name": "m", "tags": {"site": "a"}, "columns": ["time", "v", "s"], "values": [[S + 0, 4, None]]},
        ]
    )
    rows = parse_query_answer(chunk1 + "\n" + chunk2 + "\n", q)
    assert rows == [
        Row(S + 0, {"site": "a"}, {"v": 4}),
        Row(S + 2, {"site": "a"}, {"v": 2.5, "s": "x"}),
        Row(S + 2, {"site": "b"}, {"v": 1}),
    ]


def test_parse_wildcard_aggregate_strips_function_prefix_and_stamps_start() -> None:
    q = SeriesQuery("m", S, E, aggregate="mean", group_by_tags=["zone"])
    text = _doc(
        [
            {
                "name": "m",
                "tags": {"zone": "z1"},
                "columns": ["time", "mean_v", "mean_w"],
                "values": [[0, 1.5, None]],
            }
        ]
    )
    assert parse_query_answer(text, q) == [Row(S, {"zone": "z1"}, {"v": 1.5})]


def test_parse_missing_database_is_empty_and_other_errors_raise() -> None:
    q = SeriesQuery("m", S, E)
    assert (
        parse_query_answer(
            json.dumps({"results": [{"statement_id": 0, "error": "database not found: x"}]}), q
        )
        == []
    )
    assert parse_query_answer(json.dumps({"results": [{"statement_id": 0}]}), q) == []
    with pytest.raises(TimeSeriesQueryError, match="bad thing"):
        parse_query_answer(json.dumps({"results": [{"statement_id": 0, "error": "bad thing"}]}), q)
    with pytest.raises(TimeSeriesQueryError, match="refused"):
        parse_query_answer(json.dumps({"error": "error parsing query"}), q)
    with pytest.raises(TimeSeriesQueryError) as caught:
        parse_query_answer("{not json", q)
    assert caught.value.code == "bad_answer"
