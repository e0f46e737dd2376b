"""The grpc.aio EdgeService: enrollment and the per-device bidirectional stream.

The stream's requests are registered as raw bytes and parsed here, so that a malformed message is answered with a
FrameRejected(INVALID_ARGUMENT) and the stream goes on, instead of grpc ending the call.

How a stream ends from the server's side (refused, revoked, idle, over the per-device limit):
- The status is sent only once the client has stopped writing (it half-closed, or paused 50 ms), at most
  END_DRAIN_MAX_S after the decision; meanwhile what it sends is read and dropped, nothing of it is stored
  (`server.ingest.stream_io` says why).
- A close never waits behind queued replies: it is taken before anything queued (`Outbox`), and it wakes a
  reader waiting for room in the queue.
- A client that does not read its replies blocks the handler in a send (HTTP/2 flow control), and grpc's asyncio
  server cannot cancel such a call: after END_DRAIN_MAX_S + CLOSE_GRACE_S the stream's state is released anyway
  (nothing more stored, its tasks ended, what the client still sends read and dropped); the status follows when
  the client reads or its connection closes (at the latest at the server's maximum connection age). Until grpc
  reports the call done it still counts against the device's stream limit, so a device cannot pile such calls up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist
from google.protobuf.message import DecodeError

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices import services as device_services
from server.devices.selectors import device_configuration
from server.devices.services import DeviceIdentity, EnrollmentRejected
from server.devices.signals import device_credentials_revoked
from server.ingest.converters import device_config_message, heartbeat_to_health
from server.ingest.pipeline import CameraRuntime, IngestPipeline
from server.ingest.sequencing import Admission
from server.ingest.stream_io import END_DRAIN_MAX_S, Close, Inbound, Outbox
from server.ingest.validation import InvalidFrameError, Rejection, TimeWindow, decode_frame
from server.observability import edge_health, metrics

logger = logging.getLogger(__name__)

SERVICE_NAME = "retail.v1.EdgeService"
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024
CLOSE_GRACE_S = 1.0
REVOKED = "device credentials were revoked"


@dataclass(frozen=True, slots=True)
class StreamSettings:
    max_frame_bytes: int = 256 * 1024
    window: TimeWindow = field(
        default_factory=lambda: TimeWindow(max_past_us=24 * 3600 * 10**6, max_future_us=300 * 10**6)
    )
    ack_interval_s: float = 0.2
    auth_recheck_s: float = 2.0
    # Open streams per device in this process; one more is refused with RESOURCE_EXHAUSTED (the open ones go on).
    max_streams_per_device: int = 2
    # A stream that sends nothing (heartbeats are due every 10 s) or reads nothing for this long is closed.
    idle_timeout_s: float = 60.0
    max_heartbeat_bytes: int = 64 * 1024
    # Heartbeats of one device recorded at most this often; the others are answered and not recorded.
    min_heartbeat_interval_s: float = 1.0


HealthCallback = Callable[[DeviceIdentity, dict[str, Any]], None]


class EdgeServicer:
    def __init__(
        self,
        *,
        pipeline: IngestPipeline,
        settings: StreamSettings,
        on_health: HealthCallback | None = None,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._pipeline = pipeline
        self._settings = settings
        self._on_health = on_health
        self._clock_us = clock_us
        self.open_streams = 0
        self._calls_per_device: dict[int, int] = {}  # calls grpc has not reported done, refused ones excluded
        self._streams_by_device: dict[int, set[_StreamState]] = {}
        self._heartbeat_recorded_at: dict[int, float] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        device_credentials_revoked.connect(self._on_credentials_revoked)  # weak: ends with the servicer

    def generic_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        handlers = {
            "Enroll": grpc.unary_unary_rpc_method_handler(
                self.Enroll,
                request_deserializer=edge_service_pb2.EnrollRequest.FromString,
                response_serializer=edge_service_pb2.EnrollResponse.SerializeToString,
            ),
            "Stream": grpc.stream_stream_rpc_method_handler(
                self.Stream,
                request_deserializer=None,  # raw bytes: parsed in _handle_raw
                response_serializer=edge_service_pb2.ServerMessage.SerializeToString,
            ),
        }
        return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)

    # ---- Enroll -----------------------------------------------------------------------------------------------
    async def Enroll(  # noqa: N802 - gRPC method name
        self, request: edge_service_pb2.EnrollRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> edge_service_pb2.EnrollResponse:
        try:
            credentials = await sync_to_async(device_services.device_enroll)(
                token=request.enrollment_token,
                hostname=request.hostname,
                software_version=request.software_version,
            )
        except EnrollmentRejected as err:
            logger.warning("enrollment rejected: %s", err)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(err))
        config = await sync_to_async(device_configuration)(device_id=credentials.device_id)
        logger.info("device %d enrolled (host %r)", credentials.device_id, request.hostname)
        return edge_service_pb2.EnrollResponse(
            device_id=credentials.device_id,
            device_secret=credentials.secret,
            config=device_config_message(config),
        )

    # ---- Stream -----------------------------------------------------------------------------------------------
    async def _authenticate(self, context: grpc.aio.ServicerContext[Any, Any]) -> DeviceIdentity | None:
        metadata = dict(context.invocation_metadata() or ())
        raw_id = str(metadata.get("x-device-id", ""))
        authorization = str(metadata.get("authorization", ""))
        # ASCII digits within a bigint: "²" passes isdigit() but not int(), a huge id overflows the query.
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18) or not authorization.startswith(
            "Bearer "
        ):
            return None
        return await sync_to_async(device_services.device_authenticate)(
            device_id=int(raw_id), secret=authorization.removeprefix("Bearer ").strip()
        )

    async def Stream(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[edge_service_pb2.ServerMessage]:
        self._loop = asyncio.get_running_loop()
        identity = await self._authenticate(context)
        if identity is None:
            metrics.record_auth_failure()
            await self._refuse(
                request_iterator,
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "unknown, wrong or revoked device credentials (x-device-id / authorization: Bearer …); "
                "re-enroll the box with a new token",
            )
            return
        device_id = identity.device_id
        calls = self._calls_per_device.get(device_id, 0)
        if calls >= self._settings.max_streams_per_device:
            logger.warning("device %d refused: %d streams open already", device_id, calls)
            await self._refuse(
                request_iterator,
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"device {device_id} has {calls} open streams, the limit is "
                f"{self._settings.max_streams_per_device}: close one (or wait until the server times out "
                f"one that no longer sends, after {self._settings.idle_timeout_s:g} s)",
            )
            return
        self._calls_per_device[device_id] = calls + 1
        context.add_done_callback(lambda _: self._call_done(device_id))  # type: ignore[arg-type]  # stub: a class
        self.open_streams += 1
        metrics.stream_opened()
        state = _StreamState(identity=identity, context=context)
        self._streams_by_device.setdefault(device_id, set()).add(state)
        try:
            # The box may have streamed to another ingest process since this one last saw its cameras.
            await self._pipeline.reload_cameras(identity.camera_ids)
            config = await sync_to_async(device_configuration)(device_id=device_id)
            state.config_revision = config.revision
            state.outbox.put(edge_service_pb2.ServerMessage(config=device_config_message(config)))
            logger.info("device %d connected (%d cameras)", device_id, len(identity.camera_ids))
            state.tasks = [
                asyncio.create_task(self._read(request_iterator, state)),
                asyncio.create_task(self._ack_loop(state)),
                asyncio.create_task(self._recheck_loop(context, state)),
                asyncio.create_task(self._idle_loop(state)),
            ]
            while True:
                item = await state.outbox.get()
                if item is None:
                    break
                if isinstance(item, Close):
                    await state.inbound.wait_until_quiet()
                    reader = await self._release(state, keep_reading=True)  # its writes complete meanwhile
                    try:
                        await context.abort(item.code, item.details)
                    finally:
                        await _stop(reader)
                    return
                state.sending_since = time.monotonic()
                yield item
                state.sending_since = None
                if state.released.is_set():  # abandoned while the client did not read (see _close)
                    return
        finally:
            await self._release(state)

    async def _refuse(
        self,
        request_iterator: AsyncIterator[bytes],
        context: grpc.aio.ServicerContext[Any, Any],
        code: grpc.StatusCode,
        details: str,
    ) -> None:
        """End a stream before it starts, once the client has stopped writing (see the module's docstring)."""
        inbound = Inbound()
        drain = asyncio.create_task(inbound.discard(request_iterator))
        try:
            await inbound.wait_until_quiet()
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        await context.abort(code, details)

    def open_calls(self, device_id: int) -> int:
        """Calls of `device_id` that count against its stream limit (grpc has not reported them done)."""
        return self._calls_per_device.get(device_id, 0)

    def _call_done(self, device_id: int) -> None:
        left = self._calls_per_device.get(device_id, 1) - 1
        if left > 0:
            self._calls_per_device[device_id] = left
        else:
            self._calls_per_device.pop(device_id, None)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _close(self, state: _StreamState, code: grpc.StatusCode, details: str) -> None:
        """End the stream with `code`: at once nothing more is stored; the status follows (module docstring)."""
        if state.closing is not None or state.released.is_set():
            return
        state.closing = Close(code, details)
        state.outbox.close(state.closing)
        self._spawn(self._abandon_if_stuck(state))

    async def _abandon_if_stuck(self, state: _StreamState) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.released.wait(), END_DRAIN_MAX_S + CLOSE_GRACE_S)
        if state.released.is_set() or state.closing is None:
            return
        # The handler is blocked in a send: the client does not read, and grpc cannot cancel the call.
        since = state.sending_since
        logger.warning(
            "device %d does not read its stream (a reply waits since %.1f s): releasing the stream; "
            "its status follows when it reads or its connection closes",
            state.identity.device_id,
            time.monotonic() - since if since is not None else 0.0,
        )
        reader = await self._release(state, keep_reading=True)  # read and dropped: lets its writes complete
        code, details = state.closing.code, state.closing.details
        try:
            with contextlib.suppress(Exception):
                await state.context.abort(code, details)
        finally:
            await _stop(reader)

    async def _release(self, state: _StreamState, *, keep_reading: bool = False) -> asyncio.Task[None] | None:
        """Free everything the stream holds, once: its tasks, its place among the device's streams. With
        `keep_reading`, the reader (dropping what it reads, as the stream is closing) is left running and returned."""
        if state.released.is_set():
            return None
        state.released.set()
        self.open_streams -= 1
        metrics.stream_closed()
        device_id = state.identity.device_id
        streams = self._streams_by_device.get(device_id)
        if streams is not None:
            streams.discard(state)
            if not streams:
                del self._streams_by_device[device_id]
        current = asyncio.current_task()
        reader = state.tasks[0] if keep_reading and state.tasks else None
        others = [task for task in state.tasks if task is not current and task is not reader]
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self._pipeline.flush()
        except Exception:  # the states stay dirty: a later flush (another stream's, the shutdown's) retries
            logger.exception(
                "final flush of device %d's stream failed; its last acks are withheld", device_id
            )
        if state.closing is not None and state.closing.code == grpc.StatusCode.UNAUTHENTICATED:
            edge_health.EDGE_HEALTH.forget(device_id)
        reason = f" ({state.closing.code.name}: {state.closing.details})" if state.closing else ""
        logger.info("device %d disconnected%s", device_id, reason)
        return reader

    def close_device_streams(self, device_id: int, code: grpc.StatusCode, details: str) -> int:
        """Close every open stream of `device_id` (call in the server's event loop); returns how many."""
        streams = list(self._streams_by_device.get(device_id, ()))
        for state in streams:
            self._close(state, code, details)
        return len(streams)

    def _on_credentials_revoked(self, sender: object, device_id: int, **_: object) -> None:
        """`device_credentials_revoked` receiver (any thread): close the device's streams now."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(
                self.close_device_streams, device_id, grpc.StatusCode.UNAUTHENTICATED, REVOKED
            )

    async def _read(self, request_iterator: AsyncIterator[bytes], state: _StreamState) -> None:
        try:
            async for raw in request_iterator:
                state.inbound.last_received = time.monotonic()
                if state.closing is not None:
                    continue  # closing: read and dropped, see the module's docstring
                rejection = await self._handle_raw(raw, state)
                if rejection is not None:
                    await state.outbox.put_rejection(rejection)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the client went away mid-message; nothing more to read
            logger.info("device %d stream ended: %s", state.identity.device_id, err)
        state.inbound.ended.set()
        if state.closing is not None:
            return
        # Final flush + ack so that a clean shutdown of the agent leaves nothing unacked.
        try:
            await self._pipeline.flush()
        except Exception as err:  # not durable yet: those frames stay unacked, the agent resends them
            logger.warning(
                "device %d: final flush failed, its last frames stay unacked: %s",
                state.identity.device_id,
                err,
            )
        self._send_acks(state)
        state.outbox.finish()

    async def _handle_raw(self, raw: bytes, state: _StreamState) -> edge_service_pb2.FrameRejected | None:
        message = edge_service_pb2.EdgeMessage()
        try:
            message.ParseFromString(raw)
        except DecodeError as err:
            return self._reject_frame(None, 0, 0, Rejection.MALFORMED, f"malformed EdgeMessage: {err}")
        kind = message.WhichOneof("payload")
        if kind == "frame":
            return await self._handle_frame(message.frame, len(raw), state)
        if kind == "heartbeat":
            return await self._handle_heartbeat(message.heartbeat, len(raw), state)
        if kind == "snapshot":
            return await self._handle_snapshot(message.snapshot, state)
        return self._reject_frame(None, 0, 0, Rejection.EMPTY, "EdgeMessage without payload")

    async def _handle_frame(
        self, frame: track_pb2.TrackFrame, size_bytes: int, state: _StreamState
    ) -> edge_service_pb2.FrameRejected | None:
        camera_id, sequence = frame.camera_id, frame.sequence
        if camera_id not in state.identity.camera_ids:
            camera = await self._pipeline.camera(camera_id)
            if camera is None:
                return self._reject_frame(
                    None, camera_id, sequence, Rejection.UNKNOWN_CAMERA, f"camera {camera_id} does not exist"
                )
            return self._reject_frame(
                None,
                camera_id,
                sequence,
                Rejection.FOREIGN_CAMERA,
                f"camera {camera_id} is not assigned to device {state.identity.device_id}",
            )
        camera = await self._pipeline.camera(camera_id)
        if camera is None:
            return self._reject_frame(
                None, camera_id, sequence, Rejection.UNKNOWN_CAMERA, f"camera {camera_id} was deleted"
            )
        state.epochs_sent.add((camera_id, frame.sequence_epoch))
        if size_bytes > self._settings.max_frame_bytes:
            return self._reject_frame(
                camera,
                camera_id,
                sequence,
                Rejection.OVERSIZED,
                f"TrackFrame of {size_bytes} bytes exceeds the limit of {self._settings.max_frame_bytes}",
                epoch=frame.sequence_epoch,
            )
        try:
            decoded = decode_frame(frame, now_us=self._clock_us(), window=self._settings.window)
            started = time.perf_counter()
            admission = self._pipeline.accept(camera, decoded)  # raises for a sequence the camera cannot take
        except InvalidFrameError as err:
            return self._reject_frame(
                camera, camera_id, sequence, err.rejection, err.message, epoch=frame.sequence_epoch
            )
        if admission is Admission.DUPLICATE:
            metrics.record_frame_duplicate()
        else:
            metrics.record_frame_accepted(
                tracks=decoded.track_count,
                latency_s=max(0.0, (self._clock_us() - decoded.capture_time_us) / 1e6),
                handle_s=time.perf_counter() - started,
            )
        return None

    def _reject_frame(
        self,
        camera: CameraRuntime | None,
        camera_id: int,
        sequence: int,
        rejection: Rejection,
        message: str,
        *,
        epoch: int = 0,
    ) -> edge_service_pb2.FrameRejected:
        """A frame (or message) that will never be stored: counted by the pipeline (its statistics, and the
        sequence window of `camera`, None when unknown, so that acks move past it), and the FrameRejected that
        tells the edge box why."""
        self._pipeline.reject(camera, sequence, rejection, epoch=epoch)
        return _rejection(camera_id, sequence, rejection, message)

    async def _handle_heartbeat(
        self, heartbeat: track_pb2.Heartbeat, size_bytes: int, state: _StreamState
    ) -> edge_service_pb2.FrameRejected | None:
        """Record a heartbeat, bounded by the device's inventory (see `heartbeat_to_health`) and by time."""
        device_id = state.identity.device_id
        if size_bytes > self._settings.max_heartbeat_bytes:
            return _rejection(
                0,
                0,
                Rejection.HEARTBEAT_OVERSIZED,
                f"Heartbeat of {size_bytes} bytes exceeds the limit of {self._settings.max_heartbeat_bytes}; "
                "nothing of it was recorded",
            )
        now = time.monotonic()
        last = self._heartbeat_recorded_at.get(device_id)
        if last is not None and now - last < self._settings.min_heartbeat_interval_s:
            return _rejection(
                0,
                0,
                Rejection.HEARTBEAT_TOO_FREQUENT,
                f"Heartbeat {now - last:.3f} s after the previous one was not recorded (at most one every "
                f"{self._settings.min_heartbeat_interval_s:g} s)",
            )
        self._heartbeat_recorded_at[device_id] = now
        report = heartbeat_to_health(heartbeat, camera_ids=state.identity.camera_ids)
        health = report.health
        sent_us, now_us = int(health["sent_time_us"]), self._clock_us()
        window = self._settings.window
        if not now_us - window.max_past_us <= sent_us <= now_us + window.max_future_us:
            health["sent_time_us"] = now_us  # the edge clock is far off: the time series uses the server's
        edge_health.record_health(device_id, health)
        await sync_to_async(device_services.device_record_seen)(device_id=device_id, health=health)
        if self._on_health is not None:
            self._on_health(state.identity, health)
        if not report.ignored_camera_ids and not report.repeated_entries:
            return None
        ignored = report.ignored_camera_ids
        listed = ", ".join(str(camera_id) for camera_id in ignored[:5]) + (" …" if len(ignored) > 5 else "")
        return _rejection(
            0,
            0,
            Rejection.HEARTBEAT_PARTIAL,
            f"Heartbeat recorded without {len(ignored)} cameras not assigned to device {device_id}"
            + (f" ({listed})" if ignored else "")
            + (f" and {report.repeated_entries} repeated entries" if report.repeated_entries else ""),
        )

    async def _handle_snapshot(
        self, snapshot: edge_service_pb2.CameraSnapshot, state: _StreamState
    ) -> edge_service_pb2.FrameRejected | None:
        if snapshot.camera_id not in state.identity.camera_ids:
            return _rejection(
                snapshot.camera_id,
                0,
                Rejection.SNAPSHOT_FOREIGN_CAMERA,
                "snapshot of a camera of another device",
            )
        if len(snapshot.jpeg) > MAX_SNAPSHOT_BYTES:
            return _rejection(
                snapshot.camera_id,
                0,
                Rejection.SNAPSHOT_OVERSIZED,
                f"snapshot of {len(snapshot.jpeg)} bytes exceeds the limit of {MAX_SNAPSHOT_BYTES}",
            )
        if not snapshot.jpeg.startswith(b"\xff\xd8"):
            return _rejection(snapshot.camera_id, 0, Rejection.SNAPSHOT_NOT_JPEG, "snapshot is not a JPEG")
        from server.inventory.services import camera_store_snapshot

        capture_time_us, now_us = snapshot.capture_time_us, self._clock_us()
        window = self._settings.window
        if not now_us - window.max_past_us <= capture_time_us <= now_us + window.max_future_us:
            capture_time_us = (
                0  # the edge clock is far off (or beyond year 9999): stored with the receive time
            )
        try:
            await sync_to_async(camera_store_snapshot)(
                camera_id=snapshot.camera_id, jpeg=snapshot.jpeg, capture_time_us=capture_time_us
            )
        except ObjectDoesNotExist:  # deleted since the stream's last re-check
            return _rejection(
                snapshot.camera_id,
                0,
                Rejection.SNAPSHOT_UNKNOWN_CAMERA,
                f"camera {snapshot.camera_id} was deleted",
            )
        return None

    async def _send_snapshot_requests(self, state: _StreamState) -> None:
        """Snapshot requests are rows in the database (POST /api/cameras/<id>/snapshot/ from any process):
        claim those of this device's cameras and send one command each down this stream."""
        from server.inventory.services import camera_claim_snapshot_requests

        claimed = await sync_to_async(camera_claim_snapshot_requests)(camera_ids=state.identity.camera_ids)
        for camera_id in claimed:
            command = edge_service_pb2.Command(
                kind=edge_service_pb2.COMMAND_KIND_CAPTURE_SNAPSHOT, camera_id=camera_id
            )
            state.outbox.put(edge_service_pb2.ServerMessage(command=command))

    async def _ack_loop(self, state: _StreamState) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._settings.ack_interval_s)
            try:
                await self._pipeline.flush()
            except Exception:
                if not failing:  # once per outage, not every interval
                    logger.exception("persisting ingest state failed; acks withheld until it succeeds")
                failing = True
                continue
            if failing:
                logger.info("device %d: ingest state persisted again, acks resumed", state.identity.device_id)
                failing = False
            self._send_acks(state)

    def _send_acks(self, state: _StreamState) -> None:
        acked = self._pipeline.acked_sequences(state.identity.camera_ids)
        # Bounded by what the cameras track, whatever epochs a box makes up (a camera not cached now keeps its own).
        cached = {camera_id for camera_id, _ in acked}
        state.epochs_sent = {key for key in state.epochs_sent if key in acked or key[0] not in cached}
        changed = {
            key: seq
            for key, seq in acked.items()
            if key in state.epochs_sent and state.last_acked.get(key) != seq and seq > 0
        }
        if changed:
            state.last_acked.update(changed)
            state.outbox.put_acks(changed)

    async def _recheck_loop(self, context: grpc.aio.ServicerContext[Any, Any], state: _StreamState) -> None:
        """Re-authenticate the device periodically: revocation closes the open stream; config changes are sent."""
        while True:
            await asyncio.sleep(self._settings.auth_recheck_s)
            try:
                identity = await self._authenticate(context)
                if identity is None:
                    logger.warning("device %d revoked: closing its stream", state.identity.device_id)
                    self._close(state, grpc.StatusCode.UNAUTHENTICATED, REVOKED)
                    return
                if identity.camera_ids != state.identity.camera_ids:
                    for camera_id in identity.camera_ids ^ state.identity.camera_ids:
                        self._pipeline.forget_camera(camera_id)
                state.identity = identity
                await self._send_snapshot_requests(state)
                if identity.config_revision != state.config_revision:
                    config = await sync_to_async(device_configuration)(device_id=identity.device_id)
                    state.config_revision = config.revision
                    state.outbox.put(edge_service_pb2.ServerMessage(config=device_config_message(config)))
            except Exception:  # e.g. the database is away: try again at the next re-check
                logger.exception("re-checking device %d failed", state.identity.device_id)

    async def _idle_loop(self, state: _StreamState) -> None:
        """Close a stream whose client sends nothing, or reads nothing, for idle_timeout_s."""
        limit = self._settings.idle_timeout_s
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            now = time.monotonic()
            silent_s = now - state.inbound.last_received
            since = state.sending_since
            if since is not None and now - since >= limit:  # first: a stalled reply also stops the reading
                self._close(
                    state,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"the device has not read the stream's replies for {now - since:.0f} s",
                )
                return
            if silent_s >= limit:
                self._close(
                    state,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"no message from the device for {silent_s:.0f} s (heartbeats are due every 10 s)",
                )
                return


@dataclass(slots=True, eq=False)
class _StreamState:
    identity: DeviceIdentity
    context: grpc.aio.ServicerContext[Any, Any]
    config_revision: int = 0
    # (camera, sequence epoch) -> the sequence last acked on this stream
    last_acked: dict[tuple[int, int], int] = field(default_factory=dict)
    # (camera, sequence epoch) of the frames this stream sent: the only acks it gets. An agent from before epochs
    # reads an ack's sequence whatever its epoch, so one of another box's epoch would drop frames of its own spool.
    epochs_sent: set[tuple[int, int]] = field(default_factory=set)
    outbox: Outbox = field(default_factory=Outbox)
    inbound: Inbound = field(default_factory=Inbound)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closing: Close | None = None
    sending_since: float | None = None  # monotonic time the reply being sent was handed to grpc
    released: asyncio.Event = field(default_factory=asyncio.Event)


async def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


# The gRPC status each rejection reason is reported with (the FrameRejected's status_code).
GRPC_STATUS: dict[Rejection, grpc.StatusCode] = {
    Rejection.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.EMPTY: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.OUT_OF_WINDOW: grpc.StatusCode.FAILED_PRECONDITION,
    Rejection.OVERSIZED: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.UNKNOWN_CAMERA: grpc.StatusCode.NOT_FOUND,
    Rejection.FOREIGN_CAMERA: grpc.StatusCode.PERMISSION_DENIED,
    Rejection.HEARTBEAT_OVERSIZED: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.HEARTBEAT_TOO_FREQUENT: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Rejection.HEARTBEAT_PARTIAL: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.SNAPSHOT_FOREIGN_CAMERA: grpc.StatusCode.PERMISSION_DENIED,
    Rejection.SNAPSHOT_OVERSIZED: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.SNAPSHOT_NOT_JPEG: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.SNAPSHOT_UNKNOWN_CAMERA: grpc.StatusCode.NOT_FOUND,
}


def _rejection(
    camera_id: int, sequence: int, rejection: Rejection, message: str
) -> edge_service_pb2.FrameRejected:
    code = GRPC_STATUS[rejection].value[0]
    return edge_service_pb2.FrameRejected(
        camera_id=camera_id, sequence=sequence, status_code=int(code), reason=message[:1000]
    )
