"""Sending one delivery over its channel: the signed webhook POST and the e-mail. Each returns a `SendResult`;
a failure is a result, not an exception, so that the dispatcher records it and retries."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from server.notifications.signing import SIGNATURE_HEADER, signature_header


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    response_code: int | None = None
    error: str = ""


def webhook_body(delivery_id: int, payload: dict[str, Any], *, sent_at: int) -> bytes:
    document = {"id": delivery_id, "sent_at": sent_at, **payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def send_webhook(
    *, url: str, secret: str, delivery_id: int, event: str, payload: dict[str, Any], timeout_s: float
) -> SendResult:
    timestamp = int(time.time())
    body = webhook_body(delivery_id, payload, sent_at=timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "retail-vision-webhook/1",
        "X-Retail-Event": event,
        "X-Retail-Delivery": str(delivery_id),
        SIGNATURE_HEADER: signature_header(secret=secret, timestamp=timestamp, body=body),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as err:
        return SendResult(ok=False, error=f"{type(err).__name__}: {err}"[:500])
    if 200 <= response.status_code < 300:
        return SendResult(ok=True, response_code=response.status_code)
    return SendResult(
        ok=False,
        response_code=response.status_code,
        error=f"HTTP {response.status_code}: {response.text.strip()[:200]}",
    )


def email_text(payload: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of an alert or test notification."""
    site = payload.get("site") or {}
    site_name = site.get("name", "every site")
    if payload.get("event") == "test":
        return f"[Retail Vision] Test notification ({site_name})", str(payload.get("message", ""))
    alert = payload.get("alert") or {}
    kind = str(alert.get("kind", "alert")).upper()
    lines = [
        str(alert.get("message", "")),
        "",
        f"Site: {site_name}",
        f"Kind: {alert.get('kind')}",
        f"Raised at: {alert.get('raised_at')}",
    ]
    if alert.get("escalated_at"):
        lines.append(f"Escalated at: {alert.get('escalated_at')}")
    if alert.get("person_name"):
        lines.append(f"Person: {alert.get('person_name')}")
    lines.append(f"Alert id: {alert.get('id')}")
    return f"[Retail Vision] {kind} at {site_name}: {alert.get('message', '')}"[:200], "\n".join(lines)


def send_email(*, recipients: list[str], payload: dict[str, Any], timeout_s: float) -> SendResult:
    subject, body = email_text(payload)
    try:
        connection = get_connection(fail_silently=False, timeout=timeout_s)
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
            connection=connection,
        )
        message.send()
    except Exception as err:  # smtplib, socket and TLS errors alike end as a recorded failure
        return SendResult(ok=False, error=f"{type(err).__name__}: {err}"[:500])
    return SendResult(ok=True)
