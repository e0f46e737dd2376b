"""POS import (CSV upload and bulk JSON) and conversion against real PostgreSQL: row-level errors, all or nothing,
idempotent re-imports, per site, and conversion = sales transactions / visits per local hour and day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from server.insights.models import LineCount, PersonVisit
from server.inventory.models import Zone, ZoneKind
from server.sales.models import PosTransaction

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CSV = (
    "time,till,amount,currency,transaction_id\n"
    "2026-11-30T09:05:00Z,1,12.50,EUR,A-1\n"
    "2026-11-30T09:40:00Z,2,3.00,EUR,A-2\n"
    "2026-11-30T09:55:00Z,2,-3.00,EUR,A-3\n"  # a refund: imported, not counted
    "2026-11-30T10:10:00Z,1,20.00,EUR,\n"  # no id: keyed by time|till|amount
)


def _upload(client: APIClient, site_id: int, text: str) -> Any:
    upload = SimpleUploadedFile("sales.csv", text.encode(), content_type="text/csv")
    return client.post(f"/api/sites/{site_id}/sales/transactions/csv", {"file": upload}, format="multipart")


def test_csv_import_is_idempotent_and_per_site(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    admin = client_for("admin")
    site, other = store["site"], store["other_site"]
    first = _upload(admin, site.pk, CSV)
    assert first.status_code == 201, first.content
    assert first.json() == {"received": 4, "created": 4, "duplicates": 0}
    again = _upload(admin, site.pk, CSV + "2026-11-30T11:00:00Z,3,5.00,EUR,A-9\n")
    assert again.json() == {"received": 5, "created": 1, "duplicates": 4}
    assert PosTransaction.objects.filter(site=site).count() == 5
    # The same file for another site is that site's.
    assert _upload(admin, other.pk, CSV).json()["created"] == 4
    listed = admin.get(
        f"/api/sites/{site.pk}/sales/transactions?start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z"
    )
    assert listed.json()["count"] == 5
    assert listed.json()["results"][0]["transaction_id"] == "A-1"


def test_invalid_rows_are_listed_and_nothing_is_imported(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    text = "time,till,amount\n2026-11-30T09:05:00Z,1,12.50\n30/11/2026,1,4\n2026-11-30T09:06:00Z,,4,5\n"
    response = _upload(client_for("admin"), store["site"].pk, text)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_transactions"
    assert body["extra"]["errors"] == [
        {"line": 3, "field": "time", "reason": "not an ISO 8601 date-time: '30/11/2026'"},
        {"line": 4, "field": "", "reason": "4 cells; the header has 3 columns"},
    ]
    assert body["extra"]["error_count"] == 2
    assert not PosTransaction.objects.exists()
    missing = client_for("admin").post(
        f"/api/sites/{store['site'].pk}/sales/transactions/csv", {}, format="multipart"
    )
    assert missing.status_code == 400
    assert "file" in missing.json()["extra"]["fields"]


def test_bulk_json_import(store: dict[str, Any], client_for: Callable[[str], APIClient]) -> None:
    url = f"/api/sites/{store['site'].pk}/sales/transactions"
    body = {
        "transactions": [
            {"time": "2026-11-30T09:05:00Z", "till": "1", "amount": "1.00", "transaction_id": "J-1"},
            {"time": "2026-11-30T09:06:00Z", "till": "1", "amount": 2.5, "transaction_id": "J-2"},
        ]
    }
    admin = client_for("admin")
    assert admin.post(url, body, format="json").json() == {"received": 2, "created": 2, "duplicates": 0}
    assert admin.post(url, body, format="json").json() == {"received": 2, "created": 0, "duplicates": 2}
    bad = admin.post(url, {"transactions": [{"time": "2026-11-30T09:05:00Z", "till": "1"}]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["extra"]["errors"][0]["index"] == 0
    assert bad.json()["extra"]["errors"][0]["field"] == "amount"
    assert admin.post(url, {"rows": []}, format="json").status_code == 400
    assert client_for("staff").post(url, body, format="json").status_code == 403  # import is the admin's


def test_conversion_per_hour_and_day(store: dict[str, Any], client_for: Callable[[str], APIClient]) -> None:
    site = store["site"]
    site.timezone = "Europe/Paris"
    site.save()
    base = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    for minute in range(0, 60, 6):  # 10 visits 09:00-10:00 UTC, 4 visits 10:00-11:00 UTC
        PersonVisit.objects.create(site=site, person_id=minute, started_at=base + timedelta(minutes=minute))
    for minute in range(0, 60, 15):
        PersonVisit.objects.create(
            site=site, person_id=100 + minute, started_at=base + timedelta(hours=1, minutes=minute)
        )
    PersonVisit.objects.create(site=store["other_site"], person_id=1, started_at=base)  # another site's
    assert _upload(client_for("admin"), site.pk, CSV).status_code == 201
    response = client_for("staff").get(
        f"/api/sites/{site.pk}/analytics/conversion?start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["visits_definition"] == "first_sighting"
    assert [(row["t"], row["visits"], row["transactions"], row["conversion"]) for row in data["series"]] == [
        ("2026-11-30T10:00:00+01:00", 10, 2, 0.2),  # the refund is not a sale
        ("2026-11-30T11:00:00+01:00", 4, 1, 0.25),
    ]
    assert data["total"] == {"visits": 14, "transactions": 3, "revenue": 35.5, "conversion": round(3 / 14, 4)}
    day = (
        client_for("staff")
        .get(
            f"/api/sites/{site.pk}/analytics/conversion?start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z&bucket=day"
        )
        .json()
    )
    assert [(row["t"], row["visits"], row["transactions"]) for row in day["series"]] == [
        ("2026-11-30T00:00:00+01:00", 14, 3)
    ]


def test_conversion_divides_by_the_visitors_entries_where_the_site_has_an_entrance_line(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    """docs/kpis.md: a site with a door counts its visits at the door, staff left out. Conversion divided by the
    first sightings anyway (staff included), so a store's conversion moved with how many people its cameras saw
    and with its own employees."""
    site = store["site"]
    base = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    door = Zone.objects.create(site=site, name="front door", kind=ZoneKind.DOOR, polygon=[[0, 0], [2, 0]])
    LineCount.objects.create(
        site=site, line=door, entrance=True, start=base, in_count=8, out_count=3, staff_in=2, staff_out=0
    )
    LineCount.objects.create(
        site=site, line=door, entrance=True, start=base + timedelta(minutes=15), in_count=2, out_count=0
    )
    for person in range(30):  # first sightings: not the visits of a site with a door
        PersonVisit.objects.create(site=site, person_id=person, started_at=base + timedelta(minutes=1))
    assert _upload(client_for("admin"), site.pk, CSV).status_code == 201
    data = (
        client_for("staff")
        .get(f"/api/sites/{site.pk}/analytics/conversion?start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z")
        .json()
    )
    assert data["visits_definition"] == "entrances"
    assert [(row["t"], row["visits"], row["transactions"]) for row in data["series"]] == [
        ("2026-11-30T09:00:00+00:00", 10, 2),
        ("2026-11-30T10:00:00+00:00", 0, 1),
    ]
    assert data["total"]["conversion"] == round(3 / 10, 4)


def test_staff_visits_are_not_visits_of_a_site_without_an_entrance_line(
    store: dict[str, Any], client_for: Callable[[str], APIClient]
) -> None:
    site = store["site"]
    base = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    for person in range(4):
        PersonVisit.objects.create(site=site, person_id=person, started_at=base, staff=person == 0)
    data = (
        client_for("staff")
        .get(f"/api/sites/{site.pk}/analytics/conversion?start=2026-11-30T00:00:00Z&end=2026-12-01T00:00:00Z")
        .json()
    )
    assert data["visits_definition"] == "first_sighting"
    assert data["total"]["visits"] == 3
