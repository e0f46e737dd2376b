"""Who is staff in the records: marking a person's records as staff's, and un-marking them (docs/kpis.md, "Staff").

A person's records (visit, crossings, flow, queue waits, zone dwells) carry a ``staff`` flag, and each door
crossing is counted in the column of its flag (``LineCount``: in/out or staff in/out). `set_person_staff` changes
the flags and moves the counts of the crossings whose flag changes, in one transaction under the crossings' row
locks, so a crossing is moved once whoever moves it and however often (the flag says where its count is).

Three paths change a person's mark, each under the person's lock (`lock_persons`), which closes the moment
between the analytics ending a person and the recorder storing the end of their visit:

* The recorder, at the ack barrier, for persons still in a visit: the live analytics report them bound
  (``staff_ids``) or their binding revoked (``unstaffed_ids``).
* A binding or an unbinding (`person_bound`, `person_unbound` from server.people), in its own transaction, for a
  person whose visit has ended (a manual binding from the records, a badge read processed late, a wrong binding
  corrected). A person still in a visit, or not recorded yet, is left to the recorder.
* The recorder again, when it stores the end of a visit: it re-checks the person's bindings (`recheck_ended`),
  so that a binding or unbinding made after the analytics ended the person but before their visit end was stored
  (which the two paths above both left to the other) marks them as it should.

A person is staff while some binding of theirs at the site is not revoked (active, or superseded by a newer one:
sticky, as in the live analytics); a visitor again when every binding of theirs was revoked by an unbind."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import F

from server.insights.models import LineCount, LineCrossing, PersonVisit, QueueWait, ZoneDwell, ZoneTransition
from server.people.models import IdentityBinding

logger = logging.getLogger(__name__)
LINE_BUCKET_US = 900 * 10**6  # door counts per 15 minutes (LineCount)

# What is recorded of a person with a staff flag (the door counts, LineCount, follow their crossings).
STAFF_MARKED: tuple[type[PersonVisit | LineCrossing | ZoneTransition | QueueWait | ZoneDwell], ...] = (
    PersonVisit,
    LineCrossing,
    ZoneTransition,
    QueueWait,
    ZoneDwell,
)


def lock_persons(site_id: int, person_ids: Iterable[int]) -> None:
    """Hold the staff-mark lock of each person until the transaction ends (PostgreSQL advisory locks, taken in
    order; elsewhere the database serialises writers anyway)."""
    _advisory_locks(f"staff:{site_id}:{person_id}" for person_id in person_ids)


def lock_line_counts(site_ids: Iterable[int]) -> None:
    """Hold the door-count lock of each site until the transaction ends (PostgreSQL advisory locks, taken in
    order, always after the persons' locks of `lock_persons`): the recorder adding a barrier's counts and a staff
    mark moving a person's counts lock the same 15-minute rows, each in its own order (the batch as it came, the
    crossings as stored), and without it they could wait for each other until PostgreSQL killed one."""
    _advisory_locks(f"line-counts:{site_id}" for site_id in site_ids)


def _advisory_locks(names: Iterable[str]) -> None:
    """Take PostgreSQL's transaction-scoped advisory lock of each name (its CRC-32 as a signed 32-bit key), in
    the keys' order so that two transactions locking overlapping sets cannot wait for each other; nothing on
    other databases (they serialise writers anyway)."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({zlib.crc32(name.encode()) - 2**31 for name in names})
    if keys:
        with connection.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def set_person_staff(*, site_id: int, person_id: int, staff: bool) -> int:
    """Mark (`staff` True) or un-mark the records of `person_id` as staff's and move the counts of the crossings
    whose mark changes; returns the rows changed. Inside a transaction, after the person's lock (`lock_persons`)."""
    rows = 0
    lock_line_counts([site_id])
    crossings = list(
        LineCrossing.objects.select_for_update()
        .filter(site_id=site_id, person_id=person_id, staff=not staff)
        .order_by("line_id", "at", "id")
    )
    for crossing in crossings:
        if crossing.line_id is None:
            continue  # its line was deleted: its counts' row has no line to find it by
        at_us = int(crossing.at.timestamp() * 1_000_000)
        start = datetime.fromtimestamp((at_us - at_us % LINE_BUCKET_US) / 1e6, tz=UTC)
        visitor, staff_column = (
            ("in_count", "staff_in")
            if crossing.direction == LineCrossing.Direction.IN
            else ("out_count", "staff_out")
        )
        source, target = (visitor, staff_column) if staff else (staff_column, visitor)
        moved: dict[str, Any] = {source: F(source) - 1, target: F(target) + 1}
        rows += LineCount.objects.filter(site_id=site_id, line_id=crossing.line_id, start=start).update(
            **moved
        )
    for model in STAFF_MARKED:
        rows += model.objects.filter(site_id=site_id, person_id=person_id, staff=not staff).update(
            staff=staff
        )
    if rows:
        logger.info(
            "site %d: person %d: %d records %s",
            site_id,
            person_id,
            rows,
            "marked as staff's" if staff else "un-marked: a visitor's again",
        )
    return rows


def staff_by_bindings(site_id: int, person_ids: Iterable[int]) -> dict[int, bool]:
    """For each of `person_ids` with a binding at the site: whether their bindings make them staff (one not
    revoked) or not (all revoked). Persons never bound are absent."""
    wanted: dict[int, bool] = {}
    for person_id, revoked in IdentityBinding.objects.filter(
        site_id=site_id, person_id__in=list(person_ids)
    ).values_list("person_id", "revoked"):
        wanted[person_id] = wanted.get(person_id, False) or not revoked
    return wanted


def _visit_ended(site_id: int, person_id: int) -> bool:
    visits = PersonVisit.objects.filter(site_id=site_id, person_id=person_id)
    return visits.exists() and not visits.filter(ended_at__isnull=True).exists()


def mark_ended_visit(*, site_id: int, person_id: int) -> int:
    """After a binding or an unbinding of `person_id`: give the records of their ended visit the mark their
    bindings give them; 0 when the person has no visit or one still open (the recorder's case). Returns the rows
    changed."""
    lock_persons(site_id, [person_id])
    if not _visit_ended(site_id, person_id):
        return 0
    staff = staff_by_bindings(site_id, [person_id]).get(person_id)
    if staff is None:
        return 0
    return set_person_staff(site_id=site_id, person_id=person_id, staff=staff)


def recheck_ended(site_id: int, person_ids: Iterable[int]) -> int:
    """The recorder stored the end of the visits of `person_ids`: give each bound (or unbound) one the mark their
    bindings give them now, a binding made or revoked since the analytics ended them included. Returns the rows
    changed."""
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    lock_persons(site_id, ids)
    rows = 0
    for person_id, staff in sorted(staff_by_bindings(site_id, ids).items()):
        rows += set_person_staff(site_id=site_id, person_id=person_id, staff=staff)
    return rows


def on_person_bound(sender: object, *, site_id: int, person_id: int, **kwargs: object) -> int:
    return mark_ended_visit(site_id=site_id, person_id=person_id)


def on_person_unbound(sender: object, *, site_id: int, person_id: int, **kwargs: object) -> int:
    return mark_ended_visit(site_id=site_id, person_id=person_id)
