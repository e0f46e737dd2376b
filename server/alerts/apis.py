"""Alert endpoints (list/filter, exact counts, acknowledge one or many, resolve) and the per-site siren (GET/PUT)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.sites import restrict_to_sites
from server.alerts import selectors, services
from server.alerts.filters import AlertFilter
from server.alerts.models import Alert
from server.alerts.push import push_alert_changed, push_alerts_acknowledged, push_siren_changed
from server.errors import FieldError
from server.inventory.models import Site, Zone
from server.realtime.events import AlertChange


class AlertSerializer(serializers.ModelSerializer[Alert]):
    class Meta:
        model = Alert
        fields = [
            "id",
            "site",
            "zone",
            "kind",
            "person_id",
            "employee",
            "person_name",
            "identity_certain",
            "message",
            "x_m",
            "y_m",
            "distance_m",
            "camera_ids",
            "state",
            "ongoing",
            "raised_at",
            "escalated_at",
            "updated_at",
            "closed_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields

    ongoing = serializers.SerializerMethodField()
    camera_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    def get_ongoing(self, alert: Alert) -> bool:
        return alert.closed_at is None


class AlertCountsSerializer(serializers.Serializer[dict[str, int]]):
    unacknowledged = serializers.IntegerField(help_text="Open (unread) alerts: the badge.")
    unacknowledged_alarms = serializers.IntegerField()
    ongoing = serializers.IntegerField(help_text="Incidents whose person is still there.")
    total = serializers.IntegerField()


class BulkAcknowledgeSerializer(serializers.Serializer[dict[str, Any]]):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    filter = serializers.DictField(
        required=False, help_text='The list filters (site required), e.g. {"site": 1, "kind": "warning"}.'
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["Give either ids or filter."]})
        if "ids" in attrs and not attrs["ids"]:
            raise serializers.ValidationError({"ids": ["Give at least one id."]})
        if "filter" in attrs and "site" not in attrs["filter"]:
            raise serializers.ValidationError({"filter": ["A filter must name the site."]})
        return attrs


class BulkAcknowledgedSerializer(serializers.Serializer[dict[str, Any]]):
    acknowledged = serializers.IntegerField(help_text="How many open alerts were acknowledged.")
    ids = serializers.ListField(child=serializers.IntegerField())


class SirenSerializer(serializers.Serializer[dict[str, object]]):
    site = serializers.IntegerField(read_only=True)
    on = serializers.BooleanField()
    changed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    changed_by = serializers.IntegerField(read_only=True, allow_null=True)


class AlertViewSet(viewsets.ReadOnlyModelViewSet[Alert]):
    """Security alerts (incidents), newest first; filter by site, zone, kind, state (open = unread), ongoing,
    person, employee and time range. `counts` gives exact counts for the same filters."""

    queryset = Alert.objects.all()
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["raised_at", "updated_at", "id"]
    required_permissions = {
        "counts": ("alerts.view_alert",),
        "acknowledge": ("alerts.change_alert",),
        "acknowledge_many": ("alerts.change_alert",),
        "resolve": ("alerts.change_alert",),
    }

    def get_queryset(self) -> QuerySet[Alert]:
        # The user's sites here too, not only in the filter backend: the bulk acknowledge filters this queryset.
        return restrict_to_sites(selectors.alert_list(), self.request.user)

    @extend_schema(responses={200: AlertCountsSerializer})
    @action(detail=False, methods=["get"])
    def counts(self, request: Request) -> Response:
        return Response(selectors.alert_counts(self.filter_queryset(self.get_queryset())))

    @extend_schema(
        operation_id="alerts_acknowledge_many",
        request=BulkAcknowledgeSerializer,
        responses={200: BulkAcknowledgedSerializer},
    )
    @action(detail=False, methods=["post"], url_path="acknowledge")
    def acknowledge_many(self, request: Request) -> Response:
        """Acknowledge many open alerts at once: {"ids": [...]} or {"filter": {"site": 1, ...}} (the list
        filters). Alerts already acknowledged or resolved are left as they are."""
        body = BulkAcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "ids" in body.validated_data:
            chosen = self.get_queryset().filter(pk__in=body.validated_data["ids"])
        else:
            filters = AlertFilter(data=body.validated_data["filter"], queryset=self.get_queryset())
            if not filters.is_valid():
                name, messages = next(iter(filters.errors.items()))
                raise FieldError(f"filter.{name}", " ".join(str(m) for m in messages))
            chosen = filters.qs
        done = services.alert_acknowledge_many(actor=request.user, alerts=chosen)
        for site_id in sorted({alert.site_id for alert in done}):
            mine = [alert for alert in done if alert.site_id == site_id]
            push_alerts_acknowledged(
                site_id=site_id,
                ids=[alert.pk for alert in mine],
                acknowledged_at=mine[0].acknowledged_at.isoformat() if mine[0].acknowledged_at else "",
                acknowledged_by=mine[0].acknowledged_by_id,
                counts=selectors.site_alert_counts(site_id),
            )
        return Response({"acknowledged": len(done), "ids": [alert.pk for alert in done]})

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = services.alert_acknowledge(actor=request.user, alert_id=self.get_object().pk)
        self._push(alert, "acknowledged")
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        alert = services.alert_resolve(actor=request.user, alert_id=self.get_object().pk)
        self._push(alert, "resolved")
        return Response(AlertSerializer(alert).data)

    @staticmethod
    def _push(alert: Alert, change: AlertChange) -> None:
        push_alert_changed(
            site_id=alert.site_id,
            alert=selectors.alert_to_dict(alert),
            change=change,
            counts=selectors.site_alert_counts(alert.site_id),
        )


class SirenApi(APIView):
    """The siren output of a site: GET its state, PUT {"on": true|false} to switch it."""

    required_permissions = {"GET": ("alerts.view_sirenstate",), "PUT": ("alerts.change_sirenstate",)}

    @extend_schema(responses={200: SirenSerializer})
    def get(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        return Response(selectors.siren_get(site_id=site.pk))

    @extend_schema(request=SirenSerializer, responses={200: SirenSerializer})
    def put(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        serializer = SirenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        state = services.siren_set(actor=request.user, site_id=site.pk, on=serializer.validated_data["on"])
        push_siren_changed(site_id=site.pk, on=bool(state["on"]))
        return Response(state)


class QueueAlertSettingSerializer(serializers.Serializer[dict[str, object]]):
    zone = serializers.IntegerField(read_only=True)
    length = serializers.IntegerField(
        min_value=1, max_value=10_000, allow_null=True, help_text="Persons waiting; null: not on the length."
    )
    wait_s = serializers.FloatField(
        min_value=1.0,
        max_value=86_400.0,
        allow_null=True,
        help_text="Predicted wait (s); null: not on the wait.",
    )
    after_s = serializers.FloatField(
        min_value=0.0, max_value=3600.0, default=60.0, help_text="Held this long (s)."
    )
    default = serializers.BooleanField(read_only=True, help_text="True: the zone has no setting of its own.")


class QueueAlertSettingApi(APIView):
    """The "open another till" thresholds of a queue zone: GET them (the defaults when it has none), PUT
    {"length", "wait_s", "after_s"} to set them (null length and wait: that queue never alerts)."""

    required_permissions = {"GET": ("inventory.view_zone",), "PUT": ("inventory.change_zone",)}

    def _zone(self, request: Request, zone_id: int) -> Zone:
        zones = restrict_to_sites(Zone.objects.all(), request.user)
        return get_object_or_404(zones, pk=zone_id)

    @extend_schema(responses={200: QueueAlertSettingSerializer})
    def get(self, request: Request, zone_id: int) -> Response:
        zone = self._zone(request, zone_id)
        return Response(selectors.queue_alert_setting_get(zone_id=zone.pk))

    @extend_schema(request=QueueAlertSettingSerializer, responses={200: QueueAlertSettingSerializer})
    def put(self, request: Request, zone_id: int) -> Response:
        zone = self._zone(request, zone_id)
        serializer = QueueAlertSettingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(
            services.queue_alert_setting_set(
                actor=request.user,
                zone_id=zone.pk,
                length=data["length"],
                wait_s=data["wait_s"],
                after_s=data["after_s"],
            )
        )
