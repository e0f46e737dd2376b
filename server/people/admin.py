from django.contrib import admin

from server.audit.admin_base import AuditedModelAdmin
from server.people.models import Employee, IdentityBinding, SecurityLevel, ZonePermission


@admin.register(SecurityLevel)
class SecurityLevelAdmin(AuditedModelAdmin[SecurityLevel]):
    list_display = ("rank", "name", "description")


@admin.register(Employee)
class EmployeeAdmin(AuditedModelAdmin[Employee]):
    list_display = ("id", "name", "level", "badge_id", "active")
    list_filter = ("active", "level")
    search_fields = ("name", "badge_id")


@admin.register(ZonePermission)
class ZonePermissionAdmin(AuditedModelAdmin[ZonePermission]):
    list_display = ("id", "employee", "zone", "note", "granted_at")
    list_filter = ("zone",)


@admin.register(IdentityBinding)
class IdentityBindingAdmin(AuditedModelAdmin[IdentityBinding]):
    list_display = ("id", "site", "person_id", "employee", "source", "bound_at", "unbound_at")
    list_filter = ("site", "source")
    search_fields = ("employee__name",)
