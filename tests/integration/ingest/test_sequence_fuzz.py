"""Seeded fuzz of sequence numbers at the ingest, against the real grpc.aio server on loopback and PostgreSQL.

Each seed sends a random mix over two cameras: in-order frames, swapped pairs, replays, gaps of evicted frames,
late frames of those gaps, jumps far beyond the allowed distance, sequences 0, 2^63-1, 2^63 + k and 2^64-1, illegal
epochs, new sequence epochs (a replaced box, a wiped spool) and frames of earlier epochs; then a contiguous tail per
(camera, epoch) so that every window's prefix reaches its end. Asserted: every illegal frame gets exactly one
INVALID_ARGUMENT rejection and no legal frame gets one; every distinct legal (camera, epoch, sequence) is processed
exactly once and acked in its epoch; the counters add up; no state save fails; and the saved state, reloaded,
knows every stored frame.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import pytest

from proto.retail.v1 import edge_service_pb2
from server.frames import DecodedFrame
from server.ingest.pipeline import CameraRuntime, IngestPipeline
from server.ingest.sequencing import MAX_SEQUENCE_JUMP, Admission
from tests.integration.ingest.test_grpc_stream import Conversation, Env, env, stream_state
from tests.integration.ingest.test_sequence_limits import frame_at

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
__all__ = ["env"]  # the fixture

REORDER_WINDOW = 64  # of the `env` fixture's pipeline
STEPS = 1000
MAX_GAPS_PER_EPOCH = 8  # stays below the windows' memory of given-up gaps (sequencing.MAX_SKIPPED_RANGES)
# The current epoch plus the earlier ones the pipeline keeps (pipeline.MAX_EARLIER_EPOCHS).
MAX_EPOCHS_PER_CAMERA = 4


@dataclass
class EpochModel:
    epoch: int
    next: int = 1
    sent: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    fills: int = 0


@dataclass(frozen=True)
class Sent:
    camera_id: int
    epoch: int
    sequence: int
    legal: bool
    capture_time_us: int


class Recorder:
    def __init__(self) -> None:
        self.processed: Counter[tuple[int, int, int]] = Counter()

    def process(self, camera: CameraRuntime, frame: DecodedFrame) -> None:
        self.processed[(camera.camera_id, frame.sequence_epoch, frame.sequence)] += 1


def generate(seed: int, camera_ids: list[int]) -> tuple[list[Sent], dict[tuple[int, int], EpochModel]]:
    rng = random.Random(seed)
    base_us = time.time_ns() // 1000 - 60 * 10**6
    clock = iter(range(base_us, base_us + 10**9, 1000))
    epochs_made = iter(
        range(base_us - 1000, base_us)
    )  # spool creation times, increasing, before every capture
    # Camera 0 starts on the legacy epoch (an agent before epochs), camera 1 on a spool of a current agent.
    models = {camera_ids[0]: [EpochModel(0)], camera_ids[1]: [EpochModel(next(epochs_made))]}
    frames: list[Sent] = []

    def send(camera_id: int, model: EpochModel, sequence: int, legal: bool, epoch: int | None = None) -> None:
        frames.append(Sent(camera_id, model.epoch if epoch is None else epoch, sequence, legal, next(clock)))
        if legal:
            model.sent.append(sequence)

    for _ in range(STEPS):
        camera_id = rng.choice(camera_ids)
        model = models[camera_id][-1]
        top = model.next - 1  # highest legal sequence sent (or skipped over) so far
        r = rng.random()
        if r < 0.40:
            send(camera_id, model, model.next, True)
            model.next += 1
        elif r < 0.48:  # swapped pair (out of order within the reorder window)
            send(camera_id, model, model.next + 1, True)
            send(camera_id, model, model.next, True)
            model.next += 2
        elif r < 0.58 and model.sent:  # replay of anything sent before
            send(camera_id, model, rng.choice(model.sent), True)
        elif r < 0.63 and len(model.gaps) < MAX_GAPS_PER_EPOCH:  # frames evicted from the edge's spool
            gap = rng.choice([rng.randint(2, REORDER_WINDOW), rng.randint(REORDER_WINDOW + 1, 5000)])
            model.gaps.append((model.next, model.next + gap - 1))
            model.next += gap
            send(camera_id, model, model.next, True)
            model.next += 1
        elif r < 0.67 and model.gaps and model.fills < MAX_GAPS_PER_EPOCH:  # a late frame of a gap
            index = rng.randrange(len(model.gaps))
            first, last = model.gaps[index]
            sequence = rng.randint(first, last)
            model.gaps[index : index + 1] = [
                (a, b) for a, b in ((first, sequence - 1), (sequence + 1, last)) if a <= b
            ]
            model.fills += 1
            send(camera_id, model, sequence, True)
        elif r < 0.73:  # far beyond the allowed jump
            far = rng.choice(
                [
                    top + MAX_SEQUENCE_JUMP + rng.randint(10_000, 2**40),
                    2**62 + rng.randint(0, 2**40),
                    2**63 - rng.randint(1, 2**20),
                    2**63 - 1,
                ]
            )
            send(camera_id, model, far, False)
        elif r < 0.79:  # outside the legal range
            send(camera_id, model, rng.choice([0, 2**63, 2**63 + rng.randint(1, 2**40), 2**64 - 1]), False)
        elif r < 0.81:  # an epoch outside its legal range
            send(camera_id, model, max(model.next, 1), False, epoch=2**63 + rng.randint(0, 2**40))
        elif r < 0.90 and len(models[camera_id]) > 1:  # the box of an earlier epoch goes on, or replays
            old = rng.choice(models[camera_id][:-1])
            if old.sent and rng.random() < 0.5:
                send(camera_id, old, rng.choice(old.sent), True)
            else:
                send(camera_id, old, old.next, True)
                old.next += 1
        elif (
            r < 0.95 and len(models[camera_id]) < MAX_EPOCHS_PER_CAMERA
        ):  # a new spool: sequences from 1 again
            fresh = EpochModel(next(epochs_made))
            models[camera_id].append(fresh)
            send(camera_id, fresh, 1, True)
            fresh.next = 2
        else:
            send(camera_id, model, model.next, True)
            model.next += 1
    # A contiguous tail longer than the reorder window per (camera, epoch): every window's prefix reaches its end.
    for camera_id, chain in models.items():
        for model in chain:
            for sequence in range(model.next, model.next + REORDER_WINDOW + 1):
                send(camera_id, model, sequence, True)
            model.next += REORDER_WINDOW + 1
    return frames, {(camera_id, m.epoch): m for camera_id, chain in models.items() for m in chain}


class Answers:
    """What the server answered so far: the latest ack per (camera, epoch) and the rejections per (camera, sequence)."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.acks: dict[tuple[int, int], int] = {}
        self.rejections: Counter[tuple[int, int]] = Counter()

    def add(self, reply: edge_service_pb2.ServerMessage) -> None:
        if reply.HasField("ack"):
            for ack in reply.ack.cameras:
                assert ack.HasField("sequence_epoch")
                self.acks[(ack.camera_id, ack.sequence_epoch)] = ack.highest_contiguous_sequence
        elif reply.HasField("rejected"):
            assert reply.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0], reply.rejected
            assert reply.rejected.reason
            self.rejections[(reply.rejected.camera_id, reply.rejected.sequence)] += 1

    async def read_until(self, done: Callable[[], bool], timeout_s: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            remaining = deadline - loop.time()
            assert remaining > 0, "the server did not answer every frame in time"
            reply = await asyncio.wait_for(self.conv.call.read(), remaining)  # type: ignore[arg-type]
            assert isinstance(reply, edge_service_pb2.ServerMessage), "stream ended"
            self.add(reply)

    async def drain(self, timeout_s: float = 10.0) -> None:
        await self.conv.outbox.put(None)
        while True:
            reply = await asyncio.wait_for(self.conv.call.read(), timeout_s)  # type: ignore[arg-type]
            if not isinstance(reply, edge_service_pb2.ServerMessage):  # grpc.aio.EOF
                return
            self.add(reply)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_every_frame_gets_exactly_one_correct_answer(env: Env, seed: int) -> None:
    recorder = Recorder()
    env.pipeline.add_processor(recorder)
    frames, models = generate(seed, env.camera_ids)
    illegal = Counter((f.camera_id, f.sequence) for f in frames if not f.legal)
    legal_keys = {(f.camera_id, f.epoch, f.sequence) for f in frames if f.legal}
    final_acks = {key: model.next - 1 for key, model in models.items()}
    assert len(illegal) > 10
    assert len(models) >= 3

    conv = Conversation(env.port, env.device_id)
    await conv.send(
        *(frame_at(f.camera_id, f.sequence, epoch=f.epoch, capture_time_us=f.capture_time_us) for f in frames)
    )
    answers = Answers(conv)
    await answers.read_until(
        lambda: answers.rejections == illegal and all(answers.acks.get(k) == v for k, v in final_acks.items())
    )
    await (
        answers.drain()
    )  # half-close: whatever else the server had to say arrives before the end of the stream
    await conv.close()

    assert answers.rejections == illegal  # exactly one rejection per illegal frame, none for a legal one
    assert set(recorder.processed) == legal_keys  # every legal frame processed ...
    assert set(recorder.processed.values()) == {1}  # ... exactly once
    assert {k: answers.acks[k] for k in final_acks} == final_acks  # and acked in its own epoch
    assert env.pipeline.stats.state_save_failures == 0
    for camera_id in env.camera_ids:
        state = await stream_state(camera_id)
        sent = [f for f in frames if f.camera_id == camera_id]
        stored = sum(1 for k in legal_keys if k[0] == camera_id)
        chain = sorted((m for (c, _), m in models.items() if c == camera_id), key=lambda m: m.epoch)
        assert state.frames_stored == stored
        assert state.duplicates_dropped == sum(1 for f in sent if f.legal) - stored
        assert state.frames_rejected == sum(1 for f in sent if not f.legal)
        assert state.epochs_started == len(chain) - 1
        assert (state.sequence_epoch, state.highest_contiguous_sequence) == (
            chain[-1].epoch,
            chain[-1].next - 1,
        )

    # The saved state, loaded by another process, knows every stored frame (a replay there is a duplicate).
    reloaded = IngestPipeline(reorder_window=REORDER_WINDOW)
    for camera_id, epoch, sequence in sorted(legal_keys):
        runtime = await reloaded.camera(camera_id)
        assert runtime is not None
        window = runtime.window_of(epoch)
        assert window is not None
        assert window.admit(sequence) is Admission.DUPLICATE, (camera_id, epoch, sequence)
