from django.contrib import admin

from server.alerts.models import Alert, SirenState
from server.audit.admin_base import AuditedModelAdmin


@admin.register(Alert)
class AlertAdmin(AuditedModelAdmin[Alert]):
    list_display = ("id", "raised_at", "closed_at", "site", "zone", "kind", "state", "person_name", "message")
    list_filter = ("site", "kind", "state")
    search_fields = ("message", "person_name")
    date_hierarchy = "raised_at"


@admin.register(SirenState)
class SirenStateAdmin(AuditedModelAdmin[SirenState]):
    list_display = ("site", "on", "changed_at", "changed_by")
