"""Signals of the devices app.

`device_credentials_revoked(sender, device_id)`: sent after the transaction that revoked or deleted an edge device
committed, in the thread that committed it. The ingest of the same process closes the device's open streams at
once; ingest processes elsewhere notice at their next re-check (INGEST_AUTH_RECHECK_S).
"""

from __future__ import annotations

from django.dispatch import Signal

device_credentials_revoked = Signal()
