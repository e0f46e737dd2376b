from __future__ import annotations

import zoneinfo
from typing import Any

from rest_framework import serializers

from server.inventory.models import Site
from server.reports.models import ReportSchedule

MAX_RECIPIENTS = 50


class ReportScheduleSerializer(serializers.ModelSerializer[ReportSchedule]):
    recipients = serializers.ListField(
        child=serializers.EmailField(), min_length=1, max_length=MAX_RECIPIENTS, help_text="E-mail addresses."
    )
    sites = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Site.objects.all())
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False)
    send_hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = ReportSchedule
        fields = [
            "id",
            "owner",
            "name",
            "frequency",
            "weekday",
            "send_hour",
            "timezone",
            "recipients",
            "sites",
            "enabled",
            "last_period_end",
            "last_sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = ["last_period_end", "last_sent_at", "last_error", "created_at"]

    def validate_name(self, value: str) -> str:
        """The name is the e-mail subject: no line breaks or other control characters (header injection)."""
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise serializers.ValidationError("no line breaks or other control characters")
        return value

    def validate_timezone(self, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise serializers.ValidationError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from err
        return value

    def validate_recipients(self, value: list[str]) -> list[str]:
        from server.reports.recipients import refused_recipients

        owner = (
            self.instance.owner if isinstance(self.instance, ReportSchedule) else self.context["request"].user
        )
        refused = refused_recipients(owner, value)
        if refused:
            raise serializers.ValidationError(
                f"not the address of a user of the system: {refused} (only admins mail other addresses)"
            )
        return value

    def validate_sites(self, value: list[Site]) -> list[Site]:
        from server.accounts.sites import site_allowed

        user = self.context["request"].user
        refused = [site.pk for site in value if not site_allowed(user, site.pk)]
        if refused:
            raise serializers.ValidationError(f"you are not allowed on site(s) {refused}")
        return value


class ChainSiteSerializer(serializers.Serializer[Any]):
    site_id = serializers.IntegerField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    footfall = serializers.IntegerField(help_text="visits that started in the period")
    transactions = serializers.IntegerField(help_text="sales transactions (amount > 0)")
    conversion = serializers.FloatField(allow_null=True, help_text="transactions / visits; null: no visits")
    mean_dwell_s = serializers.FloatField(allow_null=True, help_text="mean visit duration")
    queue_wait_s = serializers.FloatField(allow_null=True, help_text="mean queue wait; null: not available")
    alerts_raised = serializers.IntegerField()
    open_alerts = serializers.IntegerField(help_text="alerts open now (unread)")


class ChainOverviewSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    sites = ChainSiteSerializer(many=True)


class ReportSentSerializer(serializers.Serializer[Any]):
    schedule = serializers.IntegerField()
    sites = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
