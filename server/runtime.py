"""The in-process runtime of a server process: the time-series writer, the live publisher, the ingest pipeline and
the gRPC servicer, built from Django settings. One instance per process (`current()`), created by `server.cli`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from server.ingest.live import CameraTracksLive
from server.ingest.pipeline import IngestPipeline
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.ingest.validation import TimeWindow
from server.realtime.events import health_event
from server.realtime.groups import site_health_group
from server.realtime.publisher import LivePublisher

if TYPE_CHECKING:
    from server.timeseries.writer import BatchingWriter

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    writer: "BatchingWriter"
    backend: Any
    publisher: LivePublisher
    pipeline: IngestPipeline
    servicer: EdgeServicer
    grpc_port: int = 0

    def close(self) -> None:
        self.writer.stop()
        self.backend.close()


_current: Runtime | None = None


def current() -> Runtime | None:
    return _current


def build_runtime() -> Runtime:
    """Create the process runtime (call from within the running event loop)."""
    global _current
    from server.timeseries.factory import timeseries_from_settings

    backend, writer = timeseries_from_settings()
    publisher = LivePublisher(rate_hz=settings.LIVE_PUSH_HZ)
    pipeline = IngestPipeline(
        points=writer,
        reorder_window=settings.INGEST_REORDER_WINDOW,
        positions_sample_hz=settings.POSITIONS_SAMPLE_HZ,
    )
    pipeline.add_processor(CameraTracksLive(publisher))

    def on_health(identity: Any, health: dict[str, Any]) -> None:
        import asyncio

        event = health_event(site_id=identity.site_id, device_id=identity.device_id, health=health)
        asyncio.get_running_loop().create_task(publisher.send_now(site_health_group(identity.site_id), event))

    servicer = EdgeServicer(
        pipeline=pipeline,
        settings=StreamSettings(
            max_frame_bytes=settings.INGEST_MAX_MESSAGE_BYTES,
            window=TimeWindow(
                max_past_us=settings.INGEST_MAX_PAST_S * 10**6, max_future_us=settings.INGEST_MAX_FUTURE_S * 10**6
            ),
            ack_interval_s=settings.INGEST_ACK_INTERVAL_MS / 1000.0,
            auth_recheck_s=settings.INGEST_AUTH_RECHECK_S,
        ),
        on_health=on_health,
    )
    _current = Runtime(writer=writer, backend=backend, publisher=publisher, pipeline=pipeline, servicer=servicer)
    return _current
