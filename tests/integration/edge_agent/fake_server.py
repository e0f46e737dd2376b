"""A real grpc.aio EdgeService for the agent's integration tests (127.0.0.1, port 0).

It stores frames keyed by (camera, sequence) like the production ingest, acks the highest contiguous sequence
per camera, counts duplicates, records heartbeats and snapshots, sends a DeviceConfig on stream start, can
push configs and commands, and can revoke a device (UNAUTHENTICATED, as the server does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from proto.retail.v1 import edge_service_pb2, edge_service_pb2_grpc, track_pb2


@dataclass
class Store:
    """What the server "persisted"; survives a server restart (a new FakeEdgeServer with the same Store)."""

    frames: dict[tuple[int, int], track_pb2.TrackFrame] = field(default_factory=dict)
    received_order: list[tuple[int, int]] = field(default_factory=list)
    duplicates: int = 0
    heartbeats: list[track_pb2.Heartbeat] = field(default_factory=list)
    snapshots: list[edge_service_pb2.CameraSnapshot] = field(default_factory=list)
    stream_attempts: int = 0
    unauthenticated_attempts: int = 0
    tokens: dict[str, tuple[int, str]] = field(default_factory=dict)
    credentials: dict[int, str] = field(default_factory=dict)
    revoked: set[int] = field(default_factory=set)
    reject_cameras: set[int] = field(default_factory=set)
    config: edge_service_pb2.DeviceConfig = field(
        default_factory=lambda: edge_service_pb2.DeviceConfig(revision=1, heartbeat_interval_s=1)
    )

    reorder_window: int = 1000
    floors: dict[int, int] = field(default_factory=dict)

    def highest_contiguous(self, camera_id: int) -> int:
        """Like the production server: a gap older than ``reorder_window`` (evicted frames) is skipped."""
        sequence = self.floors.get(camera_id, 0)
        newest = max((s for c, s in self.frames if c == camera_id), default=0)
        if newest - sequence > self.reorder_window:
            sequence = newest - self.reorder_window
        while (camera_id, sequence + 1) in self.frames:
            sequence += 1
        self.floors[camera_id] = sequence
        return sequence


class FakeEdgeServicer(edge_service_pb2_grpc.EdgeServiceServicer):
    def __init__(self, store: Store, ack_interval_s: float = 0.05) -> None:
        self.store = store
        self.ack_interval_s = ack_interval_s
        self.outboxes: list[asyncio.Queue[edge_service_pb2.ServerMessage]] = []
        self._acked: dict[int, int] = {}
        self._rejected: dict[int, set[int]] = {}

    async def Enroll(self, request: Any, context: Any) -> edge_service_pb2.EnrollResponse:
        entry = self.store.tokens.pop(request.enrollment_token, None)
        if entry is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "enrollment token unknown, used or expired")
        assert entry is not None
        device_id, secret = entry
        self.store.credentials[device_id] = secret
        return edge_service_pb2.EnrollResponse(
            device_id=device_id, device_secret=secret, config=self.store.config
        )

    def _authorised(self, context: Any) -> int | None:
        metadata = dict(context.invocation_metadata() or ())
        raw_id = str(metadata.get("x-device-id", ""))
        token = str(metadata.get("authorization", "")).removeprefix("Bearer ")
        if not raw_id.isdigit():
            return None
        device_id = int(raw_id)
        if device_id in self.store.revoked or self.store.credentials.get(device_id) != token:
            return None
        return device_id

    async def Stream(
        self, request_iterator: AsyncIterator[edge_service_pb2.EdgeMessage], context: Any
    ) -> AsyncIterator[edge_service_pb2.ServerMessage]:
        self.store.stream_attempts += 1
        device_id = self._authorised(context)
        if device_id is None:
            self.store.unauthenticated_attempts += 1
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked device credentials")
            return
        outbox: asyncio.Queue[edge_service_pb2.ServerMessage] = asyncio.Queue()
        self.outboxes.append(outbox)
        await outbox.put(edge_service_pb2.ServerMessage(config=self.store.config))
        reader = asyncio.create_task(self._read(request_iterator, outbox))
        acker = asyncio.create_task(self._ack_loop(outbox))
        try:
            while True:
                if device_id in self.store.revoked:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "device revoked")
                try:
                    message = await asyncio.wait_for(outbox.get(), timeout=0.05)
                except TimeoutError:
                    if reader.done():
                        self._send_acks_now(outbox)
                        while not outbox.empty():
                            yield outbox.get_nowait()
                        return
                    continue
                yield message
        finally:
            reader.cancel()
            acker.cancel()
            self.outboxes.remove(outbox)

    async def _read(
        self, request_iterator: AsyncIterator[edge_service_pb2.EdgeMessage], outbox: asyncio.Queue[Any]
    ) -> None:
        with contextlib.suppress(Exception):
            async for message in request_iterator:
                kind = message.WhichOneof("payload")
                if kind == "frame":
                    frame = message.frame
                    key = (frame.camera_id, frame.sequence)
                    self.store.received_order.append(key)
                    if frame.camera_id in self.store.reject_cameras:
                        self._rejected.setdefault(frame.camera_id, set()).add(frame.sequence)
                        await outbox.put(
                            edge_service_pb2.ServerMessage(
                                rejected=edge_service_pb2.FrameRejected(
                                    camera_id=frame.camera_id,
                                    sequence=frame.sequence,
                                    status_code=grpc.StatusCode.NOT_FOUND.value[0],
                                    reason=f"camera {frame.camera_id} does not exist",
                                )
                            )
                        )
                    elif key in self.store.frames:
                        self.store.duplicates += 1
                    else:
                        copy = track_pb2.TrackFrame()
                        copy.CopyFrom(frame)
                        self.store.frames[key] = copy
                elif kind == "heartbeat":
                    self.store.heartbeats.append(message.heartbeat)
                elif kind == "snapshot":
                    self.store.snapshots.append(message.snapshot)

    def _send_acks_now(self, outbox: asyncio.Queue[Any]) -> None:
        cameras = sorted({camera for camera, _ in self.store.frames})
        acks = []
        for camera in cameras:
            highest = self.store.highest_contiguous(camera)
            if highest and highest != self._acked.get(camera):
                acks.append(edge_service_pb2.CameraAck(camera_id=camera, highest_contiguous_sequence=highest))
                self._acked[camera] = highest
        if acks:
            outbox.put_nowait(edge_service_pb2.ServerMessage(ack=edge_service_pb2.Ack(cameras=acks)))

    async def _ack_loop(self, outbox: asyncio.Queue[Any]) -> None:
        while True:
            await asyncio.sleep(self.ack_interval_s)
            self._send_acks_now(outbox)

    async def push(self, message: edge_service_pb2.ServerMessage) -> None:
        for outbox in self.outboxes:
            await outbox.put(message)


class FakeEdgeServer:
    def __init__(self, store: Store | None = None, port: int = 0) -> None:
        self.store = store or Store()
        self.servicer = FakeEdgeServicer(self.store)
        self.server = grpc.aio.server()
        edge_service_pb2_grpc.add_EdgeServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind 127.0.0.1:{port}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FakeEdgeServer:
        await self.server.start()
        return self

    async def kill(self) -> None:
        """Stop at once, cancelling open streams (like a crash, as seen from the client)."""
        await self.server.stop(None)
