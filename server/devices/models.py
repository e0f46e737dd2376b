"""Edge boxes: enrollment tokens (stored hashed), long-lived credentials, revocation and health."""

from __future__ import annotations

from django.db import models


class EdgeDevice(models.Model):
    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=200)
    enrollment_token_hash = models.CharField(max_length=128, blank=True, default="")
    enrollment_token_expires_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    secret_hash = models.CharField(max_length=128, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    hostname = models.CharField(max_length=253, blank=True, default="")
    software_version = models.CharField(max_length=64, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    health = models.JSONField(default=dict, blank=True)
    config_revision = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return bool(self.secret_hash) and self.revoked_at is None
