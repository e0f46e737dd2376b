"""User management for admins: create, update (roles, password, active), delete. Every change audited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from server.accounts import throttle
from server.accounts.roles import ADMIN, ROLES, user_roles
from server.accounts.sites import site_access_set, user_site_access
from server.audit.services import Actor, audit_record, audited_create, audited_delete, audited_update
from server.errors import ConflictError, FieldError


def _check_password(password: str, user: Any) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as err:
        raise FieldError("password", " ".join(err.messages), code="weak_password") from err


def _set_roles(*, user: AbstractUser, roles: Iterable[str]) -> None:
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise FieldError("roles", f"unknown role(s) {sorted(unknown)}; roles are {list(ROLES)}")
    user.groups.remove(*Group.objects.filter(name__in=set(ROLES) - wanted))
    user.groups.add(*Group.objects.filter(name__in=wanted))
    is_staff = ADMIN in wanted or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff  # Django admin access follows the admin role
        user.save(update_fields=["is_staff"])


@transaction.atomic
def user_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_active: bool = True,
    roles: Iterable[str] = (),
    all_sites: bool = True,
    sites: Iterable[Any] = (),
) -> AbstractUser:
    model = get_user_model()
    user: AbstractUser = model(
        username=username, email=email, first_name=first_name, last_name=last_name, is_active=is_active
    )
    _check_password(password, user)
    user.set_password(password)
    audited_create(actor=actor, instance=user)
    role_list = sorted(set(roles))
    _set_roles(user=user, roles=role_list)
    audit_record(actor=actor, action="set_roles", instance=user, changes={"roles": role_list})
    if not all_sites or list(sites):
        _set_sites(actor=actor, user=user, all_sites=all_sites, sites=sites)
    return user


def _set_sites(*, actor: Actor, user: AbstractUser, all_sites: bool, sites: Iterable[Any]) -> None:
    before = user_site_access(user)
    ids = sorted({int(getattr(site, "pk", site)) for site in sites})
    after = site_access_set(user=user, all_sites=all_sites, site_ids=ids)
    if before != after:
        audit_record(actor=actor, action="set_sites", instance=user, changes={"sites": [before, after]})


@transaction.atomic
def user_update(*, actor: Actor, user: AbstractUser, data: Mapping[str, Any]) -> AbstractUser:
    values = dict(data)
    roles = values.pop("roles", None)
    password = values.pop("password", None)
    all_sites = values.pop("all_sites", None)
    sites = values.pop("sites", None)
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        if values.get("is_active") is False:
            raise ConflictError("you cannot deactivate yourself", code="self_deactivation")
        if roles is not None and ADMIN not in roles and not user.is_superuser:
            raise ConflictError("you cannot take the admin role from yourself", code="self_demotion")
    if password:
        _check_password(str(password), user)
        user.set_password(str(password))
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="set_password", instance=user)
    if values:
        audited_update(actor=actor, instance=user, data=values)
    if roles is not None:
        before = user_roles(user)
        _set_roles(user=user, roles=roles)
        after = user_roles(user)
        if before != after:
            audit_record(actor=actor, action="set_roles", instance=user, changes={"roles": [before, after]})
    if all_sites is not None or sites is not None:
        current = user_site_access(user)
        _set_sites(
            actor=actor,
            user=user,
            all_sites=current["all_sites"] if all_sites is None else bool(all_sites),
            sites=current["sites"] if sites is None else sites,
        )
    return user


@transaction.atomic
def user_delete(*, actor: Actor, user: AbstractUser) -> None:
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        raise ConflictError("you cannot delete yourself", code="self_deletion")
    audited_delete(actor=actor, instance=user)


@transaction.atomic
def user_unlock(*, actor: Actor, user: AbstractUser) -> bool:
    """Lift the lockout that failed logins put on `user` (audited); False when it was not locked."""
    was_locked = throttle.unlock(username=user.get_username())
    audit_record(actor=actor, action="unlock", instance=user, changes={"was_locked": was_locked})
    return was_locked
