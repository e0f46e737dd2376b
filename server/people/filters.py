import django_filters
from django.db.models import QuerySet

from server.people.models import Employee, IdentityBinding, ZonePermission


class EmployeeFilter(django_filters.FilterSet):  # type: ignore[misc]
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Employee
        fields = ["level", "active", "badge_id", "name"]


class ZonePermissionFilter(django_filters.FilterSet):  # type: ignore[misc]
    site = django_filters.NumberFilter(field_name="zone__site")

    class Meta:
        model = ZonePermission
        fields = ["employee", "zone", "site"]


class IdentityBindingFilter(django_filters.FilterSet):  # type: ignore[misc]
    active = django_filters.BooleanFilter(method="filter_active")
    bound_after = django_filters.IsoDateTimeFilter(field_name="bound_at", lookup_expr="gte")
    bound_before = django_filters.IsoDateTimeFilter(field_name="bound_at", lookup_expr="lt")

    class Meta:
        model = IdentityBinding
        fields = ["site", "employee", "person_id", "source", "active"]

    def filter_active(
        self, queryset: QuerySet[IdentityBinding], name: str, value: bool
    ) -> QuerySet[IdentityBinding]:
        return queryset.filter(unbound_at__isnull=value)
