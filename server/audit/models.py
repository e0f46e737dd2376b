"""Audit log of administrative changes: who changed what, when, and how."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(
        max_length=150, blank=True, default="", help_text="Kept if the user goes."
    )
    action = models.CharField(
        max_length=32, help_text="create, update, delete or a domain verb (revoke, bind…)."
    )
    object_type = models.CharField(max_length=100, help_text="app_label.model of the changed object.")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True, default="")
    changes = models.JSONField(
        default=dict, blank=True, help_text="create/delete: the field values; update: {field: [old, new]}."
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} "
            f"{self.object_type}#{self.object_id}"
        )
