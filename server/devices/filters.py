import django_filters
from django.db.models import QuerySet

from server.devices.models import EdgeDevice


class EdgeDeviceFilter(django_filters.FilterSet):  # type: ignore[misc]
    enrolled = django_filters.BooleanFilter(method="filter_enrolled")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = EdgeDevice
        fields = ["site"]

    def filter_enrolled(self, queryset: QuerySet[EdgeDevice], name: str, value: bool) -> QuerySet[EdgeDevice]:
        return queryset.exclude(secret_hash="") if value else queryset.filter(secret_hash="")
