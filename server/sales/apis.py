"""Sales endpoints: import point-of-sale transactions (CSV upload or JSON), list them, and conversion."""

from __future__ import annotations

from typing import Any, ClassVar

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.api.pagination import LimitOffsetPagination
from server.api.parsers import JSONParser
from server.errors import FieldError
from server.inventory.localtime import site_zone
from server.inventory.models import Site
from server.sales import selectors, services
from server.sales.models import PosTransaction
from server.sales.ranges import time_range

VIEW = ("sales.view_postransaction",)
IMPORT = ("sales.add_postransaction",)
RANGE = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO 8601; default: 24 h before end"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601; default: now"),
]


class TransactionSerializer(serializers.ModelSerializer[PosTransaction]):
    time = serializers.DateTimeField(source="occurred_at")

    class Meta:
        model = PosTransaction
        fields = ["id", "time", "till", "amount", "currency", "transaction_id", "imported_at"]


class TransactionInputSerializer(serializers.Serializer[Any]):
    time = serializers.CharField(help_text="ISO 8601; without an offset: the site's local time")
    till = serializers.CharField(max_length=64)
    amount = serializers.CharField(help_text="decimal, at most 2 places; negative: a refund (not counted)")
    currency = serializers.CharField(required=False, allow_blank=True, help_text="ISO 4217, e.g. EUR")
    transaction_id = serializers.CharField(
        required=False, allow_blank=True, help_text="the till system's id: re-imports are recognised by it"
    )


class BulkInputSerializer(serializers.Serializer[Any]):
    transactions = TransactionInputSerializer(many=True)


class ImportResultSerializer(serializers.Serializer[Any]):
    received = serializers.IntegerField(help_text="rows in the request")
    created = serializers.IntegerField(help_text="rows stored now")
    duplicates = serializers.IntegerField(help_text="rows already imported (or repeated), not added again")


class CsvUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="CSV: a header row time,till,amount[,currency][,transaction_id]")


class TransactionsApi(APIView):
    """GET: the site's transactions in [start, end), oldest first, paginated. POST: import a JSON list
    `{"transactions": [...]}`, all or nothing (400 `invalid_transactions` lists each problem by `index`)."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"GET": VIEW, "POST": IMPORT}
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=[
            *RANGE,
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: TransactionSerializer(many=True)},
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        start, end = time_range(request.query_params)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(
            selectors.transaction_list(site_id=site.pk, start=start, end=end), request, view=self
        )
        return paginator.get_paginated_response(TransactionSerializer(page or [], many=True).data)

    @extend_schema(request=BulkInputSerializer, responses={201: ImportResultSerializer})
    def post(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        data = request.data
        items = data.get("transactions") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise FieldError("transactions", "a list of transactions is required")
        result = services.transactions_import_items(actor=request.user, site=site, items=items)
        return Response(result, status=status.HTTP_201_CREATED)


class TransactionsCsvApi(APIView):
    """Import a CSV file (multipart field `file`), all or nothing: 400 `invalid_transactions` lists each problem
    by `line` (1 = the header), `field` and `reason`. Rows imported before are recognised and not added twice."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"POST": IMPORT}
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        request={"multipart/form-data": CsvUploadSerializer}, responses={201: ImportResultSerializer}
    )
    def post(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        upload = request.FILES.get("file")
        if upload is None:
            raise FieldError("file", "upload the CSV file in the multipart field `file`")
        result = services.transactions_import_csv(actor=request.user, site=site, data=upload.read())
        return Response(result, status=status.HTTP_201_CREATED)


class ConversionApi(APIView):
    """Conversion = sales transactions (amount > 0) / visits, per hour or day of the site's time zone, with the
    totals over [start, end). `conversion` is null for a bucket without visits."""

    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {"GET": VIEW}

    @extend_schema(
        parameters=[*RANGE, OpenApiParameter("bucket", OpenApiTypes.STR, enum=["hour", "day"])],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, site_id: int) -> Response:
        site = get_object_or_404(Site, pk=site_id)
        start, end = time_range(request.query_params)
        bucket = request.query_params.get("bucket", "hour")
        if bucket not in ("hour", "day"):
            raise FieldError("bucket", "hour or day")
        payload = selectors.conversion(
            site_id=site.pk, start=start, end=end, bucket=bucket, zone=site_zone(site)
        )
        return Response({"start": start.isoformat(), "end": end.isoformat(), **payload})
