"""Retention and privacy endpoints: the retention policy and the last purges (read), the periods set and a purge
now (admin), and an employee's data exported or erased on request (admin, audited)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.errors import FieldError
from server.people.models import Employee
from server.retention import privacy, purge
from server.retention.models import MAX_DAYS, PurgeRun
from server.retention.services import retention_set

EMPLOYEE_DATA = ("people.view_employee", "people.delete_employee", "retention.view_purgerun")


class PurgeRunSerializer(serializers.ModelSerializer[PurgeRun]):
    class Meta:
        model = PurgeRun
        fields = ["id", "started_at", "finished_at", "trigger", "deleted", "errors"]
        read_only_fields = fields


class EraseSerializer(serializers.Serializer[dict[str, Any]]):
    confirm = serializers.CharField(help_text="The employee's name, as a confirmation.")


class RetentionUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    days = serializers.DictField(
        child=serializers.IntegerField(allow_null=True, min_value=0, max_value=MAX_DAYS),
        help_text="Data class -> days (0 keeps it for ever), or null to go back to the server's setting.",
    )


class RetentionApi(APIView):
    """GET: the retention period of each data class and the latest purges. PUT: set periods (they replace the
    RETENTION_<CLASS>_DAYS settings; null resets one). POST: purge now."""

    required_permissions = {
        "GET": ("retention.view_purgerun",),
        # One permission for the whole edit: a period set, changed or reset (a row created, updated or deleted).
        "PUT": ("retention.change_retentionsetting",),
        "POST": ("retention.add_purgerun",),
    }

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        runs = PurgeRun.objects.all()[:10]
        return Response(
            {
                "policy": purge.current_policy().describe(),
                "purges": PurgeRunSerializer(runs, many=True).data,
            }
        )

    @extend_schema(request=RetentionUpdateSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request: Request) -> Response:
        body = RetentionUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retention_set(actor=request.user, days=body.validated_data["days"])
        return Response({"policy": purge.current_policy().describe()})

    @extend_schema(request=None, responses={200: PurgeRunSerializer})
    def post(self, request: Request) -> Response:
        from server.retention.timeseries import current_backend

        with current_backend() as backend:
            run = purge.purge(policy=purge.current_policy(), backend=backend, trigger="api")
        return Response(PurgeRunSerializer(run).data)


class EmployeeExportApi(APIView):
    """Everything the server holds about one employee, as JSON (the request is audited)."""

    required_permissions = {"GET": EMPLOYEE_DATA}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, employee_id: int) -> Response:
        employee = get_object_or_404(Employee, pk=employee_id)
        document = privacy.employee_export(actor=request.user, employee=employee)
        response = Response(document)
        response["Content-Disposition"] = f'attachment; filename="employee-{employee.pk}.json"'
        return response


class EmployeeEraseApi(APIView):
    """Erase one employee and their linked data (docs/privacy.md, "An employee's data on request"); `confirm`
    must be their name."""

    required_permissions = {"POST": EMPLOYEE_DATA}

    @extend_schema(request=EraseSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, employee_id: int) -> Response:
        employee = get_object_or_404(Employee, pk=employee_id)
        body = EraseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["confirm"] != employee.name:
            raise FieldError(
                "confirm", "type the employee's name exactly to confirm the erasure", code="not_confirmed"
            )
        counts = privacy.employee_erase(actor=request.user, employee=employee)
        return Response({"erased": employee_id, "counts": counts})
