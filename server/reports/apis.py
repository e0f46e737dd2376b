"""Reports endpoints: CSV/XLSX export of a site's analytics, the chain overview, scheduled reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, NoReturn

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from server.accounts.roles import ADMIN
from server.accounts.sites import restrict_to_sites
from server.errors import ApplicationError, FieldError
from server.insights.apis import _timeseries
from server.inventory.localtime import site_zone
from server.inventory.models import Site
from server.reports import exports
from server.reports.chain import site_kpis
from server.reports.models import ReportSchedule
from server.reports.periods import DAY, due_period
from server.reports.runner import send_schedule
from server.reports.serializers import ChainOverviewSerializer, ReportScheduleSerializer, ReportSentSerializer
from server.sales.ranges import time_range

VIEW_ANALYTICS = (exports.VIEW_ANALYTICS,)


class ExportApi(APIView):
    """Download a site's analytics over [start, end): `file_type=csv` with one `analytic` (streamed), or
    `file_type=xlsx` with one sheet per analytic (all of them unless `analytic` names one). Analytics:
    footfall, visits, occupancy, dwell, heatmap, flow, alerts, conversion (those the role may read)."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"GET": VIEW_ANALYTICS}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "start", OpenApiTypes.DATETIME, description="ISO 8601; default: 24 h before end"
            ),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601; default: now"),
            OpenApiParameter(
                "file_type",
                OpenApiTypes.STR,
                enum=["csv", "xlsx"],
                description="default csv (not `format`: DRF keeps that name)",
            ),
            OpenApiParameter("analytic", OpenApiTypes.STR, enum=list(exports.SECTIONS)),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, site_id: str) -> Any:
        site = get_object_or_404(Site, pk=int(site_id))
        start, end = time_range(request.query_params, max_range=exports.MAX_EXPORT_RANGE)
        file_format = request.query_params.get("file_type", "csv")
        if file_format not in ("csv", "xlsx"):
            raise FieldError("file_type", "csv or xlsx")
        name = request.query_params.get("analytic", "")
        if name and name not in exports.SECTIONS:
            raise FieldError("analytic", f"one of {list(exports.SECTIONS)}")
        readable = [s for s in exports.SECTIONS.values() if request.user.has_perm(s.permission)]
        chosen = [s for s in readable if not name or s.name == name]
        if name and not chosen:
            raise ApplicationError(
                "Your role may not read this analytic.", code="permission_denied", status_code=403
            )
        ctx = exports.ExportContext(
            site_id=site.pk, start=start, end=end, zone=site_zone(site), timeseries=_timeseries
        )
        chosen = [exports.prepared(section, ctx) for section in chosen]
        stem = f"site-{site.pk}-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
        if file_format == "csv":
            if not name:
                raise FieldError("analytic", f"a CSV holds one analytic: one of {[s.name for s in readable]}")
            response = StreamingHttpResponse(exports.csv_stream(chosen[0], ctx), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="{stem}-{name}.csv"'
            return response
        return FileResponse(
            exports.xlsx_file(chosen, ctx),
            as_attachment=True,
            filename=f"{stem}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )


class ChainOverviewApi(APIView):
    """Sites compared over [start, end) (default: the last 7 days): footfall, transactions, conversion, mean visit,
    queue wait (null: not available), alerts. Only the sites the user is allowed on; `site` (repeatable) narrows."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"GET": VIEW_ANALYTICS}

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME),
            OpenApiParameter("end", OpenApiTypes.DATETIME),
            OpenApiParameter("site", OpenApiTypes.INT, many=True),
        ],
        responses={200: ChainOverviewSerializer},
    )
    def get(self, request: Request) -> Response:
        start, end = time_range(request.query_params, default=7 * DAY, max_range=timedelta(days=400))
        sites = restrict_to_sites(Site.objects.all(), request.user)
        wanted = request.query_params.getlist("site")
        if wanted:
            try:
                sites = sites.filter(pk__in=[int(value) for value in wanted])
            except ValueError as err:
                raise FieldError("site", "site ids are whole numbers") from err
        site_ids = list(sites.values_list("pk", flat=True))
        return Response(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "sites": site_kpis(site_ids=site_ids, start=start, end=end),
            }
        )


class ReportSendThrottle(UserRateThrottle):
    """`send` of one schedule by one user: at most the `report_send` rate (DRF's throttle, counted in the shared
    cache like the login limits), so that a user cannot make the server send unbounded e-mails."""

    scope = "report_send"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = super().get_cache_key(request, view)
        return None if key is None else f"{key}_schedule_{view.kwargs.get('pk')}"


class ReportSendUserThrottle(UserRateThrottle):
    """`send` by one user, all their schedules together: at most the `report_send_user` rate."""

    scope = "report_send_user"


class ReportScheduleViewSet(viewsets.ModelViewSet[ReportSchedule]):
    """A user's scheduled e-mail reports (admins see everyone's). `send` sends the latest period now."""

    queryset = ReportSchedule.objects.all()
    serializer_class = ReportScheduleSerializer
    required_permissions = {"send": ("reports.change_reportschedule",)}
    ordering_fields = ["id", "name"]

    def get_queryset(self) -> QuerySet[ReportSchedule]:
        schedules = ReportSchedule.objects.select_related("owner").prefetch_related("sites").order_by("id")
        user = self.request.user
        if user.is_superuser or user.groups.filter(name=ADMIN).exists():
            return schedules
        return schedules.filter(owner_id=user.pk)

    def perform_create(self, serializer: Any) -> None:
        serializer.save(owner=self.request.user)

    def throttled(self, request: Request, wait: float) -> NoReturn:
        if self.action != "send":
            super().throttled(request, wait)
        raise exceptions.Throttled(
            wait=wait,
            detail="Too many reports sent now: sending now is limited per schedule and per user (the "
            "schedules are still sent at their hour).",
            code="throttled",
        )

    @extend_schema(request=None, responses={200: ReportSentSerializer})
    @action(detail=True, methods=["post"], throttle_classes=[ReportSendThrottle, ReportSendUserThrottle])
    def send(self, request: Request, pk: str | None = None) -> Response:
        schedule = self.get_object()
        period = due_period(
            frequency=schedule.frequency,
            weekday=schedule.weekday,
            send_hour=schedule.send_hour,
            timezone=schedule.timezone,
            now=timezone.now(),
            last_period_end=None,
        )
        assert period is not None  # with no period sent, the newest one is always there
        try:
            result = send_schedule(schedule, start=period[0], end=period[1])
        except OSError as err:
            raise ApplicationError(
                f"the report could not be sent: {err}", code="email_failed", status_code=502
            ) from err
        return Response(result)
