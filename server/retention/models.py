"""The record of each retention purge (what it deleted, per data class)."""

from __future__ import annotations

from django.db import models


class PurgeRun(models.Model):
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, help_text="schedule, command or api.")
    deleted = models.JSONField(default=dict, help_text="Data class -> rows (points, files) deleted.")
    errors = models.JSONField(default=dict, blank=True, help_text="Data class -> why it was not purged.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M} ({self.trigger})"
