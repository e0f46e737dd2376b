"""The fusion's calibration check stored on the cameras (camera_calibration_check_record) and read through the
cameras API: each camera sees its pairs from its own side, other sites' cameras are not touched, and the check is
read-only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from server.fusion.agreement import CameraPairAgreement
from server.inventory.models import Camera
from server.inventory.services import camera_calibration_check_record

pytestmark = pytest.mark.django_db


def test_each_camera_reads_its_pairs_from_its_own_side(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    first = store["camera"]
    second = Camera.objects.create(site=store["site"], device=store["device"], name="cam-2")
    elsewhere = Camera.objects.create(site=store["other_site"], device=store["other_device"], name="cam-b")
    pairs = [
        CameraPairAgreement(first.pk, second.pk, 412.0, 0.93, 1.36, (0.72, 0.39)),
        # A pair naming a camera of another site (a stale id): not written there.
        CameraPairAgreement(first.pk, elsewhere.pk, 50.0, 0.2, 0.3, (0.0, 0.0)),
    ]
    measured = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    written = camera_calibration_check_record(site_id=store["site"].pk, pairs=pairs, measured_at=measured)
    assert written == 2

    body = client_for("admin").get(f"/api/cameras/{second.pk}/").json()
    assert body["calibration_check"] == {
        "measured_at": "2026-12-04T09:30:00+00:00",
        "pairs": [
            {
                "other_camera": first.pk,
                "median_m": 0.93,
                "p90_m": 1.36,
                "offset_m": [-0.72, -0.39],  # where cam-1 places people relative to cam-2
                "samples": 412.0,
                "suspect": True,
            }
        ],
    }
    first_check = client_for("staff").get(f"/api/cameras/{first.pk}/").json()["calibration_check"]
    assert [p["other_camera"] for p in first_check["pairs"]] == [second.pk, elsewhere.pk]
    assert first_check["pairs"][0]["offset_m"] == [0.72, 0.39]
    elsewhere.refresh_from_db()
    assert elsewhere.calibration_check == {}


def test_the_check_cannot_be_written_through_the_api(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    camera = store["camera"]
    answer = client_for("admin").patch(
        f"/api/cameras/{camera.pk}/", {"calibration_check": {"pairs": []}, "name": "renamed"}, format="json"
    )
    assert answer.status_code == 200
    camera.refresh_from_db()
    assert camera.name == "renamed"
    assert camera.calibration_check == {}


def test_a_camera_inserted_without_the_column_gets_an_empty_check(store: dict[str, Any]) -> None:
    """A process of the release before (a rolling upgrade) inserts cameras without knowing the column: the
    database's default fills it (before, such an insert failed on the NOT NULL column)."""
    from django.db import connection

    camera = Camera(site=store["site"], name="old-release")
    fields = [f for f in Camera._meta.concrete_fields if f.column not in ("id", "calibration_check")]
    values = [f.get_db_prep_save(f.pre_save(camera, True), connection) for f in fields]
    columns = ", ".join(str(f.column) for f in fields)  # the model's own column names, no input
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO inventory_camera ({columns}) VALUES ({placeholders})", values)  # noqa: S608
    assert Camera.objects.get(name="old-release").calibration_check == {}
