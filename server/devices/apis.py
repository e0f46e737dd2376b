"""Edge-device endpoints: create (returns the one-time enrollment token once), issue a new token, revoke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from server.devices import selectors, services
from server.devices.filters import EdgeDeviceFilter
from server.devices.models import EdgeDevice
from server.devices.serializers import (
    EdgeDeviceCreatedSerializer,
    EdgeDeviceCreateSerializer,
    EdgeDeviceSerializer,
    EnrollmentTokenInputSerializer,
    EnrollmentTokenSerializer,
)


class EdgeDeviceViewSet(viewsets.ModelViewSet[EdgeDevice]):
    queryset = EdgeDevice.objects.all()
    serializer_class = EdgeDeviceSerializer
    filterset_class = EdgeDeviceFilter
    ordering_fields = ["id", "name", "last_seen_at"]
    required_permissions = {
        "issue_token": ("devices.change_edgedevice",),
        "revoke": ("devices.change_edgedevice",),
        "replace": ("devices.change_edgedevice",),
    }

    def get_queryset(self) -> QuerySet[EdgeDevice]:
        return selectors.device_list()

    @extend_schema(request=EdgeDeviceCreateSerializer, responses={201: EdgeDeviceCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EdgeDeviceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        device = services.device_create(actor=request.user, site=data["site"], name=data["name"])
        issued = services.device_issue_enrollment_token(
            actor=request.user, device=device, lifetime=timedelta(hours=data["lifetime_h"])
        )
        body = dict(EdgeDeviceSerializer(issued.device).data)
        body["enrollment_token"] = issued.token
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.device_update(
            actor=self.request.user, device=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: EdgeDevice) -> None:
        services.device_delete(actor=self.request.user, device=instance)

    def _token_response(self, request: Request, issue: Callable[..., services.IssuedToken]) -> Response:
        """Issue a one-time enrollment token for the device with `issue` (a service taking the actor, the device
        and the token's lifetime) and answer it: shown in this response only."""
        device = self.get_object()
        serializer = EnrollmentTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = issue(
            actor=request.user,
            device=device,
            lifetime=timedelta(hours=serializer.validated_data["lifetime_h"]),
        )
        return Response(
            {
                "device_id": device.pk,
                "enrollment_token": issued.token,
                "enrollment_token_expires_at": issued.expires_at,
            }
        )

    @extend_schema(request=EnrollmentTokenInputSerializer, responses={200: EnrollmentTokenSerializer})
    @action(detail=True, methods=["post"], url_path="issue-token")
    def issue_token(self, request: Request, pk: str | None = None) -> Response:
        """Issue a new one-time enrollment token (replaces an unused one); shown in this response only."""
        return self._token_response(request, services.device_issue_enrollment_token)

    @extend_schema(request=EnrollmentTokenInputSerializer, responses={200: EnrollmentTokenSerializer})
    @action(detail=True, methods=["post"])
    def replace(self, request: Request, pk: str | None = None) -> Response:
        """Replace a broken box: the old box's credentials stop working now; enroll the new box with the one-time
        token of this response. The cameras stay attached and keep their data."""
        return self._token_response(request, services.device_replace)

    @extend_schema(request=None, responses={200: EdgeDeviceSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke the device's credentials; its open stream is closed within seconds."""
        device = self.get_object()
        services.device_revoke(actor=request.user, device=device)
        return Response(EdgeDeviceSerializer(device).data)
