"""Analytics endpoints: /api/sites/<site_id>/analytics/<name>?start=ISO&end=ISO (default: the last 24 hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, overload

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from server.accounts.roles import can_see_identities
from server.api.pagination import LimitOffsetPagination
from server.errors import ApplicationError
from server.insights import heat_query, selectors
from server.insights.renderers import HeatmapJSONRenderer
from server.inventory.localtime import outside_calendar, site_zone_of
from server.inventory.models import Site
from server.livestate import LiveStateUnavailableError
from server.retention.privacy import heatmap_suppressed

MAX_RANGE = timedelta(days=400)
VIEW_ANALYTICS = ("insights.view_heatmaphour",)
RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO 8601; default: 24 h before end"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601; default: now"),
    OpenApiParameter(
        "bucket",
        OpenApiTypes.STR,
        enum=["hour", "day"],
        description="time buckets of series: the site's local hours or days (its `timezone`), each start as ISO "
        "8601 with the site's offset",
    ),
]
INCLUDE_STAFF = OpenApiParameter(
    "include_staff",
    OpenApiTypes.BOOL,
    description="count staff (persons bound to an employee) in the visitor KPIs too; default false: staff are "
    "left out and counted apart (docs/kpis.md)",
)
range_schema = extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
visitor_schema = extend_schema(parameters=[*RANGE_PARAMETERS, INCLUDE_STAFF], responses=OpenApiTypes.OBJECT)


class RangeSerializer(serializers.Serializer[Any]):
    start = serializers.CharField(required=False)
    end = serializers.CharField(required=False)
    bucket = serializers.ChoiceField(choices=["hour", "day"], required=False, default="hour")
    include_staff = serializers.BooleanField(required=False, default=False)


class HeatmapParamsSerializer(RangeSerializer):
    bucket = serializers.ChoiceField(
        choices=list(heat_query.HEATMAP_BUCKETS_S), required=False, allow_blank=True, default=""
    )


class DistancingParamsSerializer(RangeSerializer):
    bucket = serializers.ChoiceField(
        choices=list(selectors.DISTANCING_BUCKETS_S), required=False, default="hour"
    )


class VisitParamsSerializer(RangeSerializer):
    zone = serializers.IntegerField(required=False, min_value=1)
    employee = serializers.IntegerField(required=False, min_value=1)
    person = serializers.IntegerField(required=False, min_value=1)


class PathParamsSerializer(serializers.Serializer[Any]):
    start = serializers.CharField(required=False)
    end = serializers.CharField(required=False)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=selectors.MAX_PATH_POINTS, default=10_000
    )


@overload
def _parse(value: str | None, field: str, default: datetime) -> datetime: ...
@overload
def _parse(value: str | None, field: str, default: None) -> datetime | None: ...
def _parse(value: str | None, field: str, default: datetime | None) -> datetime | None:
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
    params_class: ClassVar[type[RangeSerializer]] = RangeSerializer

    def params(self, request: Request) -> dict[str, Any]:
        params = self.params_class(data=request.query_params)
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)

    def range(self, request: Request, site_id: int) -> tuple[datetime, datetime, str]:
        if not Site.objects.filter(pk=site_id).exists():
            raise NotFound(f"site {site_id} does not exist")
        params = self.params_class(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        end = _parse(params.validated_data.get("end"), "end", now)
        start = _parse(params.validated_data.get("start"), "start", end - timedelta(hours=24))
        for name, moment in (("start", start), ("end", end)):
            if outside_calendar(moment):
                raise ValidationError({name: ["must lie between years 1 and 9999, a day from either end"]})
        if start >= end:
            raise ValidationError({"start": ["start must be before end"]})
        if end - start > MAX_RANGE:
            raise ValidationError({"start": [f"the range may span at most {MAX_RANGE.days} days"]})
        return start, end, str(params.validated_data.get("bucket", "hour"))

    @staticmethod
    def envelope(start: datetime, end: datetime, **payload: Any) -> Response:
        return Response({"start": start.isoformat(), "end": end.isoformat(), **payload})


HEATMAP_PARAMETERS = [
    *RANGE_PARAMETERS[:2],
    OpenApiParameter(
        "bucket",
        OpenApiTypes.STR,
        enum=list(heat_query.HEATMAP_BUCKETS_S),
        description="also return `frames`: one heat map per bucket (site's local time), at most "
        f"{heat_query.MAX_HEATMAP_FRAMES} buckets",
    ),
]


class HeatmapApi(_AnalyticsView):
    """The heat map over exactly [start, end) (to the minute); with `bucket`, also one per time bucket. The cells
    stay arrays from the query through the suppression to the JSON text (`HeatmapJSONRenderer`)."""

    params_class = HeatmapParamsSerializer
    renderer_classes = [HeatmapJSONRenderer]

    @extend_schema(parameters=HEATMAP_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        if bucket:
            buckets = (end - start).total_seconds() / heat_query.HEATMAP_BUCKETS_S[bucket]
            if buckets > heat_query.MAX_HEATMAP_FRAMES:
                raise ValidationError(
                    {
                        "bucket": [
                            f"{bucket} buckets over this range make {buckets:.0f} heat maps; at most "
                            f"{heat_query.MAX_HEATMAP_FRAMES}: take a larger bucket or a shorter range"
                        ]
                    }
                )
        heat = heat_query.heatmap_cells(
            site_id=site_id, start=start, end=end, bucket=bucket or None, tz=site_zone_of(site_id).key
        )
        return self.envelope(
            start,
            end,
            **heatmap_suppressed(  # small counts suppressed: docs/privacy.md
                heat, site_id=site_id, start=start, end=end, bucket_s=heat_query.HEATMAP_BUCKETS_S.get(bucket)
            ),
            zones=selectors.zone_interest(site_id=site_id, start=start, end=end),
        )


class FlowApi(_AnalyticsView):
    @visitor_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        staff = bool(self.params(request)["include_staff"])
        return self.envelope(
            start, end, transitions=selectors.flow(site_id=site_id, start=start, end=end, include_staff=staff)
        )


class DistancingApi(_AnalyticsView):
    """Summary over the range; `violations` is one page (`?limit=` default 100, at most 1,000; `?offset=`),
    newest first, with `next`/`previous` links to the other pages and `total` for all of them."""

    params_class = DistancingParamsSerializer

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS[:2],
            OpenApiParameter(
                "bucket",
                OpenApiTypes.STR,
                enum=list(selectors.DISTANCING_BUCKETS_S),
                description="buckets of `over_time` (default hour, day where hours would be more than "
                f"{selectors.MAX_DISTANCING_BUCKETS}): 1m, 5m, 15m, hour or day, at most "
                f"{selectors.MAX_DISTANCING_BUCKETS} over the range",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="violations per page (default 100)"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="violations to skip"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        zone = site_zone_of(site_id)
        buckets = selectors.distancing_buckets(start, end, bucket, zone)
        if buckets > selectors.MAX_DISTANCING_BUCKETS and not request.query_params.get("bucket"):
            # The default (hourly, as before buckets could be asked for) over a range of months: daily, as the
            # answer's `bucket` says, rather than refusing a request that named no bucket.
            bucket = "day"
            buckets = selectors.distancing_buckets(start, end, bucket, zone)
        if buckets > selectors.MAX_DISTANCING_BUCKETS:
            raise ValidationError(
                {
                    "bucket": [
                        f"{bucket} buckets over this range make {buckets} bars; at most "
                        f"{selectors.MAX_DISTANCING_BUCKETS}: take a larger bucket or a shorter range"
                    ]
                }
            )
        summary = selectors.distancing(site_id=site_id, start=start, end=end, bucket=bucket)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(
            selectors.violation_list(site_id=site_id, start=start, end=end), request, view=self
        )
        return self.envelope(
            start,
            end,
            bucket=bucket,
            **summary,
            violations=selectors.violation_rows(page or []),
            next=_pinned(paginator.get_next_link(), start, end),
            previous=_pinned(paginator.get_previous_link(), start, end),
        )


def _pinned(link: str | None, start: datetime, end: datetime) -> str | None:
    """A page link that carries the range resolved for the first page: with the default end (now), each later
    page would end later, and the violations recorded meanwhile (newest first) would shift the offsets."""
    if link is None:
        return None
    return replace_query_param(replace_query_param(link, "start", start.isoformat()), "end", end.isoformat())


class VisitsApi(_AnalyticsView):
    """`entries`: entries through the site's entrance lines (the visits; null without one);
    `detected_visitors` (and `series`/`total`): persons first seen on the floor. Staff left out unless
    `include_staff`, counted apart in `staff`."""

    @visitor_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        staff = bool(self.params(request)["include_staff"])
        return self.envelope(
            start,
            end,
            **selectors.visits(site_id=site_id, start=start, end=end, bucket=bucket, include_staff=staff),
        )


class DoorsApi(_AnalyticsView):
    """In and out per counting line, in total and per time bucket; `entries`/`exits` through the entrances.
    Staff crossings are counted apart (`staff_in`, `staff_out`) and in `in`/`out` only with `include_staff`."""

    @visitor_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, bucket = self.range(request, site_id)
        staff = bool(self.params(request)["include_staff"])
        return self.envelope(
            start,
            end,
            **selectors.doors(site_id=site_id, start=start, end=end, bucket=bucket, include_staff=staff),
        )


class QueuesApi(_AnalyticsView):
    """Per queue zone over the range: served, abandoned, abandonment rate, waiting time (median, mean, p90);
    live: length and the predicted wait of a newcomer; the service points' mean service time (docs/kpis.md)."""

    @range_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        return self.envelope(start, end, **selectors.queues(site_id=site_id, start=start, end=end))


class DwellApi(_AnalyticsView):
    @visitor_schema
    def get(self, request: Request, site_id: int) -> Response:
        start, end, _ = self.range(request, site_id)
        staff = bool(self.params(request)["include_staff"])
        return self.envelope(
            start,
            end,
            zones=selectors.zone_interest(site_id=site_id, start=start, end=end, include_staff=staff),
        )


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


class VisitListApi(_AnalyticsView):
    """Visits that overlap [start, end), oldest first, paginated (`?limit=&offset=`): each with its entry and exit,
    the zones entered (entry, exit, dwell) and the identities bound to the person. Filters: `zone` (visits that
    entered it), `employee` (bound to that employee), `person` (a global person id)."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {
        "GET": (*VIEW_ANALYTICS, "people.view_identitybinding")
    }
    params_class = VisitParamsSerializer

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS[:2],
            OpenApiParameter("zone", OpenApiTypes.INT),
            OpenApiParameter("employee", OpenApiTypes.INT),
            OpenApiParameter("person", OpenApiTypes.INT),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, site_id: str) -> Response:  # type: ignore[override]
        start, end, _ = self.range(request, int(site_id))
        params = self.params(request)
        visits = selectors.visit_list(
            site_id=int(site_id),
            start=start,
            end=end,
            zone_id=params.get("zone"),
            employee_id=params.get("employee"),
            person_id=params.get("person"),
        )
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(visits, request, view=self) or []
        return paginator.get_paginated_response(selectors.visit_details(site_id=int(site_id), visits=page))


class PersonPathApi(_AnalyticsView):
    """A person's floor positions over time (sampled at POSITIONS_SAMPLE_HZ), by default over their visit."""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="default: the person's entry"),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="default: the person's exit (or now)"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="at most this many points (10,000)"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, site_id: str, person_id: str) -> Response:
        if not Site.objects.filter(pk=int(site_id)).exists():
            raise NotFound(f"site {site_id} does not exist")
        params = PathParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        start = _parse(params.validated_data.get("start"), "start", None)
        end = _parse(params.validated_data.get("end"), "end", None)
        if start is not None and end is not None and start >= end:
            raise ValidationError({"start": ["start must be before end"]})
        if start is not None and start > now:
            raise ValidationError({"start": ["start lies in the future"]})
        path = selectors.person_path(
            backend=_timeseries(),
            site_id=int(site_id),
            person_id=int(person_id),
            start=start,
            end=end,
            limit=int(params.validated_data["limit"]),
        )
        if path is None:
            raise NotFound(f"site {site_id} has no visit of person {person_id}")
        return Response(path)


_reader: Any = None


def use_timeseries(backend: Any) -> None:
    """Read the analytics series from `backend` (the process runtime registers its own; None: build one from the
    settings on first use, as a web process does)."""
    global _reader
    _reader = backend


def _timeseries() -> Any:
    """The process's time-series backend (the registered one, or one built from the settings)."""
    global _reader
    if _reader is None:
        from server.timeseries.factory import build_backend, config_from_settings

        _reader = build_backend(config_from_settings())
    return _reader
