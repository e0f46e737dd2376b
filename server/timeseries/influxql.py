"""InfluxQL text for a SeriesQuery, and the rows of InfluxDB's /query JSON answer (plain or chunked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from server.timeseries.errors import TimeSeriesQueryError
from server.timeseries.types import FieldValue, Row, SeriesQuery

_STRING_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'"})
_IDENT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def quote_identifier(name: str) -> str:
    return '"' + name.translate(_IDENT_ESCAPES) + '"'


def quote_string(value: str) -> str:
    return "'" + value.translate(_STRING_ESCAPES) + "'"


def build_influxql(q: SeriesQuery) -> str:
    """The SELECT for ``q``. Raw reads group by every tag (so tags come back apart from fields); aggregated
    reads group by time (epoch-aligned windows, empty windows left out) and by the requested tags."""
    if q.aggregate is None:
        select = ",".join(quote_identifier(f) for f in q.fields) if q.fields is not None else "*::field"
    elif q.fields is None:
        select = f"{q.aggregate}(*)"
    else:
        select = ",".join(f"{q.aggregate}({quote_identifier(f)}) AS {quote_identifier(f)}" for f in q.fields)
    conditions = [f"time >= {q.start_ns}", f"time < {q.end_ns}"]
    conditions += [f"{quote_identifier(k)} = {quote_string(v)}" for k, v in sorted(q.tags.items())]
    # Identifiers and string literals are quoted and escaped above; numbers are ints.
    text = f"SELECT {select} FROM {quote_identifier(q.measurement)} WHERE {' AND '.join(conditions)}"  # noqa: S608
    if q.aggregate is None:
        text += " GROUP BY *"
        if q.limit is not None:
            text += f" LIMIT {q.limit}"  # per series in InfluxQL; the merged rows are cut again after parsing
        return text
    window = f"{q.interval_ns}ns, {q.offset_ns}ns" if q.offset_ns else f"{q.interval_ns}ns"
    groups = [f"time({window})"] if q.interval_ns is not None else []
    groups += [quote_identifier(tag) for tag in q.group_by_tags]
    if groups:
        text += " GROUP BY " + ", ".join(groups)
    if q.interval_ns is not None:
        text += " fill(none)"
    return text


def iter_json_documents(text: str) -> Iterator[Any]:
    """The JSON documents of a /query answer: one document, or one per chunk when ``chunked=true``."""
    decoder = json.JSONDecoder()
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index].isspace():
            index += 1
        if index >= length:
            break
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as err:
            raise TimeSeriesQueryError(f"InfluxDB answered invalid JSON: {err}", code="bad_answer") from err
        yield document


def is_database_not_found(message: str) -> bool:
    return "database not found" in message


def parse_query_answer(text: str, q: SeriesQuery) -> list[Row]:
    """Rows of a /query answer (``epoch=ns``) for ``q``; a missing database reads as no data."""
    rows: list[Row] = []
    prefix = f"{q.aggregate}_" if q.aggregate is not None and q.fields is None else ""
    for document in iter_json_documents(text):
        if not isinstance(document, dict):
            raise TimeSeriesQueryError("InfluxDB answered an unexpected document", code="bad_answer")
        if "error" in document:
            raise TimeSeriesQueryError(f"InfluxDB refused the query: {document['error']}", code="refused")
        for result in document.get("results", []):
            error = result.get("error")
            if error:
                if is_database_not_found(str(error)):
                    continue
                raise TimeSeriesQueryError(f"InfluxDB refused the query: {error}", code="refused")
            for series in result.get("series", []):
                rows.extend(_series_rows(series, q, prefix))
    rows.sort(key=Row.sort_key)
    if q.limit is not None and q.aggregate is None:
        del rows[q.limit :]
    return rows


def _series_rows(series: dict[str, Any], q: SeriesQuery, prefix: str) -> Iterator[Row]:
    tags = {str(k): str(v) for k, v in (series.get("tags") or {}).items() if v not in (None, "")}
    columns: list[str] = list(series.get("columns", []))
    if not columns or columns[0] != "time":
        raise TimeSeriesQueryError(
            f"InfluxDB answered columns {columns!r} without time first", code="bad_answer"
        )
    names = [c[len(prefix) :] if prefix and c.startswith(prefix) else c for c in columns[1:]]
    for values in series.get("values", []):
        fields: dict[str, FieldValue] = {
            name: value for name, value in zip(names, values[1:], strict=True) if value is not None
        }
        if not fields:
            continue
        time_ns = q.start_ns if q.aggregate is not None and q.interval_ns is None else int(values[0])
        yield Row(time_ns=time_ns, tags=tags, fields=fields)
