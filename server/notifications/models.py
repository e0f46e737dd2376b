"""Notification rules and their delivery outbox.

A `NotificationRule` says which alerts (site or every site, kinds, schedule) go out over which channel (a webhook
URL signed with its secret, e-mail recipients, or the MQTT broker of the settings). An alert that a rule matches
becomes one `Delivery` row, written in the alert's own transaction (the outbox): the dispatcher
(`server.notifications.dispatcher`) sends due rows in the background, retries failures with back-off, and picks
up after a restart whatever was still pending.
"""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON POST)"
    EMAIL = "email", "E-mail"
    MQTT = "mqtt", "MQTT (the broker of MQTT_URL)"


class ScheduleMode(models.TextChoices):
    ALWAYS = "always", "Always"
    INSIDE = "inside", "Only inside the windows (e.g. opening hours)"
    OUTSIDE = "outside", "Only outside the windows (e.g. after opening hours)"


class NotificationRule(models.Model):
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    site = models.ForeignKey(
        "inventory.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_rules",
        help_text="Only this site's alerts; empty: every site.",
    )
    alert_kinds = models.JSONField(
        default=list, blank=True, help_text='Alert kinds that notify ("warning", "alarm"); empty: every kind.'
    )
    schedule_mode = models.CharField(max_length=16, choices=ScheduleMode.choices, default=ScheduleMode.ALWAYS)
    schedule_windows = models.JSONField(
        default=list,
        blank=True,
        help_text='Weekly windows in the site\'s time zone: [{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}].',
    )
    url = models.URLField(max_length=500, blank=True, default="", help_text="Webhook: where to POST.")
    secret = models.CharField(
        max_length=200, blank=True, default="", help_text="Webhook: the HMAC-SHA256 key (never shown again)."
    )
    recipients = models.JSONField(default=list, blank=True, help_text="E-mail: addresses.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (due at next_attempt_at)"
    SENDING = "sending", "Being sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (attempts exhausted)"


class Delivery(models.Model):
    """One notification of one rule: the outbox row and its delivery log."""

    rule = models.ForeignKey(
        NotificationRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    rule_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    site = models.ForeignKey(
        "inventory.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=40, help_text="alert.opened, alert.escalated or test.")
    # The alert's id, not a foreign key: the log outlives a purged alert, and the outbox stays independent of the
    # alerts app's migrations.
    alert_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A sending row whose lease ran out (its process died) is sent again."
    )
    last_error = models.CharField(max_length=500, blank=True, default="")
    response_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} via {self.channel} ({self.status})"
