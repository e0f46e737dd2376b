from __future__ import annotations

from django.db.models import QuerySet

from server.audit.models import AuditLog


def audit_log_list() -> QuerySet[AuditLog]:
    return AuditLog.objects.select_related("actor").all()
