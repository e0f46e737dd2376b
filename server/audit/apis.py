from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from server.audit.filters import AuditLogFilter
from server.audit.models import AuditLog
from server.audit.selectors import audit_log_list


class AuditLogSerializer(serializers.ModelSerializer[AuditLog]):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "at",
            "actor",
            "actor_username",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
        ]
        read_only_fields = fields


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet[AuditLog]):
    """Administrative changes, newest first (admins only)."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilter
    ordering_fields = ["at", "id"]

    def get_queryset(self) -> QuerySet[AuditLog]:
        return audit_log_list()
