"""InfluxDB line protocol encoding
(https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/).

``measurement[,tag=value...] field=value[,field=value...] time_ns`` with tags sorted by key (InfluxDB's
preferred order). Escaping: commas and spaces in measurements; commas, equals signs and spaces in tag keys,
tag values and field keys; double quotes and backslashes inside string field values. Integers carry the ``i``
suffix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.timeseries.types import FieldValue, Point
from server.timeseries.validation import point_problem

_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\"})

_SERIES_CACHE_MAX = 20_000


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(name: str) -> str:
    """Escape a tag key, a tag value or a field key."""
    return name.translate(_KEY_ESCAPES)


def format_field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.translate(_STRING_ESCAPES) + '"'


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Line protocol body of the valid points, and the positions and reasons of the invalid ones."""

    body: bytes
    line_count: int
    bad: tuple[tuple[int, str], ...]


class LineProtocolEncoder:
    """Encodes points; remembers the escaped series prefix (measurement + tags) of recently seen series."""

    def __init__(self) -> None:
        self._series_cache: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def series_prefix(self, point: Point) -> str:
        key = (point.measurement, tuple(point.tags.items()))
        prefix = self._series_cache.get(key)
        if prefix is None:
            parts = [escape_measurement(point.measurement)]
            for tag_key, tag_value in sorted(point.tags.items()):
                if tag_value:
                    parts.append(f"{escape_key(tag_key)}={escape_key(tag_value)}")
            prefix = ",".join(parts)
            if len(self._series_cache) >= _SERIES_CACHE_MAX:
                self._series_cache.clear()
            self._series_cache[key] = prefix
        return prefix

    def line(self, point: Point) -> str:
        """One line, without validation (call ``point_problem`` first for untrusted points)."""
        fields = ",".join(f"{escape_key(k)}={format_field_value(v)}" for k, v in point.fields.items())
        return f"{self.series_prefix(point)} {fields} {point.time_ns}"

    def encode(self, points: Sequence[Point]) -> EncodedBatch:
        lines: list[str] = []
        bad: list[tuple[int, str]] = []
        for index, point in enumerate(points):
            problem = point_problem(point)
            if problem is not None:
                bad.append((index, problem))
                continue
            lines.append(self.line(point))
        return EncodedBatch(body="\n".join(lines).encode("utf-8"), line_count=len(lines), bad=tuple(bad))
