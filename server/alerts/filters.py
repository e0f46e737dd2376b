import django_filters
from django.db.models import QuerySet

from server.alerts.models import Alert


class AlertFilter(django_filters.FilterSet):  # type: ignore[misc]
    """`state=open` is the unread (unacknowledged) alerts; `ongoing=true` the incidents whose person is still
    there, `ongoing=false` the closed ones."""

    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    ongoing = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_ongoing", label="ongoing"
    )

    class Meta:
        model = Alert
        fields = ["site", "zone", "kind", "state", "person_id", "employee"]

    def filter_ongoing(self, queryset: QuerySet[Alert], name: str, value: str) -> QuerySet[Alert]:
        return queryset.filter(closed_at__isnull=value == "true")
