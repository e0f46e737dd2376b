"""Reads of the ingest's stored stream state."""

from __future__ import annotations

from django.db.models import Max

from server.ingest.models import CameraStreamState


def site_last_frame_us(site_id: int) -> int | None:
    """Capture time of the newest frame stored of any camera of `site_id` (the stream state persisted with it at the
    ack barrier); None when none is."""
    last: int | None = CameraStreamState.objects.filter(camera__site_id=site_id).aggregate(
        last=Max("last_capture_time_us")
    )["last"]
    return last
