from django.contrib import admin

from server.audit.admin_base import AuditedModelAdmin
from server.devices.models import EdgeDevice


@admin.register(EdgeDevice)
class EdgeDeviceAdmin(AuditedModelAdmin[EdgeDevice]):
    list_display = ("id", "name", "site", "enrolled_at", "revoked_at", "last_seen_at", "software_version")
    list_filter = ("site",)
    search_fields = ("name", "hostname")
    readonly_fields = (
        "enrollment_token_hash",
        "enrollment_token_expires_at",
        "enrolled_at",
        "secret_hash",
        "hostname",
        "software_version",
        "last_seen_at",
        "health",
        "config_revision",
        "created_at",
    )
