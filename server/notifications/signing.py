"""Webhook signatures (pure Python): HMAC-SHA256 over ``"<timestamp>.<body>"`` with the rule's secret.

Each request carries ``X-Retail-Signature: t=<unix seconds>,v1=<hex digest>``. A receiver recomputes the digest
over the timestamp, a dot and the raw body bytes, compares it in constant time and refuses a timestamp older than
its tolerance (replays). Recipe in docs/admin-guide.md, "Notifications".
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Retail-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"


def verify(
    *, secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when `header` is a valid signature of `body` made within `tolerance_s` of `now`."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
