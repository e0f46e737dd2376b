"""Dependency checks for the health endpoint. Each returns {"ok": bool, "detail": str, ...}; none raises."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection

from server import runtime


def _timed(check_ok: bool, detail: str, started: float, **extra: Any) -> dict[str, Any]:
    return {
        "ok": check_ok,
        "detail": detail,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        **extra,
    }


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as err:
        return _timed(False, f"{type(err).__name__}: {err}", started, vendor=connection.vendor)
    return _timed(True, "reachable", started, vendor=connection.vendor)


def check_redis() -> dict[str, Any]:
    started = time.perf_counter()
    if not settings.REDIS_URL:
        return _timed(True, "not configured (in-memory channel layer)", started, backend="in-memory")
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except Exception as err:
        return _timed(
            False, f"{type(err).__name__}: {err}; live push paused, ingest goes on", started, backend="redis"
        )
    return _timed(True, "reachable", started, backend="redis")


def check_timeseries() -> dict[str, Any]:
    started = time.perf_counter()
    current = runtime.current()
    if current is None:
        return _timed(False, "time-series writer not running in this process", started)
    stats = current.writer.stats()
    try:
        current.backend.ping()
    except Exception as err:
        return _timed(
            False,
            f"{type(err).__name__}: {err}; points buffered ({stats.buffered_points}) and retried",
            started,
            backend=type(current.backend).__name__,
            **_stats(stats),
        )
    return _timed(True, "reachable", started, backend=type(current.backend).__name__, **_stats(stats))


def _stats(stats: Any) -> dict[str, Any]:
    return {
        "buffered_points": stats.buffered_points,
        "written_points": stats.written_points,
        "dropped_points": stats.dropped_points,
    }


def check_analytics() -> dict[str, Any]:
    """The recorder of analytics records (visits, dwell, flow, violations, heat map): degraded while it cannot
    write them (they are kept, and the frames they come from stay unacked). Records the database refused as bad
    data were dropped and are counted (`dropped_records`, also a metric), without degrading."""
    started = time.perf_counter()
    current = runtime.current()
    if current is None or current.grpc_port == 0:
        return _timed(True, "no analytics in this process", started, running=False)
    stats = current.recorder.stats()
    counters = {
        "running": True,
        "pending_records": stats.pending_records,
        "written_rows": stats.written_rows,
        "dropped_records": stats.dropped_records,
        "failed_writes": stats.failed_writes,
    }
    if not stats.healthy:
        detail = f"cannot write analytics records ({stats.last_error}); kept and retried, acks withheld"
        return _timed(False, detail, started, **counters)
    detail = "writing"
    if stats.dropped_records:
        detail += f"; {stats.dropped_records} record(s) refused by the database were dropped (see the log)"
    return _timed(True, detail, started, **counters)


def check_ingest() -> dict[str, Any]:
    started = time.perf_counter()
    current = runtime.current()
    if current is None or current.grpc_port == 0:
        return _timed(True, "gRPC ingest not running in this process", started, running=False)
    ingest = current.pipeline.stats
    problem = current.pipeline.state_save_problem()
    return _timed(
        problem is None,
        "serving" if problem is None else problem,
        started,
        running=True,
        port=current.grpc_port,
        open_streams=current.servicer.open_streams,
        frames_accepted=ingest.frames_accepted,
        frames_rejected=ingest.frames_rejected,
        frames_duplicate=ingest.frames_duplicate,
        push_failures=current.publisher.stats.failures,
        state_save_failures=ingest.state_save_failures,
    )
