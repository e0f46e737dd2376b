"""Per-site permissions: on which sites a user is allowed. Roles say *what* a user may do, this says *where*.

`allowed_site_ids(user)` is None for a user allowed on every site (admins, superusers, users without a
restriction, chain users with `all_sites`), else the set of site ids. Querysets of site data go through
`restrict_to_sites`; requests naming a site (URL `site_id`, body or query `site`) through `site_allowed`, checked
by the REST permission class (server.api.permissions) and the WebSocket consumer (server.realtime.consumers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Model, QuerySet

from server.accounts.models import SiteAccess
from server.accounts.roles import ADMIN

M = TypeVar("M", bound=Model)


def allowed_site_ids(user: Any) -> frozenset[int] | None:
    """None: every site; otherwise the ids of the sites the user is allowed on (one or two queries; not cached, so
    that a change applies to the next request and the next WebSocket re-check)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.is_superuser:
        return None
    if user.groups.filter(name=ADMIN).exists():
        return None
    access = SiteAccess.objects.filter(user_id=user.pk).first()
    if access is None or access.all_sites:
        return None
    return frozenset(access.sites.values_list("pk", flat=True))


def site_allowed(user: Any, site_id: int) -> bool:
    allowed = allowed_site_ids(user)
    return allowed is None or int(site_id) in allowed


def site_field(model: type[Model]) -> str | None:
    """The lookup that names a row's site: `pk` for sites, `site_id` for models with a `site` foreign key or
    one-to-one field (a floor plan)."""
    if model._meta.label_lower == "inventory.site":
        return "pk"
    try:
        field = model._meta.get_field("site")
    except Exception:
        return None
    related = getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False)
    return "site_id" if related else None


def restrict_to_sites(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The rows of `queryset` on the user's sites (unchanged for a model without a site)."""
    allowed = allowed_site_ids(user)
    if allowed is None:
        return queryset
    lookup = site_field(queryset.model)
    if lookup is None:
        return queryset
    return queryset.filter(**{f"{lookup}__in": sorted(allowed)})


def user_site_access(user: Any) -> dict[str, Any]:
    """What the user serializer shows: {"all_sites": bool, "sites": [ids]} (uses a
    `prefetch_related("site_access__sites")` of a listing)."""
    try:
        access = user.site_access
    except ObjectDoesNotExist:
        return {"all_sites": True, "sites": []}
    return {"all_sites": access.all_sites, "sites": sorted(site.pk for site in access.sites.all())}


@transaction.atomic
def site_access_set(*, user: Any, all_sites: bool, site_ids: Iterable[int]) -> dict[str, Any]:
    """Allow the user on every site, or on exactly `site_ids` (unknown ids are the caller's validation)."""
    access, _ = SiteAccess.objects.get_or_create(user_id=user.pk, defaults={"all_sites": all_sites})
    access.all_sites = all_sites
    access.save(update_fields=["all_sites"])
    access.sites.set(sorted(set(site_ids)))
    user.site_access = access  # the instance's cached relation (a serializer shows it next)
    return {"all_sites": access.all_sites, "sites": sorted(access.sites.values_list("pk", flat=True))}
