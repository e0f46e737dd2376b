"""The agent's parts built from its settings and wired together: detector, spool, pipeline and uplink, served
until the pipeline ends, a signal stops it or the uplink fails.

The heavy modules (ONNX Runtime, OpenCV, gRPC) are imported when a part is built, so that ``--help``,
``calibrate`` and the settings stay quick to load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.config import AgentSettings, CameraSettings
from edge_agent.errors import AuthenticationError, ConfigError

if TYPE_CHECKING:
    from edge_agent.detection import YoloxOnnxDetector
    from edge_agent.pipeline import Pipeline
    from edge_agent.transport.spool import Spool
    from edge_agent.transport.uplink import UplinkOptions

logger = logging.getLogger("edge_agent.cli")

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAUTHENTICATED = 3


def build_detector(settings: AgentSettings) -> YoloxOnnxDetector:
    from edge_agent.detection import YoloxOnnxDetector, YoloxOptions

    options = YoloxOptions(
        score_threshold=settings.detector.score_threshold,
        nms_iou_threshold=settings.detector.nms_iou_threshold,
        intra_op_threads=settings.detector.intra_op_threads,
        providers=tuple(settings.detector.providers) if settings.detector.providers else None,
        max_batch=settings.detector.max_batch,
        batch_buckets=settings.detector.batch_buckets,
    )
    return YoloxOnnxDetector(settings.detector.resolved_model_path(), options)


def check_file_sources(cameras: Sequence[CameraSettings]) -> None:
    """Fail early, with the file named, on a video file that is missing or unreadable."""
    from edge_agent.capture import check_source, is_file

    for camera in cameras:
        if camera.enabled and is_file(camera.source):
            check_source(camera.source)


def uplink_options(settings: AgentSettings, credentials_file: Path | None) -> UplinkOptions | None:
    """How to reach the server: the settings (flags, file) first, then the credentials file (``--credentials``,
    else the state directory's when no device id is given); None when no server is known."""
    from edge_agent.transport.credentials import load_credentials
    from edge_agent.transport.uplink import UplinkOptions

    uplink = settings.uplink
    server, device_id, secret = uplink.server, uplink.device_id, uplink.device_secret
    tls, root_cert = uplink.tls, uplink.root_cert
    explicit = credentials_file is not None
    credentials_file = credentials_file or (settings.credentials_path if device_id is None else None)
    if credentials_file is not None and (explicit or credentials_file.is_file()):
        credentials = load_credentials(credentials_file)
        device_id = device_id or credentials.device_id
        secret = secret or credentials.device_secret
        server = server or credentials.server
        tls = tls or credentials.tls
        root_cert = root_cert or (Path(credentials.root_cert) if credentials.root_cert else None)
    if server is None:
        return None
    if device_id is None or not secret:
        raise ConfigError(
            f"server {server} given but no device credentials: run `retail-edge enroll` or pass "
            "--device-id and --device-secret"
        )
    return UplinkOptions(
        server=server,
        device_id=device_id,
        device_secret=secret,
        tls=tls,
        root_cert=root_cert,
        heartbeat_interval_s=uplink.heartbeat_interval_s,
        reconnect_initial_s=uplink.reconnect_initial_s,
        reconnect_max_s=uplink.reconnect_max_s,
        max_in_flight_frames=uplink.max_in_flight_frames,
    )


async def serve(
    pipeline: Pipeline,
    spool: Spool,
    options: UplinkOptions | None,
    *,
    max_seconds: float | None,
    max_frames: int | None,
    drain_s: float,
) -> int:
    """Run the pipeline in a thread and the uplink in this loop until either ends; SIGINT/SIGTERM stop the
    pipeline, after which the uplink drains (a last heartbeat, then the acks of what is in flight) for at most
    ``drain_s``. Returns the exit code."""
    from edge_agent.transport.uplink import UplinkClient

    loop = asyncio.get_running_loop()
    pipeline.start()
    done = asyncio.Event()

    def run_pipeline() -> None:
        try:
            pipeline.run(max_seconds=max_seconds, max_frames=max_frames)
        finally:
            loop.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=run_pipeline, name="pipeline", daemon=True)
    thread.start()
    uplink = UplinkClient(options, spool, pipeline) if options is not None else None
    uplink_task = asyncio.create_task(uplink.run()) if uplink is not None else None
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, pipeline.stop)
    done_task = asyncio.create_task(done.wait())
    waiting: set[asyncio.Task[None] | asyncio.Task[bool]] = {done_task}
    if uplink_task is not None:
        waiting.add(uplink_task)
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    code = EXIT_OK
    if uplink_task is not None and uplink_task.done():
        pipeline.stop()
        await done.wait()
        error = uplink_task.exception()
        if isinstance(error, AuthenticationError):
            print(f"retail-edge: error: {error}", file=sys.stderr)
            code = EXIT_UNAUTHENTICATED
        elif error is not None:
            raise error
    elif uplink is not None and uplink_task is not None:
        uplink.request_heartbeat()  # a last health report: the server sees the box's final state
        uplink.stop()
        try:
            await asyncio.wait_for(uplink_task, timeout=drain_s)
        except TimeoutError:
            logger.warning(
                "uplink did not drain within %.0f s; %d frames stay spooled", drain_s, spool.depth_frames
            )
        except AuthenticationError as err:
            print(f"retail-edge: error: {err}", file=sys.stderr)
            code = EXIT_UNAUTHENTICATED
    done_task.cancel()
    thread.join(timeout=5)
    logger.info(
        "stopped after %d analysed frames; %d frames spooled, %d evicted",
        pipeline.frames_analysed,
        spool.depth_frames,
        spool.evicted_total,
    )
    return code
