"""The ack barrier and the recorder against real PostgreSQL and the embedded time-series store
(docs/operations.md, "Durability"): what the ingest acks is durable when `IngestPipeline.flush` returns; zone edits
and deletions lose nothing; a poison record does not stop the recorder; a recorder that cannot write says so.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError, connection

from proto.retail.v1 import track_pb2
from server.analytics.types import AnalyticsUpdate, DistancingViolation, DwellRecord
from server.health import checks as health_checks
from server.health.checks import check_analytics
from server.ingest.models import CameraStreamState
from server.ingest.pipeline import CameraRuntime, IngestPipeline
from server.ingest.sequencing import SequenceWindow
from server.ingest.validation import TimeWindow, decode_frame
from server.insights import selectors
from server.insights.models import DistancingViolation as ViolationRow
from server.insights.models import HeatmapHour, HeatmapSlice, PersonVisit, ZoneDwell, ZoneTransition
from server.insights.processor import SiteAnalyticsProcessor
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.inventory.models import Camera, FloorPlan, Site, Zone
from server.timeseries.embedded import EmbeddedBackend
from server.timeseries.types import Point
from server.timeseries.writer import BatchingWriter
from simulation import SimulationConfig, compute_truth, default_analytics_config, simulate
from tests.integration.insights.test_analytics_records import ListSink, RecordingPublisher, to_track_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WINDOW = TimeWindow(max_past_us=10**15, max_future_us=10**15)


class CountingSink:
    """The processor's point sink: notes which points it hands to the writer (the store keeps one point per
    measurement, tags and time)."""

    def __init__(self, writer: BatchingWriter) -> None:
        self.writer = writer
        self.keys: set[tuple[str, str, int]] = set()

    def write(self, points: Sequence[Point]) -> None:
        self.keys.update((p.measurement, repr(sorted(p.tags.items())), p.time_ns) for p in points)
        self.writer.write(points)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[BatchingWriter]:
    backend = EmbeddedBackend(tmp_path / "ts.sqlite3")
    # A long interval: without the barrier the points would sit in memory when the acks go out.
    writer = BatchingWriter(backend, flush_interval_s=30.0)
    yield writer
    writer.stop()
    backend.close()


def _processor(recorder: InsightsRecorder, points: Any) -> SiteAnalyticsProcessor:
    return SiteAnalyticsProcessor(
        publisher=RecordingPublisher(),  # type: ignore[arg-type]
        points=points,
        recorder=recorder,
        load_setup=site_setup,
        load_identities=lambda site_id: {},
        on_alert=lambda site_id, alert: None,
        positions_sample_hz=1000.0,
    )


def _edit_zone(zone_id: int, **fields: Any) -> None:
    """Edit a zone as the API and the admin do (a saved row: the site's configuration revision moves)."""
    zone = Zone.objects.get(pk=zone_id)
    for name, value in fields.items():
        setattr(zone, name, value)
    zone.save()


def _person_s(site_id: int) -> float:
    return sum(
        float(np.frombuffer(bytes(row.person_s), dtype="<f4").sum())
        for row in HeatmapHour.objects.filter(site_id=site_id)
    )


def test_barrier_makes_points_records_and_open_heat_bucket_durable_and_holds_unfused_frames(
    writer: BatchingWriter, tmp_path: Path
) -> None:
    result = simulate(SimulationConfig(seed=5, people=10, cameras=2, duration_s=160.0, late_fraction=0.0))
    truth = compute_truth(result, default_analytics_config(result))
    site = Site.objects.create(name="Barrier store")
    FloorPlan.objects.create(
        site=site, width_m=result.layout.width_m, height_m=result.layout.height_m, heatmap_cell_m=0.5
    )
    cameras = {
        c.camera_id: Camera.objects.create(site=site, name=f"c{c.camera_id}").pk
        for c in result.layout.cameras
    }
    recorder = InsightsRecorder()
    sink = CountingSink(writer)
    processor = _processor(recorder, sink)
    pipeline = IngestPipeline(processors=[processor])
    pipeline.add_sink(processor)
    pipeline.add_sink(writer, database=False)
    pipeline.add_sink(recorder)
    last_sequence: dict[int, int] = {}

    async def ingest() -> None:
        runtimes: dict[int, CameraRuntime] = {}
        for sim_id, db_id in cameras.items():
            camera = await pipeline.camera(db_id)
            assert camera is not None
            runtimes[sim_id] = camera
        for frame in result.frames:
            camera = runtimes[frame.camera_id]
            pipeline.accept(
                camera,
                decode_frame(
                    to_track_frame(frame, camera.camera_id), now_us=frame.capture_time_us, window=WINDOW
                ),
            )
            last_sequence[camera.camera_id] = frame.sequence
        await pipeline.flush()

    async_to_sync(ingest)()
    acked = {camera: seq for (camera, _), seq in pipeline.acked_sequences(set(cameras.values())).items()}
    # Time series: every point handed to the writer is in the store when the barrier returns.
    with sqlite3.connect(tmp_path / "ts.sqlite3") as db:
        (stored,) = db.execute("SELECT count(*) FROM ts_points").fetchone()
    assert len(sink.keys) > 1000
    assert stored == len(sink.keys)
    # The heat map holds the open bucket too: the store's last minute used to wait for the next person.
    assert _person_s(site.pk) == pytest.approx(truth.total_person_s, rel=0.03)
    # The newest camera's last frame waits in the fusion's reorder buffer for the other camera: not acked, and
    # not persisted as stored (after a crash the edge resends it).
    assert any(acked[c] < last_sequence[c] for c in acked), (acked, last_sequence)
    states = CameraStreamState.objects.filter(camera_id__in=cameras.values())
    assert dict(states.values_list("camera_id", "highest_contiguous_sequence")) == acked
    processor.flush()  # end of stream: the fusion applies what it held
    async_to_sync(pipeline.flush)()
    acked = {camera: seq for (camera, _), seq in pipeline.acked_sequences(set(cameras.values())).items()}
    assert acked == last_sequence
    # The open bucket was recorded in two parts (by each barrier): one slice row per bucket all the same, and the
    # slices hold what the hour rows hold.
    slices = list(HeatmapSlice.objects.filter(site=site))
    assert len({piece.start for piece in slices}) == len(slices) >= 3
    sliced = sum(float(np.frombuffer(bytes(piece.person_s), dtype="<f4").sum()) for piece in slices)
    assert sliced == pytest.approx(_person_s(site.pk), rel=1e-4)


def _frame(camera_id: int, sequence: int, t_us: int, people: dict[int, tuple[float, float]]) -> Any:
    frame = track_pb2.TrackFrame(camera_id=camera_id, sequence=sequence, capture_time_us=t_us)
    previous = 0
    for local_id, (x, y) in sorted(people.items()):
        frame.local_id_deltas.append(local_id - previous)
        previous = local_id
        frame.bbox_x_px.append(100)
        frame.bbox_y_px.append(200)
        frame.bbox_w_px.append(40)
        frame.bbox_h_px.append(120)
        frame.floor_x_cm.append(round(x * 100))
        frame.floor_y_cm.append(round(y * 100))
        frame.score_permille.append(900)
        frame.state.append(track_pb2.TRACK_STATE_CONFIRMED)
    return decode_frame(frame, now_us=t_us, window=WINDOW)


def test_zone_edit_and_deletion_record_everything_and_keep_the_deleted_zones_history() -> None:
    site = Site.objects.create(name="Zone edits")
    FloorPlan.objects.create(site=site, width_m=20, height_m=10)
    front = Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [6, 0], [6, 10], [0, 10]])
    back = Zone.objects.create(site=site, name="Back", polygon=[[10, 0], [20, 0], [20, 10], [10, 10]])
    camera = CameraRuntime(
        camera_id=Camera.objects.create(site=site, name="c").pk,
        site_id=site.pk,
        device_id=None,
        window=SequenceWindow(reorder_window=256),
    )
    recorder = InsightsRecorder()
    processor = _processor(recorder, ListSink())
    async_to_sync(processor.prepare)(camera)
    t0 = time.time_ns() // 1000 - 3_600_000_000
    sequence = 0

    def stand(seconds: float) -> None:
        nonlocal sequence
        for _ in range(round(seconds * 10)):
            sequence += 1
            processor.process(
                camera, _frame(camera.camera_id, sequence, t0 + sequence * 100_000, {1: (3.0, 5.0)})
            )

    stand(5.0)
    # An edit of another zone (and a rename of Front) ends nothing: the person inside Front keeps their one visit.
    _edit_zone(back.pk, polygon=[[12, 0], [20, 0], [20, 10], [12, 10]])
    _edit_zone(front.pk, name="Front door")
    async_to_sync(processor.refresh)()
    recorder.flush()
    assert not ZoneDwell.objects.filter(site=site).exists()
    stand(5.0)
    # Front shrinks away from where they stand: their visit ends at the edit (last seen inside), recorded whole.
    _edit_zone(front.pk, polygon=[[0, 0], [2, 0], [2, 10], [0, 10]])
    async_to_sync(processor.refresh)()
    stand(2.0)  # outside Front for the exit grace
    recorder.flush()
    first = list(ZoneDwell.objects.filter(site=site).values_list("zone_id", "zone_name", "dwell_s"))
    assert [d[:2] for d in first] == [(front.pk, "Front door")]
    assert first[0][2] == pytest.approx(9.9, abs=0.15), first  # 10 s of frames, not two visits of 5 s
    # Front grows back around them (a new visit), then is deleted while they are inside: that visit is recorded
    # under its name at the deletion, the first stays.
    _edit_zone(front.pk, polygon=[[0, 0], [6, 0], [6, 10], [0, 10]])
    async_to_sync(processor.refresh)()
    stand(5.0)
    Zone.objects.filter(pk=front.pk).delete()
    async_to_sync(processor.refresh)()
    stand(1.0)  # nothing more of Front after its deletion
    recorder.flush()
    assert recorder.stats().healthy
    assert recorder.stats().dropped_records == 0
    dwells = sorted(ZoneDwell.objects.filter(site=site).values_list("zone_id", "zone_name", "dwell_s"))
    assert [(d[0] is None, d[1]) for d in dwells] == [(True, "Front door"), (True, "Front door")], dwells
    assert all(d[2] > 4.0 for d in dwells)
    transitions = ZoneTransition.objects.filter(site=site).values_list("to_zone_id", "to_zone_name")
    # One entry into Front (named as it was then): re-entering the zone of one's previous entry is no transition.
    assert [(t[0] is None, t[1]) for t in transitions] == [(True, "Front")]
    interest = selectors.zone_interest(
        site_id=site.pk,
        start=ZoneDwell.objects.order_by("entered_at").first().entered_at,  # type: ignore[union-attr]
        end=ZoneDwell.objects.order_by("entered_at").last().exited_at,  # type: ignore[union-attr]
    )
    assert [(z["zone_id"], z["zone_name"], z["visits"]) for z in interest] == [(None, "Front door", 2)]


def _update(
    site_id: int, *, dwell: Sequence[DwellRecord] = (), violations: Sequence[DistancingViolation] = ()
) -> AnalyticsUpdate:
    return AnalyticsUpdate(
        site_id=site_id,
        time_us=0,
        global_ids=np.zeros(0, dtype=np.int64),
        zone_ids=np.zeros(0, dtype=np.int64),
        in_zone=np.zeros((0, 0), dtype=np.bool_),
        site_occupancy=0,
        zone_occupancy={},
        dwell=dwell,
        violations_ended=violations,
    )


def test_a_poison_record_is_dropped_once_and_the_others_are_written() -> None:
    site = Site.objects.create(name="Poison")
    zone = Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [6, 0], [6, 10], [0, 10]])
    grid = site_setup(site.pk).analytics.grid
    t_us = time.time_ns() // 1000
    recorder = InsightsRecorder()
    recorder.add(None, _update(site.pk, dwell=[DwellRecord(7, zone.pk, t_us - 5_000_000, t_us)]), grid)
    # A site deleted meanwhile: its record can never be written.
    recorder.add(
        None,
        _update(999_999, violations=[DistancingViolation(1, 2, t_us - 9_000_000, t_us, t_us, 0.8)]),
        grid,
    )
    recorder.add(
        None,
        _update(site.pk, violations=[DistancingViolation(3, 4, t_us - 9_000_000, t_us, t_us, 0.7)]),
        grid,
    )
    # A value the column cannot hold (a person id beyond bigint): found by writing the batch record by record.
    recorder.add(None, _update(site.pk, dwell=[DwellRecord(2**63, zone.pk, t_us - 5_000_000, t_us)]), grid)
    assert recorder.flush() == 2
    assert ZoneDwell.objects.filter(site=site).count() == 1
    assert ViolationRow.objects.filter(site=site).count() == 1
    stats = recorder.stats()
    assert (stats.dropped_records, stats.pending_records, stats.healthy) == (2, 0, True)
    assert recorder.flush() == 0  # not retried


def test_a_recorder_that_cannot_write_keeps_its_records_and_reports_it() -> None:
    site = Site.objects.create(name="Locked")
    zone = Zone.objects.create(site=site, name="Front", polygon=[[0, 0], [6, 0], [6, 10], [0, 10]])
    grid = site_setup(site.pk).analytics.grid
    t_us = time.time_ns() // 1000
    recorder = InsightsRecorder()
    recorder.add(None, _update(site.pk, dwell=[DwellRecord(7, zone.pk, t_us - 5_000_000, t_us)]), grid)
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    )
    health_checks.register_ingest(
        lambda: health_checks.IngestStatus(
            port=1, pipeline=None, open_streams=0, push_failures=0, recorder=recorder
        )
    )
    try:
        with other.transaction():
            other.execute(f"LOCK TABLE {ZoneDwell._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = '300ms'")
            with pytest.raises(OperationalError):
                recorder.flush()
            stats = recorder.stats()
            assert (stats.healthy, stats.pending_records, stats.failed_writes) == (False, 1, 1)
            health = check_analytics()
            assert health["ok"] is False
            assert "cannot write" in health["detail"]
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
        assert recorder.flush() == 1
        assert recorder.stats().healthy
        assert check_analytics()["ok"] is True
        assert ZoneDwell.objects.filter(site=site).count() == 1
    finally:
        health_checks.unregister()
        other.close()


class _SlowCheckpoint:
    def commit(self) -> None:
        time.sleep(0.05)  # a barrier's database work

    def abandon(self) -> None:
        pass


class _CountingSink:
    def __init__(self) -> None:
        self.taken = 0

    def checkpoint(self) -> _SlowCheckpoint:
        self.taken += 1
        return _SlowCheckpoint()


def test_ack_loops_arriving_during_a_barrier_share_the_next_one() -> None:
    """Every stream's ack loop calls flush each interval: with 8 streams that was 8 barriers (and 8 heat-map
    row writes per site) per interval."""
    sink = _CountingSink()
    pipeline = IngestPipeline()
    pipeline.add_sink(sink)

    async def streams() -> None:
        await pipeline.flush()
        await asyncio.gather(*(pipeline.flush() for _ in range(8)))

    async_to_sync(streams)()
    # The first flush; then one that was running when the other seven arrived, and one that serves them.
    assert sink.taken == 3


def test_a_camera_deleted_mid_stream_holds_back_neither_the_others_nor_the_records() -> None:
    site = Site.objects.create(name="Camera deleted")
    FloorPlan.objects.create(site=site, width_m=20, height_m=10)
    kept, deleted = (Camera.objects.create(site=site, name=name).pk for name in ("kept", "deleted"))
    recorder = InsightsRecorder()
    processor = _processor(recorder, ListSink())
    pipeline = IngestPipeline(processors=[processor])
    pipeline.add_sink(processor)
    pipeline.add_sink(recorder)
    t0 = time.time_ns() // 1000 - 3_600_000_000

    async def stream(sequences: range) -> None:
        for camera_id in (kept, deleted):
            camera = await pipeline.camera(camera_id)
            if camera is None:
                continue
            for sequence in sequences:
                people = {1: (3.0, 5.0)} if camera_id == kept else {2: (9.0, 5.0)}
                pipeline.accept(camera, _frame(camera_id, sequence, t0 + sequence * 100_000, people))
        await pipeline.flush()

    async_to_sync(stream)(range(1, 11))
    Camera.objects.filter(pk=deleted).delete()  # its stream state goes with it (CASCADE)
    async_to_sync(stream)(range(11, 21))  # the pipeline still holds the deleted camera's runtime: saved again
    acked = {camera: seq for (camera, _), seq in pipeline.acked_sequences({kept, deleted}).items()}
    assert acked[kept] >= 19
    assert deleted not in acked
    assert pipeline.stats.unsaved_cameras == {}
    assert CameraStreamState.objects.filter(camera_id=kept).get().highest_contiguous_sequence == acked[kept]
    assert recorder.stats().healthy
    assert PersonVisit.objects.filter(site=site).count() >= 1
