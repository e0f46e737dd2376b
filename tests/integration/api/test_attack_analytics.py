"""Attacks on the store analytics as a real deployment would make them, kept as regression tests: incidents of a
box whose clock runs behind (or that replays a backlog), polygons a client can send."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from server.alerts.incidents import close_stale_incidents
from server.alerts.models import Alert
from server.alerts.services import alert_incident_record
from server.analytics.floor_geometry import GeometryError, validate_polygon
from server.insights.heat_query import heatmap
from server.insights.models import DistancingViolation, HeatmapHour, HeatmapSlice, PersonVisit
from server.inventory.models import Zone
from tests.integration.api.test_listings import _slice


def _report(site_id: int, zone_id: int, *, opened_us: int, time_us: int) -> Alert | None:
    return alert_incident_record(
        site_id=site_id,
        zone_id=zone_id,
        person_id=7,
        opened_us=opened_us,
        time_us=time_us,
        kind="alarm",
        message="An unauthorized visitor entered the secure area",
        employee_id=None,
        person_name=None,
        identity_certain=True,
        x_m=12.0,
        y_m=12.0,
        distance_m=0.0,
        camera_ids=[1],
    )


def test_an_incident_of_a_box_whose_clock_runs_two_minutes_behind_is_not_closed_while_it_lasts(
    store: dict[str, Any],
) -> None:
    """Frames are accepted up to INGEST_MAX_PAST_S behind the server clock (a box without NTP, a backlog replayed
    after an outage), so an incident's frame times can be minutes old while it is reported every second. The
    sweep for incidents left open by a stopped process must judge by when the server last heard of it."""
    site_id, zone_id = store["site"].pk, store["restricted"].pk
    behind_us = 120 * 1_000_000
    opened_us = int(time.time() * 1e6) - behind_us
    assert _report(site_id, zone_id, opened_us=opened_us, time_us=opened_us) is not None
    assert close_stale_incidents() == 0
    updated = _report(site_id, zone_id, opened_us=opened_us, time_us=opened_us + 1_000_000)
    assert updated is not None, "the next report of the ongoing incident was ignored"
    assert Alert.objects.get().closed_at is None


def _circle(corners: int, radius_m: float = 5.0) -> list[list[float]]:
    angles = np.linspace(0.0, 2.0 * np.pi, corners, endpoint=False)
    corners_xy = np.c_[10.0 + radius_m * np.cos(angles), 10.0 + radius_m * np.sin(angles)].round(6)
    return [[float(x), float(y)] for x, y in corners_xy]


def test_a_zone_of_1000_corners_is_checked_quickly_and_still_exactly() -> None:
    """Traced from a CAD export: 1000 corners. The self-intersection check was a pure-Python O(n²) loop (2.5 s
    here for 1000 corners, 29 s for 4000) run inside the request."""
    started = time.perf_counter()
    assert len(validate_polygon(_circle(1000))) == 1000
    assert time.perf_counter() - started < 3.0  # ~10 ms on an idle core; the loop took 2.5-8.5 s here
    with pytest.raises(GeometryError, match="cross"):
        validate_polygon([*_circle(999), [10.0, 20.0]])  # a spike through the far side


def test_a_polygon_of_20000_corners_is_refused_at_once(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    started = time.perf_counter()
    response = client_for("admin").post(
        "/api/zones", {"site": store["site"].pk, "name": "Trace", "polygon": _circle(20_000)}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "at most" in str(response.json()["extra"]["fields"]["polygon"])
    assert time.perf_counter() - started < 5.0
    assert not Zone.objects.filter(name="Trace").exists()


@pytest.mark.parametrize("corner", [1e300, -1e12])
def test_a_zone_with_astronomical_coordinates_is_refused(
    corner: float, store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """Covering the plan, so it passed the off-plan check; its overflowing area and distances broke analytics."""
    polygon = [[0.0, 0.0], [corner, 0.0], [corner, corner], [0.0, corner]]
    if corner < 0:
        polygon = [[1.0, 1.0], [corner, 1.0], [corner, corner], [1.0, corner]]
    response = client_for("admin").post(
        "/api/zones", {"site": store["site"].pk, "name": "Huge", "polygon": polygon}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "polygon" in response.json()["extra"]["fields"]


def test_heat_map_frames_keep_the_repeated_hour_apart_when_the_clocks_go_back(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """Berlin, 25 Oct 2026: 02:00-03:00 happens twice (CEST, then CET). A minute of each hour landed in one 15m
    frame, "02:30+02:00", holding both (and the CET one was missing)."""
    site = store["site"]
    site.timezone = "Europe/Berlin"
    site.save(update_fields=["timezone"])
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    HeatmapSlice.objects.bulk_create([_slice(site, first, {0: 10.0}), _slice(site, second, {1: 20.0})])
    PersonVisit.objects.bulk_create(  # enough visitors for the small-count suppression (docs/privacy.md)
        PersonVisit(site=site, person_id=p, started_at=first, ended_at=second) for p in (71, 72, 73)
    )
    response = client_for("staff").get(
        f"/api/sites/{site.pk}/analytics/heatmap",
        {"start": "2026-10-25T00:00:00Z", "end": "2026-10-25T02:00:00Z", "bucket": "15m"},
    )
    assert response.status_code == 200, response.content
    frames = [(frame["t"], frame["total_person_s"]) for frame in response.json()["frames"]]
    assert frames == [("2026-10-25T02:30:00+02:00", 10.0), ("2026-10-25T02:30:00+01:00", 20.0)]


def test_following_next_on_the_distancing_list_while_violations_arrive_repeats_none(
    store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """Newest first, paged by offset, over the default range (the last 24 h up to now): a violation recorded
    between two pages pushed every row down one, and `next` (which did not carry the range) repeated one."""
    site = store["site"]
    now = datetime.now(tz=UTC)

    def violation(person: int, minutes_ago: float) -> DistancingViolation:
        started = now - timedelta(minutes=minutes_ago)
        return DistancingViolation(
            site=site,
            person_a=person,
            person_b=person + 1000,
            started_at=started,
            ended_at=started + timedelta(seconds=3),
            last_close_at=started + timedelta(seconds=3),
            min_distance_m=1.2,
        )

    DistancingViolation.objects.bulk_create([violation(i, 60 - i) for i in range(20)])
    client = client_for("staff")
    first = client.get(f"/api/sites/{site.pk}/analytics/distancing", {"limit": 10}).json()
    # Recorded after the first page was served, whatever that took on a loaded machine (a fixed offset from
    # `now` fell inside the first page's range whenever the first request took longer than the offset).
    arrived = datetime.now(tz=UTC) + timedelta(milliseconds=1)
    DistancingViolation.objects.create(
        site=site,
        person_a=99,
        person_b=1099,
        started_at=arrived,
        ended_at=arrived + timedelta(seconds=3),
        last_close_at=arrived + timedelta(seconds=3),
        min_distance_m=1.0,
    )
    second = client.get(first["next"]).json()
    pages = [v["persons"][0] for v in first["violations"] + second["violations"]]
    assert pages == list(range(19, -1, -1))
    assert second["next"] is None


@pytest.mark.parametrize(
    "image_px",
    [
        pytest.param([[0, 0], [100, 0], [200, 0], [100, 100]], id="three-of-four-on-a-line"),
        pytest.param([[0, 0], [100, 0], [200, 0], [300, 0], [100, 100]], id="four-of-five-on-a-line"),
    ],
)
def test_calibration_points_that_do_not_determine_the_mapping_are_refused(
    image_px: list[list[float]], store: dict[str, Any], client_for: Callable[[str], Any]
) -> None:
    """Three of four pairs along one floor line (a tape measure along an aisle, plus one point): a whole family
    of homographies fits them exactly. The server stored one of them with a 0 cm error (the edge's own fit
    refuses these points), and it put (150, 50) px 40 cm away from (1.5, 0.5) m."""
    camera = store["camera"]
    points = [{"image_px": p, "floor_m": [p[0] / 100, p[1] / 100]} for p in image_px]
    response = client_for("installer").patch(
        f"/api/cameras/{camera.pk}", {"calibration_points": points}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "calibration_points" in response.json()["extra"]["fields"]
    camera.refresh_from_db()
    assert camera.calibration_points != points


def test_a_long_heat_map_range_is_summed_row_by_row_not_held_in_memory(store: dict[str, Any]) -> None:
    """Every stored hour row of the range was read into one list before summing: the 400-day maximum range of a
    30 x 20 m plan at 0.5 m is 276 MB per request, of a 100 x 60 m plan 2.8 GB. Here: 300 hours of 10,000 cells."""
    site = store["site"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    blob = np.ones(100 * 100, dtype="<f4").tobytes()
    HeatmapHour.objects.bulk_create(
        HeatmapHour(
            site=site,
            hour_start=start + timedelta(hours=k),
            columns=100,
            rows=100,
            cell_m=0.5,
            person_s=blob,
            displacement_x_m=blob,
            displacement_y_m=blob,
        )
        for k in range(300)
    )
    tracemalloc.start()
    try:
        result = heatmap(site_id=site.pk, start=start, end=start + timedelta(hours=300))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["total_person_s"] == 300.0 * 100 * 100
    assert peak < 15 * 2**20, f"peak {peak / 2**20:.0f} MiB"
