"""Django admin: every model registered, the same geometry validation as the API, changes audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from server.audit.models import AuditLog
from server.devices.models import EdgeDevice
from server.inventory.admin import CameraAdminForm, ZoneAdminForm, zone_size
from server.inventory.models import Zone, ZoneKind
from tests.integration.api.conftest import SQUARE_POINTS, make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_every_model_of_the_core_apps_is_registered() -> None:
    for label in ("inventory", "devices", "people", "alerts", "audit"):
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model


def _camera_data(store: dict[str, Any], points: Any) -> dict[str, Any]:
    return {
        "site": store["site"].pk,
        "device": store["device"].pk,
        "name": "admin-cam",
        "source_uri": "",
        "analysis_rate_hz": 0,
        "calibration_points": json.dumps(points),
        "floor_region": "[]",
        "enabled": True,
    }


def test_camera_form_computes_or_refuses_the_homography(store: dict[str, Any]) -> None:
    bad = CameraAdminForm(data=_camera_data(store, SQUARE_POINTS[:3]))
    assert not bad.is_valid()
    assert "at least 4" in str(bad.errors["calibration_points"])
    good = CameraAdminForm(data=_camera_data(store, SQUARE_POINTS))
    assert good.is_valid(), good.errors
    camera = good.save()
    assert camera.homography is not None
    assert camera.reprojection_error_cm is not None
    assert camera.reprojection_error_cm < 0.01


def test_zone_form_refuses_invalid_polygons(store: dict[str, Any]) -> None:
    data = {
        "site": store["site"].pk,
        "name": "z",
        "kind": "interest",
        "polygon": "[[0, 0], [1, 1], [2, 2]]",
        "required_level": 0,
        "warning_distance_m": 1.0,
        "color": "",
    }
    form = ZoneAdminForm(data=data)
    assert not form.is_valid()
    assert "zero area" in str(form.errors["polygon"])


def test_admin_changes_are_audited_and_bump_the_device(store: dict[str, Any]) -> None:
    user = make_user("root", "admin")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    camera = store["camera"]
    revision = EdgeDevice.objects.get(pk=store["device"].pk).config_revision
    data = {**_camera_data(store, SQUARE_POINTS), "name": "renamed-in-admin"}
    response = client.post(f"/admin/inventory/camera/{camera.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    entry = AuditLog.objects.get(object_type="inventory.camera", object_id=str(camera.pk), action="update")
    assert entry.changes["name"] == "renamed-in-admin"
    assert entry.actor == user
    assert EdgeDevice.objects.get(pk=store["device"].pk).config_revision == revision + 1


def test_camera_form_refuses_a_login_in_the_source_query(store: dict[str, Any]) -> None:
    """The Django admin cannot set the write-only source secrets, so it refuses a URL that carries them."""
    data = {**_camera_data(store, SQUARE_POINTS), "source_uri": "http://cam/snapshot.cgi?res=hd&Pwd=x"}
    form = CameraAdminForm(data=data)
    assert not form.is_valid()
    assert "(Pwd)" in str(form.errors["source_uri"])
    assert "source_secret_query" in str(form.errors["source_uri"])


def test_camera_form_takes_semicolon_logins_only_as_stored_placeholders(store: dict[str, Any]) -> None:
    """A login in a path parameter or a ;-separated query shows as *** (`source_uri` as stored): the admin form
    keeps a *** of a stored one, by its name also when the URL is edited around it, and refuses a value typed in
    or a *** with nothing stored."""
    camera = store["camera"]
    camera.source_uri = "rtsp://cam/live;password=***;res=hd?a=1;token=***"
    camera.source_secret_parameters = ["pw-1", "tok-2"]
    camera.save()
    base = {**_camera_data(store, SQUARE_POINTS), "name": camera.name}
    typed = CameraAdminForm(data={**base, "source_uri": "rtsp://cam/live;password=n3w"}, instance=camera)
    assert not typed.is_valid()
    assert "***" in str(typed.errors["source_uri"])
    unknown = CameraAdminForm(data={**base, "source_uri": "rtsp://cam/live;pin=***"}, instance=camera)
    assert not unknown.is_valid()
    edited = CameraAdminForm(data={**base, "source_uri": "rtsp://cam/main;token=***"}, instance=camera)
    assert edited.is_valid(), edited.errors
    edited.save()
    camera.refresh_from_db()
    assert camera.source_secret_parameters == ["tok-2"]  # the token's value, not the password's
    assert camera.source_uri_for_device() == "rtsp://cam/main;token=tok-2"
    # The stored token never follows the camera to another host (the edge box would send it there).
    moved = CameraAdminForm(data={**base, "source_uri": "rtsp://elsewhere/main;token=***"}, instance=camera)
    assert not moved.is_valid()
    assert "address" in str(moved.errors["source_uri"])


def test_the_zone_list_shows_a_line_s_length_and_direction_not_zeros(store: dict[str, Any]) -> None:
    # Before: a counting line's row showed "0" (required level) and "1.0" (warning distance), which mean nothing
    # for a line, and nothing about the line itself.
    user = make_user("zone-root", "admin")
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    door = Zone.objects.create(
        site=store["site"], name="Front door", kind=ZoneKind.DOOR, polygon=[[4.75, 15.0], [4.75, 18.5]]
    )
    response = client.get("/admin/inventory/zone/")
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index(f"/admin/inventory/zone/{door.pk}/change/") :].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<")[0] for cell in row.split("<td")[1:]]
    assert cells[-3:] == ["3.5 m, in ←", "—", "—"], cells  # size, required level, warning distance
    promo = html[html.index(f"/admin/inventory/zone/{store['zone'].pk}/change/") :].split("</tr>")[0]
    assert "16.0 m²" in promo


@pytest.mark.parametrize(
    ("kind", "polygon", "shown"),
    [
        ("door", [[0, 0], [2, 0]], "2.0 m, in ↓"),  # in: the left of first → last, (-dy, dx)
        ("line", [[0, 0], [3, 0], [3, 4]], "7.0 m, in ↙"),
        ("line", [[1, 1], [1, 1]], "0.0 m"),
        ("interest", [[0, 0], [4, 0], [4, 2], [0, 2]], "8.0 m²"),
        ("queue", [[0, 0], [4, 0], [4, 2], [0, 2]][::-1], "8.0 m²"),
    ],
)
def test_zone_size(kind: str, polygon: list[list[float]], shown: str) -> None:
    assert zone_size(kind, polygon) == shown
