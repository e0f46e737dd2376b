"""Sequence numbers at the ingest, against the real grpc.aio server on loopback and PostgreSQL (Hardening 1 and 2):

- the legal range (1 .. 2^63-1) and the largest jump ahead of the contiguous prefix: beyond, INVALID_ARGUMENT with a
  reason, and nothing else changes (no failing state saves, no later frame taken for a replay);
- a camera whose stream state cannot be saved holds back neither the other cameras' saves nor their acks, and the
  failure is visible (health, metric);
- a new sequence epoch (a replaced box, a wiped spool) restarting at 1 is stored, not dropped as replays.
"""

from __future__ import annotations

import time

import grpc
import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from proto.retail.v1 import edge_service_pb2
from server.health import checks as health_checks
from server.health.checks import IngestStatus, check_ingest
from server.ingest.sequencing import MAX_SEQUENCE_JUMP
from tests.integration.ingest.test_grpc_stream import Conversation, Env, env, frame, rejected, stream_state

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
__all__ = ["env"]  # the fixture

NOW_US = time.time_ns() // 1000


def frame_at(
    camera_id: int, sequence: int, *, epoch: int = 0, capture_time_us: int | None = None
) -> edge_service_pb2.EdgeMessage:
    message = frame(camera_id, 1)
    message.frame.sequence = sequence
    message.frame.sequence_epoch = epoch
    message.frame.capture_time_us = capture_time_us if capture_time_us is not None else NOW_US
    return message


def acked(camera_id: int, sequence: int, epoch: int | None = None):
    """An ack of exactly `sequence` (of `epoch`, when given) for the camera."""

    def predicate(reply: edge_service_pb2.ServerMessage) -> bool:
        return reply.HasField("ack") and any(
            a.camera_id == camera_id
            and a.highest_contiguous_sequence == sequence
            and (epoch is None or a.sequence_epoch == epoch)
            for a in reply.ack.cameras
        )

    return predicate


def _save_failures() -> float:
    return REGISTRY.get_sample_value("retail_ingest_state_save_failures_total") or 0.0


async def test_sequences_beyond_bigint_are_rejected_and_every_camera_stays_acked(env: Env) -> None:
    good, other = env.camera_ids
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame_at(good, seq) for seq in (1, 2, 3)), frame_at(other, 1))
    await conv.wait_for(acked(good, 3))
    await conv.send(frame_at(other, 2**63), frame_at(other, 2**64 - 1))
    for sequence in (2**63, 2**64 - 1):
        bad = await conv.wait_for(rejected(sequence))
        assert bad.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "legal range 1 .. 2^63-1" in bad.rejected.reason
    await conv.send(*(frame_at(good, seq) for seq in (4, 5, 6)), frame_at(other, 2))
    await conv.wait_for(acked(good, 6))
    await conv.wait_for(acked(other, 2))
    assert env.pipeline.stats.state_save_failures == 0
    state = await stream_state(other)
    assert (state.highest_contiguous_sequence, state.frames_stored, state.frames_rejected) == (2, 2, 2)
    await conv.close()


async def test_a_frame_far_ahead_is_rejected_and_later_frames_are_stored(env: Env) -> None:
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame_at(cam, seq) for seq in (1, 2, 3)))
    await conv.wait_for(acked(cam, 3))
    await conv.send(frame_at(cam, 2**62), frame_at(cam, 3 + MAX_SEQUENCE_JUMP + 1))
    for sequence in (2**62, 3 + MAX_SEQUENCE_JUMP + 1):
        far = await conv.wait_for(rejected(sequence))
        assert far.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "ahead of the camera's contiguous prefix 3" in far.rejected.reason
    await conv.send(frame_at(cam, 4), frame_at(cam, 5))
    await conv.wait_for(acked(cam, 5))
    state = await stream_state(cam)
    assert (state.highest_contiguous_sequence, state.frames_stored, state.duplicates_dropped) == (5, 5, 0)
    await conv.close()


async def test_a_moderate_gap_from_spool_eviction_is_still_skipped(env: Env) -> None:
    """The edge evicted 1000 frames from a full spool: the gap is given up on and the acks go on past it."""
    cam = env.camera_ids[0]
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame_at(cam, seq) for seq in (1, 2, 3)))
    await conv.send(*(frame_at(cam, seq) for seq in range(1004, 1004 + 70)))
    await conv.wait_for(acked(cam, 1073))
    state = await stream_state(cam)
    assert (state.frames_stored, state.sequences_skipped) == (73, 1000)
    assert not any(r.HasField("rejected") for r in conv.replies)
    await conv.close()


async def test_a_state_that_cannot_be_saved_holds_back_no_other_camera(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, broken = env.camera_ids
    status = IngestStatus(port=env.port, pipeline=env.pipeline, open_streams=1, push_failures=0)
    monkeypatch.setattr(health_checks, "_ingest", lambda: status)
    conv = Conversation(env.port, env.device_id)
    await conv.send(frame_at(good, 1), frame_at(broken, 1))
    await conv.wait_for(acked(good, 1))
    await conv.wait_for(acked(broken, 1))
    # A state no longer representable in PostgreSQL (as a pre-validation frame left it): bigint out of range.
    runtime_state = await env.pipeline.camera(broken)
    assert runtime_state is not None
    runtime_state.frames_stored = 2**63
    runtime_state.dirty = True
    failures_before = _save_failures()
    await conv.send(frame_at(good, 2), frame_at(good, 3), frame_at(broken, 2))
    await conv.wait_for(acked(good, 3))
    assert env.pipeline.stats.state_save_failures >= 1
    assert _save_failures() > failures_before
    health = await sync_to_async(check_ingest)()
    assert health["ok"] is False
    assert f"camera {broken}" in health["detail"]
    assert "acks are withheld" in health["detail"]
    assert not any(acked(broken, 2)(r) for r in conv.replies), "acked a sequence whose state was not saved"
    runtime_state.frames_stored = 2
    await conv.wait_for(acked(broken, 2))
    assert (await sync_to_async(check_ingest)())["ok"] is True
    assert (await stream_state(good)).highest_contiguous_sequence == 3
    await conv.close()


async def test_a_new_epoch_restarting_at_one_is_stored_and_acked_in_its_epoch(env: Env) -> None:
    """A replaced box (or a wiped spool): sequences restart at 1 in a new epoch and nothing is dropped."""
    cam = env.camera_ids[0]
    old_epoch, new_epoch = NOW_US - 3600 * 10**6, NOW_US - 60 * 10**6
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame_at(cam, seq, epoch=old_epoch) for seq in range(1, 51)))
    await conv.wait_for(acked(cam, 50, old_epoch))
    await conv.close()
    new_box = Conversation(env.port, env.device_id)
    await new_box.send(*(frame_at(cam, seq, epoch=new_epoch) for seq in range(1, 21)))
    await new_box.wait_for(acked(cam, 20, new_epoch))
    state = await stream_state(cam)
    assert (state.frames_stored, state.duplicates_dropped, state.epochs_started) == (70, 0, 1)
    assert (state.sequence_epoch, state.highest_contiguous_sequence) == (new_epoch, 20)
    assert [(e["epoch"], e["highest_contiguous"]) for e in state.earlier_epochs] == [(old_epoch, 50)]
    # Late replays of the old box's spool are still recognised as its own, and acked in its epoch.
    await new_box.send(*(frame_at(cam, seq, epoch=old_epoch) for seq in (49, 50)))
    await new_box.wait_for(acked(cam, 50, old_epoch))
    await new_box.send(frame_at(cam, 21, epoch=new_epoch))
    await new_box.wait_for(acked(cam, 21, new_epoch))
    state = await stream_state(cam)
    assert (state.frames_stored, state.duplicates_dropped) == (71, 2)
    await new_box.close()


async def test_a_legacy_camera_moves_to_an_epoch_without_losing_frames(env: Env) -> None:
    """A camera streamed by an agent before epochs (epoch 0); its box is replaced by a current one."""
    cam = env.camera_ids[1]
    conv = Conversation(env.port, env.device_id)
    await conv.send(*(frame(cam, seq) for seq in range(1, 11)))
    await conv.wait_for(acked(cam, 10, 0))
    await conv.send(*(frame_at(cam, seq, epoch=NOW_US - 10**6) for seq in range(1, 6)))
    await conv.wait_for(acked(cam, 5, NOW_US - 10**6))
    state = await stream_state(cam)
    assert (state.frames_stored, state.duplicates_dropped) == (15, 0)
    await conv.close()


async def test_an_epoch_tracked_once_and_forgotten_is_refused_not_stored_twice(env: Env) -> None:
    """Five more spools after the first: the first epoch's window is forgotten, so its replays could no longer be
    told from new frames; they are refused (FAILED_PRECONDITION) instead of stored a second time."""
    cam = env.camera_ids[0]
    epochs = [NOW_US - 600 * 10**6 + i for i in range(6)]
    conv = Conversation(env.port, env.device_id)
    for epoch in epochs:
        await conv.send(frame_at(cam, 1, epoch=epoch), frame_at(cam, 2, epoch=epoch))
        await conv.wait_for(acked(cam, 2, epoch))
    env.pipeline.forget_camera(cam)  # as another ingest process would, from the saved state
    await conv.send(frame_at(cam, 2, epoch=epochs[0]), frame_at(cam, 3, epoch=epochs[1]))
    refused = await conv.wait_for(rejected(2))
    assert refused.rejected.status_code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "older than the 5 epochs the server tracks" in refused.rejected.reason
    await conv.wait_for(acked(cam, 3, epochs[1]))  # the oldest epoch still tracked goes on
    state = await stream_state(cam)
    assert (state.frames_stored, state.frames_rejected, state.epochs_started) == (13, 1, 5)
    assert [e["epoch"] for e in state.earlier_epochs] == epochs[1:5]
    await conv.close()
