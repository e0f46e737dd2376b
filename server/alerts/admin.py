from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from server.alerts.models import Alert, QueueAlertSetting, SirenState
from server.audit.admin_base import AuditedModelAdmin
from server.inventory.signals import bump_config_revision


@admin.register(Alert)
class AlertAdmin(AuditedModelAdmin[Alert]):
    list_display = ("id", "raised_at", "closed_at", "site", "zone", "kind", "state", "person_name", "message")
    list_filter = ("site", "kind", "state")
    search_fields = ("message", "person_name")
    date_hierarchy = "raised_at"


@admin.register(SirenState)
class SirenStateAdmin(AuditedModelAdmin[SirenState]):
    list_display = ("site", "on", "changed_at", "changed_by")


@admin.register(QueueAlertSetting)
class QueueAlertSettingAdmin(AuditedModelAdmin[QueueAlertSetting]):
    """A queue zone's "open another till" thresholds; a change reaches the running analytics through the site's
    configuration revision, as an edit over the API does."""

    list_display = ("zone", "length", "wait_s", "after_s")

    def save_model(self, request: HttpRequest, obj: QueueAlertSetting, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        bump_config_revision(obj.zone.site_id)

    def delete_model(self, request: HttpRequest, obj: QueueAlertSetting) -> None:
        site_id = obj.zone.site_id
        super().delete_model(request, obj)
        bump_config_revision(site_id)
