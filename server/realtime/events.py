"""One typed builder per pushed event. `type` is the Channels handler name (dots become underscores)."""

from __future__ import annotations

from typing import Any


def live_positions_event(
    *, site_id: int, time_us: int, persons: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "type": "live.positions",
        "site_id": site_id,
        "time_us": time_us,
        "persons": persons,
        **extra,
    }


def alert_event(
    *,
    site_id: int,
    alert: dict[str, Any],
    change: str | None = None,
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An alert was opened, escalated, updated, closed, acknowledged or resolved (`change`); `counts` are the
    site's exact alert counts after it (server.alerts.selectors.alert_counts)."""
    event: dict[str, Any] = {"type": "alert.changed", "site_id": site_id, "alert": alert}
    if change is not None:
        event["change"] = change
    if counts is not None:
        event["counts"] = counts
    return event


def alerts_acknowledged_event(
    *, site_id: int, ids: list[int], acknowledged_at: str, acknowledged_by: int | None, counts: dict[str, int]
) -> dict[str, Any]:
    """Many alerts of a site were acknowledged at once (bulk acknowledge)."""
    return {
        "type": "alerts.acknowledged",
        "site_id": site_id,
        "ids": ids,
        "acknowledged_at": acknowledged_at,
        "acknowledged_by": acknowledged_by,
        "counts": counts,
    }


def siren_event(*, site_id: int, on: bool) -> dict[str, Any]:
    return {"type": "siren.changed", "site_id": site_id, "on": on}


def health_event(*, site_id: int, device_id: int, health: dict[str, Any]) -> dict[str, Any]:
    return {"type": "health.changed", "site_id": site_id, "device_id": device_id, "health": health}
