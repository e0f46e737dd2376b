from django.contrib import admin

from server.alerts.models import Alert, SirenState


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin[Alert]):
    list_display = ("id", "raised_at", "site", "zone", "kind", "state", "employee", "message")
    list_filter = ("site", "kind", "state")
    search_fields = ("message",)
    date_hierarchy = "raised_at"


@admin.register(SirenState)
class SirenStateAdmin(admin.ModelAdmin[SirenState]):
    list_display = ("site", "on", "changed_at", "changed_by")
