"""Alert e-mails through Django's SMTP backend to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from server.inventory.models import Site
from server.notifications.dispatcher import Dispatcher, DispatcherConfig
from server.notifications.models import Delivery, DeliveryStatus, NotificationRule
from tests.integration.notifications.test_webhooks import incident

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CONFIG = DispatcherConfig(poll_s=0.05, max_attempts=3, retry_base_s=0.1, retry_max_s=0.2, timeout_s=5)


@pytest.fixture
def smtp_settings(settings: Any, smtp: Any) -> Any:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    settings.DEFAULT_FROM_EMAIL = "alerts@store.test"
    return smtp


def test_alarm_is_mailed_to_the_rule_recipients(site: Site, smtp_settings: Any) -> None:
    NotificationRule.objects.create(
        name="security desk",
        channel="email",
        recipients=["desk@store.test", "manager@store.test"],
        alert_kinds=["alarm"],
    )
    opened = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    alert = incident(site, opened=opened, kind="alarm")
    Dispatcher(CONFIG).run_once()
    delivery = Delivery.objects.get(alert_id=alert.pk)
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
    assert len(smtp_settings.messages) == 1
    message = smtp_settings.messages[0]
    assert message["Subject"].startswith("[Retail Vision] ALARM at Store 12, Main Street")
    assert message["From"] == "alerts@store.test"
    assert sorted(smtp_settings.envelopes[0].rcpt_tos) == ["desk@store.test", "manager@store.test"]
    text = message.get_content()
    assert "approached the secure area" in text
    assert f"Alert id: {alert.pk}" in text


def test_smtp_down_is_retried_and_recorded(site: Site, settings: Any) -> None:
    from tests.support.services import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    NotificationRule.objects.create(name="desk", channel="email", recipients=["desk@store.test"])
    alert = incident(site, opened=datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    Dispatcher(CONFIG).run_once()
    delivery = Delivery.objects.get(alert_id=alert.pk)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "ConnectionRefusedError" in delivery.last_error
