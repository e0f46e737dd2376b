"""Health of the time-series layer for the server's health endpoint."""

from __future__ import annotations

from dataclasses import asdict

from server.timeseries.base import TimeSeriesBackend
from server.timeseries.errors import TimeSeriesError
from server.timeseries.writer import BatchingWriter

HealthValue = str | int | bool


def health(backend: TimeSeriesBackend, writer: BatchingWriter | None = None) -> dict[str, HealthValue]:
    """``{"backend", "ok", "detail"}`` plus the writer's counters (``buffered_points``, ``written_points``,
    ``dropped_points``, ``failed_batches``, ``last_error``, ``backend_healthy``).

    ``ok`` is False when the store does not answer its ping or when the writer's last attempt failed to reach
    it. The ping may take up to the backend's connect timeout when the store is down."""
    try:
        backend.ping()
        ok, detail = True, "ok"
    except TimeSeriesError as err:
        ok, detail = False, str(err)
    result: dict[str, HealthValue] = {"backend": backend.name, "ok": ok, "detail": detail}
    if writer is not None:
        stats = writer.stats()
        if ok and not stats.backend_healthy:
            ok, detail = False, f"writes failing: {stats.last_error}"
            result.update(ok=ok, detail=detail)
        result.update(asdict(stats))
    return result
