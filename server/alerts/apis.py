"""Alert endpoints (list/filter, acknowledge, resolve) and the per-site siren (GET/PUT)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.alerts import selectors, services
from server.alerts.filters import AlertFilter
from server.alerts.models import Alert
from server.alerts.push import push_alert_changed, push_siren_changed
from server.inventory.models import Site


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
            "message",
            "x_m",
            "y_m",
            "distance_m",
            "state",
            "raised_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class SirenSerializer(serializers.Serializer[dict[str, object]]):
    site = serializers.IntegerField(read_only=True)
    on = serializers.BooleanField()
    changed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    changed_by = serializers.IntegerField(read_only=True, allow_null=True)


class AlertViewSet(viewsets.ReadOnlyModelViewSet[Alert]):
    """Security alerts, newest first; filter by site, zone, kind, state, person, employee and time range."""

    queryset = Alert.objects.all()
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["raised_at", "id"]
    required_permissions = {
        "acknowledge": ("alerts.change_alert",),
        "resolve": ("alerts.change_alert",),
    }

    def get_queryset(self) -> QuerySet[Alert]:
        return selectors.alert_list()

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = services.alert_acknowledge(actor=request.user, alert_id=self.get_object().pk)
        push_alert_changed(site_id=alert.site_id, alert=selectors.alert_to_dict(alert))
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        alert = services.alert_resolve(actor=request.user, alert_id=self.get_object().pk)
        push_alert_changed(site_id=alert.site_id, alert=selectors.alert_to_dict(alert))
        return Response(AlertSerializer(alert).data)


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
