import django_filters

from server.inventory.models import Camera, FloorPlan, Zone


class FloorPlanFilter(django_filters.FilterSet):  # type: ignore[misc]
    class Meta:
        model = FloorPlan
        fields = ["site"]


class CameraFilter(django_filters.FilterSet):  # type: ignore[misc]
    class Meta:
        model = Camera
        fields = ["site", "device", "enabled"]


class ZoneFilter(django_filters.FilterSet):  # type: ignore[misc]
    class Meta:
        model = Zone
        fields = ["site", "kind"]
