"""Hardening item 10: a camera source's login is stored apart from the URL, write-only, never returned, audited
or logged; only the edge box's configuration carries the full URL."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from proto.retail.v1 import track_pb2
from server.audit.models import AuditLog
from server.devices.models import EdgeDevice
from server.devices.selectors import device_configuration
from server.ingest.converters import device_config_message, heartbeat_to_health
from server.inventory.models import Camera

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SECRET = "pa:ss@w0rd/x"  # characters that must survive percent-encoding
URL_WITH_LOGIN = "rtsp://viewer:pa%3Ass%40w0rd%2Fx@10.0.0.5:554/stream1"


def _everything_said(caplog: pytest.LogCaptureFixture, *responses: Any) -> str:
    audit = json.dumps(list(AuditLog.objects.values("changes", "object_repr")))
    return " ".join([caplog.text, audit, *(r.content.decode() for r in responses)])


def test_credentials_in_the_url_are_moved_out_and_never_returned(
    users: dict[str, User],
    client_for: Callable[[str], APIClient],
    store: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    installer, staff = client_for("installer"), client_for("staff")
    device = store["device"]
    created = installer.post(
        "/api/cameras",
        {"site": store["site"].pk, "device": device.pk, "name": "door", "source_uri": URL_WITH_LOGIN},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "door"
    assert body["source_uri"] == "rtsp://10.0.0.5:554/stream1"
    assert body["source_has_credentials"] is True
    assert "source_password" not in body
    assert "source_username" not in body
    camera = Camera.objects.get(pk=body["id"])
    assert (camera.source_uri, camera.source_username, camera.source_password) == (
        "rtsp://10.0.0.5:554/stream1",
        "viewer",
        SECRET,
    )
    # The edge box gets the full URL (in its configuration message, percent-encoded).
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == URL_WITH_LOGIN
    message = device_config_message(device_configuration(device_id=device.pk))
    assert URL_WITH_LOGIN in [c.source_uri for c in message.cameras]

    revision = EdgeDevice.objects.get(pk=device.pk).config_revision
    changed = installer.patch(f"/api/cameras/{camera.pk}", {"source_password": "n3w-secret"}, format="json")
    assert changed.status_code == 200
    assert EdgeDevice.objects.get(pk=device.pk).config_revision > revision  # pushed to the box
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == "rtsp://viewer:n3w-secret@10.0.0.5:554/stream1"

    reads = [
        staff.get(f"/api/cameras/{camera.pk}"),
        staff.get("/api/cameras"),
        installer.get("/api/cameras"),
        client_for("admin").get("/api/audit-log?object_type=inventory.camera"),
        client_for("admin").get("/api/devices"),
    ]
    assert all(r.status_code == 200 for r in reads)
    said = _everything_said(caplog, created, changed, *reads)
    for secret in (SECRET, "pa%3Ass", "n3w-secret", "viewer:"):
        assert secret not in said, secret
    actions = list(AuditLog.objects.filter(object_id=str(camera.pk)).values_list("action", flat=True))
    assert actions.count("set_source_credentials") == 2

    cleared = installer.patch(
        f"/api/cameras/{camera.pk}", {"source_username": "", "source_password": ""}, format="json"
    )
    assert cleared.json()["source_has_credentials"] is False
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == "rtsp://10.0.0.5:554/stream1"


def test_migration_moves_stored_userinfo_out(store: dict[str, Any]) -> None:
    legacy = Camera.objects.create(
        site=store["site"], name="legacy", source_uri="rtsp://admin:hunter2@cam.local/live"
    )
    AuditLog.objects.create(
        action="update",
        object_type="inventory.camera",
        object_id=str(legacy.pk),
        changes={"source_uri": ["", "rtsp://admin:hunter2@cam.local/live"]},
    )
    migration = importlib.import_module("server.inventory.migrations.0003_camera_source_credentials")
    migration.move_userinfo_out_of_source_uris(apps, None)
    legacy.refresh_from_db()
    assert (legacy.source_uri, legacy.source_username, legacy.source_password) == (
        "rtsp://cam.local/live",
        "admin",
        "hunter2",
    )
    assert "hunter2" not in json.dumps(list(AuditLog.objects.values_list("changes", flat=True)))
    assert store["camera"].source_uri == Camera.objects.get(pk=store["camera"].pk).source_uri


def test_a_login_in_an_edge_error_is_not_stored() -> None:
    heartbeat = track_pb2.Heartbeat(
        cameras=[
            track_pb2.CameraHealth(
                camera_id=1, last_error="stream rtsp://viewer:s3cret@10.0.0.5/live stopped delivering frames"
            )
        ]
    )
    error = heartbeat_to_health(heartbeat, camera_ids=frozenset({1})).health["cameras"][0]["last_error"]
    assert error == "stream rtsp://***@10.0.0.5/live stopped delivering frames"


@pytest.mark.parametrize(
    ("last_error", "secret"),
    [
        # A raw "@" in the password (a source typed into an older agent's own configuration).
        ("opening rtsp://viewer:p@ss@10.0.0.5/live failed", "ss@10.0.0.5"),
        # An older agent that cut its message at 512 bytes within the login.
        ("x" * 490 + " rtsp://viewer:s3cretpassword@10.0.0.5/live", "s3cret"),
        # The server's own cut, for an agent that sent more.
        ("y" * 490 + " rtsp://viewer:s3cretpassword@10.0.0.5/live stopped delivering frames", "s3cret"),
    ],
    ids=["raw-at-in-password", "cut-by-the-agent", "cut-by-the-server"],
)
def test_no_part_of_a_login_in_an_edge_error_is_stored(last_error: str, secret: str) -> None:
    heartbeat = track_pb2.Heartbeat(
        cameras=[track_pb2.CameraHealth(camera_id=1, last_error=last_error[:512])]
    )
    if len(last_error) > 512:  # as an agent that does not cut would send it
        heartbeat.cameras[0].last_error = last_error
    error = heartbeat_to_health(heartbeat, camera_ids=frozenset({1})).health["cameras"][0]["last_error"]
    assert secret not in error
    assert "s3cr" not in error
    assert "rtsp://***@" in error
    assert len(error) <= 512


QUERY_SECRET = "Qu3ry-s3cret"
URL_WITH_QUERY_LOGIN = f"http://10.0.0.6/snapshot.cgi?user=camadmin&res=hd&PWD={QUERY_SECRET}&Api-Token=tok9z"


def test_credentials_in_the_query_are_moved_out_and_never_returned(
    users: dict[str, User],
    client_for: Callable[[str], APIClient],
    store: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`?user=…&pwd=…` (cameras that take their login in the query) is kept like `user:password@`: write-only,
    never returned, audited or logged; only the edge box's configuration carries the full URL."""
    caplog.set_level(logging.DEBUG)
    installer, staff = client_for("installer"), client_for("staff")
    device = store["device"]
    created = installer.post(
        "/api/cameras",
        {"site": store["site"].pk, "device": device.pk, "name": "snap", "source_uri": URL_WITH_QUERY_LOGIN},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "snap"
    assert Camera.objects.get(pk=body["id"]).name == "snap"
    assert body["source_uri"] == "http://10.0.0.6/snapshot.cgi?res=hd"
    assert body["source_has_credentials"] is True
    assert body["source_secret_query_names"] == ["user", "PWD", "Api-Token"]
    assert "source_secret_query" not in body
    camera = Camera.objects.get(pk=body["id"])
    assert camera.source_uri == "http://10.0.0.6/snapshot.cgi?res=hd"
    assert camera.source_secret_query == f"user=camadmin&PWD={QUERY_SECRET}&Api-Token=tok9z"
    full = f"http://10.0.0.6/snapshot.cgi?res=hd&user=camadmin&PWD={QUERY_SECRET}&Api-Token=tok9z"
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == full
    assert full in [
        c.source_uri for c in device_config_message(device_configuration(device_id=device.pk)).cameras
    ]

    # The dashboard's form saves back what it was shown (the URL without the secrets, the write-only fields left
    # empty so not sent): the stored secrets stay.
    form = {key: body[key] for key in ("name", "device", "source_uri", "analysis_rate_hz", "enabled")}
    saved = installer.patch(f"/api/cameras/{camera.pk}", {**form, "analysis_rate_hz": 2.0}, format="json")
    assert saved.status_code == 200, saved.content
    camera.refresh_from_db()
    assert camera.source_secret_query == f"user=camadmin&PWD={QUERY_SECRET}&Api-Token=tok9z"
    assert {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}[
        camera.pk
    ] == full

    reads = [
        staff.get(f"/api/cameras/{camera.pk}"),
        staff.get("/api/cameras"),
        installer.get("/api/cameras"),
        client_for("admin").get("/api/audit-log?object_type=inventory.camera"),
    ]
    assert all(r.status_code == 200 for r in reads)
    said = _everything_said(caplog, created, saved, *reads)
    for secret in (QUERY_SECRET, "camadmin", "tok9z"):
        assert secret not in said, secret

    # Written explicitly (with or without a leading "?"), and cleared.
    revision = EdgeDevice.objects.get(pk=device.pk).config_revision
    changed = installer.patch(
        f"/api/cameras/{camera.pk}", {"source_secret_query": "?token=n3w"}, format="json"
    )
    assert changed.json()["source_secret_query_names"] == ["token"]
    assert EdgeDevice.objects.get(pk=device.pk).config_revision > revision
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == "http://10.0.0.6/snapshot.cgi?res=hd&token=n3w"
    cleared = installer.patch(f"/api/cameras/{camera.pk}", {"source_secret_query": ""}, format="json")
    assert cleared.json()["source_has_credentials"] is False
    assert cleared.json()["source_secret_query_names"] == []
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == "http://10.0.0.6/snapshot.cgi?res=hd"


def test_migration_moves_stored_secret_query_out(store: dict[str, Any]) -> None:
    legacy = Camera.objects.create(
        site=store["site"], name="legacy-q", source_uri="http://cam.local/snap.cgi?res=1&pwd=hunter3"
    )
    AuditLog.objects.create(
        action="create",
        object_type="inventory.camera",
        object_id=str(legacy.pk),
        changes={"source_uri": "http://cam.local/snap.cgi?res=1&pwd=hunter3"},
    )
    migration = importlib.import_module("server.inventory.migrations.0006_camera_source_secret_query")
    migration.move_secret_query_out_of_source_uris(apps, None)
    legacy.refresh_from_db()
    assert (legacy.source_uri, legacy.source_secret_query) == (
        "http://cam.local/snap.cgi?res=1",
        "pwd=hunter3",
    )
    assert "hunter3" not in json.dumps(list(AuditLog.objects.values_list("changes", flat=True)))


PATH_SECRET, SEMICOLON_SECRET = "Pa7h-s3cret", "S3mi-tok"
URL_WITH_SEMICOLON_LOGINS = (
    f"rtsp://10.0.0.7:554/live;password={PATH_SECRET};res=hd?channel=1;token={SEMICOLON_SECRET}&fps=5"
)
SHOWN_SEMICOLON_URL = "rtsp://10.0.0.7:554/live;password=***;res=hd?channel=1;token=***&fps=5"


def test_semicolon_separated_logins_are_stored_and_returned_redacted(
    users: dict[str, User],
    client_for: Callable[[str], APIClient],
    store: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A login in a path parameter (`/live;password=x`) or a `;`-separated query (`?channel=1;token=x`) has to stay
    in place: the stored and returned `source_uri` shows its value as `***` (as logs do), the value is kept
    write-only apart, and only the edge box's configuration carries the full URL."""
    caplog.set_level(logging.DEBUG)
    installer, staff = client_for("installer"), client_for("staff")
    device = store["device"]
    created = installer.post(
        "/api/cameras",
        {
            "site": store["site"].pk,
            "device": device.pk,
            "name": "semi",
            "source_uri": URL_WITH_SEMICOLON_LOGINS,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["source_uri"] == SHOWN_SEMICOLON_URL
    assert body["source_has_credentials"] is True
    assert "source_secret_parameters" not in body
    camera = Camera.objects.get(pk=body["id"])
    assert camera.source_uri == SHOWN_SEMICOLON_URL
    assert camera.source_secret_parameters == [PATH_SECRET, SEMICOLON_SECRET]
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == URL_WITH_SEMICOLON_LOGINS

    # The dashboard's form saves back the URL it was shown, with its ***: the stored values stay.
    form = {key: body[key] for key in ("name", "device", "source_uri", "analysis_rate_hz", "enabled")}
    saved = installer.patch(f"/api/cameras/{camera.pk}", {**form, "analysis_rate_hz": 2.0}, format="json")
    assert saved.status_code == 200, saved.content
    camera.refresh_from_db()
    assert camera.source_secret_parameters == [PATH_SECRET, SEMICOLON_SECRET]
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == URL_WITH_SEMICOLON_LOGINS

    # A new value for the second one only; then a URL without them.
    revision = EdgeDevice.objects.get(pk=device.pk).config_revision
    changed = installer.patch(
        f"/api/cameras/{camera.pk}",
        {"source_uri": SHOWN_SEMICOLON_URL.replace("token=***", "token=n3w-tok")},
        format="json",
    )
    assert changed.json()["source_uri"] == SHOWN_SEMICOLON_URL
    assert EdgeDevice.objects.get(pk=device.pk).config_revision > revision
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == URL_WITH_SEMICOLON_LOGINS.replace(SEMICOLON_SECRET, "n3w-tok")

    reads = [
        staff.get(f"/api/cameras/{camera.pk}"),
        staff.get("/api/cameras"),
        installer.get("/api/cameras"),
        client_for("admin").get("/api/audit-log?object_type=inventory.camera"),
    ]
    assert all(r.status_code == 200 for r in reads)
    said = _everything_said(caplog, created, saved, changed, *reads)
    for secret in (PATH_SECRET, SEMICOLON_SECRET, "n3w-tok"):
        assert secret not in said, secret

    # The URL edited around them: each *** keeps the value of its own parameter (by name), not of its place.
    edited = installer.patch(
        f"/api/cameras/{camera.pk}", {"source_uri": "rtsp://10.0.0.7:554/main;token=***"}, format="json"
    )
    assert edited.json()["source_uri"] == "rtsp://10.0.0.7:554/main;token=***"
    configured = {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}
    assert configured[camera.pk] == "rtsp://10.0.0.7:554/main;token=n3w-tok"

    plain = installer.patch(
        f"/api/cameras/{camera.pk}", {"source_uri": "rtsp://10.0.0.7/main"}, format="json"
    )
    assert plain.json()["source_has_credentials"] is False
    camera.refresh_from_db()
    assert camera.source_secret_parameters == []


def test_migration_moves_stored_semicolon_logins_out(store: dict[str, Any]) -> None:
    legacy = Camera.objects.create(
        site=store["site"],
        name="legacy-semi",
        source_uri="rtsp://cam.local/live;password=hunter4;a=1?b=2;pwd=x9",
    )
    AuditLog.objects.create(
        action="update",
        object_type="inventory.camera",
        object_id=str(legacy.pk),
        changes={"source_uri": ["", "rtsp://cam.local/live;password=hunter4;a=1?b=2;pwd=x9"]},
    )
    migration = importlib.import_module("server.inventory.migrations.0009_camera_source_secret_parameters")
    migration.move_secret_parameters_out_of_source_uris(apps, None)
    legacy.refresh_from_db()
    assert (legacy.source_uri, legacy.source_secret_parameters) == (
        "rtsp://cam.local/live;password=***;a=1?b=2;pwd=***",
        ["hunter4", "x9"],
    )
    assert legacy.source_uri_for_device() == "rtsp://cam.local/live;password=hunter4;a=1?b=2;pwd=x9"
    changes = json.dumps(list(AuditLog.objects.values_list("changes", flat=True)))
    assert "hunter4" not in changes
    assert "x9" not in changes
    assert store["camera"].source_uri == Camera.objects.get(pk=store["camera"].pk).source_uri


def test_a_query_login_in_an_edge_error_is_not_stored() -> None:
    heartbeat = track_pb2.Heartbeat(
        cameras=[
            track_pb2.CameraHealth(
                camera_id=1,
                last_error="opening http://10.0.0.6/snap.cgi?user=camadmin&Password=s3cret&res=hd failed",
            )
        ]
    )
    error = heartbeat_to_health(heartbeat, camera_ids=frozenset({1})).health["cameras"][0]["last_error"]
    assert error == "opening http://10.0.0.6/snap.cgi?user=***&Password=***&res=hd failed"


def _configured(device: EdgeDevice, camera_id: int) -> str:
    return {c.camera_id: c.source_uri for c in device_configuration(device_id=device.pk).cameras}[camera_id]


@pytest.mark.parametrize(
    ("created_uri", "moved_uri", "given_again"),
    [
        (URL_WITH_LOGIN, "rtsp://203.0.113.9:554/stream1", {"source_password": "typed-again"}),
        (URL_WITH_LOGIN, "rtsp://10.0.0.5:8554/stream1", {"source_username": "", "source_password": ""}),
        (
            "http://10.0.0.5/snap?user=viewer&pwd=s3cret",
            "http://203.0.113.9/snap",
            {"source_secret_query": ""},
        ),
        (
            "rtsp://10.0.0.5/live;password=s3cret",
            "rtsps://10.0.0.5/live;password=***",
            {"source_uri": "rtsps://10.0.0.5/live;password=typed-again"},
        ),
    ],
    ids=["login, new host", "login, new port", "secret query, new host", "*** parameter, new scheme"],
)
def test_a_stored_login_never_follows_the_camera_to_another_address(
    client_for: Callable[[str], APIClient],
    store: dict[str, Any],
    created_uri: str,
    moved_uri: str,
    given_again: dict[str, str],
) -> None:
    """An installer may edit a camera but never read its login: pointing the camera at a host of their own, the
    edge box sent that host the stored password. A new scheme, host or port needs the login again (or none)."""
    installer = client_for("installer")
    device = store["device"]
    created = installer.post(
        "/api/cameras",
        {"site": store["site"].pk, "device": device.pk, "name": "moved", "source_uri": created_uri},
        format="json",
    )
    assert created.status_code == 201, created.content
    camera_id = created.json()["id"]
    before = _configured(device, camera_id)
    refused = installer.patch(f"/api/cameras/{camera_id}", {"source_uri": moved_uri}, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "login_needs_reentry"
    assert "source_uri" in refused.json()["extra"]["fields"]
    assert _configured(device, camera_id) == before
    # The same address (the path changed, the scheme's default port written out) keeps the login.
    same = created.json()["source_uri"].replace(
        "10.0.0.5/", "10.0.0.5:554/" if created_uri.startswith("rtsp") else "10.0.0.5:80/"
    )
    kept = installer.patch(f"/api/cameras/{camera_id}", {"source_uri": same}, format="json")
    assert kept.status_code == 200, kept.content
    assert kept.json()["source_has_credentials"] is True
    # Given again (or cleared) with the new address, the move is taken.
    moved = installer.patch(
        f"/api/cameras/{camera_id}", {"source_uri": moved_uri, **given_again}, format="json"
    )
    assert moved.status_code == 200, moved.content
    configured = _configured(device, camera_id)
    assert "s3cret" not in configured
    assert SECRET not in configured


def test_a_hidden_value_with_nothing_stored_is_refused(
    client_for: Callable[[str], APIClient], store: dict[str, Any]
) -> None:
    """A `***` for a parameter with no stored value was stored as the literal password "***"."""
    installer = client_for("installer")
    refused = installer.post(
        "/api/cameras",
        {"site": store["site"].pk, "name": "literal", "source_uri": "rtsp://10.0.0.5/live;password=***"},
        format="json",
    )
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "no_stored_value"
    assert "password" in refused.json()["extra"]["fields"]["source_uri"][0]
    assert not Camera.objects.filter(name="literal").exists()
