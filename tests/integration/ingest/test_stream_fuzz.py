"""Seeded fuzz of the ingest's bounds against the real grpc.aio server and PostgreSQL (a few seconds).

Device A, round after round, opens 1..6 concurrent streams that write at once: heartbeats listing 0..60,000
cameras (its own, another device's, unassigned, unknown, repeated), huge and odd strings, extreme counters and
clocks, and a few frames; some rounds revoke it mid-stream. Device B streams frames meanwhile. Asserted: A's stored
health record stays within a bound set by its two cameras, its health reports (one time-series point per camera
plus one) at most one per interval, every stream ends with the status its situation calls for (never INTERNAL),
the streams over the limit are refused, and B's frames are acked within a bound throughout."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field

import grpc
import pytest
from asgiref.sync import sync_to_async

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.models import EdgeDevice
from server.devices.services import device_revoke, device_set_credentials
from tests.integration.ingest.conftest import Device, Ingest, StartIngest
from tests.support.edge_client import track_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("INGEST_FUZZ_SEED", "20261201"))  # another seed: INGEST_FUZZ_SEED=…
ROUNDS = 7
LIMIT = 3
MIN_HEARTBEAT_INTERVAL_S = 0.2
ACK_LATENCY_BOUND_S = 3.0
HEALTH_CHARS_BOUND = 600 + 2 * 1000  # the device-wide fields, then per assigned camera (two)
CHARACTERS = "abcXYZ019 -_/\\\"'\n\t\x00\x7féß€😀\u202e"
COUNTERS = (0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1)


def _text(rng: random.Random) -> str:
    length = rng.choice((0, 3, 64, 65, 512, 513, 4000, 100_000))
    return "".join(rng.choice(CHARACTERS) for _ in range(min(length, 4000))) * max(1, length // 4000)


def _heartbeat(rng: random.Random, ingest: Ingest, device: Device) -> bytes:
    other = next(d for d in ingest.devices if d is not device)
    pool = [*device.camera_ids, *other.camera_ids, ingest.unassigned_camera_id, 0, 2**32 - 1, 777_777]
    count = rng.choice((0, 1, 2, 7, 300, 2500, 60_000))
    ids = [rng.choice(pool) for _ in range(count)] if count <= 2500 else list(range(1, count + 1))
    now_us = time.time_ns() // 1000
    message = track_pb2.Heartbeat(
        sent_time_us=rng.choice((now_us, 0, -(2**63), 2**63 - 1, now_us + 10**12)),
        uptime_s=rng.choice(COUNTERS),
        spool_depth_frames=rng.choice(COUNTERS),
        spool_evicted_total=rng.choice(COUNTERS),
        software_version=_text(rng) if rng.random() < 0.3 else "1.2.3",
    )
    for index, camera_id in enumerate(ids):
        message.cameras.append(
            track_pb2.CameraHealth(
                camera_id=camera_id,
                connected=rng.random() < 0.5,
                analysed_fps_mhz=rng.choice((0, 12_500, 2**32 - 1)),
                dropped_frames_total=rng.choice(COUNTERS),
                last_sequence=rng.choice(COUNTERS),
                last_error=_text(rng) if index < 3 else "",
            )
        )
    return edge_service_pb2.EdgeMessage(heartbeat=message).SerializeToString()


def _open(ingest: Ingest, channel: grpc.aio.Channel, device: Device) -> grpc.aio.StreamStreamCall:  # type: ignore[type-arg]
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda raw: raw,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )
    metadata = (("x-device-id", str(device.device_id)), ("authorization", f"Bearer {device.secret}"))
    return method(metadata=metadata)  # type: ignore[call-arg, no-any-return]


async def _status(call: grpc.aio.StreamStreamCall, timeout_s: float = 10.0) -> grpc.StatusCode:  # type: ignore[type-arg]
    async def read_all() -> grpc.StatusCode:
        try:
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                pass
        except grpc.aio.AioRpcError as err:
            return err.code()
        return grpc.StatusCode.OK

    return await asyncio.wait_for(read_all(), timeout_s)


async def _write_all(call: grpc.aio.StreamStreamCall, messages: list[bytes]) -> None:  # type: ignore[type-arg]
    for message in messages:
        try:
            await call.write(message)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # refused: the status tells why


async def _first_reply(call: grpc.aio.StreamStreamCall) -> grpc.StatusCode | None:  # type: ignore[type-arg]
    """None when the stream was accepted (its first reply is the configuration), else the refusal's status."""
    try:
        reply = await asyncio.wait_for(call.read(), 10)
    except grpc.aio.AioRpcError as err:
        return err.code()
    assert isinstance(reply, edge_service_pb2.ServerMessage)
    assert reply.HasField("config")
    return None


@dataclass
class Victim:
    """Device B: one frame every 20 ms; how long each waited for its ack."""

    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: dict[int, float] = field(default_factory=dict)
    sequence: int = 0

    async def run(self, call: grpc.aio.StreamStreamCall, camera_id: int, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
        async def read() -> None:
            while (reply := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
                if isinstance(reply, edge_service_pb2.ServerMessage) and reply.HasField("ack"):
                    now = time.monotonic()
                    top = max(a.highest_contiguous_sequence for a in reply.ack.cameras)
                    for sequence, sent in self.sent_at.items():
                        if sequence <= top and sequence not in self.latencies:
                            self.latencies[sequence] = now - sent

        reader = asyncio.create_task(read())
        while not stop.is_set():
            self.sequence += 1
            self.sent_at[self.sequence] = time.monotonic()
            await call.write(track_frame(camera_id, self.sequence, people=2))
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + ACK_LATENCY_BOUND_S
        while len(self.latencies) < self.sequence and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await call.done_writing()
        await asyncio.wait_for(reader, 5)


async def test_heartbeat_sizes_and_stream_counts(start_ingest: StartIngest) -> None:
    rng = random.Random(SEED)
    ingest = await start_ingest(
        max_streams_per_device=LIMIT, min_heartbeat_interval_s=MIN_HEARTBEAT_INTERVAL_S, idle_timeout_s=30.0
    )
    device, other = ingest.devices
    started = time.monotonic()
    victim, stop = Victim(), asyncio.Event()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ingest.port}") as channel:
        victim_task = asyncio.create_task(
            victim.run(_open(ingest, channel, other), other.camera_ids[0], stop)
        )
        revoked_rounds = 0
        for round_index in range(ROUNDS):
            revoke = round_index % 3 == 2
            count = rng.randint(1, 6)
            calls = [_open(ingest, channel, device) for _ in range(count)]
            messages = [
                [
                    _heartbeat(rng, ingest, device)
                    if rng.random() < 0.7
                    else track_frame(rng.choice(device.camera_ids), rng.randint(1, 10**6), people=1)
                    for _ in range(rng.randint(0, 6))
                ]
                for _ in calls
            ]
            await asyncio.gather(
                *(_write_all(call, batch) for call, batch in zip(calls, messages, strict=True))
            )
            firsts = await asyncio.gather(*(_first_reply(call) for call in calls))
            accepted = [call for call, first in zip(calls, firsts, strict=True) if first is None]
            refused = [first for first in firsts if first is not None]
            assert len(accepted) == min(count, LIMIT), (round_index, firsts)
            assert refused == [grpc.StatusCode.RESOURCE_EXHAUSTED] * (count - len(accepted)), round_index
            if revoke:
                revoked_rounds += 1
                revoked_at = time.monotonic()
                await sync_to_async(device_revoke)(
                    device=await sync_to_async(EdgeDevice.objects.get)(pk=device.device_id)
                )
                codes = await asyncio.gather(*(_status(call) for call in accepted))
                assert codes == [grpc.StatusCode.UNAUTHENTICATED] * len(accepted), round_index
                assert time.monotonic() - revoked_at < 3.0
                late = _open(ingest, channel, device)
                await _write_all(late, [_heartbeat(rng, ingest, device)])
                assert await _status(late) == grpc.StatusCode.UNAUTHENTICATED
                await sync_to_async(
                    lambda: device_set_credentials(
                        device=EdgeDevice.objects.get(pk=device.device_id), secret=device.secret
                    )
                )()
            else:
                for call in accepted:
                    await call.done_writing()
                codes = await asyncio.gather(*(_status(call) for call in accepted))
                assert codes == [grpc.StatusCode.OK] * len(accepted), round_index
            deadline = time.monotonic() + 5
            while ingest.servicer.open_calls(device.device_id) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert ingest.servicer.open_calls(device.device_id) == 0, round_index
            health = await sync_to_async(lambda: EdgeDevice.objects.get(pk=device.device_id).health)()
            assert len(json.dumps(health, ensure_ascii=False)) <= HEALTH_CHARS_BOUND, round_index
            listed = [c["camera_id"] for c in health.get("cameras", [])]
            assert len(listed) == len(set(listed)), round_index
            assert set(listed) <= set(device.camera_ids), round_index
        stop.set()
        await victim_task
    elapsed = time.monotonic() - started
    reports = [record for device_id, record in ingest.health if device_id == device.device_id]
    assert revoked_rounds >= 2
    assert reports
    assert len(reports) <= elapsed / MIN_HEARTBEAT_INTERVAL_S + 1
    assert all(len(record["cameras"]) <= len(device.camera_ids) for record in reports)
    assert len(victim.latencies) == victim.sequence > 10
    assert max(victim.latencies.values()) < ACK_LATENCY_BOUND_S
