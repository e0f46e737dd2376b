"""The uplink: one grpc.aio bidirectional EdgeService.Stream per edge box.

Up: every spooled TrackFrame in production order (replayed from the start of the spool after each reconnect),
heartbeats and snapshots. Down: acks (frames leave the spool), rejections (frames leave the spool, counted),
DeviceConfig (applied without restart) and commands. Reconnects with exponential back-off and jitter;
UNAUTHENTICATED ends the uplink with ``AuthenticationError`` (retrying revoked credentials would only hammer
the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc

from edge_agent.backoff import Backoff
from edge_agent.errors import AuthenticationError, ConfigError, SpoolError
from edge_agent.transport.convert import device_config_from_proto, heartbeat_to_proto
from edge_agent.transport.encoder import frame_message_bytes, heartbeat_message_bytes, snapshot_message_bytes
from edge_agent.transport.spool import Spool
from edge_agent.types import AgentStatus, RemoteDeviceConfig
from proto.retail.v1 import edge_service_pb2

logger = logging.getLogger(__name__)

STREAM_METHOD = "/retail.v1.EdgeService/Stream"
_ACCEPT_WAIT_S = 5.0
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
]


class AgentControl(Protocol):
    """What the uplink needs from the rest of the agent."""

    def status(self) -> AgentStatus: ...

    def apply_device_config(self, config: RemoteDeviceConfig) -> None: ...

    def restart_pipeline(self) -> None: ...

    def snapshots(self, camera_id: int) -> list[tuple[int, int, bytes]]:
        """(camera_id, capture_time_us, jpeg) of the camera, or of every camera when ``camera_id`` is 0."""
        ...


@dataclass(frozen=True, slots=True)
class UplinkOptions:
    server: str
    device_id: int
    device_secret: str
    tls: bool = False
    root_cert: Path | None = None
    heartbeat_interval_s: float = 10.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_in_flight_frames: int = 2000
    read_batch: int = 256


@dataclass(slots=True)
class UplinkStats:
    connected: bool = False
    sessions: int = 0
    frames_sent: int = 0
    frames_acked: int = 0
    frames_rejected: int = 0
    heartbeats_sent: int = 0
    last_error: str = ""
    config_revision: int = -1
    rejections: list[tuple[int, int, int, str]] = field(default_factory=list)


def make_channel(server: str, tls: bool, root_cert: Path | None) -> grpc.aio.Channel:
    if not tls:
        return grpc.aio.insecure_channel(server, options=CHANNEL_OPTIONS)
    pem = None
    if root_cert is not None:
        try:
            pem = root_cert.read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read TLS root certificate {root_cert}: {err}") from err
    return grpc.aio.secure_channel(
        server, grpc.ssl_channel_credentials(root_certificates=pem), options=CHANNEL_OPTIONS
    )


def _identity(payload: bytes) -> bytes:
    return payload


class UplinkClient:
    def __init__(self, options: UplinkOptions, spool: Spool, control: AgentControl) -> None:
        self.options = options
        self.spool = spool
        self.control = control
        self.stats = UplinkStats()
        self._heartbeat_interval_s = options.heartbeat_interval_s
        self._backoff = Backoff(initial_s=options.reconnect_initial_s, max_s=options.reconnect_max_s)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        spool.add_listener(self._on_spool_append)

    # ---- public
    # -------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until ``stop``; raises ``AuthenticationError`` when the server refuses the credentials."""
        self._loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            established = False
            try:
                established = await self._session()
            except AuthenticationError:
                raise
            except SpoolError as err:
                self.stats.last_error = str(err)
                logger.error("uplink: spool failure, restarting the stream: %s", err)
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.UNAUTHENTICATED:
                    self.stats.last_error = f"UNAUTHENTICATED: {err.details()}"
                    raise AuthenticationError(
                        f"server {self.options.server} refused device {self.options.device_id}: "
                        f"{err.details()} (credentials unknown, revoked or expired: re-enroll the box)"
                    ) from err
                self.stats.last_error = f"{err.code().name}: {err.details()}"
                logger.warning("uplink to %s lost: %s", self.options.server, self.stats.last_error)
            finally:
                self.stats.connected = False
            if self._stopping.is_set():
                break
            if established:
                self._backoff.reset()
            delay_s = self._backoff.next_delay_s()
            logger.info(
                "uplink: reconnecting in %.1f s (%d frames spooled)", delay_s, self.spool.depth_frames
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    def stop(self) -> None:
        """Ask the uplink to finish: send what is spooled, half-close, collect the last acks, return."""
        self._stopping.set()
        self._wake.set()

    def request_heartbeat(self) -> None:
        self._queue_control(heartbeat_message_bytes(heartbeat_to_proto(self._status())))

    # ---- session
    # ------------------------------------------------------------------------------------------------

    def _on_spool_append(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    def _queue_control(self, payload: bytes) -> None:
        self._control_queue.put_nowait(payload)
        self._wake.set()

    def _status(self) -> AgentStatus:
        status = self.control.status()
        status.spool_depth_frames = self.spool.depth_frames
        status.spool_evicted_total = self.spool.evicted_total
        return status

    async def _session(self) -> bool:
        """One stream; returns whether it was established (a first message arrived) before it ended."""
        options = self.options
        channel = make_channel(options.server, options.tls, options.root_cert)
        established = False
        try:
            stream = channel.stream_stream(
                STREAM_METHOD,
                request_serializer=_identity,
                response_deserializer=edge_service_pb2.ServerMessage.FromString,
            )
            metadata = (
                ("x-device-id", str(options.device_id)),
                ("authorization", f"Bearer {options.device_secret}"),
            )
            call: Any = stream(metadata=metadata)  # type: ignore[call-arg]
            self.stats.sessions += 1
            accepted = asyncio.Event()
            sender = asyncio.create_task(self._send_loop(call, accepted))
            try:
                async for message in call:
                    if not established:
                        established = True
                        accepted.set()
                        self.stats.connected = True
                        self.stats.last_error = ""
                        logger.info("uplink connected to %s as device %d", options.server, options.device_id)
                    self._handle(message)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, Exception):
                    await sender
            if not self._stopping.is_set():
                self.stats.last_error = "server ended the stream"
                logger.warning("uplink: server ended the stream")
        finally:
            await channel.close(grace=None)
        return established

    async def _send_loop(self, call: Any, accepted: asyncio.Event) -> None:
        # Write nothing before the server has accepted the stream (it sends the DeviceConfig first): a write
        # that races with an UNAUTHENTICATED abort makes grpc report INTERNAL instead of the server's status.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(accepted.wait(), timeout=_ACCEPT_WAIT_S)
        try:
            await self._send_frames(call)
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError:
            raise  # the response side sees the same failure
        except Exception:
            logger.exception("uplink sender failed; restarting the stream")
            call.cancel()
            raise

    async def _send_frames(self, call: Any) -> None:
        cursor = 0
        in_flight = 0
        next_heartbeat = time.monotonic()
        options = self.options
        while True:
            self._wake.clear()
            while not self._control_queue.empty():
                await call.write(self._control_queue.get_nowait())
            now = time.monotonic()
            if now >= next_heartbeat:
                await call.write(heartbeat_message_bytes(heartbeat_to_proto(self._status())))
                self.stats.heartbeats_sent += 1
                next_heartbeat = now + self._heartbeat_interval_s
            in_flight = self._in_flight(cursor)
            room = options.max_in_flight_frames - in_flight
            sent_any = False
            if room > 0:
                for frame in self.spool.pending(cursor, min(room, options.read_batch)):
                    await call.write(frame_message_bytes(frame.payload))
                    cursor = frame.row_id
                    self.stats.frames_sent += 1
                    sent_any = True
            if sent_any:
                continue
            if self._stopping.is_set() and room > 0:  # everything spooled is on the wire
                await call.done_writing()
                return
            timeout_s = max(0.0, next_heartbeat - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout_s)

    def _in_flight(self, cursor: int) -> int:
        """Frames sent on this stream and not yet acked (still in the spool at or before the cursor)."""
        return self.spool.count_up_to(cursor) if cursor else 0

    # ---- messages from the server
    # -------------------------------------------------------------------------------

    def _handle(self, message: edge_service_pb2.ServerMessage) -> None:
        kind = message.WhichOneof("payload")
        if kind == "ack":
            removed = 0
            for camera in message.ack.cameras:
                # An ack of another epoch (the spool this box replaced) says nothing about this spool's frames;
                # one without an epoch comes from a server before epochs.
                if camera.HasField("sequence_epoch") and camera.sequence_epoch != self.spool.epoch:
                    continue
                removed += self.spool.ack(camera.camera_id, camera.highest_contiguous_sequence)
            self.stats.frames_acked += removed
            self._wake.set()
        elif kind == "rejected":
            rejected = message.rejected
            self.spool.remove(rejected.camera_id, rejected.sequence)
            self.stats.frames_rejected += 1
            if len(self.stats.rejections) < 100:
                self.stats.rejections.append(
                    (rejected.camera_id, rejected.sequence, rejected.status_code, rejected.reason)
                )
            logger.warning(
                "server rejected frame camera %d sequence %d (status %d): %s",
                rejected.camera_id,
                rejected.sequence,
                rejected.status_code,
                rejected.reason,
            )
            self._wake.set()
        elif kind == "config":
            self._apply_config(message.config)
        elif kind == "command":
            self._run_command(message.command)

    def _apply_config(self, message: edge_service_pb2.DeviceConfig) -> None:
        config = device_config_from_proto(message)
        if config.revision < self.stats.config_revision:
            logger.info(
                "ignoring device config revision %d (running %d)", config.revision, self.stats.config_revision
            )
            return
        self.stats.config_revision = config.revision
        if config.heartbeat_interval_s > 0:
            self._heartbeat_interval_s = config.heartbeat_interval_s
        logger.info("applying device config revision %d (%d cameras)", config.revision, len(config.cameras))
        self.control.apply_device_config(config)

    def _run_command(self, command: edge_service_pb2.Command) -> None:
        kind = command.kind
        if kind == edge_service_pb2.COMMAND_KIND_RESTART_PIPELINE:
            logger.info("command: restart pipeline")
            self.control.restart_pipeline()
        elif kind == edge_service_pb2.COMMAND_KIND_SEND_HEARTBEAT:
            self.request_heartbeat()
        elif kind == edge_service_pb2.COMMAND_KIND_CAPTURE_SNAPSHOT:
            logger.info("command: snapshot of camera %d (0 = all)", command.camera_id)
            task = asyncio.get_running_loop().create_task(self._send_snapshots(command.camera_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            logger.warning("ignoring unknown command kind %d", kind)

    async def _send_snapshots(self, camera_id: int) -> None:
        """JPEG-encode off the event loop (a large frame takes tens of ms), then queue the stills to send."""
        try:
            stills = await asyncio.to_thread(self.control.snapshots, camera_id)
        except Exception:
            logger.exception("taking the snapshot of camera %d failed", camera_id)
            return
        for still_camera_id, capture_time_us, jpeg in stills:
            self._queue_control(snapshot_message_bytes(still_camera_id, capture_time_us, jpeg))
