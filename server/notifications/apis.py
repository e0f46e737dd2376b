"""Notification rules (admin CRUD, "send test") and the delivery log (list, filter, retry)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from server.notifications import services
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule


class WindowSerializer(serializers.Serializer[dict[str, Any]]):
    days = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), min_length=1)
    start = serializers.RegexField(r"^([01]\d|2[0-3]):[0-5]\d$", help_text="HH:MM, the site's local time")
    end = serializers.RegexField(r"^([01]\d|2[0-3]):[0-5]\d$", help_text="HH:MM; before start: past midnight")


class NotificationRuleSerializer(serializers.ModelSerializer[NotificationRule]):
    schedule_windows = WindowSerializer(many=True, required=False)
    alert_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=services.ALERT_KINDS), required=False
    )
    recipients = serializers.ListField(child=serializers.EmailField(), required=False, max_length=50)
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Webhook HMAC key; generated when left empty and shown once in the create answer.",
    )
    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = NotificationRule
        fields = [
            "id",
            "name",
            "enabled",
            "channel",
            "site",
            "alert_kinds",
            "schedule_mode",
            "schedule_windows",
            "url",
            "secret",
            "secret_set",
            "recipients",
            "created_at",
        ]
        read_only_fields = ["id", "created_at", "secret_set"]

    def get_secret_set(self, rule: NotificationRule) -> bool:
        return bool(rule.secret)


class CreatedRuleSerializer(NotificationRuleSerializer):
    """The create answer: the rule, with its webhook secret this once."""

    shown_secret = serializers.SerializerMethodField()

    class Meta(NotificationRuleSerializer.Meta):
        fields = [*NotificationRuleSerializer.Meta.fields, "shown_secret"]

    def get_shown_secret(self, rule: NotificationRule) -> str:
        return rule.secret


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "rule",
            "rule_name",
            "channel",
            "site",
            "event",
            "alert_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "response_code",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class NotificationRuleViewSet(viewsets.ModelViewSet[NotificationRule]):
    """Rules: which alerts (site or every site, kinds, weekly schedule in the site's time zone) go out over
    which channel (webhook, e-mail, MQTT). `POST …/{id}/test` queues a test notification."""

    queryset = NotificationRule.objects.all()
    serializer_class = NotificationRuleSerializer
    filterset_fields = ["site", "channel", "enabled"]
    required_permissions = {"test": ("notifications.change_notificationrule",)}

    @extend_schema(responses={201: CreatedRuleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = NotificationRuleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = services.rule_create(actor=request.user, data=body.validated_data)
        return Response(CreatedRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        body = NotificationRuleSerializer(rule, data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        rule = services.rule_update(actor=request.user, rule=rule, data=body.validated_data)
        return Response(NotificationRuleSerializer(rule).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.rule_delete(actor=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        delivery = services.delivery_send_test(actor=request.user, rule=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Delivery]):
    """The delivery log, newest first: status, attempts, last error and response code of every notification;
    filter by rule, status, channel, site, event. `POST …/{id}/retry` sends a failed one again."""

    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    filterset_fields = ["rule", "status", "channel", "site", "event", "alert_id"]
    required_permissions = {"retry": ("notifications.change_delivery",)}

    def get_queryset(self) -> QuerySet[Delivery]:
        return Delivery.objects.order_by("-created_at", "-id")

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        delivery = self.get_object()
        if delivery.status != DeliveryStatus.FAILED:
            from server.errors import ConflictError

            raise ConflictError(f"delivery {delivery.pk} is {delivery.status}; only failed ones are retried")
        return Response(
            DeliverySerializer(services.delivery_retry(delivery=delivery)).data,
            status=status.HTTP_202_ACCEPTED,
        )
