"""The grpc.aio EdgeService: enrollment and the per-device bidirectional stream.

The stream's requests are registered as raw bytes and parsed here, so that a malformed message is answered with a
FrameRejected(INVALID_ARGUMENT) and the stream goes on, instead of grpc ending the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from asgiref.sync import sync_to_async
from google.protobuf.message import DecodeError

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices import services as device_services
from server.devices.selectors import device_configuration
from server.devices.services import DeviceIdentity, EnrollmentRejected
from server.ingest.converters import device_config_message, heartbeat_to_health
from server.ingest.pipeline import IngestPipeline
from server.ingest.sequencing import Admission
from server.ingest.validation import InvalidFrameError, TimeWindow, decode_frame
from server.observability import edge_health, metrics

logger = logging.getLogger(__name__)

SERVICE_NAME = "retail.v1.EdgeService"
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StreamSettings:
    max_frame_bytes: int = 256 * 1024
    window: TimeWindow = field(
        default_factory=lambda: TimeWindow(max_past_us=24 * 3600 * 10**6, max_future_us=300 * 10**6)
    )
    ack_interval_s: float = 0.2
    auth_recheck_s: float = 2.0


class _Abort:
    """Queued by a background task to end the call from the handler's own coroutine."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details


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
        if not raw_id.isdigit() or not authorization.startswith("Bearer "):
            return None
        return await sync_to_async(device_services.device_authenticate)(
            device_id=int(raw_id), secret=authorization.removeprefix("Bearer ").strip()
        )

    async def Stream(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[edge_service_pb2.ServerMessage]:
        identity = await self._authenticate(context)
        if identity is None:
            metrics.record_auth_failure()
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "unknown, wrong or revoked device credentials (x-device-id / authorization: Bearer …); "
                "re-enroll the box with a new token",
            )
            return
        self.open_streams += 1
        metrics.stream_opened()
        outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None] = asyncio.Queue(maxsize=1024)
        state = _StreamState(identity=identity)
        config = await sync_to_async(device_configuration)(device_id=identity.device_id)
        state.config_revision = config.revision
        await outbox.put(edge_service_pb2.ServerMessage(config=device_config_message(config)))
        logger.info("device %d connected (%d cameras)", identity.device_id, len(identity.camera_ids))
        reader = asyncio.create_task(self._read(request_iterator, state, outbox))
        acker = asyncio.create_task(self._ack_loop(state, outbox))
        checker = asyncio.create_task(self._recheck_loop(context, state, outbox))
        try:
            while True:
                item = await outbox.get()
                if item is None:
                    break
                if isinstance(item, _Abort):
                    await context.abort(item.code, item.details)
                    return
                yield item
        finally:
            self.open_streams -= 1
            metrics.stream_closed()
            for task in (reader, acker, checker):
                task.cancel()
            for task in (reader, acker, checker):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self._pipeline.flush()
            logger.info("device %d disconnected", identity.device_id)

    async def _read(
        self,
        request_iterator: AsyncIterator[bytes],
        state: _StreamState,
        outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None],
    ) -> None:
        try:
            async for raw in request_iterator:
                rejection = await self._handle_raw(raw, state)
                if rejection is not None:
                    await outbox.put(edge_service_pb2.ServerMessage(rejected=rejection))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the client went away mid-message; nothing more to read
            logger.info("device %d stream ended: %s", state.identity.device_id, err)
        # Final flush + ack so that a clean shutdown of the agent leaves nothing unacked.
        try:
            await self._pipeline.flush()
        except Exception as err:  # not durable yet: those frames stay unacked, the agent resends them
            logger.warning(
                "device %d: final flush failed, its last frames stay unacked: %s",
                state.identity.device_id,
                err,
            )
        await self._send_acks(state, outbox)
        await outbox.put(None)

    async def _handle_raw(self, raw: bytes, state: _StreamState) -> edge_service_pb2.FrameRejected | None:
        message = edge_service_pb2.EdgeMessage()
        try:
            message.ParseFromString(raw)
        except DecodeError as err:
            self._pipeline.reject(None, 0, "malformed")
            return _rejection(0, 0, grpc.StatusCode.INVALID_ARGUMENT, f"malformed EdgeMessage: {err}")
        kind = message.WhichOneof("payload")
        if kind == "frame":
            return await self._handle_frame(message.frame, len(raw), state)
        if kind == "heartbeat":
            await self._handle_heartbeat(message.heartbeat, state)
            return None
        if kind == "snapshot":
            return await self._handle_snapshot(message.snapshot, state)
        self._pipeline.reject(None, 0, "empty")
        return _rejection(0, 0, grpc.StatusCode.INVALID_ARGUMENT, "EdgeMessage without payload")

    async def _handle_frame(
        self, frame: track_pb2.TrackFrame, size_bytes: int, state: _StreamState
    ) -> edge_service_pb2.FrameRejected | None:
        camera_id, sequence = frame.camera_id, frame.sequence
        if camera_id not in state.identity.camera_ids:
            camera = await self._pipeline.camera(camera_id)
            if camera is None:
                self._pipeline.reject(None, sequence, "unknown_camera")
                return _rejection(
                    camera_id, sequence, grpc.StatusCode.NOT_FOUND, f"camera {camera_id} does not exist"
                )
            self._pipeline.reject(None, sequence, "foreign_camera")
            return _rejection(
                camera_id,
                sequence,
                grpc.StatusCode.PERMISSION_DENIED,
                f"camera {camera_id} is not assigned to device {state.identity.device_id}",
            )
        camera = await self._pipeline.camera(camera_id)
        if camera is None:
            self._pipeline.reject(None, sequence, "unknown_camera")
            return _rejection(
                camera_id, sequence, grpc.StatusCode.NOT_FOUND, f"camera {camera_id} was deleted"
            )
        if size_bytes > self._settings.max_frame_bytes:
            self._pipeline.reject(camera, sequence, "oversized", epoch=frame.sequence_epoch)
            return _rejection(
                camera_id,
                sequence,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"TrackFrame of {size_bytes} bytes exceeds the limit of {self._settings.max_frame_bytes}",
            )
        try:
            decoded = decode_frame(frame, now_us=self._clock_us(), window=self._settings.window)
            started = time.perf_counter()
            admission = self._pipeline.accept(camera, decoded)  # raises for a sequence the camera cannot take
        except InvalidFrameError as err:
            self._pipeline.reject(camera, sequence, err.status.name.lower(), epoch=frame.sequence_epoch)
            return _rejection(camera_id, sequence, err.status, err.reason)
        if admission is Admission.DUPLICATE:
            metrics.record_frame_duplicate()
        else:
            metrics.record_frame_accepted(
                tracks=decoded.track_count,
                latency_s=max(0.0, (self._clock_us() - decoded.capture_time_us) / 1e6),
                handle_s=time.perf_counter() - started,
            )
        return None

    async def _handle_heartbeat(self, heartbeat: track_pb2.Heartbeat, state: _StreamState) -> None:
        edge_health.record_heartbeat_message(state.identity.device_id, heartbeat)
        health = heartbeat_to_health(heartbeat)
        await sync_to_async(device_services.device_record_seen)(
            device_id=state.identity.device_id, health=health
        )
        if self._on_health is not None:
            self._on_health(state.identity, health)

    async def _handle_snapshot(
        self, snapshot: edge_service_pb2.CameraSnapshot, state: _StreamState
    ) -> edge_service_pb2.FrameRejected | None:
        if snapshot.camera_id not in state.identity.camera_ids:
            return _rejection(
                snapshot.camera_id,
                0,
                grpc.StatusCode.PERMISSION_DENIED,
                "snapshot of a camera of another device",
            )
        if len(snapshot.jpeg) > MAX_SNAPSHOT_BYTES:
            return _rejection(
                snapshot.camera_id,
                0,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"snapshot of {len(snapshot.jpeg)} bytes exceeds the limit of {MAX_SNAPSHOT_BYTES}",
            )
        if not snapshot.jpeg.startswith(b"\xff\xd8"):
            return _rejection(
                snapshot.camera_id, 0, grpc.StatusCode.INVALID_ARGUMENT, "snapshot is not a JPEG"
            )
        from server.inventory.services import camera_store_snapshot

        await sync_to_async(camera_store_snapshot)(
            camera_id=snapshot.camera_id, jpeg=snapshot.jpeg, capture_time_us=snapshot.capture_time_us
        )
        return None

    async def _send_snapshot_requests(
        self, state: _StreamState, outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None]
    ) -> None:
        """Snapshot requests are rows in the database (POST /api/cameras/<id>/snapshot/ from any process):
        claim those of this device's cameras and send one command each down this stream."""
        from server.inventory.services import camera_claim_snapshot_requests

        claimed = await sync_to_async(camera_claim_snapshot_requests)(camera_ids=state.identity.camera_ids)
        for camera_id in claimed:
            command = edge_service_pb2.Command(
                kind=edge_service_pb2.COMMAND_KIND_CAPTURE_SNAPSHOT, camera_id=camera_id
            )
            await outbox.put(edge_service_pb2.ServerMessage(command=command))

    async def _ack_loop(
        self, state: _StreamState, outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None]
    ) -> None:
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
            await self._send_acks(state, outbox)

    async def _send_acks(
        self, state: _StreamState, outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None]
    ) -> None:
        acked = self._pipeline.acked_sequences(state.identity.camera_ids)
        changed = {key: seq for key, seq in acked.items() if state.last_acked.get(key) != seq and seq > 0}
        if not changed:
            return
        state.last_acked.update(changed)
        ack = edge_service_pb2.Ack(
            cameras=[
                edge_service_pb2.CameraAck(
                    camera_id=cid, sequence_epoch=epoch, highest_contiguous_sequence=seq
                )
                for (cid, epoch), seq in sorted(changed.items())
            ]
        )
        await outbox.put(edge_service_pb2.ServerMessage(ack=ack))

    async def _recheck_loop(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        state: _StreamState,
        outbox: asyncio.Queue[edge_service_pb2.ServerMessage | _Abort | None],
    ) -> None:
        """Re-authenticate the device periodically: revocation closes the open stream; config changes are sent."""
        while True:
            await asyncio.sleep(self._settings.auth_recheck_s)
            identity = await self._authenticate(context)
            if identity is None:
                logger.warning("device %d revoked: closing its stream", state.identity.device_id)
                await outbox.put(_Abort(grpc.StatusCode.UNAUTHENTICATED, "device credentials were revoked"))
                return
            if identity.camera_ids != state.identity.camera_ids:
                for camera_id in identity.camera_ids ^ state.identity.camera_ids:
                    self._pipeline.forget_camera(camera_id)
            state.identity = identity
            await self._send_snapshot_requests(state, outbox)
            if identity.config_revision != state.config_revision:
                config = await sync_to_async(device_configuration)(device_id=identity.device_id)
                state.config_revision = config.revision
                await outbox.put(edge_service_pb2.ServerMessage(config=device_config_message(config)))


@dataclass(slots=True)
class _StreamState:
    identity: DeviceIdentity
    config_revision: int = 0
    # (camera, sequence epoch) -> the sequence last acked on this stream
    last_acked: dict[tuple[int, int], int] = field(default_factory=dict)


def _rejection(
    camera_id: int, sequence: int, status: grpc.StatusCode, reason: str
) -> edge_service_pb2.FrameRejected:
    code = status.value[0]
    return edge_service_pb2.FrameRejected(
        camera_id=camera_id, sequence=sequence, status_code=int(code), reason=reason[:1000]
    )
