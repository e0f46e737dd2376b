"""Security alerts and the siren output of each site.

An access-control alert is an incident (server.analytics.site): one row per person and restricted-zone approach
or entry, keyed by `incident_key`, updated in place while it lasts (kind warning -> alarm, latest position,
cameras) and closed (`closed_at`) when the person has left. `state` is the staff's handling: open (unread),
acknowledged, resolved.

A site condition alert (kinds capacity and queue, `CONDITION_KINDS`) is one row per time the condition held: the
site over its capacity (no zone), or a queue zone's "open another till" alert (its zone). It opens when the
analytics report the condition on and closes when they report it off; it carries no person."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AlertKind(models.TextChoices):
    WARNING = "warning", "Warning (approaching a restricted zone)"
    ALARM = "alarm", "Alarm (inside a restricted zone)"
    CAPACITY = "capacity", "Capacity (the site is over its capacity)"
    QUEUE = "queue", "Queue (open another till)"


# Alerts of a site condition, not of a person: opened and closed by the analytics' on/off events.
CONDITION_KINDS = (AlertKind.CAPACITY, AlertKind.QUEUE)


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="alerts")
    zone = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    person_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Global person id at the site."
    )
    employee = models.ForeignKey(
        "people.Employee", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    person_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Who the person was taken for, kept for the incident.",
    )
    identity_certain = models.BooleanField(
        default=True, help_text="False when the binding changed during the incident or was in doubt."
    )
    message = models.CharField(max_length=500)
    x_m = models.FloatField(null=True, blank=True, help_text="Where the person was last, floor metres.")
    y_m = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True, help_text="Distance to the zone (0 inside).")
    camera_ids = models.JSONField(default=list, blank=True, help_text="Cameras that saw the person.")
    state = models.CharField(
        max_length=16, choices=AlertState.choices, default=AlertState.OPEN, db_index=True
    )
    incident_key = models.CharField(
        max_length=80,
        unique=True,
        null=True,
        blank=True,
        help_text="site:person:zone:opened-microseconds of an analytics incident (none for others).",
    )
    raised_at = models.DateTimeField(db_index=True, help_text="When the incident opened.")
    escalated_at = models.DateTimeField(null=True, blank=True, help_text="When it became an alarm.")
    updated_at = models.DateTimeField(null=True, blank=True, help_text="Its latest report.")
    reported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the server recorded its latest report (server clock; frame times may lag behind it).",
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the person was last there; empty while it lasts."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["site", "state", "raised_at"], name="alert_site_state_idx"),
            models.Index(fields=["site", "closed_at"], name="alert_site_closed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.site_id}: {self.message}"


class SirenState(models.Model):
    site = models.OneToOneField("inventory.Site", on_delete=models.CASCADE, related_name="siren")
    on = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"siren of {self.site_id}: {'on' if self.on else 'off'}"


class QueueAlertSetting(models.Model):
    """The "open another till" thresholds of one queue zone (none: the analytics' defaults, docs/kpis.md)."""

    zone = models.OneToOneField(
        "inventory.Zone", on_delete=models.CASCADE, related_name="queue_alert_setting"
    )
    length = models.PositiveIntegerField(
        null=True, blank=True, help_text="Alert when at least this many wait; empty: not on the length."
    )
    wait_s = models.FloatField(
        null=True,
        blank=True,
        help_text="Alert when the predicted wait reaches this (s); empty: not on the wait.",
    )
    after_s = models.FloatField(default=60.0, help_text="For this long without a break (s).")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"queue alert of zone {self.zone_id}: length {self.length}, wait {self.wait_s} s"
