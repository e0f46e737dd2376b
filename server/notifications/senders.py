"""Sending one delivery over its channel: the signed webhook POST and the e-mail. Each returns a `SendResult`;
a failure is a result, not an exception, so that the dispatcher records it and retries."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import urllib.parse
import urllib.request
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


ERROR_BODY_BYTES = 1024  # of a refusing answer, the most read (its first 200 characters are logged)


class DestinationRefusedError(ValueError):
    """A webhook URL this server will not connect to (docs/security.md, "Outbound connections")."""


def webhook_url_error(url: str) -> str:
    """Why `url` is not a webhook URL ("" when it is one): http(s), a host, no spaces or control characters,
    and, unless NOTIFY_WEBHOOK_ALLOW_PRIVATE, no literal private address. Names are resolved at send time."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "a webhook URL has no spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as err:
        return f"not a URL: {err}"
    if parts.scheme not in ("http", "https"):
        return "a webhook needs an http(s) URL"
    if not parts.hostname:
        return "a webhook URL needs a host"
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        try:
            parts.hostname.encode("idna")
        except UnicodeError:
            return f"{parts.hostname!r} is not a host name"
        return ""
    if not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE and not _public(address):
        return _refusal(parts.hostname, address)
    return ""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _refusal(host: str, address: object) -> str:
    return (
        f"{host} is {address}, a private, loopback or link-local address: refused "
        "(NOTIFY_WEBHOOK_ALLOW_PRIVATE=true allows receivers inside your network)"
    )


def check_destination(url: str) -> list[str]:
    """The addresses to connect to for `url`, resolved once here and checked: `webhook_url_error`, and every address
    its host resolves to public (unless NOTIFY_WEBHOOK_ALLOW_PRIVATE); raises DestinationRefusedError otherwise.
    The send connects to these very addresses, in the resolver's order (`send_webhook`), so a DNS answer that
    changes between the check and the connection (rebinding) cannot move it to a private one. The name resolved
    is the URL's host in its ASCII form (IDNA 2008, as the Host header and TLS carry it: Python's resolver would
    encode a Unicode name with IDNA 2003, straße.example as strasse.example, another domain)."""
    error = webhook_url_error(url)
    if error:
        raise DestinationRefusedError(error)
    parsed = httpx.URL(url)
    host = _ascii_host(parsed)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise DestinationRefusedError(f"{host} does not resolve: {err}") from err
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))
    if not addresses:
        raise DestinationRefusedError(f"{host} does not resolve")
    if not settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not _public(address):
                raise DestinationRefusedError(_refusal(host, address))
    return [str(address) for address in addresses]


def _ascii_host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii")


def _pinned(original: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """`original` with its host replaced by the checked `address`, the Host header it had, and the TLS server name
    (SNI and certificate check) of the original host, in its ASCII form."""
    host_header = original.netloc.decode("ascii").rsplit("@", 1)[-1]
    extensions: dict[str, Any] = {"sni_hostname": _ascii_host(original)} if original.scheme == "https" else {}
    return original.copy_with(host=address), {"Host": host_header}, extensions


def _environment_proxy(url: httpx.URL) -> str | None:
    """The proxy of the environment (HTTP(S)_PROXY, ALL_PROXY) for `url`, None where there is none or NO_PROXY
    names its host: matched on the URL's own host, not on the address the send is pinned to."""
    proxies = urllib.request.getproxies_environment()
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # (public, not in typeshed)
    if bypass(_ascii_host(url), proxies):
        return None
    return proxies.get(url.scheme) or proxies.get("all") or None


def _attempts(
    original: httpx.URL, addresses: list[str], proxy: str | None
) -> list[tuple[httpx.URL, dict[str, str], dict[str, Any]]]:
    """What to send to, in turn: each checked address (pinned). Through a proxy's tunnel (HTTPS with a proxy) the
    client checks the certificate against the tunnel's target, so the tunnel names the URL's host and the proxy
    resolves it (docs/security.md, "Outbound connections")."""
    if proxy is not None and original.scheme == "https":
        return [(original, {}, {})]
    return [_pinned(original, address) for address in addresses]


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
        original = httpx.URL(url)
        attempts = _attempts(original, check_destination(url), proxy := _environment_proxy(original))
    except (DestinationRefusedError, httpx.InvalidURL) as err:
        return SendResult(ok=False, error=str(err)[:500])
    deadline = time.monotonic() + timeout_s
    try:
        # Streamed: the status is all a success needs (the body is not read); of a refusal at most
        # ERROR_BODY_BYTES, read until the deadline: an answer that never ends or is huge is cut short.
        # The environment is read here (its proxy for the URL's host, SSL_CERT_FILE), not by the client, which
        # would match NO_PROXY against the pinned address.
        with httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,
            proxy=proxy,
            verify=httpx.create_ssl_context(trust_env=True),
        ) as client:
            for index, (target, host_header, extensions) in enumerate(attempts):
                # An address that cannot be connected to: the next one, within the same timeout (as the client
                # does with the addresses it resolves itself).
                request = client.build_request(
                    "POST",
                    target,
                    content=body,
                    headers={**headers, **host_header},
                    extensions=extensions,
                    timeout=max(0.001, deadline - time.monotonic()),
                )
                try:
                    response = client.send(request, stream=True)
                    break
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    if index == len(attempts) - 1 or time.monotonic() >= deadline:
                        raise
            try:
                code = response.status_code
                if 200 <= code < 300:
                    return SendResult(ok=True, response_code=code)
                excerpt = b""
                for chunk in response.iter_raw():
                    excerpt += chunk
                    if len(excerpt) >= ERROR_BODY_BYTES or time.monotonic() > deadline:
                        break
            finally:
                response.close()
    except httpx.HTTPError as err:
        return SendResult(ok=False, error=f"{type(err).__name__}: {err}"[:500])
    text = excerpt[:ERROR_BODY_BYTES].decode("utf-8", "replace").strip()
    return SendResult(ok=False, response_code=code, error=f"HTTP {code}: {text[:200]}")


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
