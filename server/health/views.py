"""GET /api/health: each dependency's state. 200 while the database answers (status "ok" or "degraded"), else 503."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from server.health.checks import (
    check_analytics,
    check_database,
    check_ingest,
    check_redis,
    check_timeseries,
)


def _report() -> dict[str, object]:
    checks = {
        "database": check_database(),
        "redis": check_redis(),
        "timeseries": check_timeseries(),
        "ingest": check_ingest(),
        "analytics": check_analytics(),
    }
    status = "ok" if all(bool(c["ok"]) for c in checks.values()) else "degraded"
    if not checks["database"]["ok"]:
        status = "down"
    return {"status": status, "checks": checks}


async def health(request: HttpRequest) -> JsonResponse:
    report = await sync_to_async(_report)()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)
