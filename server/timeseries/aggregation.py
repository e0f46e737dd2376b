"""The query semantics of SeriesQuery evaluated in Python over raw points (used by the embedded store, and the
reference the InfluxDB backends are tested against)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from server.timeseries.types import FieldValue, Row, SeriesQuery


def _numeric(value: FieldValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(slots=True)
class _Accumulator:
    """Per-field running aggregate of one window and tag group."""

    count: int = 0
    total: float | int = 0
    maximum: float | int | None = None
    last: FieldValue | None = None
    last_time_ns: int = 0

    def add(self, value: FieldValue, time_ns: int) -> None:
        if self.last is None or time_ns >= self.last_time_ns:
            self.last = value
            self.last_time_ns = time_ns
        self.count += 1
        if _numeric(value):
            self.total += value  # type: ignore[operator]
            if self.maximum is None or value > self.maximum:  # type: ignore[operator]
                self.maximum = value  # type: ignore[assignment]

    def result(self, aggregate: str, numeric_count: int) -> FieldValue | None:
        if aggregate == "count":
            return self.count
        if aggregate == "last":
            return self.last
        if numeric_count == 0:
            return None
        if aggregate == "sum":
            return self.total
        if aggregate == "max":
            return self.maximum
        return self.total / numeric_count  # mean


@dataclass(slots=True)
class _Group:
    fields: dict[str, _Accumulator] = field(default_factory=dict)
    numeric_counts: dict[str, int] = field(default_factory=dict)


def tags_match(tags: Mapping[str, str], filters: Mapping[str, str]) -> bool:
    """Equality filters; a filter value of "" matches an absent tag."""
    return all(tags.get(key, "") == value for key, value in filters.items())


def evaluate(
    q: SeriesQuery, points: Iterable[tuple[int, Mapping[str, str], Mapping[str, FieldValue]]]
) -> list[Row]:
    """Rows for ``q`` from ``(time_ns, tags, fields)`` of the measurement within [start_ns, end_ns).

    String and boolean fields take part in ``count`` and ``last`` only (as InfluxDB's ``mean``/``sum``/``max``
    apply to numbers); a window whose field has no number gets no value for that field."""
    wanted = None if q.fields is None else set(q.fields)
    if q.aggregate is None:
        rows = []
        for time_ns, tags, fields in points:
            if not (q.start_ns <= time_ns < q.end_ns) or not tags_match(tags, q.tags):
                continue
            selected = dict(fields) if wanted is None else {k: v for k, v in fields.items() if k in wanted}
            if selected:
                rows.append(Row(time_ns=time_ns, tags={k: v for k, v in tags.items() if v}, fields=selected))
        rows.sort(key=Row.sort_key)
        return rows if q.limit is None else rows[: q.limit]

    interval_ns = q.interval_ns
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], _Group] = {}
    for time_ns, tags, fields in points:
        if not (q.start_ns <= time_ns < q.end_ns) or not tags_match(tags, q.tags):
            continue
        window_ns = q.start_ns if interval_ns is None else time_ns - (time_ns - q.offset_ns) % interval_ns
        group_tags = tuple((tag, tags[tag]) for tag in q.group_by_tags if tags.get(tag))
        group = groups.setdefault((window_ns, group_tags), _Group())
        for name, value in fields.items():
            if wanted is not None and name not in wanted:
                continue
            if q.aggregate in ("mean", "sum", "max") and not _numeric(value):
                continue
            group.fields.setdefault(name, _Accumulator()).add(value, time_ns)
            if _numeric(value):
                group.numeric_counts[name] = group.numeric_counts.get(name, 0) + 1
    rows = []
    for (window_ns, group_tags), group in groups.items():
        values: dict[str, FieldValue] = {}
        for name, accumulator in group.fields.items():
            result = accumulator.result(q.aggregate, group.numeric_counts.get(name, 0))
            if result is not None:
                values[name] = result
        if values:
            rows.append(Row(time_ns=window_ns, tags=dict(group_tags), fields=values))
    rows.sort(key=Row.sort_key)
    return rows
