"""A minimal edge-protocol client for system tests: streams synthetic TrackFrames (or raw bytes) over the real
gRPC stream and records acks and rejections. Not the edge agent: it has no spool; it exists to drive the server
precisely (known frame counts, malformed messages)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import grpc

from proto.retail.v1 import edge_service_pb2, track_pb2


def track_frame(camera_id: int, sequence: int, *, people: int = 5, t_us: int | None = None) -> bytes:
    frame = track_pb2.TrackFrame(
        camera_id=camera_id,
        sequence=sequence,
        capture_time_us=t_us if t_us is not None else time.time_ns() // 1000,
    )
    frame.local_id_deltas.extend([1] * people)
    frame.bbox_x_px.extend([100 + 60 * i for i in range(people)])
    frame.bbox_y_px.extend([200] * people)
    frame.bbox_w_px.extend([40] * people)
    frame.bbox_h_px.extend([120] * people)
    frame.floor_x_cm.extend([300 + 300 * i for i in range(people)])
    frame.floor_y_cm.extend([500 + sequence % 100] * people)
    frame.score_permille.extend([900] * people)
    frame.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * people)
    return edge_service_pb2.EdgeMessage(frame=frame).SerializeToString()


@dataclass
class StreamResult:
    acked: dict[int, int] = field(default_factory=dict)
    rejected: list[edge_service_pb2.FrameRejected] = field(default_factory=list)
    error: grpc.StatusCode | None = None


async def stream(
    port: int,
    device_id: int,
    secret: str,
    messages: Iterable[bytes],
    *,
    pace_s: float | Callable[[], float] = 0.0,
    linger_s: float = 1.0,
    until: Callable[[StreamResult], bool] | None = None,
) -> StreamResult:
    """Send `messages` in order (pausing `pace_s` between them: seconds, or a function giving them before each
    pause), wait `linger_s` for the last acks, close.

    With `until`, the wait ends as soon as `until(result)` holds: give a generous `linger_s` (a loaded machine
    may take seconds to answer) without making every run that long."""
    result = StreamResult()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda raw: raw,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )

    async def requests() -> AsyncIterator[bytes]:
        for index, message in enumerate(messages):
            yield message
            pause_s = pace_s() if callable(pace_s) else pace_s
            if pause_s:
                await asyncio.sleep(pause_s)
            elif index % 200 == 0:
                await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + linger_s
        while asyncio.get_running_loop().time() < deadline and not (until is not None and until(result)):
            await asyncio.sleep(0.02)

    call = method(
        requests(), metadata=(("x-device-id", str(device_id)), ("authorization", f"Bearer {secret}"))
    )
    try:
        async for reply in call:
            if reply.HasField("ack"):
                for ack in reply.ack.cameras:
                    result.acked[ack.camera_id] = ack.highest_contiguous_sequence
            elif reply.HasField("rejected"):
                result.rejected.append(reply.rejected)
    except grpc.aio.AioRpcError as err:
        result.error = err.code()
    finally:
        with contextlib.suppress(Exception):
            await channel.close(grace=None)
    return result
