"""An employee's data on request: everything the server holds about them as one JSON document, and its erasure
(audited); and the heat map's small-count suppression applied with the site's visitor count.

What belongs to an employee: the employee row, their zone grants, their identity bindings, and through those
bindings the person numbers they were tracked under: the visits of each bound person number at that site that
overlap the binding's time, and the zone dwells, flow, door crossings and queue waits of that person number that
overlap the binding or one of those visits (the whole track, from before the binding too), and the floor
positions in the time series of that person number during those visits; the alerts that named them (by employee
or by the name they were taken for); the audit entries about their employee record.

Erasure deletes the bindings, the grants, the bound visits/dwells/flow/crossings/waits, their positions and the
employee; it keeps the alerts (security records) but removes the name (`person_name` becomes "(erased)", the
employee link is cleared) and anonymises the audit entries about the employee (name and badge replaced). One audit
entry `erase` records that it happened, without the name. The positions go first (the time series is no part of
the database's transaction): a time series that cannot erase them now fails the erasure, nothing erased, to be
retried; a store that cannot erase by person at all (InfluxDB 2.x) is counted ``positions: None``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, DurationField, F, FloatField, Func, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Floor
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from server.alerts.models import Alert
from server.audit.models import AuditLog
from server.audit.services import Actor, audit_record, field_values
from server.errors import ApplicationError
from server.insights.fetch import fetch_rows
from server.insights.models import LineCrossing, PersonVisit, QueueWait, ZoneDwell, ZoneTransition
from server.inventory.models import Site
from server.notifications.models import Delivery
from server.people.models import Employee, IdentityBinding
from server.people.signals import identities_changed_on_commit
from server.retention.suppression import suppress_heatmap
from server.retention.timeseries import current_backend
from server.timeseries.errors import TimeSeriesError
from server.timeseries.measurements import POSITIONS

logger = logging.getLogger(__name__)

ERASED = "(erased)"
EMPLOYEE_TYPE = "people.employee"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _bound_filter(bindings: list[IdentityBinding], start_field: str, end_field: str) -> Q | None:
    """Rows of the bound person numbers whose time overlaps a binding."""
    query: Q | None = None
    for binding in bindings:
        part = Q(site_id=binding.site_id, person_id=binding.person_id) & Q(
            **{f"{end_field}__gte": binding.bound_at}
        )
        if binding.unbound_at is not None:
            part &= Q(**{f"{start_field}__lte": binding.unbound_at})
        query = part if query is None else query | part
    return query


def _in_visits(
    visits: list[tuple[int, int, datetime, datetime | None]], start_field: str, end_field: str
) -> Q:
    """Rows of these visits' person numbers whose time overlaps the visit (the whole bound track: its records
    from before the binding are the employee's too, as they are re-marked as staff's)."""
    query = Q(pk__in=[])
    for site_id, person_id, started_at, ended_at in visits:
        part = Q(site_id=site_id, person_id=person_id) & Q(**{f"{end_field}__gte": started_at})
        if ended_at is not None:
            part &= Q(**{f"{start_field}__lte": ended_at})
        query |= part
    return query


def _linked(employee: Employee) -> dict[str, QuerySet[Any]]:
    bindings = list(IdentityBinding.objects.filter(employee=employee))
    none = Q(pk__in=[])
    visits = _bound_filter(bindings, "started_at", "ended_at") or none
    bound_visits = list(
        PersonVisit.objects.filter(visits).values_list("site_id", "person_id", "started_at", "ended_at")
    )

    def linked(start_field: str, end_field: str) -> Q:
        return (_bound_filter(bindings, start_field, end_field) or none) | _in_visits(
            bound_visits, start_field, end_field
        )

    dwells = linked("entered_at", "exited_at")
    transitions = linked("at", "at")
    crossings = linked("at", "at")
    waits = linked("joined_at", "left_at")
    alerts = Q(employee=employee)
    if employee.name:
        alerts |= Q(person_name=employee.name, employee__isnull=True)
    return {
        "bindings": IdentityBinding.objects.filter(employee=employee),
        "visits": PersonVisit.objects.filter(visits),
        "zone_dwells": ZoneDwell.objects.filter(dwells),
        "zone_transitions": ZoneTransition.objects.filter(transitions),
        "line_crossings": LineCrossing.objects.filter(crossings),
        "queue_waits": QueueWait.objects.filter(waits),
        "alerts": Alert.objects.filter(alerts),
        "audit_entries": AuditLog.objects.filter(object_type=EMPLOYEE_TYPE, object_id=str(employee.pk)),
    }


def employee_export(*, actor: Actor, employee: Employee) -> dict[str, Any]:
    """Everything about `employee` as a JSON-ready document (the export is itself audited)."""
    linked = _linked(employee)
    document = {
        "exported_at": timezone.now().isoformat(),
        "employee": field_values(employee),
        "level": employee.level.name if employee.level is not None else None,
        "zone_permissions": [field_values(p) for p in employee.zone_permissions.all()],
        "bindings": [field_values(b) for b in linked["bindings"].order_by("bound_at")],
        "visits": [
            {
                "site": v.site_id,
                "person_id": v.person_id,
                "started_at": _iso(v.started_at),
                "ended_at": _iso(v.ended_at),
            }
            for v in linked["visits"].order_by("started_at")
        ],
        "zone_dwells": [
            {
                "site": d.site_id,
                "zone": d.zone_id,
                "zone_name": d.zone_name,
                "person_id": d.person_id,
                "entered_at": _iso(d.entered_at),
                "exited_at": _iso(d.exited_at),
                "dwell_s": d.dwell_s,
            }
            for d in linked["zone_dwells"].order_by("entered_at")
        ],
        "zone_transitions": [
            {
                "site": t.site_id,
                "person_id": t.person_id,
                "from_zone_name": t.from_zone_name,
                "to_zone_name": t.to_zone_name,
                "at": _iso(t.at),
            }
            for t in linked["zone_transitions"].order_by("at")
        ],
        "line_crossings": [
            {
                "site": c.site_id,
                "person_id": c.person_id,
                "line_name": c.line_name,
                "direction": c.direction,
                "at": _iso(c.at),
            }
            for c in linked["line_crossings"].order_by("at")
        ],
        "queue_waits": [
            {
                "site": w.site_id,
                "person_id": w.person_id,
                "zone_name": w.zone_name,
                "joined_at": _iso(w.joined_at),
                "served_at": _iso(w.served_at),
                "left_at": _iso(w.left_at),
                "wait_s": w.wait_s,
            }
            for w in linked["queue_waits"].order_by("joined_at")
        ],
        "alerts": [field_values(a) for a in linked["alerts"].order_by("raised_at")],
        "audit_entries": [
            {
                "at": _iso(e.at),
                "actor": e.actor_username,
                "action": e.action,
                "changes": e.changes,
            }
            for e in linked["audit_entries"].order_by("at")
        ],
        "not_included": (
            "the floor positions in the time series of the person numbers of these visits (sampled once a "
            f"second, kept {settings.RETENTION_POSITIONS_DAYS} days; erased with the employee); the live state "
            "forgets them within a minute"
        ),
    }
    audit_record(actor=actor, action="export", instance=employee, changes={"exported": True})
    return document


def _anonymise_changes(changes: Any, employee: Employee) -> Any:
    if not isinstance(changes, dict):
        return changes
    result = dict(changes)
    for key in ("name", "badge_id"):
        if key in result:
            value = result[key]
            result[key] = [ERASED, ERASED] if isinstance(value, list) else ERASED
    return result


def _name_pattern(names: set[str]) -> re.Pattern[str] | None:
    """The employee's names as whole words (longest first), to take them out of free text."""
    words = sorted((name for name in names if name and name != ERASED), key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")(?!\w)")


def _without_name(text: Any, pattern: re.Pattern[str] | None) -> Any:
    return pattern.sub(ERASED, text) if pattern is not None and isinstance(text, str) else text


def _anonymise_deliveries(alert_ids: list[int], pattern: re.Pattern[str] | None = None) -> int:
    """The name in the stored payloads of the notifications of these alerts (its field and its message)."""
    rows = list(Delivery.objects.filter(alert_id__in=alert_ids))
    for row in rows:
        payload = dict(row.payload) if isinstance(row.payload, dict) else {}
        alert = payload.get("alert")
        if isinstance(alert, dict):
            payload["alert"] = {
                **alert,
                "person_name": ERASED,
                "employee": None,
                "message": _without_name(alert.get("message"), pattern),
            }
        row.payload = payload
    Delivery.objects.bulk_update(rows, ["payload"])
    return len(rows)


_POSITION_MARGIN = timedelta(
    seconds=2
)  # positions are sampled at frames within the visit; a little either side


def _erase_positions(visits: QuerySet[PersonVisit]) -> int | None:
    """Delete the time series' positions of each visit's person number during the visit (an open visit: until
    now); how many, or None where the store cannot erase by person (InfluxDB 2.x: its bucket retention applies).
    Raises ApplicationError (503) when the store cannot do it now."""
    now = timezone.now()
    windows = [
        (site_id, person_id, started_at - _POSITION_MARGIN, (ended_at or now) + _POSITION_MARGIN)
        for site_id, person_id, started_at, ended_at in visits.values_list(
            "site_id", "person_id", "started_at", "ended_at"
        )
    ]
    try:
        with current_backend() as backend:
            delete_points_of = getattr(backend, "delete_points_of", None)
            if delete_points_of is None:
                logger.warning("erasure: the time series (%s) cannot erase positions by person", backend.name)
                return None
            return sum(
                int(
                    delete_points_of(
                        POSITIONS,
                        tags={"site": str(site_id)},
                        field="person_id",
                        values=(person_id,),
                        start_ns=int(start.timestamp() * 1e6) * 1000,
                        end_ns=int(end.timestamp() * 1e6) * 1000,
                    )
                )
                for site_id, person_id, start, end in windows
            )
    except TimeSeriesError as err:
        raise ApplicationError(
            f"the positions in the time series cannot be erased now ({err.code}); nothing was erased, try again",
            code="timeseries_unavailable",
            status_code=503,
        ) from err


@transaction.atomic
def employee_erase(*, actor: Actor, employee: Employee) -> dict[str, int | None]:
    """Erase `employee` and what is linked to them (module docstring); returns how many rows of each.

    Erasures of one site take turns (its row locked to the end of the transaction): InfluxDB 1.x erases by
    reading, deleting and writing back chunks of the site's positions, and two such rewrites interleaved put
    back the positions the other erased or lose the others' positions the other had read. The employee's row is
    locked too, so a second erasure of the same employee finds nothing left."""
    sites = IdentityBinding.objects.filter(employee=employee).values_list("site_id", flat=True)
    # FOR NO KEY UPDATE: the recorder's inserts of the site's rows (a FOR KEY SHARE of it) do not wait.
    locked = Site.objects.select_for_update(no_key=True).filter(pk__in=list(sites)).order_by("pk")
    list(locked.values_list("pk", flat=True))
    Employee.objects.select_for_update().filter(pk=employee.pk).values_list("pk", flat=True).first()
    linked = _linked(employee)
    counts: dict[str, int | None] = {}
    site_ids = set(linked["bindings"].values_list("site_id", flat=True))
    counts["positions"] = _erase_positions(linked["visits"])
    for name in ("visits", "zone_dwells", "zone_transitions", "line_crossings", "queue_waits"):
        counts[name] = linked[name].delete()[0]
    alerts = list(linked["alerts"].only("pk", "person_name", "message"))
    alert_ids = [alert.pk for alert in alerts]
    # Alert messages name the employee ("An unauthorized employee (Kim) …"): the name goes from the text too.
    pattern = _name_pattern({employee.name, *(alert.person_name for alert in alerts)})
    for alert in alerts:
        alert.message = _without_name(alert.message, pattern)
    Alert.objects.bulk_update(alerts, ["message"])
    counts["alerts_anonymised"] = linked["alerts"].update(person_name=ERASED, employee=None)
    counts["notifications_anonymised"] = _anonymise_deliveries(alert_ids, pattern)
    entries = list(linked["audit_entries"])
    for entry in entries:
        entry.object_repr = ERASED
        entry.changes = _anonymise_changes(entry.changes, employee)
    AuditLog.objects.bulk_update(entries, ["object_repr", "changes"])
    counts["audit_entries_anonymised"] = len(entries)
    counts["bindings"] = linked["bindings"].delete()[0]
    counts["zone_permissions"] = employee.zone_permissions.all().delete()[0]
    employee_id = employee.pk
    audit_record(actor=actor, action="erase", instance=employee, changes={"erased": counts})
    AuditLog.objects.filter(object_type=EMPLOYEE_TYPE, object_id=str(employee_id), action="erase").update(
        object_repr=ERASED
    )
    employee.delete()
    for site_id in sorted(site_ids):
        identities_changed_on_commit(site_id)
    logger.info("employee %d erased: %s", employee_id, counts)
    return counts


_FIRST_VISITS = 1000  # visits looked at first when counting distinct visitors up to a few


def distinct_visitors(*, site_id: int, start: datetime, end: datetime, at_most: int) -> int:
    """Distinct visitors (person numbers) on the site at some time in [start, end), counted up to `at_most` (the
    suppression only asks whether there were k: a 30-day range stops at the k-th instead of counting them all).
    The first visits found usually hold k persons already; only when they do not is every visit's person
    de-duplicated by the database (DISTINCT sorts all of them: 25-35 ms for a 30-day range of 60,000 visits)."""
    overlapping = (
        PersonVisit.objects.filter(site_id=site_id, started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .order_by()
        .values_list("person_id", flat=True)
    )
    first = list(overlapping[:_FIRST_VISITS])
    if len(set(first)) >= at_most or len(first) < _FIRST_VISITS:
        return min(len(set(first)), at_most)
    return len(overlapping.distinct()[:at_most])


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, computed by the database (a 30-day range of visits is tens of
    thousands of rows: converting each to a Python datetime cost more than the rest of the heat-map answer)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra_context,
        )


class BinStart(Func):
    """PostgreSQL's `date_bin(stride, source, origin)`: the start of the stride-long bucket holding `source` on
    the grid through `origin` (floored, before the origin too), in integer microseconds."""

    function = "date_bin"
    output_field = DateTimeField()


def frame_visitors(
    *, site_id: int, start: datetime, end: datetime, frame_starts: list[datetime], bucket_s: int
) -> list[int]:
    """Visits overlapping each frame's bucket [t, t + bucket_s) (frames sorted by start), a visit count: someone
    who leaves and comes back within one bucket counts twice. The frames lie on a grid of `bucket_s` from the
    first one (a local day is taken as 24 h); the database groups the visits by their first and last grid bucket,
    so a 30-day range answers a few thousand groups instead of every visit. On PostgreSQL the buckets are
    `date_bin`'s (exact integer arithmetic; the seconds as numeric took 200-300 ms over 60,000 visits, date_bin
    30 ms), read in the binary protocol (`fetch_rows`: 1,440 groups' timestamps as text took 50 ms to parse),
    elsewhere floored seconds."""
    if not frame_starts:
        return []
    origin_s = frame_starts[0].timestamp()
    grid = [round((f.timestamp() - origin_s) / bucket_s) for f in frame_starts]
    size = grid[-1] + 1
    now = timezone.now()
    visits = (
        PersonVisit.objects.filter(site_id=site_id, started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .order_by()
    )
    groups: list[tuple[int, int, int]]
    if connection.vendor == "postgresql":
        stride = Value(timedelta(seconds=bucket_s), output_field=DurationField())
        origin = Value(frame_starts[0], output_field=DateTimeField())
        bins = visits.annotate(
            first=BinStart(stride, F("started_at"), origin),
            last=BinStart(stride, Coalesce(F("ended_at"), Value(now, output_field=DateTimeField())), origin),
        )
        groups = [  # whole seconds from the origin, a multiple of bucket_s: exact in doubles
            (
                round((first.timestamp() - origin_s) / bucket_s),
                round((last.timestamp() - origin_s) / bucket_s),
                count,
            )
            for first, last, count in fetch_rows(
                bins.values_list("first", "last").annotate(visits=Count("id"))
            )
        ]
    else:
        ended = Coalesce(EpochSeconds("ended_at"), Value(now.timestamp()))
        floors = visits.annotate(
            first=Floor((EpochSeconds("started_at") - Value(origin_s)) / Value(float(bucket_s))),
            last=Floor((ended - Value(origin_s)) / Value(float(bucket_s))),
        )
        groups = [
            (int(first), int(last), count)
            for first, last, count in floors.values_list("first", "last").annotate(visits=Count("id"))
        ]
    delta = np.zeros(size + 1, dtype=np.int64)
    if groups:
        first, last, count = np.array(groups, dtype=np.int64).reshape(-1, 3).T
        low, high = np.maximum(first, 0), np.minimum(last, size - 1)
        inside = low <= high
        np.add.at(delta, low[inside], count[inside])
        np.add.at(delta, high[inside] + 1, -count[inside])
    per_bucket: list[int] = np.cumsum(delta)[grid].tolist()
    return per_bucket


def heatmap_suppressed(
    heatmap: dict[str, Any], *, site_id: int, start: datetime, end: datetime, bucket_s: int | None = None
) -> dict[str, Any]:
    """The heat-map answer with small counts suppressed (server.retention.suppression) by the settings; with
    `bucket_s` (the frames' bucket), each frame by the visitors of its own bucket."""
    min_persons = settings.PRIVACY_MIN_PERSONS
    frame_persons = None
    if bucket_s is not None and heatmap.get("frames") and min_persons > 1:
        frame_persons = frame_visitors(
            site_id=site_id,
            start=start,
            end=end,
            frame_starts=[parse_datetime(str(frame["t"])) or start for frame in heatmap["frames"]],
            bucket_s=bucket_s,
        )
    return suppress_heatmap(
        heatmap,
        distinct_persons=distinct_visitors(
            site_id=site_id, start=start, end=end, at_most=max(1, min_persons)
        ),
        min_persons=min_persons,
        min_cell_person_s=settings.PRIVACY_MIN_CELL_PERSON_S,
        frame_persons=frame_persons,
    )
