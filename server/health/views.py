"""GET /api/health: each dependency's state. 200 while the database answers (status "ok" or "degraded"), else 503.

Anyone (a load balancer) gets the status and each check's name and `ok` only. The details (exception text, the
gRPC port, ingest and time-series counters) go to an authenticated admin, or to a request that carries the
`METRICS_TOKEN` bearer (`Authorization: Bearer <token>`; no token configured = no bearer access).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from server.accounts.roles import ADMIN, user_roles
from server.health.checks import (
    check_analytics,
    check_database,
    check_ingest,
    check_redis,
    check_timeseries,
)
from server.observability.exposition import METRICS_TOKEN_ENV


def _report() -> dict[str, Any]:
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


def public_view(report: dict[str, Any]) -> dict[str, Any]:
    """What an anonymous caller sees: the status, and per check whether it is ok (no detail, no counters)."""
    checks: dict[str, dict[str, Any]] = report["checks"]
    return {
        "status": report["status"],
        "checks": {name: {"ok": bool(check["ok"])} for name, check in checks.items()},
        "degraded": [name for name, check in checks.items() if not check["ok"]],
    }


def _has_metrics_bearer(request: HttpRequest) -> bool:
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if not token:
        return False
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _may_see_details(request: HttpRequest) -> bool:
    if _has_metrics_bearer(request):
        return True
    user = request.user
    return bool(user.is_active and ADMIN in user_roles(user))


async def health(request: HttpRequest) -> JsonResponse:
    report = await sync_to_async(_report)()
    detailed = await sync_to_async(_may_see_details)(request)
    body = report if detailed else public_view(report)
    return JsonResponse(body, status=503 if report["status"] == "down" else 200)
