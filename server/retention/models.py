"""The record of each retention purge (what it deleted, per data class), and the periods set in the dashboard."""

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


MAX_DAYS = 36_500  # a hundred years: "for ever" is 0, not a huge number


class RetentionSetting(models.Model):
    """A data class's retention period set in the dashboard; it overrides the RETENTION_<CLASS>_DAYS setting.
    No row: the setting (or its default) applies."""

    data_class = models.CharField(max_length=32, unique=True)
    days = models.PositiveIntegerField(help_text="0 keeps the class for ever.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["data_class"]

    def __str__(self) -> str:
        return f"{self.data_class}: {self.days} days"
