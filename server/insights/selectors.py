"""Reads for the processor (site setup) and for the analytics API (time-range queries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDay, TruncHour

from server.insights.models import DistancingViolation, HeatmapHour, PersonVisit, ZoneDwell, ZoneTransition
from server.insights.processor import SiteSetup, build_setup
from server.inventory.models import FloorPlan, Zone


def site_setup(site_id: int) -> SiteSetup:
    plan = FloorPlan.objects.filter(site_id=site_id).first()
    zones = list(
        Zone.objects.filter(site_id=site_id).values(
            "id", "name", "kind", "polygon", "required_level", "warning_distance_m"
        )
    )
    last = PersonVisit.objects.filter(site_id=site_id).aggregate(last=Max("person_id"))["last"] or 0
    return build_setup(
        site_id=site_id,
        zones=zones,
        width_m=plan.width_m if plan else 50.0,
        height_m=plan.height_m if plan else 50.0,
        origin_x_m=plan.origin_x_m if plan else 0.0,
        origin_y_m=plan.origin_y_m if plan else 0.0,
        cell_m=plan.heatmap_cell_m if plan else 0.5,
        first_person_id=int(last) + 1,
    )


def heatmap(*, site_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Person-seconds per cell (congestion) and mean movement direction per cell over whole hours in range."""
    rows = HeatmapHour.objects.filter(site_id=site_id, hour_start__gte=_floor_hour(start), hour_start__lt=end)
    total: np.ndarray[Any, np.dtype[np.float64]] | None = None
    dx: np.ndarray[Any, np.dtype[np.float64]] | None = None
    dy: np.ndarray[Any, np.dtype[np.float64]] | None = None
    shape = (0, 0, 0.5)
    for row in rows.only(
        "columns", "rows", "cell_m", "person_s", "displacement_x_m", "displacement_y_m"
    ).iterator():
        if total is None or shape != (row.columns, row.rows, row.cell_m):
            shape = (row.columns, row.rows, row.cell_m)
            total = np.zeros(row.columns * row.rows)
            dx = np.zeros_like(total)
            dy = np.zeros_like(total)
        total += np.frombuffer(bytes(row.person_s), dtype="<f4")
        dx += np.frombuffer(bytes(row.displacement_x_m), dtype="<f4")
        dy += np.frombuffer(bytes(row.displacement_y_m), dtype="<f4")
    if total is None or dx is None or dy is None:
        return {"cell_m": shape[2], "columns": 0, "rows": 0, "cells": [], "total_person_s": 0.0}
    nonzero = np.flatnonzero(total > 0)
    columns = shape[0]
    cells = [
        [
            int(i % columns),
            int(i // columns),
            round(float(total[i]), 2),
            round(float(dx[i]), 2),
            round(float(dy[i]), 2),
        ]  # type: ignore[index]
        for i in nonzero
    ]
    return {
        "cell_m": shape[2],
        "columns": columns,
        "rows": shape[1],
        "cells": cells,
        "total_person_s": round(float(total.sum()), 2),
    }


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def zone_interest(*, site_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per zone: visits, total and mean dwell (s); interest = total dwell-seconds share of all zones. A deleted
    zone's history is listed under its name with ``zone_id`` null."""
    grouped = (
        ZoneDwell.objects.filter(site_id=site_id, entered_at__gte=start, entered_at__lt=end)
        .values("zone_id", "zone_name")
        .annotate(visits=Count("id"), dwell_s=Sum("dwell_s"))
        .order_by("zone_id", "zone_name")
    )
    merged: dict[object, dict[str, Any]] = {}
    for r in grouped:
        key = r["zone_id"] if r["zone_id"] is not None else ("deleted", r["zone_name"])
        row = merged.setdefault(
            key, {"zone_id": r["zone_id"], "zone_name": r["zone_name"], "visits": 0, "dwell_s": 0.0}
        )
        row["visits"] += r["visits"]
        row["dwell_s"] += r["dwell_s"] or 0.0
        row["zone_name"] = r["zone_name"] or row["zone_name"]
    rows = list(merged.values())
    total = sum(r["dwell_s"] for r in rows) or 1.0
    return [
        {
            "zone_id": r["zone_id"],
            "zone_name": r["zone_name"],
            "visits": r["visits"],
            "dwell_s": round(r["dwell_s"], 1),
            "mean_dwell_s": round(r["dwell_s"] / r["visits"], 1) if r["visits"] else 0.0,
            "interest": round(r["dwell_s"] / total, 4),
        }
        for r in rows
    ]


def flow(*, site_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Transitions between zones, most frequent first; a deleted zone appears by its name with a null id."""
    grouped = (
        ZoneTransition.objects.filter(site_id=site_id, at__gte=start, at__lt=end)
        .exclude(from_zone__isnull=True, from_zone_name="")  # a person's first zone: no transition
        .values("from_zone_id", "from_zone_name", "to_zone_id", "to_zone_name")
        .annotate(count=Count("id"))
    )
    merged: dict[tuple[object, object], dict[str, Any]] = {}
    for r in grouped:
        source = r["from_zone_id"] if r["from_zone_id"] is not None else ("deleted", r["from_zone_name"])
        target = r["to_zone_id"] if r["to_zone_id"] is not None else ("deleted", r["to_zone_name"])
        row = merged.setdefault(
            (source, target),
            {
                "from_zone": r["from_zone_id"],
                "from_zone_name": r["from_zone_name"],
                "to_zone": r["to_zone_id"],
                "to_zone_name": r["to_zone_name"],
                "count": 0,
            },
        )
        row["count"] += r["count"]
    return sorted(merged.values(), key=lambda row: -int(row["count"]))


def distancing(*, site_id: int, start: datetime, end: datetime, bucket: str = "hour") -> dict[str, Any]:
    violations = DistancingViolation.objects.filter(
        site_id=site_id, started_at__gte=start, started_at__lt=end
    )
    listed = [
        {
            "persons": [v.person_a, v.person_b],
            "start": v.started_at.isoformat(),
            "end": v.ended_at.isoformat() if v.ended_at else None,
            "min_distance_m": round(v.min_distance_m, 2),
        }
        for v in violations.order_by("-started_at")[:500]
    ]
    contacts: dict[int, int] = {}
    for a, b in violations.values_list("person_a", "person_b"):
        contacts[a] = contacts.get(a, 0) + 1
        contacts[b] = contacts.get(b, 0) + 1
    trunc = TruncHour if bucket == "hour" else TruncDay
    over_time = [
        {"t": r["t"].isoformat(), "count": r["count"]}
        for r in violations.annotate(t=trunc("started_at"))
        .values("t")
        .annotate(count=Count("id"))
        .order_by("t")
    ]
    return {
        "violations": listed,
        "total": violations.count(),
        "contacts_per_person": [
            {"person": p, "contacts": c} for p, c in sorted(contacts.items(), key=lambda kv: -kv[1])[:50]
        ],
        "over_time": over_time,
    }


def visits(*, site_id: int, start: datetime, end: datetime, bucket: str = "hour") -> dict[str, Any]:
    trunc = TruncHour if bucket == "hour" else TruncDay
    rows = (
        PersonVisit.objects.filter(site_id=site_id, started_at__gte=start, started_at__lt=end)
        .annotate(t=trunc("started_at"))
        .values("t")
        .annotate(count=Count("id"))
        .order_by("t")
    )
    series = [{"t": r["t"].isoformat(), "count": r["count"]} for r in rows]
    return {"bucket": bucket, "series": series, "total": sum(r["count"] for r in series)}
