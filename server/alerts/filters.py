import django_filters

from server.alerts.models import Alert


class AlertFilter(django_filters.FilterSet):  # type: ignore[misc]
    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["site", "zone", "kind", "state", "person_id", "employee"]
