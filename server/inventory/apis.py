"""Inventory endpoints: thin viewsets; writes go through `server.inventory.services`."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from server.api.parsers import JSONParser
from server.inventory import selectors, services
from server.inventory.filters import CameraFilter, FloorPlanFilter, ZoneFilter
from server.inventory.models import Camera, FloorPlan, Site, Zone
from server.inventory.serializers import CameraSerializer, FloorPlanSerializer, SiteSerializer, ZoneSerializer


class SiteViewSet(viewsets.ModelViewSet[Site]):
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    ordering_fields = ["id", "name"]

    def get_queryset(self) -> QuerySet[Site]:
        return selectors.site_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.site_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.site_update(
            actor=self.request.user, site=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Site) -> None:
        services.site_delete(actor=self.request.user, site=instance)


class FloorPlanViewSet(viewsets.ModelViewSet[FloorPlan]):
    """Floor plans; the image is uploaded as multipart/form-data (JSON works for the other fields)."""

    queryset = FloorPlan.objects.all()
    serializer_class = FloorPlanSerializer
    filterset_class = FloorPlanFilter
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, JSONParser]

    def get_queryset(self) -> QuerySet[FloorPlan]:
        return selectors.floor_plan_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.floor_plan_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.floor_plan_update(
            actor=self.request.user, floor_plan=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: FloorPlan) -> None:
        services.floor_plan_delete(actor=self.request.user, floor_plan=instance)


class CameraViewSet(viewsets.ModelViewSet[Camera]):
    """Cameras. Writing `calibration_points` computes the homography server-side; config changes are pushed to
    the camera's edge box. POST `<id>/snapshot/` asks the box for one JPEG still (202; poll the camera until
    `snapshot_captured_at` is newer than `snapshot_requested_at`)."""

    queryset = Camera.objects.all()
    serializer_class = CameraSerializer
    filterset_class = CameraFilter
    ordering_fields = ["id", "name"]
    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"snapshot": ("inventory.change_camera",)}

    @extend_schema(request=None, responses={202: CameraSerializer})
    @action(detail=True, methods=["post"])
    def snapshot(self, request: Request, pk: str | None = None) -> Response:
        camera = services.camera_request_snapshot(actor=request.user, camera=self.get_object())
        return Response(self.get_serializer(camera).data, status=status.HTTP_202_ACCEPTED)

    def get_queryset(self) -> QuerySet[Camera]:
        return selectors.camera_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.camera_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.camera_update(
            actor=self.request.user, camera=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Camera) -> None:
        services.camera_delete(actor=self.request.user, camera=instance)


class ZoneViewSet(viewsets.ModelViewSet[Zone]):
    queryset = Zone.objects.all()
    serializer_class = ZoneSerializer
    filterset_class = ZoneFilter
    ordering_fields = ["id", "name"]

    def get_queryset(self) -> QuerySet[Zone]:
        return selectors.zone_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.zone_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.zone_update(
            actor=self.request.user, zone=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Zone) -> None:
        services.zone_delete(actor=self.request.user, zone=instance)
