"""Checks a point must pass before any backend stores it (the rules of InfluxDB line protocol, applied
everywhere so that the embedded store accepts exactly what InfluxDB accepts)."""

from __future__ import annotations

import math

from server.timeseries.types import Point

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_STRING_FIELD_BYTES = 64 * 1024
RESERVED_KEYS = frozenset({"time"})


def _name_problem(kind: str, name: str) -> str | None:
    if not name:
        return f"empty {kind}"
    if "\n" in name or "\r" in name:
        return f"{kind} {name!r} contains a line break"
    if name.endswith("\\"):
        return f"{kind} {name!r} ends with a backslash"
    return None


def point_problem(point: Point) -> str | None:
    """Return why ``point`` cannot be stored, or ``None`` when it can."""
    problem = _name_problem("measurement", point.measurement)
    if problem:
        return problem
    if point.measurement.startswith("#"):
        return f"measurement {point.measurement!r} starts with '#'"
    if isinstance(point.time_ns, bool) or not isinstance(point.time_ns, int):
        return f"time_ns {point.time_ns!r} is not an integer"
    if not INT64_MIN < point.time_ns < INT64_MAX:
        return f"time_ns {point.time_ns} is out of the int64 range"
    for key, value in point.tags.items():
        if not isinstance(value, str):
            return f"tag {key!r} value {value!r} is not a string"
        problem = _name_problem("tag key", key) or (_name_problem("tag value", value) if value else None)
        if problem:
            return problem
        if key in RESERVED_KEYS:
            return f"tag key {key!r} is reserved"
    if not point.fields:
        return "point has no fields"
    for key, field_value in point.fields.items():
        problem = _name_problem("field key", key)
        if problem:
            return problem
        if key in RESERVED_KEYS:
            return f"field key {key!r} is reserved"
        if isinstance(field_value, bool):
            continue
        if isinstance(field_value, int):
            if not INT64_MIN <= field_value <= INT64_MAX:
                return f"field {key!r} integer {field_value} is out of the int64 range"
        elif isinstance(field_value, float):
            if not math.isfinite(field_value):
                return f"field {key!r} is not finite ({field_value!r})"
        elif isinstance(field_value, str):
            if len(field_value.encode("utf-8")) > MAX_STRING_FIELD_BYTES:
                return f"field {key!r} string is longer than {MAX_STRING_FIELD_BYTES} bytes"
        else:
            return f"field {key!r} has unsupported type {type(field_value).__name__}"
    return None


def stored_tags(point: Point) -> dict[str, str]:
    """The tags actually stored: empty values are dropped (an empty tag is an absent tag)."""
    return {key: value for key, value in point.tags.items() if value}
