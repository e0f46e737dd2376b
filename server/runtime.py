"""The in-process runtime of a server process: the time-series writer, the live publisher, the ingest pipeline with
the per-site fusion + analytics, and the gRPC servicer, built from Django settings and wired together. One instance
per process, created by `server.cli`; it registers its parts with those that report on them (the health checks,
the analytics API's time-series reader) and takes them back when it closes. Wiring only: the adapters it plugs in
live in their apps.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from server.health import checks as health_checks
from server.ingest.live import CameraTracksLive
from server.ingest.pipeline import IngestPipeline
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.ingest.validation import TimeWindow
from server.insights.processor import SiteAnalyticsProcessor
from server.insights.recorder import InsightsRecorder
from server.livestate import LiveState, live_state
from server.observability import metrics
from server.people.signals import identities_changed
from server.realtime.events import health_event
from server.realtime.groups import site_health_group
from server.realtime.publisher import LivePublisher
from server.retention import timeseries as retention_timeseries
from server.timeseries.held import HeldPoints
from server.timeseries.measurements import edge_health_points

if TYPE_CHECKING:
    from server.alerts.incidents import IncidentRecorder
    from server.bus.jetstream import JetStreamFrameSink
    from server.notifications.wiring import Notifications
    from server.retention.purge import RetentionJob
    from server.timeseries.writer import BatchingWriter

logger = logging.getLogger(__name__)
# The scheduled reports' check (server.reports.runner) is imported this long after the runtime started (at most its
# interval), in a thread: its report builder pulls in matplotlib, about 1.4 s of a process's start-up that a site
# worker's first pull waited for (a worker that joins while the streams run takes a share only once it pulls).
REPORTS_IMPORT_DELAY_S = 10.0


@dataclass
class Runtime:
    writer: BatchingWriter
    backend: Any
    publisher: LivePublisher
    pipeline: IngestPipeline
    servicer: EdgeServicer
    processor: SiteAnalyticsProcessor
    recorder: InsightsRecorder
    incidents: IncidentRecorder
    live: LiveState
    grpc_port: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    on_identities_changed: Callable[..., None] | None = None
    stop_listening: Callable[[], None] | None = None
    notifications: Notifications | None = None
    retention: RetentionJob | None = None
    # Scale-out gateway: accepted frames go to the bus (JetStream) instead of this process's fusion.
    bus: JetStreamFrameSink | None = None
    # Site worker: each site's time-series points until the barrier that fences the site writes them.
    held_points: HeldPoints | None = None
    # The analytics API reads the time series through this runtime's backend; a site worker serves no API (and
    # skips importing it: REST framework and the schema generator, about 0.4 s of its start-up).
    serves_api: bool = True

    def ingest_status(self) -> health_checks.IngestStatus | None:
        """The gRPC ingest for the health check; None until `server.cli` has it listening (`grpc_port`)."""
        if self.grpc_port == 0:
            return None
        return health_checks.IngestStatus(
            port=self.grpc_port,
            pipeline=self.pipeline,
            open_streams=self.servicer.open_streams,
            push_failures=self.publisher.stats.failures,
            recorder=self.recorder,
        )

    def start_background(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks.add(loop.create_task(self.processor.run_background()))
        self.tasks.add(loop.create_task(self.incidents.run()))
        self.tasks.add(loop.create_task(self._barrier_loop()))
        if float(settings.REPORTS_CHECK_INTERVAL_S) > 0:
            self.tasks.add(loop.create_task(_run_reports()))
        if self.notifications is not None:
            self.notifications.start()
        if self.retention is not None:
            self.retention.start()
        if self.bus is not None:
            self.tasks.add(loop.create_task(self.bus.run()))

    async def _barrier_loop(self, every_s: float = 1.0) -> None:
        """Run the ack barrier also while no stream is open, so that what the analytics emit without frames
        (what a zone edit ended) is written too; the streams' ack loops run it more often."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.pipeline.flush()
            except Exception as err:  # recorder and writer log and report it in health; retried next time
                logger.debug("ack barrier failed: %s", err)

    async def aclose(self) -> None:
        if self.on_identities_changed is not None:
            identities_changed.disconnect(self.on_identities_changed)
        if self.stop_listening is not None:
            await asyncio.to_thread(self.stop_listening)
        if self.notifications is not None:
            await asyncio.to_thread(self.notifications.stop)
        if self.retention is not None:
            await asyncio.to_thread(self.retention.stop)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            self.processor.flush()
            if self.bus is not None:  # the last frames' publishes are acknowledged by JetStream meanwhile
                bus_task = asyncio.get_running_loop().create_task(self.bus.run())
                try:
                    await self.pipeline.flush()
                finally:
                    bus_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await bus_task
            else:
                await self.pipeline.flush()
        except Exception:
            logger.exception("final flush of analytics records and stream state failed")
        if self.bus is not None:
            await self.bus.close()
        try:
            await self.incidents.drain()
        except Exception:
            logger.exception("final write of alert incidents failed")
        await asyncio.to_thread(self.live.flush)
        health_checks.unregister()
        if self.serves_api:
            from server.insights import apis as insights_apis

            insights_apis.use_timeseries(None)
        retention_timeseries.use(None)
        self.writer.stop()
        self.backend.close()


async def _run_reports() -> None:
    """Check for due reports every REPORTS_CHECK_INTERVAL_S (`server.reports.runner.run_periodically`), its module
    imported once the process has started (`REPORTS_IMPORT_DELAY_S`): the first check comes at most that much later."""
    await asyncio.sleep(min(REPORTS_IMPORT_DELAY_S, float(settings.REPORTS_CHECK_INTERVAL_S)))
    runner = await asyncio.to_thread(importlib.import_module, "server.reports.runner")
    await runner.run_periodically()


def build_runtime(*, role: str = "") -> Runtime:
    """Create the process runtime (call from within the running event loop).

    `role`: "embedded" (fusion + analytics of every frame this process takes: the one-process default), "gateway"
    (every accepted frame is published to the bus, `RETAIL_BUS_URL`; site workers fuse them) or "worker" (fuses what
    the bus delivers: `server.worker`); empty: "gateway" when the bus is configured, else "embedded"."""
    from server.alerts.incidents import IncidentRecorder
    from server.ingest.selectors import site_last_frame_us
    from server.insights.selectors import site_config_revision, site_identities, site_setup
    from server.inventory.services import camera_calibration_check_record
    from server.notifications.wiring import notifications_from_settings
    from server.retention.purge import RetentionJob
    from server.timeseries.factory import timeseries_from_settings

    backend, writer = timeseries_from_settings()
    publisher = LivePublisher(rate_hz=settings.LIVE_PUSH_HZ, timeout_s=settings.LIVE_PUSH_TIMEOUT_S)
    pipeline = IngestPipeline(reorder_window=settings.INGEST_REORDER_WINDOW)
    recorder = InsightsRecorder()
    incidents = IncidentRecorder(publisher)
    background: set[asyncio.Task[Any]] = set()

    def spawn(coroutine: Coroutine[Any, Any, None]) -> None:
        """Run `coroutine` on the loop without awaiting it; a reference is kept until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        background.add(task)
        task.add_done_callback(background.discard)

    live = live_state()
    role = role or ("gateway" if settings.RETAIL_BUS_URL else "embedded")
    # A site worker's points wait for the barrier that fences their site (server.worker.progress).
    held_points = HeldPoints(writer) if role == "worker" else None
    processor = SiteAnalyticsProcessor(
        publisher=publisher,
        points=held_points if held_points is not None else writer,
        recorder=recorder,
        load_setup=site_setup,
        load_revision=site_config_revision,
        load_identities=site_identities,
        on_alert=incidents,
        live_state=live,
        live_state_hz=settings.LIVE_PUSH_HZ,
        positions_sample_hz=settings.POSITIONS_SAMPLE_HZ,
        arrival_jitter_us=int(settings.FUSION_ARRIVAL_JITTER_MS * 1000),
        recover_site=lambda site_id: recorder.close_left_open(
            site_id, last_frame_us=site_last_frame_us(site_id)
        ),
        store_agreement=lambda site_id, pairs: camera_calibration_check_record(site_id=site_id, pairs=pairs),
    )
    bus = None
    if role == "gateway":
        from server.bus.jetstream import BusConfig, JetStreamFrameSink

        bus = JetStreamFrameSink(BusConfig.from_settings())
        pipeline.add_processor(bus)
        # First: JetStream has the frames before anything else of the barrier, and before the acks.
        pipeline.add_sink(bus, database=False)
        metrics.BUS_PUBLISH_PENDING.set_function(lambda: bus.pending if bus is not None else 0)
    elif settings.INGEST_SITE_ANALYTICS or role == "worker":
        pipeline.add_processor(processor)
        pipeline.add_sink(processor)  # hands the open heat-map bucket to the recorder at each barrier
    else:
        pipeline.add_processor(
            CameraTracksLive(publisher, points=writer, positions_sample_hz=settings.POSITIONS_SAMPLE_HZ)
        )
    # The ack barrier: time-series points, then analytics records, are durable before frames are acked.
    pipeline.add_sink(writer, database=False)
    pipeline.add_sink(recorder)
    metrics.register_queue_depth(metrics.Queue.TIMESERIES, lambda: writer.stats().buffered_points)
    metrics.register_queue_depth(metrics.Queue.LIVE_PUSH, lambda: publisher.pending_pushes)

    def on_health(identity: Any, health: dict[str, Any]) -> None:
        event = health_event(site_id=identity.site_id, device_id=identity.device_id, health=health)
        spawn(publisher.send_now(site_health_group(identity.site_id), event))
        writer.write(edge_health_points(identity.device_id, health))

    servicer = EdgeServicer(
        pipeline=pipeline,
        settings=StreamSettings(
            max_frame_bytes=settings.INGEST_MAX_MESSAGE_BYTES,
            window=TimeWindow(
                max_past_us=settings.INGEST_MAX_PAST_S * 10**6,
                max_future_us=settings.INGEST_MAX_FUTURE_S * 10**6,
            ),
            ack_interval_s=settings.INGEST_ACK_INTERVAL_MS / 1000.0,
            auth_recheck_s=settings.INGEST_AUTH_RECHECK_S,
            max_streams_per_device=settings.INGEST_MAX_STREAMS_PER_DEVICE,
            idle_timeout_s=settings.INGEST_STREAM_IDLE_S,
            max_heartbeat_bytes=settings.INGEST_MAX_HEARTBEAT_BYTES,
        ),
        on_health=on_health,
    )
    loop = asyncio.get_running_loop()

    def reload_identities(site_id: int | None) -> None:
        """Reload the identities of `site_id` (every site when None) now; from any thread."""
        # A fresh context: the caller's (a sync_to_async thread) would make the reload's own sync_to_async
        # believe it is nested in it and refuse to run. RuntimeError: the loop has closed (process stopping).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(
                lambda: spawn(processor.refresh_identities(site_id)), context=contextvars.Context()
            )

    def on_identities_changed(*, site_id: int | None, **_: Any) -> None:
        """A binding or a grant changed (API request thread or loop): reload that site's identities here, and
        tell the other processes (the site's fusion may run in another one: split layout)."""
        live.announce_identities_changed(site_id)
        reload_identities(site_id)

    identities_changed.connect(on_identities_changed, weak=False)
    # Changes made in other processes (a badge read by a web process) reach this one's fusion through the live
    # state (Redis pub/sub); the periodic refresh still covers announcements lost while Redis was away.
    stop_listening = live.listen_identities_changed(reload_identities)
    runtime = Runtime(
        on_identities_changed=on_identities_changed,
        writer=writer,
        backend=backend,
        publisher=publisher,
        pipeline=pipeline,
        servicer=servicer,
        processor=processor,
        recorder=recorder,
        incidents=incidents,
        live=live,
        stop_listening=stop_listening,
        notifications=notifications_from_settings(live),
        retention=RetentionJob(backend=backend, interval_s=settings.RETENTION_PURGE_INTERVAL_S),
        bus=bus,
        held_points=held_points,
        serves_api=role != "worker",
    )
    health_checks.register_timeseries(writer=writer, backend=backend)
    health_checks.register_ingest(runtime.ingest_status)
    if runtime.serves_api:
        from server.insights import apis as insights_apis

        insights_apis.use_timeseries(backend)
    retention_timeseries.use(backend)
    return runtime
