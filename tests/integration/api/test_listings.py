"""Listings for integrators: visits (entry, exit, zones, identity) paged and filtered, a person's path from the
positions time series (InfluxDB), the heat map over exact ranges and per time bucket, the distancing list paged."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from server.insights import apis
from server.insights.models import DistancingViolation, HeatmapHour, HeatmapSlice, PersonVisit, ZoneDwell
from server.people.models import IdentityBinding
from server.timeseries.influx_v1 import InfluxV1Backend
from server.timeseries.measurements import position_points
from tests.support.influx_fixtures import drop_database

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def visits(store: dict[str, Any]) -> dict[str, Any]:
    site, zone, restricted = store["site"], store["zone"], store["restricted"]
    PersonVisit.objects.create(site=site, person_id=1, started_at=at(0), ended_at=at(10))
    PersonVisit.objects.create(site=site, person_id=2, started_at=at(5), ended_at=at(30))
    PersonVisit.objects.create(site=site, person_id=3, started_at=at(40), ended_at=None)
    PersonVisit.objects.create(site=store["other_site"], person_id=1, started_at=at(0), ended_at=at(9))
    ZoneDwell.objects.create(
        site=site, zone=zone, person_id=2, entered_at=at(6), exited_at=at(8), dwell_s=120.0
    )
    ZoneDwell.objects.create(
        site=site, zone=restricted, person_id=2, entered_at=at(12), exited_at=at(13), dwell_s=60.0
    )
    ZoneDwell.objects.create(
        site=site, zone=restricted, person_id=3, entered_at=at(41), exited_at=at(42), dwell_s=60.0
    )
    IdentityBinding.objects.create(
        site=site, person_id=2, employee=store["employee"], source="manual", bound_at=at(7)
    )
    return store


def test_visits_list_entry_exit_zones_and_identity_paged(
    visits: dict[str, Any], client_for: Callable[[str], Any], django_assert_max_num_queries: Any
) -> None:
    site = visits["site"]
    client = client_for("staff")
    params = {"start": at(0).isoformat(), "end": at(60).isoformat(), "limit": 2}
    client.get(f"/api/sites/{site.pk}/visits/", params)  # warms the permission cache
    with django_assert_max_num_queries(8):
        response = client.get(f"/api/sites/{site.pk}/visits/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is not None
    assert [v["person_id"] for v in body["results"]] == [1, 2]
    second = body["results"][1]
    assert second["entered_at"] == at(5).isoformat()
    assert second["exited_at"] == at(30).isoformat()
    assert second["duration_s"] == 1500.0
    assert [(z["zone"], z["dwell_s"]) for z in second["zones"]] == [
        (visits["zone"].pk, 120.0),
        (visits["restricted"].pk, 60.0),
    ]
    assert [(i["employee"], i["name"]) for i in second["identities"]] == [(visits["employee"].pk, "Kim")]
    rest = client.get(body["next"]).json()
    assert [v["person_id"] for v in rest["results"]] == [3]
    assert rest["results"][0]["exited_at"] is None  # still in the store


def test_visits_filters_and_roles(visits: dict[str, Any], client_for: Callable[[str], Any]) -> None:
    site = visits["site"]
    url = f"/api/sites/{site.pk}/visits"
    client = client_for("admin")
    window = {"start": at(0).isoformat(), "end": at(60).isoformat()}

    def persons(**extra: Any) -> list[int]:
        response = client.get(url, {**window, **extra})
        assert response.status_code == 200, response.content
        return [v["person_id"] for v in response.json()["results"]]

    assert persons(zone=visits["restricted"].pk) == [2, 3]
    assert persons(zone=visits["zone"].pk) == [2]
    assert persons(employee=visits["employee"].pk) == [2]
    assert persons(person=3) == [3]
    assert persons(start=at(20).isoformat()) == [2, 3]  # overlapping the range, not only starting in it
    assert persons(end=at(4).isoformat()) == [1]
    assert client.get(url, {"zone": "x"}).status_code == 400
    assert client_for("installer").get(url).status_code == 403
    assert client_for("anonymous").get(url).status_code in (401, 403)
    assert client.get("/api/sites/999999/visits/").status_code == 404


@pytest.fixture
def influx(settings: Any) -> Iterator[InfluxV1Backend]:
    import os

    url = os.environ["INFLUX_URL"]
    name = f"test_path_{uuid.uuid4().hex[:10]}"
    backend = InfluxV1Backend(url, name)
    backend.ensure_database()
    settings.INFLUX_URL, settings.INFLUX_DB, settings.INFLUX_API = url, name, "v1"
    apis._reader = None  # the web process builds its reader from the settings
    try:
        yield backend
    finally:
        apis._reader = None
        backend.close()
        drop_database(url, name)


def test_person_path_from_the_positions_series(
    visits: dict[str, Any], client_for: Callable[[str], Any], influx: InfluxV1Backend
) -> None:
    site = visits["site"]
    points = []
    for second in range(0, 600, 60):  # person 1 walks along x for their 10-minute visit; person 2 stands
        time_ns = int((at(0) + timedelta(seconds=second)).timestamp()) * 10**9
        people = [(1, 1.0 + second / 60, 2.0), (2, 9.0, 9.0)]
        points += position_points(site_id=site.pk, time_ns=time_ns, positions=people)
    points += position_points(
        site_id=visits["other_site"].pk, time_ns=int(at(1).timestamp()) * 10**9, positions=[(1, 50.0, 50.0)]
    )
    influx.write_batch(points)
    client = client_for("staff")
    response = client.get(f"/api/sites/{site.pk}/persons/1/path/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["visit"]["entered_at"] == at(0).isoformat(), body
    assert [p[1] for p in body["points"]] == [1.0 + i for i in range(10)]  # in time order, person 1 only
    assert {p[2] for p in body["points"]} == {2.0}
    assert body["points"][0][0] == at(0).isoformat()
    assert body["truncated"] is False
    narrowed = client.get(
        f"/api/sites/{site.pk}/persons/1/path", {"start": at(2).isoformat(), "end": at(4).isoformat()}
    ).json()
    assert [p[1] for p in narrowed["points"]] == [3.0, 4.0]
    limited = client.get(f"/api/sites/{site.pk}/persons/1/path", {"limit": 3}).json()
    assert len(limited["points"]) == 3
    assert limited["truncated"] is True
    assert client.get(f"/api/sites/{site.pk}/persons/99/path").status_code == 404
    assert client_for("installer").get(f"/api/sites/{site.pk}/persons/1/path").status_code == 403


def _dense(columns: int, rows: int, cells: dict[int, float]) -> bytes:
    values = np.zeros(columns * rows, dtype="<f4")
    for index, value in cells.items():
        values[index] = value
    return values.tobytes()


def _slice(site: Any, start: datetime, cells: dict[int, float]) -> HeatmapSlice:
    index = np.array(sorted(cells), dtype="<i4")
    values = np.array([cells[i] for i in sorted(cells)], dtype="<f4")
    return HeatmapSlice(
        site=site,
        start=start,
        duration_s=60,
        columns=4,
        rows=2,
        cell_m=0.5,
        cell_index=index.tobytes(),
        person_s=values.tobytes(),
        displacement_x_m=values.tobytes(),
        displacement_y_m=np.zeros_like(values).tobytes(),
    )


@pytest.fixture
def heat(store: dict[str, Any]) -> Any:
    """10:05 cell 0 10 s, 10:20 cell 1 20 s, 10:50 cell 1 5 s; the 10:00 hour row holds their sum, 35 s. Three
    visitors in the hour: enough for the heat map's small-count suppression (docs/privacy.md)."""
    site = store["site"]
    PersonVisit.objects.bulk_create(
        PersonVisit(site=site, person_id=p, started_at=at(0), ended_at=at(60)) for p in (71, 72, 73)
    )
    HeatmapSlice.objects.bulk_create(
        [_slice(site, at(5), {0: 10.0}), _slice(site, at(20), {1: 20.0}), _slice(site, at(50), {1: 5.0})]
    )
    hour = _dense(4, 2, {0: 10.0, 1: 25.0})
    HeatmapHour.objects.create(
        site=site,
        hour_start=T0,
        columns=4,
        rows=2,
        cell_m=0.5,
        person_s=hour,
        displacement_x_m=hour,
        displacement_y_m=_dense(4, 2, {}),
    )
    return site


def test_heatmap_covers_exactly_the_range_asked(heat: Any, client_for: Callable[[str], Any]) -> None:
    client = client_for("staff")
    url = f"/api/sites/{heat.pk}/analytics/heatmap"

    def total(start: float, end: float, **extra: Any) -> dict[str, Any]:
        response = client.get(url, {"start": at(start).isoformat(), "end": at(end).isoformat(), **extra})
        assert response.status_code == 200, response.content
        body: dict[str, Any] = response.json()
        return body

    quarter = total(15, 30)
    assert quarter["total_person_s"] == 20.0  # before: the whole 10:00 hour, 35 s
    assert quarter["cells"] == [[1, 0, 20.0, 20.0, 0.0]]
    assert total(0, 30)["total_person_s"] == 30.0
    assert total(-60, 120)["total_person_s"] == 35.0  # whole hour from the hour row, slices not counted twice
    assert total(10, 90)["total_person_s"] == 25.0  # 10:10-11:00 from slices, nothing after


def test_heatmap_per_time_bucket(heat: Any, client_for: Callable[[str], Any]) -> None:
    client = client_for("staff")
    url = f"/api/sites/{heat.pk}/analytics/heatmap"
    body = client.get(url, {"start": at(0).isoformat(), "end": at(60).isoformat(), "bucket": "15m"}).json()
    assert body["bucket"] == "15m"
    assert [(f["t"], f["total_person_s"]) for f in body["frames"]] == [
        (at(0).isoformat(), 10.0),
        (at(15).isoformat(), 20.0),
        (at(45).isoformat(), 5.0),
    ]
    assert body["total_person_s"] == 35.0
    daily = client.get(
        url, {"start": at(-600).isoformat(), "end": at(600).isoformat(), "bucket": "1d"}
    ).json()
    assert [f["total_person_s"] for f in daily["frames"]] == [35.0]
    too_many = client.get(url, {"start": at(-4000).isoformat(), "end": at(0).isoformat(), "bucket": "1m"})
    assert too_many.status_code == 400
    assert "bucket" in str(too_many.json())
    assert client.get(url, {"bucket": "7m"}).status_code == 400


def test_distancing_violations_are_paged_not_capped(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    site = store["site"]
    DistancingViolation.objects.bulk_create(
        [
            DistancingViolation(
                site=site,
                person_a=i,
                person_b=i + 1000,
                started_at=at(i / 10),
                ended_at=at(i / 10 + 0.05),
                last_close_at=at(i / 10 + 0.05),
                min_distance_m=1.2,
            )
            for i in range(530)
        ]
    )
    client = client_for("staff")
    url = f"/api/sites/{site.pk}/analytics/distancing"
    window = {"start": at(-1).isoformat(), "end": at(120).isoformat()}
    first = client.get(url, window).json()
    assert first["total"] == 530
    assert len(first["violations"]) == 100
    assert first["violations"][0]["persons"] == [529, 1529]  # newest first
    assert first["next"] is not None
    seen = [v["persons"][0] for v in first["violations"]]
    offset = 100
    while offset < 530:
        page = client.get(url, {**window, "limit": 200, "offset": offset}).json()
        seen += [v["persons"][0] for v in page["violations"]]
        offset += 200
    assert sorted(seen) == list(range(530))  # every violation reachable, none twice (before: 500 at most)
    assert page["next"] is None
