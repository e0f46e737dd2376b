"""Reads for the processor (site setup) and for the analytics API (time-range queries)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from server.alerts.selectors import site_queue_alert_settings
from server.analytics.types import PersonIdentity
from server.insights.models import (
    DistancingViolation,
    LineCount,
    PersonVisit,
    QueueWait,
    ZoneDwell,
    ZoneTransition,
)
from server.insights.setup import SiteSetup, build_setup
from server.inventory.local_buckets import LocalBucket
from server.inventory.localtime import bucket_count, local_iso, site_zone_of, zone_named
from server.inventory.models import FloorPlan, Site, Zone, ZoneKind
from server.livestate import LiveStateUnavailableError, live_state
from server.people.models import IdentityBinding
from server.people.selectors import identities_for_site, revoked_persons_for_site
from server.timeseries.base import TimeSeriesBackend
from server.timeseries.measurements import POSITIONS
from server.timeseries.types import SeriesQuery


def site_identities(site_id: int) -> Mapping[int, PersonIdentity]:
    """Who each tracked person of the site is, as the analytics core takes it (`load_identities`): the bound
    ones, and the recently revoked ones as visitors whose staff mark ends (``PersonIdentity.revoked``)."""
    identities = {
        person_id: PersonIdentity(
            employee_id=identity["employee_id"],
            display_name=identity["name"],
            level=identity["level_rank"],
            permitted_zone_ids=identity["permitted_zone_ids"],
        )
        for person_id, identity in identities_for_site(site_id).items()
    }
    for person_id in revoked_persons_for_site(site_id):
        identities.setdefault(person_id, PersonIdentity(revoked=True))
    return identities


def site_config_revision(site_id: int) -> int:
    """The revision of the site's analytics configuration (`Site.config_revision`; 0 for an unknown site): one
    indexed row read, what the processor's refresh compares before it loads a setup (`load_revision`)."""
    revision = Site.objects.filter(pk=site_id).values_list("config_revision", flat=True).first()
    return int(revision or 0)


def site_setup(site_id: int) -> SiteSetup:
    # The site (its revision) first: the zones and plan read after it are at least that revision, so a change
    # committed in between bumps a revision the processor has not seen yet and it loads the setup again.
    site = (
        Site.objects.filter(pk=site_id)
        .only("timezone", "closing_time", "capacity", "config_revision")
        .first()
    )
    plan = FloorPlan.objects.filter(site_id=site_id).first()
    zones = list(
        Zone.objects.filter(site_id=site_id).values(
            "id", "name", "kind", "polygon", "required_level", "warning_distance_m"
        )
    )
    last = PersonVisit.objects.filter(site_id=site_id).aggregate(last=Max("person_id"))["last"] or 0
    closing = site.closing_time if site is not None else None
    return build_setup(
        site_id=site_id,
        zones=zones,
        width_m=plan.width_m if plan else 50.0,
        height_m=plan.height_m if plan else 50.0,
        origin_x_m=plan.origin_x_m if plan else 0.0,
        origin_y_m=plan.origin_y_m if plan else 0.0,
        cell_m=plan.heatmap_cell_m if plan else 0.5,
        first_person_id=int(last) + 1,
        timezone=site.timezone if site is not None else "UTC",
        closing_time_s=None
        if closing is None
        else closing.hour * 3600 + closing.minute * 60 + closing.second,
        capacity=site.capacity if site is not None else None,
        revision=site.config_revision if site is not None else 0,
        queue_thresholds=site_queue_alert_settings(site_id),
        has_floor_plan=plan is not None,
    )


def _visitors(include_staff: bool) -> Q:
    """The rows of visitor KPIs: staff's rows are left out unless `include_staff` (docs/kpis.md, "Staff")."""
    return Q() if include_staff else Q(staff=False)


def zone_interest(
    *, site_id: int, start: datetime, end: datetime, include_staff: bool = False
) -> list[dict[str, Any]]:
    """Per zone: visits, total and mean dwell (s); interest = total dwell-seconds share of all zones. A deleted
    zone's history is listed under its name with ``zone_id`` null."""
    grouped = (
        ZoneDwell.objects.filter(
            _visitors(include_staff), site_id=site_id, entered_at__gte=start, entered_at__lt=end
        )
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


def flow(
    *, site_id: int, start: datetime, end: datetime, include_staff: bool = False
) -> list[dict[str, Any]]:
    """Transitions between zones, most frequent first; a deleted zone appears by its name with a null id."""
    grouped = (
        ZoneTransition.objects.filter(_visitors(include_staff), site_id=site_id, at__gte=start, at__lt=end)
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


def violation_list(*, site_id: int, start: datetime, end: datetime) -> QuerySet[DistancingViolation]:
    """Violations that started in [start, end), newest first (stable order for paging)."""
    return DistancingViolation.objects.filter(
        site_id=site_id, started_at__gte=start, started_at__lt=end
    ).order_by("-started_at", "-id")


def violation_rows(violations: Sequence[DistancingViolation]) -> list[dict[str, Any]]:
    return [
        {
            "persons": [v.person_a, v.person_b],
            "start": v.started_at.isoformat(),
            "end": v.ended_at.isoformat() if v.ended_at else None,
            "min_distance_m": round(v.min_distance_m, 2),
        }
        for v in violations
    ]


# The buckets of the violations over time (`distancing`): minutes for the last hour, 5 minutes for a few hours,
# 15 minutes, hours for a day, days for weeks; at most MAX_DISTANCING_BUCKETS over a range.
DISTANCING_BUCKETS_S = {"1m": 60, "5m": 300, "15m": 900, "hour": 3600, "day": 86_400}
MAX_DISTANCING_BUCKETS = 2000


def distancing_buckets(
    start: datetime, end: datetime, bucket: str, zone: zoneinfo.ZoneInfo | None = None
) -> int:
    """The buckets of `bucket` that [start, end) touches (bars of the chart: a range that does not start on a
    bucket's start touches one more than its length makes), aligned as `distancing` aligns them: hours and days
    of the site's zone `zone` (UTC when not given), the shorter buckets on the epoch."""
    if bucket in ("hour", "day"):
        return bucket_count(start, end, bucket, zone or zone_named("UTC"))
    size_us = DISTANCING_BUCKETS_S[bucket] * 1_000_000
    first = _epoch_us(start) // size_us
    last = (_epoch_us(end) - 1) // size_us
    return max(0, last - first + 1)


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def distancing(*, site_id: int, start: datetime, end: datetime, bucket: str = "hour") -> dict[str, Any]:
    """Totals, contacts per person and violations over time (per `bucket` of DISTANCING_BUCKETS_S, by start;
    hours and days are the site's local ones, `LocalBucket`; the buckets of under an hour are aligned on the
    minute, 5 or 15 minutes of UTC, hence of the local clock in every zone in use, server.inventory.localtime),
    each bucket's start with the site's offset; the violations themselves: `violation_list`."""
    zone = site_zone_of(site_id)
    violations = DistancingViolation.objects.filter(
        site_id=site_id, started_at__gte=start, started_at__lt=end
    )
    contacts: dict[int, int] = {}
    for a, b in violations.values_list("person_a", "person_b"):
        contacts[a] = contacts.get(a, 0) + 1
        contacts[b] = contacts.get(b, 0) + 1
    bucket_s = DISTANCING_BUCKETS_S[bucket]
    if bucket_s < 3600:  # no truncation of the database's for these: the range holds a few thousand at most
        counts: dict[int, int] = {}
        for started_at in violations.values_list("started_at", flat=True):
            second = int(started_at.timestamp())
            key = second - second % bucket_s
            counts[key] = counts.get(key, 0) + 1
        over_time = [
            {"t": local_iso(datetime.fromtimestamp(key, tz=UTC), zone), "count": count}
            for key, count in sorted(counts.items())
        ]
    else:
        over_time = [
            {"t": local_iso(r["t"], zone), "count": r["count"]}
            for r in violations.annotate(t=LocalBucket("started_at", bucket, zone, within=(start, end)))
            .values("t")
            .annotate(count=Count("id"))
            .order_by("t")
        ]
    return {
        "total": violations.count(),
        "contacts_per_person": [
            {"person": p, "contacts": c} for p, c in sorted(contacts.items(), key=lambda kv: -kv[1])[:50]
        ],
        "over_time": over_time,
        "timezone": zone.key,
    }


def visits(
    *, site_id: int, start: datetime, end: datetime, bucket: str = "hour", include_staff: bool = False
) -> dict[str, Any]:
    """Visits of the site (docs/kpis.md): ``entries`` are the entries through its entrance lines (None when it
    has none), ``detected_visitors`` the persons first seen on the floor (``series``/``total`` are these too, as
    before). Staff are left out of both unless `include_staff`; ``staff`` counts them apart. The buckets are the
    site's local hours or days (``timezone``), each start with the site's offset."""
    zone = site_zone_of(site_id)
    detected = PersonVisit.objects.filter(site_id=site_id, started_at__gte=start, started_at__lt=end)
    rows = (
        detected.filter(_visitors(include_staff))
        .annotate(t=LocalBucket("started_at", bucket, zone, within=(start, end)))
        .values("t")
        .annotate(count=Count("id"))
        .order_by("t")
    )
    series = [{"t": local_iso(r["t"], zone), "count": r["count"]} for r in rows]
    total = sum(r["count"] for r in series)
    entries: dict[str, Any] | None = None
    counts = LineCount.objects.filter(site_id=site_id, entrance=True, start__gte=start, start__lt=end)
    if Zone.objects.filter(site_id=site_id, kind=ZoneKind.DOOR).exists() or counts.exists():
        entry_rows = (
            counts.annotate(t=LocalBucket("start", bucket, zone, within=(start, end)))
            .values("t")
            .annotate(visitors=Sum("in_count"), staff=Sum("staff_in"))
            .order_by("t")
        )
        entry_series = [
            {
                "t": local_iso(r["t"], zone),
                "count": int(r["visitors"] or 0) + (int(r["staff"] or 0) if include_staff else 0),
            }
            for r in entry_rows
        ]
        entries = {"series": entry_series, "total": sum(r["count"] for r in entry_series)}
    return {
        "bucket": bucket,
        "timezone": zone.key,
        "series": series,
        "total": total,
        "detected_visitors": total,
        "entries": entries,
        "staff": detected.filter(staff=True).count(),
    }


def doors(
    *, site_id: int, start: datetime, end: datetime, bucket: str = "hour", include_staff: bool = False
) -> dict[str, Any]:
    """In and out per counting line and time bucket (docs/kpis.md, "Entries and exits"), from the 15-minute
    counts (a range is taken to whole 15-minute buckets: those starting in it); staff crossings are counted apart
    (``staff_in``/``staff_out``) and, with `include_staff`, in ``in``/``out`` too. The buckets are the site's
    local hours or days (``timezone``), each start with the site's offset."""
    zone = site_zone_of(site_id)
    grouped = (
        LineCount.objects.filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(t=LocalBucket("start", bucket, zone, within=(start, end)))
        .values("line_id", "line_name", "entrance", "t")
        .annotate(
            in_count=Sum("in_count"),
            out_count=Sum("out_count"),
            staff_in=Sum("staff_in"),
            staff_out=Sum("staff_out"),
        )
        .order_by("t")
    )
    current = {
        z["id"]: z["name"]
        for z in Zone.objects.filter(site_id=site_id, kind__in=[ZoneKind.DOOR, ZoneKind.LINE]).values(
            "id", "name"
        )
    }
    lines: dict[object, dict[str, Any]] = {}
    for line_id, name in current.items():
        lines[line_id] = _line_row(line_id, name, entrance=None)
    for r in grouped:
        key = r["line_id"] if r["line_id"] is not None else ("deleted", r["line_name"])
        row = lines.setdefault(key, _line_row(r["line_id"], r["line_name"], entrance=r["entrance"]))
        if row["entrance"] is None:
            row["entrance"] = r["entrance"]
        point = row["_series"].get(r["t"])
        if point is None:
            point = row["_series"][r["t"]] = {"t": local_iso(r["t"], zone), "in": 0, "out": 0}
        values: dict[str, Any] = dict(r)
        for direction in ("in", "out"):
            staff = int(values[f"staff_{direction}"] or 0)
            count = int(values[f"{direction}_count"] or 0) + (staff if include_staff else 0)
            row[f"staff_{direction}"] += staff
            row[direction] += count
            point[direction] += count
    kinds = dict(Zone.objects.filter(site_id=site_id, id__in=list(current)).values_list("id", "kind"))
    result = []
    for row in lines.values():
        series = row.pop("_series")
        row["series"] = [series[t] for t in sorted(series)]
        if row["line_id"] in kinds:
            row["entrance"] = kinds[row["line_id"]] == ZoneKind.DOOR
        row["entrance"] = bool(row["entrance"])
        result.append(row)
    return {
        "bucket": bucket,
        "timezone": zone.key,
        "include_staff": include_staff,
        "lines": result,
        "entries": sum(r["in"] for r in result if r["entrance"]),
        "exits": sum(r["out"] for r in result if r["entrance"]),
    }


def _line_row(line_id: int | None, name: str, *, entrance: bool | None) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "line_name": name,
        "entrance": entrance,
        "in": 0,
        "out": 0,
        "staff_in": 0,
        "staff_out": 0,
        "_series": {},
    }


QUEUE_RATE_WINDOW = timedelta(minutes=10)


def queues(*, site_id: int, start: datetime, end: datetime, now: datetime | None = None) -> dict[str, Any]:
    """Per queue zone over [start, end) (waits that joined in it): served, abandoned, waiting time (median, mean,
    90th percentile, s); the service time of the site's service points (mean dwell, s); and live, from the live
    state and the services of the last 10 minutes: the length and the predicted wait of a newcomer."""
    now = now or timezone.now()
    rows = list(
        QueueWait.objects.filter(
            site_id=site_id, staff=False, joined_at__gte=start, joined_at__lt=end
        ).values_list("zone_id", "zone_name", "wait_s")
    )
    zones = {
        z["id"]: z["name"]
        for z in Zone.objects.filter(site_id=site_id, kind=ZoneKind.QUEUE).values("id", "name")
    }
    grouped: dict[object, dict[str, Any]] = {
        zone_id: {"zone_id": zone_id, "zone_name": name, "waits": [], "abandoned": 0}
        for zone_id, name in zones.items()
    }
    for zone_id, zone_name, wait_s in rows:
        key = zone_id if zone_id is not None else ("deleted", zone_name)
        row = grouped.setdefault(
            key, {"zone_id": zone_id, "zone_name": zone_name, "waits": [], "abandoned": 0}
        )
        if wait_s is None:
            row["abandoned"] += 1
        else:
            row["waits"].append(wait_s)
    lengths: dict[int, int] = {}
    try:
        live = live_state().latest(site_id)
    except LiveStateUnavailableError:
        live = None
    if live is not None:
        lengths = {zone_id: count for zone_id, count in live.zone_occupancy.items() if zone_id in zones}
    recent = dict(
        QueueWait.objects.filter(
            site_id=site_id, staff=False, served_at__gte=now - QUEUE_RATE_WINDOW, served_at__lte=now
        )
        .values("zone_id")
        .annotate(n=Count("id"))
        .values_list("zone_id", "n")
    )
    result = []
    for row in grouped.values():
        waits = np.array(row.pop("waits"), dtype=np.float64)
        served = int(waits.size)
        total = served + row["abandoned"]
        length = lengths.get(row["zone_id"]) if row["zone_id"] is not None else None
        services = recent.get(row["zone_id"], 0)
        predicted = None
        if length is not None and services >= 2:
            predicted = round(length * QUEUE_RATE_WINDOW.total_seconds() / services, 1)
        result.append(
            {
                **row,
                "served": served,
                "abandonment_rate": round(row["abandoned"] / total, 4) if total else None,
                "median_wait_s": round(float(np.median(waits)), 1) if served else None,
                "mean_wait_s": round(float(waits.mean()), 1) if served else None,
                "p90_wait_s": round(float(np.percentile(waits, 90)), 1) if served else None,
                "length": length,
                "predicted_wait_s": predicted,
            }
        )
    service = ZoneDwell.objects.filter(
        site_id=site_id, staff=False, zone__kind=ZoneKind.SERVICE, entered_at__gte=start, entered_at__lt=end
    ).aggregate(visits=Count("id"), dwell_s=Sum("dwell_s"))
    return {
        "queues": result,
        "service": {
            "visits": service["visits"],
            "mean_service_s": round(service["dwell_s"] / service["visits"], 1) if service["visits"] else None,
        },
    }


def live_occupancy(site_id: int) -> dict[str, Any] | None:
    """The newest live state of the site (None when there is none): counters per site and zone with the persons
    in each zone, and who is where (the identified persons with their zones and positions). Raises
    LiveStateUnavailableError when the live state cannot be read."""
    snapshot = live_state().latest(site_id)
    if snapshot is None:
        return None
    in_zone = snapshot.who_is_where()
    return {
        "time_us": snapshot.time_us,
        "site": snapshot.site_occupancy,
        "zones": [
            {"zone_id": zone_id, "count": count, "person_ids": list(in_zone.get(zone_id, ()))}
            for zone_id, count in snapshot.zone_occupancy.items()
        ],
        "who_is_where": [
            {
                "person_id": p.person_id,
                "employee_id": p.employee_id,
                "name": p.name,
                "zone_ids": list(p.zone_ids),
                "x_m": round(p.x_m, 2),
                "y_m": round(p.y_m, 2),
            }
            for p in snapshot.persons
            if p.employee_id is not None
        ],
    }


# --- listings for integrators ---


def visit_list(
    *,
    site_id: int,
    start: datetime,
    end: datetime,
    zone_id: int | None = None,
    employee_id: int | None = None,
    person_id: int | None = None,
) -> QuerySet[PersonVisit]:
    """Visits of the site that overlap [start, end) (an open visit overlaps until now), oldest first; only those
    that entered `zone_id`, were bound to `employee_id`, or are of `person_id`, when given."""
    visits = PersonVisit.objects.filter(site_id=site_id, started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=start)
    )
    if person_id is not None:
        visits = visits.filter(person_id=person_id)
    if zone_id is not None:
        visits = visits.filter(
            Exists(
                ZoneDwell.objects.filter(
                    site_id=site_id,
                    zone_id=zone_id,
                    person_id=OuterRef("person_id"),
                    entered_at__gte=OuterRef("started_at"),
                )
            )
        )
    if employee_id is not None:
        visits = visits.filter(
            Exists(
                IdentityBinding.objects.filter(
                    site_id=site_id, employee_id=employee_id, person_id=OuterRef("person_id")
                )
            )
        )
    return visits.order_by("started_at", "id")


def visit_details(*, site_id: int, visits: Sequence[PersonVisit]) -> list[dict[str, Any]]:
    """Entry, exit, the zones visited (entry, exit, dwell) and the identities bound, for a page of visits: two
    queries whatever the page size."""
    if not visits:
        return []
    person_ids = sorted({v.person_id for v in visits})
    dwells: dict[int, list[ZoneDwell]] = {}
    for dwell in ZoneDwell.objects.filter(site_id=site_id, person_id__in=person_ids).order_by("entered_at"):
        dwells.setdefault(dwell.person_id, []).append(dwell)
    bindings: dict[int, list[IdentityBinding]] = {}
    for binding in (
        IdentityBinding.objects.filter(site_id=site_id, person_id__in=person_ids)
        .select_related("employee")
        .order_by("bound_at")
    ):
        bindings.setdefault(binding.person_id, []).append(binding)
    out = []
    for visit in visits:
        ended = visit.ended_at
        zones = [
            {
                "zone": d.zone_id,
                "entered_at": d.entered_at.isoformat(),
                "exited_at": d.exited_at.isoformat(),
                "dwell_s": round(d.dwell_s, 1),
            }
            for d in dwells.get(visit.person_id, [])
            if d.entered_at >= visit.started_at and (ended is None or d.entered_at <= ended)
        ]
        identities = [
            {
                "employee": b.employee_id,
                "name": b.employee.name,
                "source": b.source,
                "bound_at": b.bound_at.isoformat(),
                "unbound_at": b.unbound_at.isoformat() if b.unbound_at else None,
            }
            for b in bindings.get(visit.person_id, [])
        ]
        out.append(
            {
                "person_id": visit.person_id,
                "entered_at": visit.started_at.isoformat(),
                "exited_at": ended.isoformat() if ended else None,
                "duration_s": round((ended - visit.started_at).total_seconds(), 1) if ended else None,
                "zones": zones,
                "identities": identities,
            }
        )
    return out


MAX_PATH_SPAN = timedelta(hours=12)
MAX_PATH_POINTS = 100_000


def person_path(
    *,
    backend: TimeSeriesBackend,
    site_id: int,
    person_id: int,
    start: datetime | None,
    end: datetime | None,
    limit: int = 10_000,
) -> dict[str, Any] | None:
    """A person's sampled floor positions (the `positions` time series, POSITIONS_SAMPLE_HZ) in time order,
    by default over their visit; None when the site has no visit of that person. The range is cut to
    MAX_PATH_SPAN from its start."""
    visit = PersonVisit.objects.filter(site_id=site_id, person_id=person_id).order_by("started_at").first()
    if visit is None:
        return None
    last = PersonVisit.objects.filter(site_id=site_id, person_id=person_id).order_by("-started_at").first()
    visit_end = (last.ended_at if last is not None and last.ended_at else None) or timezone.now()
    low = start or visit.started_at
    high = end or visit_end + timedelta(seconds=1)
    truncated = False
    if high - low > MAX_PATH_SPAN:
        high, truncated = low + MAX_PATH_SPAN, True
    points: list[list[Any]] = []
    if high > low:
        rows = backend.query(
            SeriesQuery(
                measurement=POSITIONS,
                start_ns=_ns(low),
                end_ns=_ns(high),
                tags={"site": str(site_id)},
                fields=["person_id", "x_m", "y_m"],
            )
        )
        for row in rows:
            value = row.fields.get("person_id")
            if value is None or int(value) != person_id:
                continue
            if len(points) >= limit:
                truncated = True
                break
            points.append(
                [
                    datetime.fromtimestamp(row.time_ns / 1e9, tz=UTC).isoformat(),
                    round(float(row.fields["x_m"] or 0.0), 3),
                    round(float(row.fields["y_m"] or 0.0), 3),
                ]
            )
    return {
        "person_id": person_id,
        "start": low.isoformat(),
        "end": high.isoformat(),
        "visit": {
            "entered_at": visit.started_at.isoformat(),
            "exited_at": last.ended_at.isoformat() if last is not None and last.ended_at else None,
        },
        "points": points,
        "truncated": truncated,
    }


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000
