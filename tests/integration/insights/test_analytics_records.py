"""The analytics behind the ingest, end to end on a simulated store with known truth: TrackFrames (as the edge
sends them) → validation → fusion + analytics → records in PostgreSQL → the analytics REST endpoints.

The pure algorithms are scored exhaustively in tests/unit/{fusion,analytics}; this checks that what the server
stores and serves agrees with the truth.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from proto.retail.v1 import track_pb2
from server.accounts.roles import ensure_roles
from server.analytics.types import AccessAlert, IncidentPhase
from server.ingest.pipeline import CameraRuntime
from server.ingest.sequencing import SequenceWindow
from server.ingest.validation import TimeWindow, decode_frame
from server.insights.models import (
    DistancingViolation,
    HeatmapHour,
    HeatmapSlice,
    PersonVisit,
    ZoneDwell,
    ZoneTransition,
)
from server.insights.processor import SiteAnalyticsProcessor
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.inventory.models import Camera, FloorPlan, Site, Zone
from simulation import SimulationConfig, compute_truth, default_analytics_config, simulate

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STATE_REMOVED = track_pb2.TRACK_STATE_REMOVED


class RecordingPublisher:
    """Collects live events instead of pushing them (the push itself is covered by the system tests)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, site_id: int, event: Any) -> None:
        self.events.append(event() if callable(event) else event)


class ListSink:
    def __init__(self) -> None:
        self.points: list[Any] = []

    def write(self, points: Any) -> None:
        self.points.extend(points)


def to_track_frame(frame: Any, camera_id: int) -> track_pb2.TrackFrame:
    """The TrackFrame the edge would send for a simulated camera frame (removed tracks as REMOVED rows)."""
    ids = frame.local_ids.tolist()
    rows = list(range(len(ids)))
    removed = [int(i) for i in frame.removed_local_ids.tolist() if int(i) not in set(ids)]
    order = sorted(
        range(len(ids) + len(removed)), key=lambda k: ids[k] if k < len(ids) else removed[k - len(ids)]
    )
    message = track_pb2.TrackFrame(
        camera_id=camera_id, sequence=frame.sequence, capture_time_us=frame.capture_time_us
    )
    previous = 0
    for k in order:
        if k < len(ids):
            row = rows[k]
            local_id = ids[k]
            x, y, w, h = frame.bbox_xywh_px[row].tolist()
            fx, fy = frame.floor_xy_cm[row].tolist()
            score, state = int(frame.score_permille[row]), int(frame.states[row])
        else:
            local_id, (x, y, w, h), (fx, fy), score, state = (
                removed[k - len(ids)],
                (0, 0, 1, 1),
                (0, 0),
                0,
                STATE_REMOVED,
            )
        message.local_id_deltas.append(local_id - previous)
        previous = local_id
        message.bbox_x_px.append(x)
        message.bbox_y_px.append(y)
        message.bbox_w_px.append(max(1, w))
        message.bbox_h_px.append(max(1, h))
        message.floor_x_cm.append(fx)
        message.floor_y_cm.append(fy)
        message.score_permille.append(min(1000, max(0, score)))
        message.state.append(track_pb2.TrackState.ValueType(state))
    return message


def test_simulated_store_records_and_endpoints_agree_with_truth(settings: Any) -> None:
    settings.PRIVACY_MIN_PERSONS = (
        1  # the heat map against the truth, cell by cell: no small-count suppression
    )
    result = simulate(SimulationConfig(seed=7, people=12, cameras=2, duration_s=90.0, late_fraction=0.0))
    truth = compute_truth(result, default_analytics_config(result))
    site = Site.objects.create(name="Simulated store")
    FloorPlan.objects.create(
        site=site, width_m=result.layout.width_m, height_m=result.layout.height_m, heatmap_cell_m=0.5
    )
    zone_ids = {}
    for zone in result.layout.zones:
        zone_ids[zone.zone_id] = Zone.objects.create(
            site=site,
            name=zone.name,
            kind=str(zone.kind),
            polygon=[list(p) for p in zone.polygon_m],
            required_level=zone.required_level,
            warning_distance_m=zone.warning_distance_m or 1.0,
        ).pk
    cameras = {
        c.camera_id: Camera.objects.create(site=site, name=f"sim-{c.camera_id}").pk
        for c in result.layout.cameras
    }
    recorder = InsightsRecorder()
    alerts: list[AccessAlert] = []
    publisher = RecordingPublisher()
    processor = SiteAnalyticsProcessor(
        publisher=publisher,  # type: ignore[arg-type]
        points=ListSink(),
        recorder=recorder,
        load_setup=site_setup,
        load_identities=lambda site_id: {},
        on_alert=lambda site_id, alert: alerts.append(alert) if isinstance(alert, AccessAlert) else None,
    )
    runtimes = {
        sim_id: CameraRuntime(
            camera_id=db_id, site_id=site.pk, device_id=None, window=SequenceWindow(reorder_window=256)
        )
        for sim_id, db_id in cameras.items()
    }
    async_to_sync(processor.prepare)(next(iter(runtimes.values())))
    window = TimeWindow(max_past_us=10**15, max_future_us=10**15)
    started = time.thread_time()  # CPU time of this thread: waiting for a core on a busy machine is not cost
    for frame in result.frames:
        runtime = runtimes[frame.camera_id]
        decoded = decode_frame(
            to_track_frame(frame, runtime.camera_id), now_us=frame.capture_time_us, window=window
        )
        processor.process(runtime, decoded)
    processor.flush()
    per_frame_ms = (time.thread_time() - started) * 1000 / len(result.frames)
    assert processor.errors == 0
    assert recorder.flush() > 0

    # Visits: one per simulated person (fusion may split a few visits; never merges two people into one).
    visits = PersonVisit.objects.filter(site=site).count()
    assert len(result.people) <= visits <= len(result.people) * 1.5, (visits, len(result.people))
    assert PersonVisit.objects.filter(site=site, ended_at__isnull=True).count() == 0
    # Heat map: person-seconds stored match the truth.
    rows = list(HeatmapHour.objects.filter(site=site))
    stored_person_s = sum(float(np.frombuffer(bytes(r.person_s), dtype="<f4").sum()) for r in rows)
    assert stored_person_s == pytest.approx(truth.total_person_s, rel=0.05)
    # The same person-seconds per analytics bucket (the sparse slices for sub-hour ranges).
    slices = list(HeatmapSlice.objects.filter(site=site))
    assert slices
    sliced_person_s = sum(float(np.frombuffer(bytes(r.person_s), dtype="<f4").sum()) for r in slices)
    assert sliced_person_s == pytest.approx(stored_person_s, rel=1e-4)
    # Zone entries and flow: stored dwell records ≈ true entries; every transition joins two real zones.
    dwell_count = ZoneDwell.objects.filter(site=site).count()
    assert abs(dwell_count - len(truth.entries)) <= max(3, 0.15 * len(truth.entries)), (
        dwell_count,
        len(truth.entries),
    )
    transitions = ZoneTransition.objects.filter(site=site)
    assert transitions.exists()
    assert set(transitions.values_list("to_zone_id", flat=True)) <= set(zone_ids.values())
    # Distancing and access control.
    violations = DistancingViolation.objects.filter(site=site).count()
    assert abs(violations - len(truth.violations)) <= max(2, 0.2 * len(truth.violations)), (
        violations,
        len(truth.violations),
    )
    alarmed = {a.zone_id for a in alerts if str(a.kind) == "alarm"}
    if truth.unauthorised_entries:
        assert alarmed, "unauthorised entries but no alarm"
    # Every access incident opened was closed, by the person leaving or at the end of the stream (flush).
    key = lambda a: (a.global_id, a.zone_id, a.opened_us)  # noqa: E731
    opened = [key(a) for a in alerts if a.phase is IncidentPhase.OPENED]
    assert sorted(key(a) for a in alerts if a.phase is IncidentPhase.CLOSED) == sorted(opened)
    # Live events carried the site's persons and counters.
    assert publisher.events
    assert "counters" in publisher.events[-1]
    assert per_frame_ms < 20, f"{per_frame_ms:.2f} ms per frame for fusion + analytics + conversion"

    # The REST endpoints serve the same numbers to a staff user.
    ensure_roles()
    user = get_user_model().objects.create_user(username="analyst", password="x-analyst-password-1")
    user.groups.add(Group.objects.get(name="staff"))
    client = APIClient()
    client.force_authenticate(user)
    first = datetime.fromtimestamp(result.frames[0].capture_time_us / 1e6, tz=UTC) - timedelta(hours=1)
    last = datetime.fromtimestamp(result.frames[-1].capture_time_us / 1e6, tz=UTC) + timedelta(hours=1)
    params = {"start": first.isoformat(), "end": last.isoformat()}
    heatmap = client.get(f"/api/sites/{site.pk}/analytics/heatmap", params).json()
    assert heatmap["total_person_s"] == pytest.approx(stored_person_s, rel=1e-3)
    assert sum(cell[2] for cell in heatmap["cells"]) == pytest.approx(stored_person_s, rel=1e-2)
    assert {z["zone_id"] for z in heatmap["zones"]} <= set(zone_ids.values())
    quarters = client.get(f"/api/sites/{site.pk}/analytics/heatmap", {**params, "bucket": "15m"}).json()
    assert len(quarters["frames"]) >= 1
    assert sum(f["total_person_s"] for f in quarters["frames"]) == pytest.approx(stored_person_s, rel=1e-3)
    flow = client.get(f"/api/sites/{site.pk}/analytics/flow", params).json()
    assert sum(t["count"] for t in flow["transitions"]) == transitions.filter(from_zone__isnull=False).count()
    visits_api = client.get(f"/api/sites/{site.pk}/analytics/visits", {**params, "bucket": "hour"}).json()
    assert visits_api["total"] == visits
    distancing = client.get(f"/api/sites/{site.pk}/analytics/distancing", params).json()
    assert distancing["total"] == violations
    assert client.get(f"/api/sites/{site.pk}/analytics/heatmap", {"start": "yesterday"}).status_code == 400
    assert client.get("/api/sites/999999/analytics/flow").status_code == 404
    anonymous = APIClient().get(f"/api/sites/{site.pk}/analytics/heatmap")
    assert anonymous.status_code in (401, 403)


def _visitor_standing_in_the_stock_room() -> tuple[SiteAnalyticsProcessor, list[AccessAlert], Zone]:
    """A processor that followed a visitor standing 3 s in a restricted zone (an alarm incident, still open)."""
    site = Site.objects.create(name="Flush store")
    FloorPlan.objects.create(site=site, width_m=20.0, height_m=10.0)
    zone = Zone.objects.create(
        site=site,
        name="Stock",
        kind="restricted",
        polygon=[[10, 0], [14, 0], [14, 4], [10, 4]],
        required_level=2,
    )
    camera = Camera.objects.create(site=site, name="cam")
    alerts: list[AccessAlert] = []
    processor = SiteAnalyticsProcessor(
        publisher=RecordingPublisher(),  # type: ignore[arg-type]
        points=ListSink(),
        recorder=InsightsRecorder(),
        load_setup=site_setup,
        load_identities=lambda site_id: {},
        on_alert=lambda site_id, alert: alerts.append(alert) if isinstance(alert, AccessAlert) else None,
    )
    runtime = CameraRuntime(
        camera_id=camera.pk, site_id=site.pk, device_id=None, window=SequenceWindow(reorder_window=256)
    )
    async_to_sync(processor.prepare)(runtime)
    window = TimeWindow(max_past_us=10**15, max_future_us=10**15)
    t0_us = 1_780_000_000_000_000
    for k in range(30):  # 3 s at 10 fps, standing at (12, 2)
        message = track_pb2.TrackFrame(
            camera_id=camera.pk, sequence=k + 1, capture_time_us=t0_us + k * 100_000
        )
        message.local_id_deltas.append(1)
        for column, value in (("bbox_x_px", 10), ("bbox_y_px", 10), ("bbox_w_px", 20), ("bbox_h_px", 50)):
            getattr(message, column).append(value)
        message.floor_x_cm.append(1200)
        message.floor_y_cm.append(200)
        message.score_permille.append(900)
        message.state.append(track_pb2.TRACK_STATE_CONFIRMED)
        processor.process(runtime, decode_frame(message, now_us=message.capture_time_us, window=window))
    assert processor.errors == 0
    assert (alerts[0].phase, alerts[0].zone_id) == (IncidentPhase.OPENED, zone.pk)
    assert IncidentPhase.CLOSED not in {a.phase for a in alerts}
    return processor, alerts, zone


def test_incidents_still_open_at_the_end_of_the_stream_are_closed_by_the_flush() -> None:
    """The server stops while a visitor stands in the stock room: the flush closes their incident (else the row
    would stay ongoing until the next start's sweep of stale incidents)."""
    processor, alerts, _ = _visitor_standing_in_the_stock_room()
    processor.flush()
    assert alerts[-1].phase is IncidentPhase.CLOSED
    assert alerts[-1].opened_us == alerts[0].opened_us


def test_an_incident_goes_on_when_its_zone_is_edited_and_closes_once_when_the_zone_is_deleted() -> None:
    processor, alerts, zone = _visitor_standing_in_the_stock_room()
    zone.warning_distance_m = 2.0
    zone.save()
    async_to_sync(processor.refresh)()  # the analytics go on with the edited zone: the incident stays open
    assert IncidentPhase.CLOSED not in [alert.phase for alert in alerts]
    zone.delete()
    async_to_sync(processor.refresh)()  # the deletion ends it
    processor.flush()  # and nothing is left to close at the end
    closed = [alert for alert in alerts if alert.phase is IncidentPhase.CLOSED]
    assert [alert.opened_us for alert in closed] == [alerts[0].opened_us]
