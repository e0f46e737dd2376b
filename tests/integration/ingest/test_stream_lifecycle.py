"""How the server ends a device's stream, against the real grpc.aio server on loopback and PostgreSQL: refusals carry
their status even when the client writes before the server's first answer, streams per device are limited, idle
streams are closed, a revoked device's stream is closed though the client never reads, and a revocation made in the
dashboard (the REST API) closes the stream at once, not at the next re-check."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from proto.retail.v1 import edge_service_pb2
from server.devices.models import EdgeDevice
from server.devices.services import device_revoke
from server.ingest.models import CameraStreamState
from tests.integration.ingest.conftest import Device, Ingest, StartIngest
from tests.support.edge_client import track_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _channel(ingest: Ingest, *, small_window: bool = False) -> grpc.aio.Channel:
    # Without BDP probing the client's receive window stays at HTTP/2's 64 KiB: a client that does not read
    # blocks the server's sends after that much.
    options = [("grpc.http2.bdp_probe", 0)] if small_window else []
    return grpc.aio.insecure_channel(f"127.0.0.1:{ingest.port}", options=options)


def _open(
    channel: grpc.aio.Channel,
    device: Device,
    requests: AsyncIterator[bytes] | None = None,
    secret: str = "",
    device_id: str | None = None,
) -> object:
    """A stream writing `requests`; without them, one driven by read() / write() / done_writing()."""
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda raw: raw,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )
    metadata = (
        ("x-device-id", str(device.device_id) if device_id is None else device_id),
        ("authorization", f"Bearer {secret or device.secret}"),
    )
    if requests is None:
        return method(metadata=metadata)  # type: ignore[call-arg]
    return method(requests, metadata=metadata)


async def _burst(camera_id: int, count: int) -> AsyncIterator[bytes]:
    """Writes at once, before any answer from the server, then half-closes."""
    for sequence in range(1, count + 1):
        yield track_frame(camera_id, sequence)


async def _final_error(
    call: object, timeout_s: float = 10.0, *, half_close: bool = False
) -> grpc.aio.AioRpcError | None:
    """Read the stream to its end; the error it ended with (None: OK)."""

    async def read_all() -> grpc.aio.AioRpcError | None:
        if half_close:
            await call.done_writing()  # type: ignore[attr-defined]
        try:
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                pass
        except grpc.aio.AioRpcError as err:
            return err
        return None

    return await asyncio.wait_for(read_all(), timeout_s)


async def _final_status(
    call: object, timeout_s: float = 10.0, *, half_close: bool = False
) -> grpc.StatusCode:
    error = await _final_error(call, timeout_s, half_close=half_close)
    return grpc.StatusCode.OK if error is None else error.code()


async def _wait_for(predicate: object, timeout_s: float) -> float:
    """Seconds until `predicate()` held; fails after `timeout_s`."""
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_refusal_carries_unauthenticated_when_the_client_writes_at_once(
    start_ingest: StartIngest,
) -> None:
    ingest = await start_ingest()
    device = ingest.devices[0]
    codes: Counter[grpc.StatusCode] = Counter()
    async with _channel(ingest) as channel:
        for _ in range(15):
            call = _open(channel, device, _burst(device.camera_ids[0], 60), secret="wrong-secret")
            codes[await _final_status(call)] += 1
    assert codes == Counter({grpc.StatusCode.UNAUTHENTICATED: 15})
    assert not await sync_to_async(CameraStreamState.objects.filter(frames_stored__gt=0).exists)()


@pytest.mark.parametrize("device_id", ["99999999999999999999", "-1", " 1", ""])
async def test_an_impossible_device_id_is_unauthenticated(start_ingest: StartIngest, device_id: str) -> None:
    ingest = await start_ingest()
    device = ingest.devices[0]
    async with _channel(ingest) as channel:
        call = _open(channel, device, _burst(device.camera_ids[0], 2), device_id=device_id)
        assert await _final_status(call) == grpc.StatusCode.UNAUTHENTICATED


async def test_streams_per_device_are_limited_and_the_extra_one_is_refused(start_ingest: StartIngest) -> None:
    ingest = await start_ingest(max_streams_per_device=2)
    device, other = ingest.devices
    async with _channel(ingest) as channel:
        first = _open(channel, device)
        second = _open(channel, device)
        for call in (first, second):
            reply = await asyncio.wait_for(call.read(), 5)  # type: ignore[attr-defined]
            assert reply.HasField("config")
        codes: Counter[grpc.StatusCode] = Counter()
        for _ in range(10):  # writing at once, as a box replaying its spool would
            extra = _open(channel, device, _burst(device.camera_ids[0], 60))
            codes[await _final_status(extra)] += 1
        assert codes == Counter({grpc.StatusCode.RESOURCE_EXHAUSTED: 10})
        refused = await _final_error(_open(channel, device, _burst(device.camera_ids[0], 1)))
        assert refused is not None
        assert "limit is 2" in (refused.details() or "")
        # Another device is not affected, and the open streams go on.
        other_call = _open(channel, other, _burst(other.camera_ids[0], 3))
        assert await _final_status(other_call) == grpc.StatusCode.OK
        assert ingest.servicer.open_streams == 2
        first.cancel()  # type: ignore[attr-defined]
        await _wait_for(lambda: ingest.servicer.open_streams == 1, 5)
        again = _open(channel, device, _burst(device.camera_ids[0], 3))
        assert await _final_status(again) == grpc.StatusCode.OK
        assert await _final_status(second, half_close=True) == grpc.StatusCode.OK


async def test_a_stream_that_sends_nothing_is_closed(start_ingest: StartIngest) -> None:
    ingest = await start_ingest(idle_timeout_s=0.6)
    async with _channel(ingest) as channel:
        started = time.monotonic()
        call = _open(channel, ingest.devices[0])
        error = await _final_error(call)
        elapsed = time.monotonic() - started
    assert error is not None
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no message from the device" in (error.details() or "")
    assert 0.5 <= elapsed < 4.0
    assert ingest.servicer.open_streams == 0


async def test_revoked_stream_is_closed_though_the_client_never_reads(start_ingest: StartIngest) -> None:
    ingest = await start_ingest()
    device = ingest.devices[0]
    camera_id = device.camera_ids[0]
    sent = 0
    stop_writing = asyncio.Event()

    async def flood() -> AsyncIterator[bytes]:
        nonlocal sent
        while not stop_writing.is_set():  # its own camera's frames, and unknown ones: replies
            sent += 1
            yield track_frame(camera_id, sent, people=1)
            yield track_frame(999_000 + sent % 7, sent, people=1)
            if sent % 20 == 0:
                await asyncio.sleep(0.002)
        await asyncio.Event().wait()  # then silent, as an agent waiting for acks it never reads

    async with _channel(ingest, small_window=True) as channel:
        call = _open(channel, device, flood())  # never read until the end
        await _wait_for(lambda: sent > 500, 10)
        await asyncio.sleep(0.5)
        assert ingest.servicer.open_streams == 1
        stop_writing.set()  # a client still writing when the call ends sees INTERNAL (grpc/grpc#36066)
        device_row = await sync_to_async(EdgeDevice.objects.get)(pk=device.device_id)
        await sync_to_async(device_revoke)(device=device_row)
        released_after_s = await _wait_for(lambda: ingest.servicer.open_streams == 0, 6)
        await ingest.pipeline.flush()  # what was accepted before the revocation
        stored = await sync_to_async(CameraStreamState.objects.get)(camera_id=camera_id)
        await asyncio.sleep(0.5)
        await ingest.pipeline.flush()
        later = await sync_to_async(CameraStreamState.objects.get)(camera_id=camera_id)
        assert later.frames_stored == stored.frames_stored, "frames of a revoked device were stored"
        assert await _final_status(call) == grpc.StatusCode.UNAUTHENTICATED  # once it reads
    assert released_after_s < 4.0


async def test_connection_age_ends_a_call_whose_client_never_reads(start_ingest: StartIngest) -> None:
    ingest = await start_ingest(max_connection_age_s=1.0)  # + 0.5 s grace
    device = ingest.devices[0]

    async def flood() -> AsyncIterator[bytes]:
        sequence = 0
        while True:  # frames of unknown cameras: one reply each, never read
            sequence += 1
            yield track_frame(999_000, sequence, people=1)
            if sequence % 20 == 0:
                await asyncio.sleep(0.002)

    async with _channel(ingest, small_window=True) as channel:
        call = _open(channel, device, flood())
        await _wait_for(lambda: ingest.servicer.open_calls(device.device_id) == 1, 5)
        ended_after_s = await _wait_for(lambda: ingest.servicer.open_calls(device.device_id) == 0, 8)
        # The server has ended the call; the client learns it from the stream's reset a moment later (on a loaded
        # machine after the server's own count went to 0).
        await _wait_for(lambda: call.done(), 2)  # type: ignore[attr-defined]
    assert ingest.servicer.open_streams == 0
    assert ended_after_s < 5.0


def _dashboard_admin() -> APIClient:
    user = User.objects.create_user(username="dashboard-admin", password="correct horse battery staple")
    user.groups.add(Group.objects.get(name="admin"))
    client = APIClient()
    client.force_authenticate(user)
    return client


async def test_revocation_from_the_dashboard_closes_the_stream_at_once(start_ingest: StartIngest) -> None:
    ingest = await start_ingest(auth_recheck_s=30.0)  # not the periodic re-check
    device, other = ingest.devices
    async with _channel(ingest) as channel:
        call = _open(channel, device)
        other_call = _open(channel, other)
        for each in (call, other_call):
            assert (await asyncio.wait_for(each.read(), 5)).HasField("config")  # type: ignore[attr-defined]
        admin = await sync_to_async(_dashboard_admin)()
        response = await sync_to_async(admin.post)(f"/api/devices/{device.device_id}/revoke")
        started = time.monotonic()  # the revocation is committed
        assert response.status_code == 200
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(call.read(), 10)  # type: ignore[attr-defined]
        elapsed = time.monotonic() - started
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (caught.value.details() or "")
        assert elapsed < 2.0
        assert ingest.servicer.open_streams == 1  # the other device's stream goes on
        assert await _final_status(other_call, half_close=True) == grpc.StatusCode.OK
