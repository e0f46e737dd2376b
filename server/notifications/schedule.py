"""When a rule may notify: a per-rule schedule of weekly windows in the site's time zone (pure Python).

A window is ``{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}`` (0 = Monday, local wall-clock time); an end
before its start runs past midnight (``22:00``–``06:00`` on Friday covers Friday night and Saturday morning).
A rule's ``mode``: ``always`` (windows ignored), ``inside`` (only inside a window: "during opening hours") or
``outside`` (only outside every window: "only outside opening hours").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from server.errors import FieldError
from server.inventory.localtime import zone_named

MODES = ("always", "inside", "outside")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_WINDOWS = 50


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        if self.start == self.end:  # a whole day
            return local.weekday() in self.days
        # Past midnight: the evening part belongs to its day, the morning part to the day before.
        if clock >= self.start:
            return local.weekday() in self.days
        if clock < self.end:
            return (local - timedelta(days=1)).weekday() in self.days
        return False


def _parse_time(value: Any, field: str) -> time:
    if not isinstance(value, str) or not _TIME.match(value):
        raise FieldError(field, f"{value!r} is not a time HH:MM (00:00–23:59)", code="invalid_schedule")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_windows(raw: Any, field: str = "schedule_windows") -> tuple[Window, ...]:
    """Validate the JSON windows of a rule; raises FieldError naming what is wrong."""
    if not isinstance(raw, list):
        raise FieldError(field, "expected a list of windows", code="invalid_schedule")
    if len(raw) > MAX_WINDOWS:
        raise FieldError(field, f"at most {MAX_WINDOWS} windows", code="invalid_schedule")
    windows = []
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping) or set(item) - {"days", "start", "end"}:
            raise FieldError(where, "expected {days, start, end}", code="invalid_schedule")
        days = item.get("days", list(range(7)))
        if (
            not isinstance(days, list)
            or not days
            or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days)
        ):
            raise FieldError(
                where, "days: a non-empty list of 0 (Monday) … 6 (Sunday)", code="invalid_schedule"
            )
        windows.append(
            Window(
                days=frozenset(days),
                start=_parse_time(item.get("start"), f"{where}.start"),
                end=_parse_time(item.get("end"), f"{where}.end"),
            )
        )
    return tuple(windows)


def schedule_allows(*, mode: str, windows: Sequence[Window], moment: datetime, tz: str) -> bool:
    """Whether a rule with this schedule notifies at `moment` (an aware datetime) in the site's zone `tz`."""
    if mode == "always":
        return True
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local = moment.astimezone(zone_named(tz))
    inside = any(window.contains(local) for window in windows)
    if mode == "inside":
        return inside
    if mode == "outside":
        return not inside
    raise ValueError(f"unknown schedule mode {mode!r}; expected one of {MODES}")
