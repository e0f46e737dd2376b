"""Analytics endpoints: /api/sites/<site_id>/analytics/<name>?start=ISO&end=ISO (default: the last 24 hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.roles import can_see_identities
from server.api.errors import ApplicationError
from server.insights import selectors
from server.inventory.models import Site
from server.livestate import LiveStateUnavailableError

MAX_RANGE = timedelta(days=400)
VIEW_ANALYTICS = ("insights.view_heatmaphour",)
RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO 8601; default: 24 h before end"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601; default: now"),
    OpenApiParameter("bucket", OpenApiTypes.STR, enum=["hour", "day"], description="time buckets of series"),
]
range_schema = extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)


class RangeSerializer(serializers.Serializer[Any]):
    start = serializers.CharField(required=False)
    end = serializers.CharField(required=False)
    bucket = serializers.ChoiceField(choices=["hour", "day"], required=False, default="hour")


def _parse(value: str | None, field: str, default: datetime) -> datetime:
    if not value:
        return default
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValidationError({field: [f"not an ISO 8601 date-time: {value!r}"]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


class _AnalyticsView(APIView):
    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"GET": VIEW_ANALYTICS}

    def range(self, request: Request, site_id: int) -> tuple[datetime, datetime, str]:
        if not Site.objects.filter(pk=site_id).exists():
            raise NotFound(f"site {site_id} does not exist")
        params = RangeSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        end = _parse(params.validated_data.get("end"), "end", now)
        start = _parse(params.validated_data.get("start"), "start", end - timedelta(hours=24))
        if start >= end:
            raise ValidationError({"start": ["start must be before end"]})
        if end - start > MAX_RANGE:
            raise ValidationError({"start": [f"the range may span at most {MAX_RANGE.days} days"]})
        return start, end, str(params.validated_data.get("bucket", "hour"))

    @staticmethod
    def envelope(start: datetime, end: datetime, **payload: Any) -> Response:
        return Response({"start": start.isoformat(), "end": end.isoformat(), **payload})


class HeatmapApi(_AnalyticsView):
    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        return self.envelope(
            start,
            end,
            **selectors.heatmap(site_id=site_id, start=start, end=end),
            zones=selectors.zone_interest(site_id=site_id, start=start, end=end),
        )


class FlowApi(_AnalyticsView):
    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        return self.envelope(start, end, transitions=selectors.flow(site_id=site_id, start=start, end=end))


class DistancingApi(_AnalyticsView):
    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        return self.envelope(
            start, end, **selectors.distancing(site_id=site_id, start=start, end=end, bucket=bucket)
        )


class VisitsApi(_AnalyticsView):
    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        return self.envelope(
            start, end, **selectors.visits(site_id=site_id, start=start, end=end, bucket=bucket)
        )


class DwellApi(_AnalyticsView):
    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        return self.envelope(start, end, zones=selectors.zone_interest(site_id=site_id, start=start, end=end))


class OccupancyApi(_AnalyticsView):
    """Live occupancy of the site and its zones, and who is where, from the live state (server.livestate): the
    same in a web-only process as in the process that fuses the site."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, site_id: int) -> Response:
        if not Site.objects.filter(pk=site_id).exists():
            raise NotFound(f"site {site_id} does not exist")
        try:
            live = selectors.live_occupancy(site_id)
        except LiveStateUnavailableError as err:
            raise ApplicationError(
                "the live state cannot be read now", code="live_state_unavailable", status_code=503
            ) from err
        if live is None:
            return Response({"site": 0, "zones": [], "who_is_where": [], "time_us": None, "live": False})
        if not can_see_identities(request.user):
            live["who_is_where"] = []  # who the persons are: as `GET /api/employees`, people.view_employee
        return Response({**live, "live": True})
