"""Scheduled reports: a user's daily or weekly e-mail of their sites' KPIs, with charts (server.reports.mail)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily (the day before)"
    WEEKLY = "weekly", "Weekly (the 7 days before)"


class ReportSchedule(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_schedules"
    )
    name = models.CharField(max_length=120)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(
        default=0, help_text="Weekly: the day it is sent, 0 = Monday … 6 = Sunday (covers the 7 days before)."
    )
    send_hour = models.PositiveSmallIntegerField(default=7, help_text="Local hour (0–23) it is sent at.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="The time zone of days and the hour.")
    recipients = models.JSONField(default=list, help_text="E-mail addresses.")
    sites = models.ManyToManyField(
        "inventory.Site", blank=True, related_name="+", help_text="Empty: every site the owner is allowed on."
    )
    enabled = models.BooleanField(default=True)
    last_period_end = models.DateTimeField(
        null=True, blank=True, help_text="End of the latest period sent (a period is never sent twice)."
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
