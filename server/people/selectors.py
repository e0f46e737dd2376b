"""Reads about people and access, including who each tracked person of a site is."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TypedDict

from django.db.models import QuerySet
from django.utils import timezone

from server.livestate import MATCH_TOLERANCE_US, live_state
from server.people.models import Employee, IdentityBinding, SecurityLevel, ZonePermission

PersonId = int


class PersonIdentity(TypedDict):
    """Who a tracked person is; persons absent from `identities_for_site` are visitors at level 0."""

    employee_id: int
    name: str
    level_rank: int
    permitted_zone_ids: frozenset[int]


def live_persons_near(site_id: int, x_m: float, y_m: float, time_us: int) -> list[tuple[PersonId, float]]:
    """Tracked persons of the site at `time_us` (the live snapshot closest in time, within 2 s) with their
    distance in metres to (x_m, y_m), nearest first. Reads the live state (server.livestate), which the site's
    fusion fills in whichever process runs it. Raises LiveStateUnavailableError when it cannot be read."""
    snapshot = live_state().at(site_id, time_us, tolerance_us=MATCH_TOLERANCE_US)
    persons = snapshot.persons if snapshot is not None else ()
    candidates = [(p.person_id, math.hypot(p.x_m - x_m, p.y_m - y_m)) for p in persons]
    candidates.sort(key=lambda item: (item[1], item[0]))
    return candidates


def identities_for_site(site_id: int) -> dict[PersonId, PersonIdentity]:
    """Active bindings of active employees at the site: {person_id: identity}. Zone grants are limited to the
    site's zones."""
    bindings = (
        IdentityBinding.objects.filter(site_id=site_id, unbound_at__isnull=True, employee__active=True)
        .select_related("employee__level")
        .order_by("id")
    )
    employee_ids = [binding.employee_id for binding in bindings]
    grants: dict[int, set[int]] = {}
    for employee_id, zone_id in ZonePermission.objects.filter(
        employee_id__in=employee_ids, zone__site_id=site_id
    ).values_list("employee_id", "zone_id"):
        grants.setdefault(employee_id, set()).add(zone_id)
    return {
        binding.person_id: PersonIdentity(
            employee_id=binding.employee_id,
            name=binding.employee.name,
            level_rank=binding.employee.level_rank,
            permitted_zone_ids=frozenset(grants.get(binding.employee_id, set())),
        )
        for binding in bindings
    }


#: How long after an unbind the live analytics are told that the person is no staff any more (their identities
#: reload within seconds of it; a person still tracked a day after the unbind is an edge the visit end covers).
REVOKED_FOR_S = 24 * 3600


def revoked_persons_for_site(site_id: int) -> frozenset[PersonId]:
    """Persons of the site whose every binding was revoked (unbound, not superseded), the last of them in the
    last REVOKED_FOR_S: the live analytics stop treating them as staff."""
    since = timezone.now() - timedelta(seconds=REVOKED_FOR_S)
    recent = IdentityBinding.objects.filter(site_id=site_id, revoked=True, unbound_at__gte=since).values(
        "person_id"
    )
    kept = IdentityBinding.objects.filter(site_id=site_id, revoked=False, person_id__in=recent).values(
        "person_id"
    )
    return frozenset(
        IdentityBinding.objects.filter(site_id=site_id, person_id__in=recent)
        .exclude(person_id__in=kept)
        .values_list("person_id", flat=True)
    )


def security_level_list() -> QuerySet[SecurityLevel]:
    return SecurityLevel.objects.all()


def employee_list() -> QuerySet[Employee]:
    return Employee.objects.select_related("level")


def zone_permission_list() -> QuerySet[ZonePermission]:
    return ZonePermission.objects.select_related("employee", "zone")


def identity_binding_list() -> QuerySet[IdentityBinding]:
    return IdentityBinding.objects.select_related("employee", "site")


def employee_by_badge(badge_id: str) -> Employee | None:
    if not badge_id:
        return None
    return Employee.objects.select_related("level").filter(badge_id=badge_id).first()
