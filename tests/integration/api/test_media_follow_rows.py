"""A camera's snapshot and a floor plan's image leave the media storage with their rows (docs/privacy.md): deleted
through the API or by the cascade of a deleted site."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from server.inventory.models import Camera, FloorPlan
from server.inventory.services import camera_store_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def _snapshot_path(camera: Camera) -> Path:
    camera_store_snapshot(camera_id=camera.pk, jpeg=JPEG)
    camera.refresh_from_db()
    path = Path(settings.MEDIA_ROOT) / str(camera.snapshot.name)
    assert path.is_file()
    return path


def test_a_deleted_cameras_snapshot_file_is_removed(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    camera = store["camera"]
    path = _snapshot_path(camera)
    assert client_for("admin").delete(f"/api/cameras/{camera.pk}/").status_code == 204
    assert not path.exists()


def test_a_deleted_sites_snapshots_and_floor_plan_image_are_removed(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    path = _snapshot_path(store["camera"])
    plan = FloorPlan.objects.get(site=store["site"])
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, format="PNG")
    plan.image.save("plan.png", ContentFile(image.getvalue()))
    plan_path = Path(settings.MEDIA_ROOT) / str(plan.image.name)
    assert plan_path.is_file()
    assert client_for("admin").delete(f"/api/sites/{store['site'].pk}/").status_code == 204
    assert not path.exists()
    assert not plan_path.exists()
