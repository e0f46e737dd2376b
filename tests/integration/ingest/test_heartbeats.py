"""Heartbeats against the real grpc.aio server and PostgreSQL: what a device reports is bounded by its inventory
(cameras of other devices, unknown or repeated ids are dropped), strings are cut, an oversized heartbeat is refused
with a reason and nothing of it is recorded, and heartbeats are recorded at most once per interval."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Literal

import grpc
import pytest
from asgiref.sync import sync_to_async

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.models import EdgeDevice
from server.observability.edge_health import EDGE_HEALTH
from tests.integration.ingest.conftest import Device, Ingest, StartIngest
from tests.support.edge_client import track_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ReplyKind = Literal["ack", "rejected", "config", "command"]


def heartbeat(camera_ids: list[int], *, last_error: str = "", version: str = "1.0.0") -> bytes:
    message = track_pb2.Heartbeat(
        sent_time_us=time.time_ns() // 1000,
        uptime_s=12,
        spool_depth_frames=3,
        software_version=version,
        cameras=[
            track_pb2.CameraHealth(
                camera_id=camera_id,
                connected=True,
                analysed_fps_mhz=12_500,
                dropped_frames_total=2**64 - 1,
                last_error=last_error,
            )
            for camera_id in camera_ids
        ],
    )
    return edge_service_pb2.EdgeMessage(heartbeat=message).SerializeToString()


class Stream:
    def __init__(self, ingest: Ingest, device: Device) -> None:
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{ingest.port}")
        method = self.channel.stream_stream(
            "/retail.v1.EdgeService/Stream",
            request_serializer=lambda raw: raw,
            response_deserializer=edge_service_pb2.ServerMessage.FromString,
        )
        metadata = (("x-device-id", str(device.device_id)), ("authorization", f"Bearer {device.secret}"))
        self.call = method(metadata=metadata)  # type: ignore[call-arg]

    async def send(self, *messages: bytes) -> None:
        for message in messages:
            await self.call.write(message)

    async def next_reply(self, kind: ReplyKind, timeout_s: float = 5.0) -> edge_service_pb2.ServerMessage:
        async def read() -> edge_service_pb2.ServerMessage:
            while True:
                reply = await self.call.read()
                assert isinstance(reply, edge_service_pb2.ServerMessage), "stream ended"
                if reply.HasField(kind):
                    return reply

        return await asyncio.wait_for(read(), timeout_s)

    async def close(self) -> None:
        await self.call.done_writing()
        await self.channel.close(grace=None)


async def _health(device_id: int) -> dict[str, object]:
    health: dict[str, object] = await sync_to_async(lambda: EdgeDevice.objects.get(pk=device_id).health)()
    return health


async def test_heartbeat_is_bounded_by_the_devices_inventory(start_ingest: StartIngest) -> None:
    ingest = await start_ingest()
    device, other = ingest.devices
    own = device.camera_ids
    listed = [*own, own[0], *other.camera_ids, ingest.unassigned_camera_id, 999_999, own[1], 123_456]
    stream = Stream(ingest, device)
    await stream.send(heartbeat(listed, last_error="x" * 5000 + "\x00", version="v" * 300))
    reply = await stream.next_reply("rejected")
    assert reply.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "without 5 cameras not assigned" in reply.rejected.reason
    assert "2 repeated entries" in reply.rejected.reason
    health = await _health(device.device_id)
    cameras = health["cameras"]
    assert isinstance(cameras, list)
    assert [c["camera_id"] for c in cameras] == sorted(own)
    assert all(len(c["last_error"]) == 512 and "\x00" not in c["last_error"] for c in cameras)
    assert all(c["dropped_frames_total"] == 2**63 - 1 for c in cameras)
    assert health["software_version"] == "v" * 64
    assert len(json.dumps(health)) < 2500
    assert [record["cameras"] for _, record in ingest.health] == [cameras]  # what the time series gets
    samples = {s.labels.get("camera") for m in EDGE_HEALTH.collect() for s in m.samples}
    assert {str(c) for c in own} <= samples
    assert not {str(c) for c in (*other.camera_ids, 999_999)} & samples
    await stream.close()


async def test_oversized_heartbeat_is_refused_and_nothing_of_it_is_recorded(
    start_ingest: StartIngest,
) -> None:
    ingest = await start_ingest()
    device = ingest.devices[0]
    stream = Stream(ingest, device)
    await stream.send(heartbeat(list(range(1, 60_001)), last_error="e" * 20))  # 1.8 MB
    reply = await stream.next_reply("rejected")
    assert reply.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "exceeds the limit of 65536" in reply.rejected.reason
    assert await _health(device.device_id) == {}
    assert ingest.health == []
    await stream.send(track_frame(device.camera_ids[0], 1))  # the stream goes on
    ack = await stream.next_reply("ack")
    assert ack.ack.cameras[0].highest_contiguous_sequence == 1
    await stream.close()


async def test_heartbeats_are_recorded_at_most_once_per_interval(start_ingest: StartIngest) -> None:
    ingest = await start_ingest(min_heartbeat_interval_s=5.0)
    device, other = ingest.devices
    stream = Stream(ingest, device)
    await stream.send(*(heartbeat(device.camera_ids) for _ in range(20)))
    for _ in range(19):
        reply = await stream.next_reply("rejected")
        assert reply.rejected.status_code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        assert "was not recorded" in reply.rejected.reason
    assert len(ingest.health) == 1
    other_stream = Stream(ingest, other)  # the interval is per device
    await other_stream.send(heartbeat(other.camera_ids))
    await other_stream.send(track_frame(other.camera_ids[0], 1))
    await other_stream.next_reply("ack")
    assert [device_id for device_id, _ in ingest.health] == [device.device_id, other.device_id]
    await stream.close()
    await other_stream.close()


async def test_the_version_a_heartbeat_names_becomes_the_devices_version(start_ingest: StartIngest) -> None:
    # The inventory showed the version given at enrollment for ever (through upgrades of the agent), and nothing
    # for a box provisioned without the enrollment call, as the demo's is.
    ingest = await start_ingest()
    device = ingest.devices[0]
    await sync_to_async(EdgeDevice.objects.filter(pk=device.device_id).update)(software_version="0.1.0")
    stream = Stream(ingest, device)
    await stream.send(heartbeat(list(device.camera_ids), version="0.2.0"))
    deadline = time.monotonic() + 5
    version = ""
    while time.monotonic() < deadline and version != "0.2.0":
        await asyncio.sleep(0.05)
        version = await sync_to_async(lambda: EdgeDevice.objects.get(pk=device.device_id).software_version)()
    assert version == "0.2.0"
    await stream.close()
