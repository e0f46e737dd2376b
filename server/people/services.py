"""Writes about people and access: levels, employees, zone grants, and binding employees to tracked
persons."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from server.audit.services import Actor, audit_record, audited_create, audited_delete, audited_update
from server.errors import ApplicationError, ConflictError, FieldError
from server.inventory.models import Site, Zone
from server.livestate import LiveStateUnavailableError, badge_max_delay_s
from server.people import selectors
from server.people.models import BindingSource, Employee, IdentityBinding, SecurityLevel, ZonePermission
from server.people.signals import changed_records, identities_changed_on_commit, person_bound, person_unbound

logger = logging.getLogger(__name__)

# A badge event binds the nearest tracked person only if they are at most this far from the reader.
DEFAULT_BADGE_MATCH_RADIUS_M = 2.0

CandidatesFn = Callable[[int, float, float, int], list[tuple[int, float]]]


def badge_match_radius_m() -> float:
    return float(getattr(settings, "BADGE_MATCH_RADIUS_M", DEFAULT_BADGE_MATCH_RADIUS_M))


# --- levels, employees, grants ---


@transaction.atomic
def security_level_create(*, actor: Actor, name: str, rank: int, description: str = "") -> SecurityLevel:
    return audited_create(actor=actor, instance=SecurityLevel(name=name, rank=rank, description=description))


@transaction.atomic
def security_level_update(*, actor: Actor, level: SecurityLevel, data: Mapping[str, Any]) -> SecurityLevel:
    return audited_update(actor=actor, instance=level, data=data)


@transaction.atomic
def security_level_delete(*, actor: Actor, level: SecurityLevel) -> None:
    if level.employees.exists():
        raise ConflictError(
            f"{level.employees.count()} employee(s) have level {level.name!r}; move them first",
            code="level_in_use",
        )
    audited_delete(actor=actor, instance=level)


@transaction.atomic
def employee_create(
    *, actor: Actor, name: str, level: SecurityLevel | None = None, badge_id: str = "", active: bool = True
) -> Employee:
    return audited_create(
        actor=actor, instance=Employee(name=name, level=level, badge_id=badge_id.strip(), active=active)
    )


@transaction.atomic
def employee_update(*, actor: Actor, employee: Employee, data: Mapping[str, Any]) -> Employee:
    values = dict(data)
    if "badge_id" in values:
        values["badge_id"] = str(values["badge_id"]).strip()
    employee = audited_update(actor=actor, instance=employee, data=values)
    if not employee.active:
        for binding in IdentityBinding.objects.filter(employee=employee, unbound_at__isnull=True):
            identity_unbind(actor=actor, binding=binding)
    identities_changed_on_commit(None)
    return employee


@transaction.atomic
def employee_delete(*, actor: Actor, employee: Employee) -> None:
    audited_delete(actor=actor, instance=employee)
    identities_changed_on_commit(None)


@transaction.atomic
def zone_permission_create(*, actor: Actor, employee: Employee, zone: Zone, note: str = "") -> ZonePermission:
    identities_changed_on_commit(zone.site_id)
    return audited_create(actor=actor, instance=ZonePermission(employee=employee, zone=zone, note=note))


@transaction.atomic
def zone_permission_update(
    *, actor: Actor, permission: ZonePermission, data: Mapping[str, Any]
) -> ZonePermission:
    identities_changed_on_commit(None)  # the zone, and so the site, may have changed
    return audited_update(actor=actor, instance=permission, data=data)


@transaction.atomic
def zone_permission_delete(*, actor: Actor, permission: ZonePermission) -> None:
    identities_changed_on_commit(permission.zone.site_id)
    audited_delete(actor=actor, instance=permission)


# --- identity binding ---


@transaction.atomic
def identity_bind(
    *,
    actor: Actor,
    site: Site,
    person_id: int,
    employee: Employee,
    source: str = BindingSource.MANUAL,
    bound_at: datetime | None = None,
    reader_x_m: float | None = None,
    reader_y_m: float | None = None,
    distance_m: float | None = None,
) -> IdentityBinding:
    """Bind `employee` to tracked person `person_id` of `site`. The newest binding wins: an active binding
    of the same person, or of the same employee, is closed first."""
    if not employee.active:
        raise FieldError("employee", f"employee {employee.name!r} is inactive", code="inactive_employee")
    if person_id < 0:
        raise FieldError("person_id", "person ids are non-negative integers")
    now = timezone.now()
    superseded = IdentityBinding.objects.select_for_update().filter(
        Q(employee=employee) | Q(site=site, person_id=person_id), unbound_at__isnull=True
    )
    for old in superseded:
        _close(actor=actor, binding=old, at=now, action="supersede")
    binding = IdentityBinding.objects.create(
        site=site,
        person_id=person_id,
        employee=employee,
        source=source,
        bound_at=bound_at or now,
        bound_by=_user(actor),
        reader_x_m=reader_x_m,
        reader_y_m=reader_y_m,
        distance_m=distance_m,
    )
    logger.info("site %d: person %d bound to employee %d (%s)", site.pk, person_id, employee.pk, source)
    marked = changed_records(person_bound.send(sender=None, site_id=site.pk, person_id=person_id))
    audit_record(
        actor=actor,
        action="bind",
        instance=binding,
        changes={
            "employee": employee.pk,
            "person_id": person_id,
            "site": site.pk,
            "source": source,
            "staff_records_marked": marked,
        },
    )
    identities_changed_on_commit(site.pk)
    return binding


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _close(*, actor: Actor, binding: IdentityBinding, at: datetime, action: str) -> None:
    """End `binding` at `at`: superseded by a newer binding (`action` "supersede": the person stays staff in the
    records, see docs/kpis.md "Staff") or revoked ("unbind": what it marked as staff's is a visitor's again)."""
    revoked = action == "unbind"
    binding.unbound_at = at
    binding.unbound_by = _user(actor)
    binding.revoked = revoked
    binding.save(update_fields=["unbound_at", "unbound_by", "revoked"])
    identities_changed_on_commit(binding.site_id)
    changes: dict[str, Any] = {"unbound_at": at.isoformat()}
    if revoked:
        responses = person_unbound.send(sender=None, site_id=binding.site_id, person_id=binding.person_id)
        changes.update(revoked=True, staff_records_unmarked=changed_records(responses))
    audit_record(actor=actor, action=action, instance=binding, changes=changes)


@transaction.atomic
def identity_unbind(*, actor: Actor, binding: IdentityBinding) -> IdentityBinding:
    """Revoke `binding` (a wrong manual binding corrected, a badge binding withdrawn): the person's records are
    a visitor's again, unless another binding of theirs not revoked remains (docs/kpis.md, "Staff")."""
    binding = IdentityBinding.objects.select_for_update().get(pk=binding.pk)
    if binding.revoked:
        raise ConflictError("this binding has already been unbound", code="already_unbound")
    if binding.unbound_at is not None:
        # Superseded (the person bound to another employee, or the employee to another person): it still makes
        # its person staff, and revoking it is the only way to say they were not (docs/kpis.md, "Staff"). It
        # keeps its end.
        binding.revoked = True
        binding.save(update_fields=["revoked"])
        identities_changed_on_commit(binding.site_id)
        responses = person_unbound.send(sender=None, site_id=binding.site_id, person_id=binding.person_id)
        audit_record(
            actor=actor,
            action="unbind",
            instance=binding,
            changes={
                "superseded_at": binding.unbound_at.isoformat(),
                "revoked": True,
                "staff_records_unmarked": changed_records(responses),
            },
        )
        return binding
    _close(actor=actor, binding=binding, at=timezone.now(), action="unbind")
    return binding


@dataclass(frozen=True, slots=True)
class BadgeBinding:
    binding: IdentityBinding
    distance_m: float
    candidates: int


def time_to_us(moment: datetime) -> int:
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


@transaction.atomic
def badge_event_bind(
    *,
    actor: Actor,
    site: Site,
    badge_id: str,
    reader_x_m: float,
    reader_y_m: float,
    time: datetime | None = None,
    candidates_fn: CandidatesFn | None = None,
    max_distance_m: float | None = None,
) -> BadgeBinding:
    """An access-control event: bind the badge's employee to the tracked person nearest to the reader at
    `time` (default: now). A read delivered late is bound against the positions of its own time, if it is at
    most BADGE_MAX_DELAY_S old.

    `candidates_fn(site_id, x_m, y_m, time_us)` lists (person_id, distance_m), nearest first; by default the
    live state (`selectors.live_persons_near`)."""
    employee = selectors.employee_by_badge(badge_id.strip())
    if employee is None:
        raise FieldError("badge_id", f"no employee has badge {badge_id!r}", code="unknown_badge")
    if not employee.active:
        raise FieldError(
            "badge_id", f"badge {badge_id!r} belongs to an inactive employee", code="inactive_employee"
        )
    now = timezone.now()
    moment = time or now
    max_delay_s = badge_max_delay_s()
    if (now - moment).total_seconds() > max_delay_s:
        raise FieldError(
            "time",
            f"the badge read is {(now - moment).total_seconds():.0f} s old; reads older than {max_delay_s:g} s "
            "cannot be matched to a tracked person (BADGE_MAX_DELAY_S)",
            code="badge_read_too_old",
        )
    max_future_s = float(settings.INGEST_MAX_FUTURE_S)
    if (moment - now).total_seconds() > max_future_s:
        raise FieldError(
            "time",
            f"the badge read is {(moment - now).total_seconds():.0f} s in the future; the server's clock says "
            f"{now.isoformat(timespec='seconds')} and no position is stamped more than {max_future_s:g} s ahead "
            "of it (INGEST_MAX_FUTURE_S): check the reader's clock",
            code="badge_read_in_future",
        )
    find = candidates_fn or selectors.live_persons_near
    radius_m = badge_match_radius_m() if max_distance_m is None else max_distance_m
    try:
        found = find(site.pk, reader_x_m, reader_y_m, time_to_us(moment))
    except LiveStateUnavailableError as err:
        raise ApplicationError(
            "the live positions cannot be read now; send the badge event again",
            code="live_state_unavailable",
            status_code=503,
        ) from err
    candidates = sorted(found, key=lambda c: c[1])
    in_reach = [c for c in candidates if c[1] <= radius_m]
    if not in_reach:
        raise ApplicationError(
            f"no tracked person within {radius_m:g} m of the reader at that time",
            code="no_person_near_reader",
            status_code=404,
            extra={"candidates": len(candidates)},
        )
    person_id, distance_m = in_reach[0]
    binding = identity_bind(
        actor=actor,
        site=site,
        person_id=int(person_id),
        employee=employee,
        source=BindingSource.BADGE,
        bound_at=moment,
        reader_x_m=reader_x_m,
        reader_y_m=reader_y_m,
        distance_m=round(float(distance_m), 3),
    )
    return BadgeBinding(binding=binding, distance_m=float(distance_m), candidates=len(in_reach))
