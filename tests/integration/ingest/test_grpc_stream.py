"""The gRPC ingest against a real grpc.aio server on loopback and the real database (PostgreSQL in the test command).

Covers SPEC §7 for the ingest: bad credentials, foreign/unknown cameras, malformed values and bytes (stream goes on),
replays stored once, acks only for stored frames, revocation on an open stream, one-time enrollment tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from proto.retail.v1 import edge_service_pb2, edge_service_pb2_grpc, track_pb2
from server.devices.services import (
    device_create,
    device_issue_enrollment_token,
    device_revoke,
    device_set_credentials,
)
from server.ingest.live import CameraTracksLive
from server.ingest.models import CameraStreamState
from server.ingest.pipeline import IngestPipeline
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera, Site
from server.realtime.publisher import LivePublisher
from server.timeseries.types import Point

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BASE_TIME_US = time.time_ns() // 1000
SECRET = "s3cret-device-secret-for-tests-0123456789"


class NullLayer:
    async def group_send(self, group: str, event: object) -> None:
        pass


class ListSink:
    def __init__(self) -> None:
        self.points: list[Point] = []

    def write(self, points):
        self.points.extend(points)


@dataclass
class Env:
    site: Site
    device_id: int
    camera_ids: list[int]
    foreign_camera_id: int
    port: int
    pipeline: IngestPipeline
    sink: ListSink


def _make_inventory():
    site = Site.objects.create(name="Test store")
    device = device_create(site=site, name="box-1")
    device_set_credentials(device=device, secret=SECRET)
    other = device_create(site=site, name="box-2")
    cameras = [Camera.objects.create(site=site, device=device, name=f"cam{i}") for i in range(2)]
    foreign = Camera.objects.create(site=site, device=other, name="foreign")
    return site, device.pk, [c.pk for c in cameras], foreign.pk


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    site, device_id, camera_ids, foreign_id = await sync_to_async(_make_inventory)()
    sink = ListSink()
    pipeline = IngestPipeline(reorder_window=64)
    # The per-camera live processor (as in ingest-only processes) writes positions to the sink.
    pipeline.add_processor(
        CameraTracksLive(LivePublisher(rate_hz=5, layer=NullLayer()), points=sink, positions_sample_hz=1000)
    )
    servicer = EdgeServicer(
        pipeline=pipeline, settings=StreamSettings(ack_interval_s=0.05, auth_recheck_s=0.2)
    )
    server, port = await create_grpc_server(servicer=servicer, bind="127.0.0.1:0")
    try:
        yield Env(site, device_id, camera_ids, foreign_id, port, pipeline, sink)
    finally:
        await server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()


def frame(
    camera_id: int, sequence: int, people: int = 3, floor_x_cm: int = 150
) -> edge_service_pb2.EdgeMessage:
    message = track_pb2.TrackFrame(
        camera_id=camera_id, sequence=sequence, capture_time_us=BASE_TIME_US + sequence * 100_000
    )
    message.local_id_deltas.extend([1] * people)
    message.bbox_x_px.extend([10] * people)
    message.bbox_y_px.extend([10] * people)
    message.bbox_w_px.extend([30] * people)
    message.bbox_h_px.extend([90] * people)
    message.floor_x_cm.extend([floor_x_cm] * people)
    message.floor_y_cm.extend([200] * people)
    message.score_permille.extend([800] * people)
    message.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * people)
    return edge_service_pb2.EdgeMessage(frame=message)


def metadata(device_id: int, secret: str = SECRET) -> tuple[tuple[str, str], ...]:
    return (("x-device-id", str(device_id)), ("authorization", f"Bearer {secret}"))


class Conversation:
    """A client stream that sends queued messages (protobuf or raw bytes) and collects the server's replies."""

    def __init__(self, port: int, device_id: int, secret: str = SECRET) -> None:
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        method = self.channel.stream_stream(
            "/retail.v1.EdgeService/Stream",
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=edge_service_pb2.ServerMessage.FromString,
        )
        self.outbox: asyncio.Queue[object] = asyncio.Queue()
        self.call = method(self._requests(), metadata=metadata(device_id, secret))
        self.replies: list[edge_service_pb2.ServerMessage] = []

    async def _requests(self):
        while True:
            item = await self.outbox.get()
            if item is None:
                return
            yield item

    async def send(self, *messages: object) -> None:
        for message in messages:
            await self.outbox.put(message)

    async def wait_for(self, predicate, timeout_s: float = 5.0) -> edge_service_pb2.ServerMessage:
        deadline = asyncio.get_running_loop().time() + timeout_s
        for reply in self.replies:
            if predicate(reply):
                return reply
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no matching reply within {timeout_s} s; got {self.replies}")
            reply = await asyncio.wait_for(self.call.read(), remaining)  # type: ignore[arg-type]
            assert reply is not grpc.aio.EOF, "stream ended"  # type: ignore[attr-defined]
            self.replies.append(reply)
            if predicate(reply):
                return reply

    async def close(self) -> None:
        await self.outbox.put(None)
        await self.channel.close(grace=None)


def acked(camera_id: int, sequence: int):
    def predicate(reply: edge_service_pb2.ServerMessage) -> bool:
        return reply.HasField("ack") and any(
            a.camera_id == camera_id and a.highest_contiguous_sequence >= sequence for a in reply.ack.cameras
        )

    return predicate


def rejected(sequence: int):
    return lambda reply: reply.HasField("rejected") and reply.rejected.sequence == sequence


async def stream_state(camera_id: int) -> CameraStreamState:
    return await sync_to_async(CameraStreamState.objects.get)(camera_id=camera_id)


async def test_config_first_then_frames_are_stored_and_acked(env: Env) -> None:
    conv = Conversation(env.port, env.device_id)
    cam = env.camera_ids[0]
    config = await conv.wait_for(lambda r: r.HasField("config"))
    assert sorted(c.camera_id for c in config.config.cameras) == sorted(env.camera_ids)
    await conv.send(*(frame(cam, seq) for seq in range(1, 6)))
    await conv.wait_for(acked(cam, 5))
    state = await stream_state(cam)
    assert (state.highest_contiguous_sequence, state.frames_stored, state.track_updates_stored) == (5, 5, 15)
    assert len(env.sink.points) == 15  # positions sampled from every frame at this sample rate
    assert {p.measurement for p in env.sink.points} == {"positions"}
    assert len({p.time_ns for p in env.sink.points}) == 15  # one point per person: no overwrites
    await conv.close()


async def test_replays_are_stored_once(env: Env) -> None:
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame(cam, seq) for seq in (1, 2, 3)))
    await conv.wait_for(acked(cam, 3))
    await conv.close()
    again = Conversation(env.port, env.device_id)  # reconnect and replay 2..4
    await again.send(*(frame(cam, seq) for seq in (2, 3, 4)))
    await again.wait_for(acked(cam, 4))
    state = await stream_state(cam)
    assert (state.frames_stored, state.duplicates_dropped) == (4, 2)
    await again.close()


async def test_out_of_order_within_window_acks_only_contiguous(env: Env) -> None:
    cam = env.camera_ids[1]
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame(cam, 1), frame(cam, 3), frame(cam, 4))
    await conv.wait_for(acked(cam, 1))
    await asyncio.sleep(0.2)
    assert not any(acked(cam, 2)(r) for r in conv.replies), "acked past a missing sequence"
    await conv.send(frame(cam, 2))
    await conv.wait_for(acked(cam, 4))
    await conv.close()


async def test_bad_frames_are_rejected_and_the_stream_goes_on(env: Env) -> None:
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(
        frame(cam, 1), frame(cam, 2, floor_x_cm=5_000_000), b"\xff\xff\xff\x07garbage", frame(cam, 3)
    )
    bad = await conv.wait_for(rejected(2))
    assert bad.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "floor_x_cm" in bad.rejected.reason
    malformed = await conv.wait_for(lambda r: r.HasField("rejected") and "malformed" in r.rejected.reason)
    assert malformed.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    await conv.wait_for(acked(cam, 3))  # the rejected sequence is done, so the ack moves past it
    state = await stream_state(cam)
    assert (state.frames_stored, state.frames_rejected) == (2, 1)
    await conv.close()


async def test_foreign_and_unknown_cameras(env: Env) -> None:
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame(env.foreign_camera_id, 1), frame(999_999, 1))
    foreign = await conv.wait_for(
        lambda r: r.HasField("rejected") and r.rejected.camera_id == env.foreign_camera_id
    )
    assert foreign.rejected.status_code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    unknown = await conv.wait_for(lambda r: r.HasField("rejected") and r.rejected.camera_id == 999_999)
    assert unknown.rejected.status_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert not await sync_to_async(CameraStreamState.objects.filter(camera_id=env.foreign_camera_id).exists)()
    await conv.close()


@pytest.mark.parametrize("secret", ["wrong-secret", ""])
async def test_bad_credentials_are_unauthenticated_and_nothing_is_stored(env: Env, secret: str) -> None:
    conv = Conversation(env.port, env.device_id, secret=secret)
    await conv.send(frame(env.camera_ids[0], 1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await conv.wait_for(lambda r: True)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not await sync_to_async(CameraStreamState.objects.filter(frames_stored__gt=0).exists)()
    await conv.close()


async def test_revocation_closes_the_open_stream(env: Env) -> None:
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame(cam, 1))
    await conv.wait_for(acked(cam, 1))
    device = await sync_to_async(lambda: Camera.objects.get(pk=cam).device)()
    assert device is not None
    await sync_to_async(device_revoke)(device=device)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await conv.wait_for(lambda r: False, timeout_s=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (caught.value.details() or "")
    await conv.close()


async def test_enrollment_token_works_once(env: Env) -> None:
    def issue():
        device = device_create(site=env.site, name="new-box")
        Camera.objects.create(site=env.site, device=device, name="new-cam")
        return device_issue_enrollment_token(device=device).token

    token = await sync_to_async(issue)()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{env.port}") as channel:
        stub = edge_service_pb2_grpc.EdgeServiceStub(channel)
        response = await stub.Enroll(edge_service_pb2.EnrollRequest(enrollment_token=token, hostname="box"))
        assert response.device_id > 0
        assert len(response.device_secret) >= 32
        assert [c.name for c in response.config.cameras] == ["new-cam"]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Enroll(edge_service_pb2.EnrollRequest(enrollment_token=token))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    conv = Conversation(env.port, response.device_id, secret=response.device_secret)
    config = await conv.wait_for(lambda r: r.HasField("config"))
    assert len(config.config.cameras) == 1
    await conv.close()
