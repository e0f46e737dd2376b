"""Bad input gets 400 with a field error and nothing is saved: polygons, calibration points, unknown references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from server.audit.models import AuditLog
from server.devices.models import EdgeDevice
from server.inventory.models import Camera, Zone
from server.people.models import Employee, ZonePermission
from tests.integration.api.conftest import SQUARE_POINTS

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _field_error(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "code", "extra"}
    assert field in body["extra"]["fields"], body
    return str(body["extra"]["fields"][field])


BAD_POLYGONS = [
    pytest.param([[0, 0], [1, 1]], "at least 3", id="two-vertices"),
    pytest.param([[0, 0], [1, 1], [2, 2]], "zero area", id="collinear"),
    pytest.param([[0, 0], [4, 4], [4, 0], [0, 6]], "self-intersecting", id="bow-tie"),
    pytest.param([[0, 0], [2, 2], [2, 0], [0, 2]], "self-intersecting", id="symmetric-bow-tie"),
    pytest.param([[40, 1], [44, 1], [44, 5], [40, 5]], "outside the floor plan", id="off-plan"),
    pytest.param([[-9, -9], [-5, -9], [-5, -5]], "outside the floor plan", id="off-plan-negative"),
    pytest.param([[0, 0], [1, 0, 5], [1, 1]], "", id="three-coordinates"),
    pytest.param("not a polygon", "", id="string"),
    pytest.param("[[0, 0], [1e400, 0], [1, 1]]", "", id="infinite"),
    pytest.param("[[0, 0], [NaN, 0], [1, 1]]", "", id="nan"),
]


@pytest.mark.parametrize(("polygon", "reason"), BAD_POLYGONS)
def test_zone_with_invalid_polygon_is_refused(
    polygon: Any, reason: str, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    before = Zone.objects.count()
    if isinstance(polygon, str) and polygon.startswith("["):  # raw JSON text: non-finite numbers
        body = f'{{"site": {store["site"].pk}, "name": "Bad", "polygon": {polygon}}}'
        response = client_for("admin").post("/api/zones", body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert Zone.objects.count() == before
        return
    response = client_for("admin").post(
        "/api/zones", {"site": store["site"].pk, "name": "Bad", "polygon": polygon}, format="json"
    )
    assert reason in _field_error(response, "polygon")
    assert Zone.objects.count() == before
    assert not AuditLog.objects.filter(object_type="inventory.zone", action="create").exists()


def test_zone_update_with_invalid_polygon_keeps_the_old_one(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    zone = store["zone"]
    response = client_for("admin").patch(
        f"/api/zones/{zone.pk}", {"polygon": [[0, 0], [4, 4], [4, 0], [0, 6]]}, format="json"
    )
    _field_error(response, "polygon")
    zone.refresh_from_db()
    assert zone.polygon == [[0, 0], [4, 0], [4, 4], [0, 4]]


def test_zone_partly_on_the_plan_is_accepted_and_moving_one_off_it_is_refused(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("admin")
    edge = [[28, 18], [33, 18], [33, 23], [28, 23]]  # the plan is 30 x 20 m: a corner overlaps
    response = client.post(
        "/api/zones", {"site": store["site"].pk, "name": "Edge", "polygon": edge}, format="json"
    )
    assert response.status_code == 201, response.content
    zone = store["zone"]
    moved = client.patch(f"/api/zones/{zone.pk}", {"polygon": [[31, 0], [35, 0], [35, 4]]}, format="json")
    assert "outside the floor plan" in _field_error(moved, "polygon")
    zone.refresh_from_db()
    assert zone.polygon == [[0, 0], [4, 0], [4, 4], [0, 4]]


def test_restricted_zone_needs_a_level(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    response = client_for("admin").post(
        "/api/zones",
        {"site": store["site"].pk, "name": "Safe", "kind": "restricted", "polygon": [[0, 0], [2, 0], [2, 2]]},
        format="json",
    )
    _field_error(response, "required_level")
    assert not Zone.objects.filter(name="Safe").exists()


BAD_CALIBRATIONS = [
    pytest.param(SQUARE_POINTS[:3], "at least 4", id="three-pairs"),
    pytest.param(
        [{"image_px": [100.0 * i, 100.0 * i], "floor_m": [float(i), float(i)]} for i in range(1, 6)],
        "collinear",
        id="collinear",
    ),
    pytest.param(
        [{"image_px": [100.0 * i, 50.0 * (i % 2)], "floor_m": [float(i), 0.0]} for i in range(1, 6)],
        "collinear",
        id="collinear-floor-side",
    ),
    pytest.param([{"image_px": [1.0], "floor_m": [0.0, 0.0]}] * 4, "", id="short-point"),
    pytest.param([{"floor_m": [0.0, 0.0]}] * 4, "", id="missing-image-point"),
]


@pytest.mark.parametrize(("points", "reason"), BAD_CALIBRATIONS)
def test_camera_with_bad_calibration_is_refused(
    points: Any, reason: str, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    before = Camera.objects.count()
    revision = EdgeDevice.objects.get(pk=store["device"].pk).config_revision
    response = client_for("installer").post(
        "/api/cameras",
        {"site": store["site"].pk, "device": store["device"].pk, "name": "bad", "calibration_points": points},
        format="json",
    )
    assert reason in _field_error(response, "calibration_points")
    assert Camera.objects.count() == before
    assert EdgeDevice.objects.get(pk=store["device"].pk).config_revision == revision


def test_calibration_computes_homography_and_bumps_device_revision(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    camera, device = store["camera"], store["device"]
    revision = EdgeDevice.objects.get(pk=device.pk).config_revision
    # A perspective view: a 4 m x 4 m floor square seen as a trapezoid, plus a fifth consistent point.
    truth = np.array([[40.0, 0.0, 100.0], [0.0, 80.0, -50.0], [0.0, 0.0005, 1.0]])
    floor_m = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [2.0, 1.0]]
    inverse = np.linalg.inv(truth)
    points = []
    for x, y in floor_m:
        u, v, w = inverse @ np.array([x * 100.0, y * 100.0, 1.0])
        points.append({"image_px": [u / w, v / w], "floor_m": [x, y]})
    response = client_for("installer").patch(
        f"/api/cameras/{camera.pk}", {"calibration_points": points}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    homography = np.array(body["homography"])
    assert homography.shape == (3, 3)
    np.testing.assert_allclose(homography / homography[2, 2], truth / truth[2, 2], rtol=1e-6, atol=1e-6)
    assert body["reprojection_error_cm"] < 0.01
    assert EdgeDevice.objects.get(pk=device.pk).config_revision == revision + 1


def test_camera_of_another_sites_device_is_refused(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    response = client_for("installer").post(
        "/api/cameras",
        {"site": store["site"].pk, "device": store["other_device"].pk, "name": "x"},
        format="json",
    )
    _field_error(response, "device")
    assert not Camera.objects.filter(name="x").exists()


UNKNOWN_REFERENCES = [
    pytest.param("/api/cameras", {"site": 999_999, "name": "ghost"}, "site", id="camera-site"),
    pytest.param(
        "/api/cameras", {"site": "SITE", "device": 999_999, "name": "ghost"}, "device", id="camera-device"
    ),
    pytest.param(
        "/api/zones", {"site": 999_999, "name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}, "site", id="zone"
    ),
    pytest.param("/api/devices", {"site": 999_999, "name": "box"}, "site", id="device-site"),
    pytest.param("/api/employees", {"name": "Ann", "level": 999_999}, "level", id="employee-level"),
    pytest.param(
        "/api/zone-permissions", {"employee": 999_999, "zone": "ZONE"}, "employee", id="grant-employee"
    ),
    pytest.param("/api/zone-permissions", {"employee": "EMPLOYEE", "zone": 999_999}, "zone", id="grant-zone"),
    pytest.param(
        "/api/identity-bindings",
        {"site": "SITE", "person_id": 1, "employee": 999_999},
        "employee",
        id="binding",
    ),
    pytest.param("/api/floor-plans", {"site": 999_999, "width_m": 5, "height_m": 5}, "site", id="floor-plan"),
]


@pytest.mark.parametrize(("url", "body", "field"), UNKNOWN_REFERENCES)
def test_unknown_reference_is_a_field_error(
    url: str, body: dict[str, Any], field: str, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    substitutes = {"SITE": store["site"].pk, "ZONE": store["zone"].pk, "EMPLOYEE": store["employee"].pk}
    data = {
        key: substitutes.get(value, value) if isinstance(value, str) else value for key, value in body.items()
    }
    counts = (
        Camera.objects.count(),
        Zone.objects.count(),
        Employee.objects.count(),
        ZonePermission.objects.count(),
    )
    response = client_for("admin").post(url, data, format="json")
    assert "does not exist" in _field_error(response, field)
    assert counts == (
        Camera.objects.count(),
        Zone.objects.count(),
        Employee.objects.count(),
        ZonePermission.objects.count(),
    )


def test_duplicate_names_and_badges_are_field_errors(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    client = client_for("admin")
    _field_error(
        client.post("/api/employees", {"name": "Twin", "badge_id": "B-100"}, format="json"), "badge_id"
    )
    response = client.post(
        "/api/zones",
        {"site": store["site"].pk, "name": "Promo", "polygon": [[0, 0], [1, 0], [1, 1]]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]
    _field_error(client.post("/api/sites", {"name": "Store A"}, format="json"), "name")
    _field_error(
        client.post("/api/sites", {"name": "Store Z", "timezone": "Mars/Olympus"}, format="json"), "timezone"
    )


def test_floor_plan_image_upload_sets_extent(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "plan.png"
    response = client_for("installer").post(
        "/api/floor-plans",
        {"site": store["other_site"].pk, "image": buffer, "metres_per_pixel": "0.05", "origin_x_m": "1.5"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["width_m"] == pytest.approx(20.0)
    assert body["height_m"] == pytest.approx(10.0)
    assert body["origin_x_m"] == pytest.approx(1.5)
    assert body["image"].endswith(".png")


def test_floor_plan_rejects_non_image(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    import io

    fake = io.BytesIO(b"not an image at all")
    fake.name = "plan.png"
    response = client_for("admin").post(
        "/api/floor-plans", {"site": store["other_site"].pk, "image": fake}, format="multipart"
    )
    _field_error(response, "image")


def test_floor_plan_needs_extent_or_image(store: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    response = client_for("admin").post("/api/floor-plans", {"site": store["other_site"].pk}, format="json")
    _field_error(response, "width_m")


def test_changes_are_audited(
    store: dict[str, Any], client_for: Callable[[str], Any], users: dict[str, Any]
) -> None:
    client = client_for("admin")
    zone = store["zone"]
    assert client.patch(f"/api/zones/{zone.pk}", {"color": "#00ff00"}, format="json").status_code == 200
    entry = AuditLog.objects.get(object_type="inventory.zone", object_id=str(zone.pk), action="update")
    assert entry.actor == users["admin"]
    assert entry.actor_username == "admin-user"
    assert entry.changes == {"color": ["", "#00ff00"]}
    assert client.delete(f"/api/zones/{zone.pk}").status_code == 204
    deleted = AuditLog.objects.get(object_type="inventory.zone", object_id=str(zone.pk), action="delete")
    assert deleted.changes["name"] == "Promo"
    log = client.get("/api/audit-log", {"object_type": "inventory.zone"}).json()
    assert [row["action"] for row in log["results"]] == ["delete", "update"]


def test_ceiling_camera_calibration_is_stored_oriented_and_sent_to_the_device_oriented(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """A camera 3 m high, tilted 35°, 90° HFOV, 4:3: its top rows see above the horizon (w < 0 at pixel 0, 0).
    The stored homography and the one in the device's configuration put the floor at w > 0."""
    from server.devices.selectors import device_configuration
    from simulation.cameras import PinholeCamera

    ceiling = PinholeCamera((0.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0, width_px=1280, height_px=960)
    floor_m = np.array([[-2.0, 2.5], [2.0, 2.5], [3.5, 7.0], [-3.5, 7.0]])
    image_px = ceiling.floor_to_pixels(floor_m)
    points = [
        {"image_px": list(map(float, p)), "floor_m": list(map(float, f))}
        for p, f in zip(image_px, floor_m, strict=True)
    ]
    camera = store["camera"]
    response = client_for("installer").patch(
        f"/api/cameras/{camera.pk}", {"calibration_points": points}, format="json"
    )
    assert response.status_code == 200, response.content
    stored = np.array(Camera.objects.get(pk=camera.pk).homography)
    configuration = device_configuration(device_id=store["device"].pk)
    sent = np.array(next(c for c in configuration.cameras if c.camera_id == camera.pk).homography_px_to_cm)
    for homography in (np.array(response.json()["homography"]), stored, sent.reshape(3, 3)):
        homogeneous = np.c_[image_px, np.ones(4)] @ homography.T
        assert (homogeneous[:, 2] > 0).all()
        np.testing.assert_allclose(homogeneous[:, :2] / homogeneous[:, 2:3], floor_m * 100.0, atol=1e-3)


def test_migration_orients_a_homography_stored_before_the_fix(store: dict[str, Any]) -> None:
    import importlib

    from django.apps import apps

    from simulation.cameras import PinholeCamera

    migration = importlib.import_module("server.inventory.migrations.0005_orient_stored_homographies")
    ceiling = PinholeCamera((0.0, 0.0, 3.0), tilt_deg=35.0, yaw_deg=90.0, width_px=1280, height_px=960)
    floor_m = np.array([[-2.0, 2.5], [2.0, 2.5], [3.5, 7.0], [-3.5, 7.0]])
    image_px = ceiling.floor_to_pixels(floor_m)
    exact = np.linalg.inv(ceiling.rotation())  # any matrix: the migration re-fits from the points
    camera = store["camera"]
    Camera.objects.filter(pk=camera.pk).update(
        calibration_points=[
            {"image_px": list(map(float, p)), "floor_m": list(map(float, f))}
            for p, f in zip(image_px, floor_m, strict=True)
        ],
        homography=exact.tolist(),
    )
    migration.orient(apps, None)
    homography = np.array(Camera.objects.get(pk=camera.pk).homography)
    homogeneous = np.c_[image_px, np.ones(4)] @ homography.T
    assert (homogeneous[:, 2] > 0).all()
    np.testing.assert_allclose(homogeneous[:, :2] / homogeneous[:, 2:3], floor_m * 100.0, atol=1e-3)
