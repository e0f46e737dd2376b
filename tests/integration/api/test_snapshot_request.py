"""POST /api/cameras/<id>/snapshot/: who may ask, and what a camera that cannot answer gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.inventory.models import Camera
from server.inventory.services import camera_claim_snapshot_requests

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_installer_request_is_claimed_once(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    camera = store["camera"]
    response = client_for("installer").post(f"/api/cameras/{camera.pk}/snapshot/")
    assert response.status_code == 202
    assert response.json()["snapshot_pending"] is True
    assert camera_claim_snapshot_requests(camera_ids={camera.pk}) == [camera.pk]
    assert camera_claim_snapshot_requests(camera_ids={camera.pk}) == []  # sent once, not on every re-check
    assert client_for("admin").post(f"/api/cameras/{camera.pk}/snapshot").status_code == 202


def test_staff_may_not_ask_and_a_camera_without_a_box_is_refused(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    camera = store["camera"]
    assert client_for("staff").post(f"/api/cameras/{camera.pk}/snapshot/").status_code == 403
    loose = Camera.objects.create(site=store["site"], name="unassigned")
    response = client_for("installer").post(f"/api/cameras/{loose.pk}/snapshot/")
    assert response.status_code == 400
    assert "not assigned to an edge box" in str(response.json())
    assert Camera.objects.get(pk=loose.pk).snapshot_pending is False
