"""The three roles as Django groups, and the permissions each holds. Declarative: `ensure_roles()` makes the
groups match this table (after every migrate, or with `manage.py seed_roles`).

- admin: everything (users, people, inventory, devices, alerts; audit log read-only).
- installer: sites read; cameras, calibration, floor plans and edge devices read/write; zones read; live view.
- staff: dashboard data (sites, floor plans, zones, cameras, live view, analytics, conversion, exports), alerts
  ack/resolve, siren, identity bind/unbind (reads employees and levels to pick from), their own scheduled reports.
  Importing point-of-sale transactions is the admin's.

Roles say what a user may do; server.accounts.sites says on which sites (per-site permissions).
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

logger = logging.getLogger(__name__)

ADMIN = "admin"
INSTALLER = "installer"
STAFF = "staff"
ROLES = (ADMIN, INSTALLER, STAFF)

_CRUD = ("view", "add", "change", "delete")
PROJECT_APPS = (
    "inventory",
    "devices",
    "people",
    "alerts",
    "audit",
    "ingest",
    "insights",
    "sales",
    "reports",
    "notifications",
    "retention",
)
# Apps whose every `view_` permission staff hold (analytics read by the dashboard).
STAFF_VIEW_APPS = ("insights",)


def _perms(app: str, model: str, verbs: tuple[str, ...] = _CRUD) -> list[str]:
    return [f"{app}.{verb}_{model}" for verb in verbs]


INSTALLER_PERMISSIONS = [
    "inventory.view_site",
    "inventory.view_live",
    *_perms("inventory", "camera"),
    *_perms("inventory", "floorplan"),
    *_perms("devices", "edgedevice"),
    "inventory.view_zone",
]

STAFF_PERMISSIONS = [
    "inventory.view_site",
    "inventory.view_live",
    "inventory.view_floorplan",
    "inventory.view_zone",
    "inventory.view_camera",
    "devices.view_edgedevice",  # camera and edge-box health on the live page
    "alerts.view_alert",
    "alerts.change_alert",
    "alerts.view_sirenstate",
    "alerts.change_sirenstate",
    "people.view_identitybinding",
    "people.add_identitybinding",
    "people.change_identitybinding",
    "people.view_employee",
    "people.view_securitylevel",
    "sales.view_postransaction",  # conversion, the chain overview and exports
    "reports.view_reportschedule",  # their own scheduled reports (server.reports)
    "reports.add_reportschedule",
    "reports.change_reportschedule",
    "reports.delete_reportschedule",
]


def admin_permission_query() -> Q:
    """Every permission of the project's apps and of users/groups, except writing the audit log."""
    return (
        Q(content_type__app_label__in=PROJECT_APPS)
        | Q(content_type__app_label="auth", content_type__model__in=["user", "group"])
    ) & ~Q(
        content_type__app_label="audit", codename__in=["add_auditlog", "change_auditlog", "delete_auditlog"]
    )


def _lookup(names: list[str]) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = [
        perm
        for perm in Permission.objects.select_related("content_type").filter(
            codename__in=[c for _, c in wanted]
        )
        if (perm.content_type.app_label, perm.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"permissions missing (are all apps migrated?): {sorted(missing)}")
    return found


def ensure_roles(*, using: str = "default") -> dict[str, int]:
    """Create the role groups and set their permissions exactly; returns {role: permission count}."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    table = {
        ADMIN: list(Permission.objects.using(using).filter(admin_permission_query())),
        INSTALLER: _lookup(INSTALLER_PERMISSIONS),
        STAFF: [
            *_lookup(STAFF_PERMISSIONS),
            *Permission.objects.using(using).filter(
                content_type__app_label__in=STAFF_VIEW_APPS, codename__startswith="view_"
            ),
        ],
    }
    counts: dict[str, int] = {}
    for role, permissions in table.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    logger.debug("roles ensured: %s", counts)
    return counts


def ensure_roles_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    ensure_roles(using=using)


def user_roles(user: Any) -> list[str]:
    """The role names of a user; a superuser is an admin."""
    if not getattr(user, "is_authenticated", False):
        return []
    names = {group.name for group in user.groups.all()}  # uses a prefetch_related("groups") cache
    if user.is_superuser:
        names.add(ADMIN)
    return [role for role in ROLES if role in names]


def can_watch_live(user: Any) -> bool:
    """For WebSocket consumers: may this user receive a site's live state and alerts?"""
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and user.has_perm("inventory.view_live")
    )


def can_see_identities(user: Any) -> bool:
    """May this user see who tracked persons are (employee names and ids on the live map)? As for the REST API's
    employees: `people.view_employee`."""
    return bool(user.has_perm("people.view_employee"))


def can_see_alerts(user: Any) -> bool:
    """May this user receive a site's alerts (pushed over the WebSocket)? As for `GET /api/alerts`."""
    return bool(user.has_perm("alerts.view_alert"))
