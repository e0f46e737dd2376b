"""The two directions of one device stream, as the servicer drives them (`server.ingest.servicer`).

`Outbox`: the replies waiting to be sent, bounded whatever the client reads; a `Close` goes before them all.
`Inbound`: when the client last sent something, so that a stream is ended only once the client paused writing
(grpc's asyncio client reports INTERNAL instead of the server's status when one of its writes fails because the
call has just ended, grpc/grpc#36066).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator

import grpc

from proto.retail.v1 import edge_service_pb2

QUIET_BEFORE_STATUS_S = 0.05
END_DRAIN_MAX_S = 1.0
MAX_QUEUED_REJECTIONS = 256


class Close:
    """How the server ends a stream: taken by the handler before anything queued."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details


Reply = edge_service_pb2.ServerMessage | Close | None


class Outbox:
    """The replies waiting for the handler to send them, bounded whatever the client reads: a close first, then
    configuration (only on a change) and rejections (at most MAX_QUEUED_REJECTIONS waiting: the reader waits for
    room, so a client that does not read is slowed down by flow control), then one ack carrying the highest
    sequence of every camera acked since the last one sent."""

    def __init__(self) -> None:
        self._messages: deque[edge_service_pb2.ServerMessage] = deque()
        self._rejections = 0
        self._acks: dict[tuple[int, int], int] = {}  # (camera, sequence epoch) -> highest contiguous sequence
        self._closing: Close | None = None
        self._finished = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()

    def put(self, message: edge_service_pb2.ServerMessage) -> None:
        self._messages.append(message)
        self._ready.set()

    async def put_rejection(self, rejection: edge_service_pb2.FrameRejected) -> None:
        """Queue a rejection once there is room for it (at once when the stream is closing: it is not sent)."""
        while self._rejections >= MAX_QUEUED_REJECTIONS and self._closing is None:
            self._room.clear()
            await self._room.wait()
        if self._closing is not None:
            return
        self._rejections += 1
        self.put(edge_service_pb2.ServerMessage(rejected=rejection))

    def put_acks(self, acks: dict[tuple[int, int], int]) -> None:
        for key, sequence in acks.items():
            self._acks[key] = max(sequence, self._acks.get(key, 0))
        self._ready.set()

    def close(self, abort: Close) -> None:
        self._closing = abort
        self._ready.set()
        self._room.set()

    def finish(self) -> None:
        """The stream ends normally once everything queued is sent."""
        self._finished = True
        self._ready.set()

    async def get(self) -> Reply:
        while True:
            if self._closing is not None:
                return self._closing
            if self._messages:
                message = self._messages.popleft()
                if message.HasField("rejected"):
                    self._rejections -= 1
                    self._room.set()
                return message
            if self._acks:
                acks, self._acks = self._acks, {}
                return edge_service_pb2.ServerMessage(
                    ack=edge_service_pb2.Ack(
                        cameras=[
                            edge_service_pb2.CameraAck(
                                camera_id=cid, sequence_epoch=epoch, highest_contiguous_sequence=seq
                            )
                            for (cid, epoch), seq in sorted(acks.items())
                        ]
                    )
                )
            if self._finished:
                return None
            self._ready.clear()
            await self._ready.wait()


class Inbound:
    """When the client last sent something, and whether it has stopped (half-closed or gone)."""

    def __init__(self) -> None:
        self.last_received = time.monotonic()
        self.ended = asyncio.Event()

    async def wait_until_quiet(self) -> None:
        """Return once the client half-closed or sent nothing for QUIET_BEFORE_STATUS_S, at most END_DRAIN_MAX_S."""
        deadline = time.monotonic() + END_DRAIN_MAX_S
        while not self.ended.is_set():
            now = time.monotonic()
            quiet_for = now - self.last_received
            if quiet_for >= QUIET_BEFORE_STATUS_S or now >= deadline:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.ended.wait(), min(QUIET_BEFORE_STATUS_S - quiet_for, deadline - now)
                )

    async def discard(self, request_iterator: AsyncIterator[bytes]) -> None:
        """Read and drop everything the client sends (while its stream is being refused or closed)."""
        with contextlib.suppress(Exception):  # the client went away (CancelledError still ends the task)
            async for _ in request_iterator:
                self.last_received = time.monotonic()
        self.ended.set()
