import django_filters

from server.audit.models import AuditLog


class AuditLogFilter(django_filters.FilterSet):  # type: ignore[misc]
    at_after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditLog
        fields = ["actor", "action", "object_type", "object_id"]
