"""A scriptable in-memory backend for writer tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from server.timeseries.errors import TimeSeriesRejected, TimeSeriesUnavailable
from server.timeseries.types import Point, Row, SeriesQuery


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.stored: list[Point] = []
        self.calls: list[int] = []  # size of every write_batch call
        self.available = threading.Event()
        self.available.set()
        self.gate: threading.Event | None = None  # when set to an unset Event, write_batch blocks on it
        self.is_bad: Callable[[Point], bool] = lambda point: False
        self.name_bad_indices = False
        self.lock = threading.Lock()

    def write_batch(self, points: Sequence[Point]) -> None:
        with self.lock:
            self.calls.append(len(points))
        if self.gate is not None:
            self.gate.wait(10)
        if not self.available.is_set():
            raise TimeSeriesUnavailable("fake store is down", code="connection")
        bad = [i for i, point in enumerate(points) if self.is_bad(point)]
        if bad:
            if self.name_bad_indices:
                raise TimeSeriesRejected("bad points", code="invalid_point", bad_indices=tuple(bad))
            raise TimeSeriesRejected("400 partial write", code="http_400")
        with self.lock:
            self.stored.extend(points)

    def query(self, q: SeriesQuery) -> list[Row]:
        return []

    def ping(self) -> None:
        if not self.available.is_set():
            raise TimeSeriesUnavailable("fake store is down", code="connection")

    def close(self) -> None:
        pass


def points(count: int, start: int = 0, measurement: str = "m") -> list[Point]:
    return [Point(measurement, {"site": "s"}, {"v": i}, i) for i in range(start, start + count)]
