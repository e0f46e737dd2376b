"""Writes to the store inventory."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.utils import timezone

from server.inventory.models import Camera


def camera_store_snapshot(*, camera_id: int, jpeg: bytes) -> None:
    """Keep the newest still of a camera (used by the admin for point-pair calibration)."""
    camera = Camera.objects.get(pk=camera_id)
    name = f"camera-{camera_id}-{timezone.now():%Y%m%dT%H%M%S}.jpg"
    if camera.snapshot:
        camera.snapshot.delete(save=False)
    camera.snapshot.save(name, ContentFile(jpeg), save=True)
