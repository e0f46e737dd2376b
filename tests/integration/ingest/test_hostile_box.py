"""A hostile (or broken) edge box against the real grpc.aio ingest on loopback and PostgreSQL: sequence epochs played
out of order and beyond what the server tracks, sequences at the jump limit with capture times chosen to widen it,
two streams of one device on one camera in different epochs, snapshots nobody asked for or with an impossible capture
time, a huge authorization header, a client that half-closes at once. Each frame is stored at most once, nothing
acked is dropped, and a bad message is answered without ending the stream."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from asgiref.sync import sync_to_async
from django.conf import LazySettings

from proto.retail.v1 import edge_service_pb2, track_pb2
from server.devices.models import EdgeDevice
from server.devices.services import device_replace
from server.ingest import pipeline as pipeline_module
from server.ingest.pipeline import IngestPipeline
from server.ingest.sequencing import MAX_SEQUENCE_JUMP
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera
from tests.integration.ingest.conftest import StartIngest
from tests.integration.ingest.test_grpc_stream import Conversation, Env, env, rejected, stream_state
from tests.integration.ingest.test_sequence_limits import acked, frame_at

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
__all__ = ["env"]  # the fixture

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def _now_us() -> int:
    return time.time_ns() // 1000


def snapshot(camera_id: int, capture_time_us: int, jpeg: bytes = JPEG) -> edge_service_pb2.EdgeMessage:
    return edge_service_pb2.EdgeMessage(
        snapshot=edge_service_pb2.CameraSnapshot(
            camera_id=camera_id, capture_time_us=capture_time_us, jpeg=jpeg
        )
    )


async def test_epochs_beyond_those_tracked_then_replayed_store_nothing_twice(env: Env) -> None:
    """Seven spools, alternately older and newer than the current one, then every frame of every spool replayed:
    each (epoch, sequence) is stored once, a forgotten epoch is refused (never stored again, never acked)."""
    cam = env.camera_ids[0]
    base = _now_us() - 3600 * 10**6
    # current first, then alternately newer / older: 0 → +10 → -10 → +20 → -20 → +30 → -30
    epochs = [base, base + 10, base - 10, base + 20, base - 20, base + 30, base - 30]
    conv = Conversation(env.port, env.device_id)
    for epoch in epochs:
        await conv.send(*(frame_at(cam, seq, epoch=epoch) for seq in (1, 2, 3)))
        await conv.wait_for(lambda r, e=epoch: rejected(3)(r) or acked(cam, 3, e)(r))
    state = await stream_state(cam)
    tracked = {state.sequence_epoch, *(e["epoch"] for e in state.earlier_epochs)}
    assert len(tracked) == 5
    assert state.sequence_epoch == base + 30
    stored_first = state.frames_stored
    conv.replies.clear()
    for epoch in epochs:
        await conv.send(*(frame_at(cam, seq, epoch=epoch) for seq in (1, 2, 3)))
    await conv.send(frame_at(cam, 4, epoch=base + 30))
    await conv.wait_for(acked(cam, 4, base + 30))
    state = await stream_state(cam)
    assert state.frames_stored == stored_first + 1, "a replay of a tracked epoch was stored a second time"
    refused = [r.rejected for r in conv.replies if r.HasField("rejected")]
    assert all(r.status_code == grpc.StatusCode.FAILED_PRECONDITION.value[0] for r in refused)
    untracked = [epoch for epoch in epochs if epoch not in tracked]
    assert len(refused) == 3 * len(untracked)
    for reply in conv.replies:  # nothing acked of an epoch whose frames are refused
        if reply.HasField("ack"):
            assert not {a.sequence_epoch for a in reply.ack.cameras} & set(untracked)
    await conv.close()


async def test_a_sequence_far_ahead_stays_refused_whatever_the_epoch_and_capture_time(env: Env) -> None:
    """The jump allowance grows with capture time since the window's reference (an epoch's creation time): the most
    a box can claim (epoch 1, i.e. a spool created in 1970, and a capture time at the future limit) stays far below
    2^62; the plain limit holds exactly at its edge."""
    cam, other = env.camera_ids
    conv = Conversation(env.port, env.device_id)
    future_us = _now_us() + 290 * 10**6
    await conv.send(frame_at(cam, 2**62, epoch=1, capture_time_us=future_us))
    refused = await conv.wait_for(rejected(2**62))
    assert refused.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    await conv.send(frame_at(other, 1), frame_at(other, 1 + MAX_SEQUENCE_JUMP + 1))
    refused = await conv.wait_for(rejected(1 + MAX_SEQUENCE_JUMP + 1))
    assert refused.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    await conv.send(frame_at(other, 1 + MAX_SEQUENCE_JUMP))
    await conv.wait_for(
        acked(other, 1 + MAX_SEQUENCE_JUMP - 64, 0)
    )  # the reorder window (64) gave up on the gap
    state = await stream_state(other)
    assert state.frames_stored == 2
    await conv.close()


async def test_two_streams_of_one_device_in_two_epochs_on_one_camera(env: Env) -> None:
    """The old box's stream still open while the new box streams the same camera in a new epoch, frames
    interleaved and replayed on both: each stored once, both streams get both epochs' acks."""
    cam = env.camera_ids[0]
    old_epoch, new_epoch = _now_us() - 7200 * 10**6, _now_us() - 60 * 10**6
    old_box, new_box = Conversation(env.port, env.device_id), Conversation(env.port, env.device_id)
    for seq in range(1, 21):
        await old_box.send(frame_at(cam, seq, epoch=old_epoch))
        await new_box.send(frame_at(cam, seq, epoch=new_epoch))
        await new_box.send(frame_at(cam, seq, epoch=old_epoch))  # replays of the other's frames
        await old_box.send(frame_at(cam, seq, epoch=new_epoch))
    for box in (old_box, new_box):
        await box.wait_for(acked(cam, 20, old_epoch))
        await box.wait_for(acked(cam, 20, new_epoch))
    state = await stream_state(cam)
    assert (state.frames_stored, state.duplicates_dropped) == (40, 40)
    await old_box.close()
    await new_box.close()


async def test_a_snapshot_with_an_impossible_capture_time_does_not_end_the_stream(
    env: Env, settings: LazySettings, tmp_path: Path
) -> None:
    """CameraSnapshot.capture_time_us is the box's clock: one past year 9999 (or far off) must not end the stream
    (before: datetime overflow in the reader, which took it for the client going away and ended the call OK)."""
    settings.MEDIA_ROOT = str(tmp_path)
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    before_us = _now_us()
    await conv.send(snapshot(cam, 2**62), frame_at(cam, 1))
    await conv.wait_for(acked(cam, 1, 0))
    camera = await sync_to_async(Camera.objects.get)(pk=cam)
    assert camera.snapshot_captured_at is not None
    assert before_us - 10**6 <= camera.snapshot_captured_at.timestamp() * 1e6 <= _now_us() + 10**6
    await conv.send(frame_at(cam, 2))
    await conv.wait_for(acked(cam, 2, 0))
    await conv.close()


async def test_unsolicited_snapshots_keep_one_file_per_camera(
    env: Env, settings: LazySettings, tmp_path: Path
) -> None:
    """A box sending stills nobody asked for, fast: the disk holds one file per camera, not one per still."""
    settings.MEDIA_ROOT = str(tmp_path)
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    now_us = _now_us()
    await conv.send(*(snapshot(cam, now_us - i * 1_500_000) for i in range(12)), frame_at(cam, 1))
    await conv.wait_for(acked(cam, 1, 0))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1, files
    await conv.close()


async def test_a_huge_authorization_header_is_refused_and_the_server_goes_on(env: Env) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{env.port}")
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda m: m,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )
    call = method(
        iter(()), metadata=(("x-device-id", str(env.device_id)), ("authorization", "Bearer " + "x" * 200_000))
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in call:
            pass
    assert raised.value.code() != grpc.StatusCode.OK
    await channel.close(grace=None)
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame_at(env.camera_ids[0], 1))
    await conv.wait_for(acked(env.camera_ids[0], 1, 0))
    await conv.close()


async def test_a_client_that_half_closes_at_once_gets_its_config_and_ends_ok(env: Env) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{env.port}")
    method = channel.stream_stream(
        "/retail.v1.EdgeService/Stream",
        request_serializer=lambda m: m,
        response_deserializer=edge_service_pb2.ServerMessage.FromString,
    )
    from tests.integration.ingest.test_grpc_stream import metadata

    replies = [reply async for reply in method(iter(()), metadata=metadata(env.device_id))]
    assert [r.WhichOneof("payload") for r in replies] == ["config"]
    await channel.close(grace=None)


async def test_a_heartbeat_error_built_to_stall_the_redaction_does_not_block_the_ingest(env: Env) -> None:
    """A last_error of one `scheme://` and a 60 KB run of ':' (within the 64 KiB heartbeat limit): the credential
    redaction backtracked quadratically (seconds, in the event loop: every stream of every device stalled)."""
    cam = env.camera_ids[0]
    error = "rtsp://admin:pw@10.0.0.9/stream failed; rtsp://" + ":" * 60_000 + " x"
    beat = track_pb2.Heartbeat(
        sent_time_us=_now_us(), cameras=[track_pb2.CameraHealth(camera_id=cam, last_error=error)]
    )
    conv = Conversation(env.port, env.device_id)
    await conv.wait_for(lambda reply: reply.HasField("config"))
    started = time.monotonic()
    await conv.send(edge_service_pb2.EdgeMessage(heartbeat=beat), frame_at(cam, 1))
    await conv.wait_for(acked(cam, 1, 0), timeout_s=10.0)
    assert time.monotonic() - started < 3.0
    health = await sync_to_async(lambda: EdgeDevice.objects.get(pk=env.device_id).health)()
    last_error = health["cameras"][0]["last_error"]
    assert last_error.startswith("rtsp://***@10.0.0.9/stream failed")
    assert "pw" not in last_error
    await conv.close()


async def test_a_box_moving_between_ingest_processes_and_back_has_its_replays_stored_once(env: Env) -> None:
    """Scale-out: the box streams to process A, reconnects to B (which loads the stream state from PostgreSQL and
    goes on), then back to A, replaying frames whose acks from B it never got. A must not judge them by the window it
    cached before B advanced the camera (before: stored a second time, B's saved progress overwritten, acks stuck)."""
    cam = env.camera_ids[0]
    pipeline_b = IngestPipeline(reorder_window=64)
    servicer_b = EdgeServicer(
        pipeline=pipeline_b, settings=StreamSettings(ack_interval_s=0.05, auth_recheck_s=0.2)
    )
    server_b, port_b = await create_grpc_server(servicer=servicer_b, bind="127.0.0.1:0")
    try:
        to_a = Conversation(env.port, env.device_id)
        await to_a.send(*(frame_at(cam, seq) for seq in range(1, 11)))
        await to_a.wait_for(acked(cam, 10, 0))
        await to_a.close()
        to_b = Conversation(port_b, env.device_id)
        await to_b.send(*(frame_at(cam, seq) for seq in range(11, 21)))
        await to_b.wait_for(acked(cam, 20, 0))
        await to_b.close()
        back_to_a = Conversation(env.port, env.device_id)
        await back_to_a.send(*(frame_at(cam, seq) for seq in range(15, 22)))
        await back_to_a.wait_for(acked(cam, 21, 0))
        state = await stream_state(cam)
        assert (state.frames_stored, state.duplicates_dropped, state.highest_contiguous_sequence) == (
            21,
            6,
            21,
        )
        await back_to_a.close()
    finally:
        await server_b.stop(grace=0.5)


async def test_made_up_camera_ids_do_not_grow_the_process_memory(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames for ever new camera ids that do not exist: each is refused NOT_FOUND, and what the process remembers
    of them is bounded (before: one entry per id, for ever)."""
    monkeypatch.setattr(pipeline_module, "MAX_MISSING_CAMERAS", 32, raising=False)
    conv = Conversation(env.port, env.device_id)
    made_up = range(10**6, 10**6 + 200)
    await conv.send(*(frame_at(camera_id, 1) for camera_id in made_up), frame_at(env.camera_ids[0], 1))
    await conv.wait_for(acked(env.camera_ids[0], 1, 0), timeout_s=20.0)
    refused = [r.rejected for r in conv.replies if r.HasField("rejected")]
    assert len(refused) == 200
    assert {r.status_code for r in refused} == {grpc.StatusCode.NOT_FOUND.value[0]}
    assert len(env.pipeline._missing) <= 32
    await conv.close()


async def test_refused_frames_of_new_epochs_do_not_push_the_current_epoch_out(env: Env) -> None:
    """Five frames refused as invalid (a corrupt column), each claiming a new, later epoch: they are refused and change
    nothing, so the box's current epoch is still tracked and its next frames are stored (before: each refused frame
    began an epoch, the fifth made the server forget the current one and refuse the rest of the spool)."""
    cam = env.camera_ids[0]
    epoch = _now_us() - 600 * 10**6
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame_at(cam, seq, epoch=epoch) for seq in (1, 2, 3)))
    await conv.wait_for(acked(cam, 3, epoch))
    for index in range(5):
        corrupt = frame_at(cam, 100 + index, epoch=epoch + 1 + index)
        corrupt.frame.bbox_w_px[0] = 0
        await conv.send(corrupt)
        refused = await conv.wait_for(rejected(100 + index))
        assert refused.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    for index in range(5):  # valid columns, a sequence no new epoch can take
        await conv.send(frame_at(cam, 2**62 + index, epoch=epoch + 10 + index))
        refused = await conv.wait_for(rejected(2**62 + index))
        assert refused.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    await conv.send(frame_at(cam, 4, epoch=epoch))
    await conv.wait_for(acked(cam, 4, epoch))
    state = await stream_state(cam)
    assert (state.sequence_epoch, state.epochs_started, state.frames_stored) == (epoch, 0, 4)
    await conv.close()


async def test_a_replaced_boxs_open_stream_is_closed_and_stores_nothing_more(env: Env) -> None:
    """POST /api/devices/{id}/replace while the old box streams: its stream ends UNAUTHENTICATED at the next
    re-check, and what it sends meanwhile or after is either stored and acked or not stored at all."""
    cam = env.camera_ids[0]
    old_box = Conversation(env.port, env.device_id)
    await old_box.send(*(frame_at(cam, seq) for seq in range(1, 6)))
    await old_box.wait_for(acked(cam, 5, 0))
    device = await sync_to_async(EdgeDevice.objects.get)(pk=env.device_id)
    await sync_to_async(device_replace)(device=device)
    await old_box.send(*(frame_at(cam, seq) for seq in range(6, 200)))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await old_box.wait_for(lambda reply: False, timeout_s=10.0)
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    acked_seq = max(
        (
            a.highest_contiguous_sequence
            for r in old_box.replies
            if r.HasField("ack")
            for a in r.ack.cameras
            if a.camera_id == cam
        ),
        default=0,
    )
    state = await stream_state(cam)
    assert state.highest_contiguous_sequence >= acked_seq  # nothing acked is missing
    assert state.frames_stored == state.highest_contiguous_sequence + len(state.pending_sequences)
    await old_box.close()


async def test_a_snapshot_of_a_camera_deleted_meanwhile_is_refused_and_the_stream_goes_on(
    start_ingest: StartIngest, settings: LazySettings, tmp_path: Path
) -> None:
    """The camera is deleted while the box streams; its snapshot arrives before the stream's next re-check (before:
    Camera.DoesNotExist in the reader ended the stream)."""
    settings.MEDIA_ROOT = str(tmp_path)
    ingest = await start_ingest(auth_recheck_s=30.0)
    device = ingest.devices[0]
    deleted, kept = device.camera_ids
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.wait_for(lambda reply: reply.HasField("config"))
    await sync_to_async(Camera.objects.filter(pk=deleted).delete)()
    await conv.send(snapshot(deleted, _now_us()), frame_at(kept, 1))
    refused = await conv.wait_for(lambda reply: reply.HasField("rejected"))
    assert refused.rejected.status_code == grpc.StatusCode.NOT_FOUND.value[0]
    await conv.wait_for(acked(kept, 1, 0))
    await conv.close()


async def test_frames_of_a_camera_deleted_while_streaming_leave_the_ingest_healthy(
    start_ingest: StartIngest,
) -> None:
    """Frames of a camera deleted a moment ago (before the stream's re-check): its stream state cannot be saved any
    more, which must not leave the ingest reported degraded for ever once the camera is forgotten."""
    ingest = await start_ingest(auth_recheck_s=1.0)
    device = ingest.devices[0]
    deleted, kept = device.camera_ids
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.send(frame_at(deleted, 1), frame_at(kept, 1))
    await conv.wait_for(acked(deleted, 1, 0))
    await sync_to_async(Camera.objects.filter(pk=deleted).delete)()
    await conv.send(*(frame_at(deleted, seq) for seq in range(2, 6)))
    deadline = time.monotonic() + 8.0
    while ingest.pipeline.state_save_problem() is not None or deleted in ingest.pipeline._cameras:
        assert time.monotonic() < deadline, ingest.pipeline.state_save_problem()
        await conv.send(frame_at(kept, 2))
        await asyncio.sleep(0.1)
    await conv.wait_for(acked(kept, 2, 0))
    await conv.close()


async def test_a_stream_is_acked_only_in_the_epochs_it_sent(env: Env) -> None:
    """The box is replaced by one running an agent from before epochs (epoch 0), which reads a CameraAck's sequence
    whatever its epoch: it must not be told "50" of the previous box's epoch (before: its first ack carried every
    epoch the camera tracks, and such an agent dropped frames 1..50 of its own spool, never stored)."""
    cam = env.camera_ids[0]
    epoch = _now_us() - 600 * 10**6
    new_agent = Conversation(env.port, env.device_id)
    await new_agent.send(*(frame_at(cam, seq, epoch=epoch) for seq in range(1, 51)))
    await new_agent.wait_for(acked(cam, 50, epoch))
    await new_agent.close()
    legacy = Conversation(env.port, env.device_id)
    await legacy.send(*(frame_at(cam, seq, epoch=0) for seq in (1, 2, 3)))
    await legacy.wait_for(acked(cam, 3, 0))
    epochs = {
        (a.camera_id, a.sequence_epoch) for r in legacy.replies if r.HasField("ack") for a in r.ack.cameras
    }
    assert epochs == {(cam, 0)}
    await legacy.close()


async def test_made_up_epochs_do_not_grow_a_streams_memory(start_ingest: StartIngest) -> None:
    """A stream remembers the epochs it sent (its acks), bounded by what its cameras track, not by what it sends."""
    ingest = await start_ingest()
    device = ingest.devices[0]
    cam = device.camera_ids[0]
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.send(frame_at(cam, 1))
    await conv.wait_for(acked(cam, 1, 0))
    made_up = [frame_at(cam, 2, epoch=1) for _ in range(300)]
    for index, message in enumerate(made_up):
        message.frame.sequence_epoch = 2**63 + index  # beyond the legal range: refused, never tracked
    await conv.send(*made_up, frame_at(cam, 2))
    await conv.wait_for(acked(cam, 2, 0))
    await asyncio.sleep(0.2)  # an ack interval (50 ms) or more
    (state,) = ingest.servicer._streams_by_device[device.device_id]
    assert state.epochs_sent == {(cam, 0)}
    await conv.close()
