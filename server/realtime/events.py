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


def alert_event(*, site_id: int, alert: dict[str, Any]) -> dict[str, Any]:
    return {"type": "alert.changed", "site_id": site_id, "alert": alert}


def siren_event(*, site_id: int, on: bool) -> dict[str, Any]:
    return {"type": "siren.changed", "site_id": site_id, "on": on}


def health_event(*, site_id: int, device_id: int, health: dict[str, Any]) -> dict[str, Any]:
    return {"type": "health.changed", "site_id": site_id, "device_id": device_id, "health": health}
