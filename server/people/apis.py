"""People and access endpoints: levels, employees, zone grants, identity bindings and badge events."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.people import selectors, services
from server.people.filters import EmployeeFilter, IdentityBindingFilter, ZonePermissionFilter
from server.people.models import Employee, IdentityBinding, SecurityLevel, ZonePermission
from server.people.serializers import (
    BadgeBindingSerializer,
    BadgeEventSerializer,
    EmployeeSerializer,
    IdentityBindingSerializer,
    IdentityBindInputSerializer,
    SecurityLevelSerializer,
    ZonePermissionSerializer,
)


class SecurityLevelViewSet(viewsets.ModelViewSet[SecurityLevel]):
    queryset = SecurityLevel.objects.all()
    serializer_class = SecurityLevelSerializer
    ordering_fields = ["rank", "name"]

    def get_queryset(self) -> QuerySet[SecurityLevel]:
        return selectors.security_level_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.security_level_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.security_level_update(
            actor=self.request.user, level=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: SecurityLevel) -> None:
        services.security_level_delete(actor=self.request.user, level=instance)


class EmployeeViewSet(viewsets.ModelViewSet[Employee]):
    queryset = Employee.objects.all()
    serializer_class = EmployeeSerializer
    filterset_class = EmployeeFilter
    ordering_fields = ["id", "name"]

    def get_queryset(self) -> QuerySet[Employee]:
        return selectors.employee_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.employee_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.employee_update(
            actor=self.request.user, employee=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Employee) -> None:
        services.employee_delete(actor=self.request.user, employee=instance)


class ZonePermissionViewSet(viewsets.ModelViewSet[ZonePermission]):
    queryset = ZonePermission.objects.all()
    serializer_class = ZonePermissionSerializer
    filterset_class = ZonePermissionFilter

    def get_queryset(self) -> QuerySet[ZonePermission]:
        return selectors.zone_permission_list()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.zone_permission_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.zone_permission_update(
            actor=self.request.user, permission=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: ZonePermission) -> None:
        services.zone_permission_delete(actor=self.request.user, permission=instance)


class IdentityBindingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[IdentityBinding]
):
    """Employee ↔ tracked-person bindings. POST binds by hand; POST …/{id}/unbind ends a binding."""

    queryset = IdentityBinding.objects.all()
    serializer_class = IdentityBindingSerializer
    filterset_class = IdentityBindingFilter
    ordering_fields = ["bound_at", "id"]
    required_permissions = {
        "create": ("people.add_identitybinding",),
        "unbind": ("people.change_identitybinding",),
    }

    def get_queryset(self) -> QuerySet[IdentityBinding]:
        return selectors.identity_binding_list()

    @extend_schema(request=IdentityBindInputSerializer, responses={201: IdentityBindingSerializer})
    def create(self, request: Request) -> Response:
        serializer = IdentityBindInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        binding = services.identity_bind(
            actor=request.user, site=data["site"], person_id=data["person_id"], employee=data["employee"]
        )
        return Response(IdentityBindingSerializer(binding).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: IdentityBindingSerializer})
    @action(detail=True, methods=["post"])
    def unbind(self, request: Request, pk: str | None = None) -> Response:
        binding = services.identity_unbind(actor=request.user, binding=self.get_object())
        return Response(IdentityBindingSerializer(binding).data)


class BadgeEventApi(APIView):
    """An access-control event: binds the badge's employee to the tracked person nearest the reader at `time`.
    404 `no_person_near_reader` when nobody is within the match radius; 400 `unknown_badge` for an unknown
    badge."""

    required_permissions = {"POST": ("people.add_identitybinding",)}

    @extend_schema(request=BadgeEventSerializer, responses={201: BadgeBindingSerializer})
    def post(self, request: Request) -> Response:
        serializer = BadgeEventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.badge_event_bind(
            actor=request.user,
            site=data["site"],
            badge_id=data["badge_id"],
            reader_x_m=data["reader_x_m"],
            reader_y_m=data["reader_y_m"],
            time=data.get("time"),
            candidates_fn=selectors.live_persons_near,
        )
        body = {
            "binding": IdentityBindingSerializer(result.binding).data,
            "distance_m": result.distance_m,
            "candidates": result.candidates,
        }
        return Response(body, status=status.HTTP_201_CREATED)
