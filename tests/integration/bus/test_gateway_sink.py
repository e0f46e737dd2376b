"""The gateway's seam to the bus (server.bus.jetstream.JetStreamFrameSink) against a real nats-server: the ack
barrier holds the edge's acks until JetStream has acknowledged every frame before it, and a frame published twice
(a retry, a second gateway) is stored once, by its message id camera:epoch:sequence."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import nats
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.bus.codec import decode_frame_message
from server.bus.jetstream import BusConfig, JetStreamFrameSink
from server.frames import DecodedFrame
from server.ingest.models import CameraStreamState
from server.ingest.pipeline import IngestPipeline
from server.inventory.models import Camera, Site
from tests.support.nats import NatsNode, nats_cluster

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
STREAM = "RETAIL_SINK_TEST"


def _frame(camera_id: int, sequence: int) -> DecodedFrame:
    n = 3
    return DecodedFrame(
        camera_id=camera_id,
        sequence=sequence,
        capture_time_us=1_700_000_000_000_000 + sequence * 100_000,
        local_ids=np.arange(1, n + 1, dtype=np.int64),
        bbox_xywh_px=np.ones((n, 4), dtype=np.int32),
        floor_xy_cm=np.full((n, 2), sequence, dtype=np.int32),
        score_permille=np.full(n, 900, dtype=np.int32),
        state=np.full(n, 2, dtype=np.int32),
        flags=np.zeros(n, dtype=np.int32),
    )


def _camera() -> tuple[int, int]:
    site = Site.objects.create(name="Bus sink store")
    return site.pk, Camera.objects.create(site=site, name="cam").pk


@contextlib.asynccontextmanager
async def _gateway(node: NatsNode) -> AsyncIterator[tuple[IngestPipeline, JetStreamFrameSink]]:
    sink = JetStreamFrameSink(BusConfig(servers=(node.url,), stream=STREAM))
    pipeline = IngestPipeline(processors=[sink])
    pipeline.add_sink(sink, database=False)
    task = asyncio.create_task(sink.run())
    try:
        yield pipeline, sink
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sink.close()


async def _stream_messages(url: str, subject: str) -> list[bytes]:
    nc = await nats.connect(url)
    try:
        info = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{STREAM}", b"{}")).data)
        js = nc.jetstream()
        found = []
        for seq in range(1, int(info["state"]["last_seq"]) + 1):
            raw = await js.get_msg(STREAM, seq=seq)
            assert raw.subject == subject
            found.append(raw.data or b"")
        return found
    finally:
        await nc.close()


async def test_acks_wait_for_jetstream_and_a_frame_is_stored_once() -> None:
    site_id, camera_id = await sync_to_async(_camera)()
    with nats_cluster(1) as (node,):
        node.stop()  # JetStream is away when the first frames arrive
        async with _gateway(node) as (pipeline, sink):
            camera = await pipeline.camera(camera_id)
            assert camera is not None
            for sequence in range(1, 21):
                pipeline.accept(camera, _frame(camera_id, sequence))
            with pytest.raises(TimeoutError, match="not acknowledged"):
                await pipeline.flush()
            # Nothing may be acked: the edge keeps the frames while the bus is away.
            assert pipeline.acked_sequences({camera_id}) == {(camera_id, 0): 0}
            assert not await sync_to_async(CameraStreamState.objects.filter(camera_id=camera_id).exists)()
            node.start()  # same port and store: the sink reconnects and sends what waits
            for _ in range(40):
                try:
                    await pipeline.flush()
                    break
                except TimeoutError:
                    await asyncio.sleep(0.1)
            assert pipeline.acked_sequences({camera_id}) == {(camera_id, 0): 20}
            assert sink.pending == 0
            # The same frames again, as a second gateway would publish them for a box that reconnected there.
            again = JetStreamFrameSink(BusConfig(servers=(node.url,), stream=STREAM))
            task = asyncio.create_task(again.run())
            for sequence in (5, 20):
                again.process(camera, _frame(camera_id, sequence))
            checkpoint = again.checkpoint()
            assert checkpoint is not None
            await asyncio.to_thread(checkpoint.commit)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await again.close()
        messages = await _stream_messages(node.url, f"retail.frames.{site_id}")
    await sync_to_async(connections.close_all)()
    assert [decode_frame_message(m).sequence for m in messages] == list(range(1, 21))
    assert int(decode_frame_message(messages[6]).floor_xy_cm[0, 0]) == 7
