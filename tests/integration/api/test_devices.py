"""Edge-device identity through the API: the one-time token is shown once, stored hashed, expires, works once;
revocation takes effect on authentication."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from server.audit.models import AuditLog
from server.devices.models import EdgeDevice
from server.devices.selectors import device_configuration
from server.devices.services import EnrollmentRejected, device_authenticate, device_enroll
from server.ingest.models import CameraStreamState

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _create(client: Any, site_id: int, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/devices", {"site": site_id, "name": "box-new", **extra}, format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_token_is_shown_once_and_stored_hashed(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("installer")
    body = _create(client, store["site"].pk)
    token = body["enrollment_token"]
    assert len(token) >= 40
    assert body["token_pending"] is True
    assert body["enrolled"] is False
    device = EdgeDevice.objects.get(pk=body["id"])
    assert device.enrollment_token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = EdgeDevice.objects.filter(pk=device.pk).values().first()
    assert row is not None
    stored = [str(value) for value in row.values()]
    assert all(token not in value for value in stored)
    detail = client.get(f"/api/devices/{device.pk}").json()
    listing = client.get("/api/devices").json()["results"]
    assert token not in str(detail)
    assert token not in str(listing)
    assert "enrollment_token" not in detail
    audit = str(list(AuditLog.objects.filter(object_type="devices.edgedevice").values("changes")))
    assert token not in audit
    assert device.enrollment_token_hash not in audit


def test_token_works_once_and_yields_credentials_and_configuration(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("admin")
    body = _create(client, store["site"].pk)
    credentials = device_enroll(token=body["enrollment_token"], hostname="edge-7", software_version="1.2.3")
    assert credentials.device_id == body["id"]
    identity = device_authenticate(device_id=credentials.device_id, secret=credentials.secret)
    assert identity is not None
    assert identity.site_id == store["site"].pk
    assert device_configuration(device_id=credentials.device_id).device_id == body["id"]
    with pytest.raises(EnrollmentRejected, match="already used"):
        device_enroll(token=body["enrollment_token"])
    listed = client.get(f"/api/devices/{body['id']}").json()
    assert listed["enrolled"] is True
    assert listed["token_pending"] is False
    assert listed["hostname"] == "edge-7"
    assert listed["software_version"] == "1.2.3"


def test_expired_token_is_rejected(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    body = _create(client_for("admin"), store["site"].pk, lifetime_h=1)
    EdgeDevice.objects.filter(pk=body["id"]).update(
        enrollment_token_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(EnrollmentRejected, match="expired"):
        device_enroll(token=body["enrollment_token"])
    assert EdgeDevice.objects.get(pk=body["id"]).secret_hash == ""


def test_token_lifetime_is_bounded(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    response = client_for("admin").post(
        "/api/devices", {"site": store["site"].pk, "name": "box", "lifetime_h": 10_000}, format="json"
    )
    assert response.status_code == 400
    assert "lifetime_h" in response.json()["extra"]["fields"]
    assert not EdgeDevice.objects.filter(name="box").exists()


def test_new_token_replaces_the_unused_one(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    client = client_for("installer")
    body = _create(client, store["site"].pk)
    response = client.post(f"/api/devices/{body['id']}/issue-token", {"lifetime_h": 2}, format="json")
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["enrollment_token"] != body["enrollment_token"]
    with pytest.raises(EnrollmentRejected):
        device_enroll(token=body["enrollment_token"])
    assert device_enroll(token=fresh["enrollment_token"]).device_id == body["id"]


def test_revocation_ends_authentication_and_pending_token(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("admin")
    body = _create(client, store["site"].pk)
    credentials = device_enroll(token=body["enrollment_token"])
    assert device_authenticate(device_id=credentials.device_id, secret=credentials.secret) is not None
    pending = client.post(f"/api/devices/{body['id']}/issue-token", {}, format="json").json()[
        "enrollment_token"
    ]
    response = client.post(f"/api/devices/{body['id']}/revoke")
    assert response.status_code == 200
    assert response.json()["revoked"] is True
    assert device_authenticate(device_id=credentials.device_id, secret=credentials.secret) is None
    with pytest.raises(EnrollmentRejected):
        device_enroll(token=pending)
    assert AuditLog.objects.filter(action="revoke", object_id=str(body["id"])).count() == 1
    assert client.get("/api/devices", {"revoked": "true"}).json()["count"] == 1


def test_replacing_a_box_keeps_the_device_and_its_cameras_and_refuses_only_the_old_box(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """The installer guide's "replace a broken box": one action, no revocation that would refuse the new box."""
    client = client_for("installer")
    device = store["device"]
    old_secret = "s3cret-for-tests"
    assert device_authenticate(device_id=device.pk, secret=old_secret) is not None
    response = client.post(f"/api/devices/{device.pk}/replace", {"lifetime_h": 2}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["enrollment_token"]
    assert device_authenticate(device_id=device.pk, secret=old_secret) is None  # the old box is refused now
    credentials = device_enroll(token=token, hostname="new-box")
    assert credentials.device_id == device.pk
    identity = device_authenticate(device_id=device.pk, secret=credentials.secret)
    assert identity is not None
    assert identity.camera_ids == frozenset({store["camera"].pk})
    detail = client.get(f"/api/devices/{device.pk}").json()
    assert (detail["enrolled"], detail["revoked"], detail["hostname"]) == (True, False, "new-box")
    assert AuditLog.objects.filter(action="replace", object_id=str(device.pk)).count() == 1
    assert client_for("staff").post(f"/api/devices/{device.pk}/replace", {}, format="json").status_code == 403


def test_camera_changes_bump_the_devices_config_revision(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("installer")
    device, camera = store["device"], store["camera"]
    start = EdgeDevice.objects.get(pk=device.pk).config_revision
    assert (
        client.patch(f"/api/cameras/{camera.pk}", {"source_uri": "rtsp://cam"}, format="json").status_code
        == 200
    )
    assert EdgeDevice.objects.get(pk=device.pk).config_revision == start + 1
    identity = device_authenticate(device_id=device.pk, secret="s3cret-for-tests")
    assert identity is not None
    assert identity.config_revision == start + 1
    assert device_configuration(device_id=device.pk).cameras[0].source_uri == "rtsp://cam"
    assert client.delete(f"/api/cameras/{camera.pk}").status_code == 204
    identity = device_authenticate(device_id=device.pk, secret="s3cret-for-tests")
    assert identity is not None
    assert identity.camera_ids == frozenset()
    assert identity.config_revision == start + 2


def test_a_revoked_or_silent_boxs_cameras_are_not_connected(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("admin")
    device, camera = store["device"], store["camera"]
    report = {
        "cameras": [{"camera_id": camera.pk, "connected": True}, {"camera_id": 999_999, "connected": True}]
    }
    EdgeDevice.objects.filter(pk=device.pk).update(last_seen_at=timezone.now(), health=report)
    listed = client.get(f"/api/devices/{device.pk}").json()
    assert (listed["online"], listed["connected_cameras"]) == (True, [camera.pk])
    EdgeDevice.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - timedelta(seconds=45))
    silent = client.get(f"/api/devices/{device.pk}").json()
    assert (silent["online"], silent["connected_cameras"]) == (False, [])
    EdgeDevice.objects.filter(pk=device.pk).update(last_seen_at=timezone.now())
    revoked = client.post(f"/api/devices/{device.pk}/revoke").json()
    assert (revoked["revoked"], revoked["online"], revoked["connected_cameras"]) == (True, False, [])
    assert revoked["health"] == report  # the last report is kept, it just no longer holds


def test_cameras_last_frame_is_the_newest_stored_capture_time(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("installer")
    camera = store["camera"]
    assert client.get(f"/api/cameras/{camera.pk}").json()["last_frame_at"] is None
    captured = timezone.now() - timedelta(minutes=30)
    CameraStreamState.objects.create(
        camera=camera, frames_stored=22_500, last_capture_time_us=int(captured.timestamp() * 1e6)
    )
    body = client.get(f"/api/cameras/{camera.pk}").json()
    assert abs(datetime.fromisoformat(body["last_frame_at"]) - captured) < timedelta(milliseconds=1)
    listed = client.get("/api/cameras", {"site": store["site"].pk}).json()["results"]
    assert [c["last_frame_at"] for c in listed] == [body["last_frame_at"]]
