"""Hostile appearance columns over the real gRPC ingest on loopback (review of the appearance cue): each malformed
frame is refused with INVALID_ARGUMENT and a reason that says what is wrong, the stream and the other camera go on
being acked; the largest frame the contract allows (1000 tracks, each with a descriptor) is taken whole."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from edge_agent.transport.encoder import encode_track_frame
from edge_agent.types import Tracks
from proto.retail.v1 import track_pb2
from server.fusion.types import CameraObservations
from tests.integration.ingest.conftest import StartIngest
from tests.integration.ingest.test_appearance_stream import (
    edge_frames,
    fusion_inputs,
    message,
    with_site_analytics,
)
from tests.integration.ingest.test_grpc_stream import Conversation, acked, rejected

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

__all__ = ["fusion_inputs"]  # the fixture, imported to be used here


def _empty(frame: track_pb2.TrackFrame) -> None:
    for column in (
        frame.local_id_deltas, frame.bbox_x_px, frame.bbox_y_px, frame.bbox_w_px, frame.bbox_h_px,
        frame.floor_x_cm, frame.floor_y_cm, frame.score_permille, frame.state, frame.flags,
    ):  # fmt: skip
        del column[:]


@pytest.mark.parametrize(
    ("tracks", "layout", "rows", "payload", "reason_part"),
    [
        (True, 1, [0, 0], bytes(32), "strictly ascending"),
        (True, 1, [0, 1, 1], bytes(48), "strictly ascending"),
        (True, 1, [0], bytes(15), "expected 16 per row"),
        (True, 1, [], bytes(16), "expected 16 per row"),
        (True, 1, [0, 1], bytes(16 * 1000), "expected 16 per row"),
        (True, 1, [2**32 - 1], bytes(16), "rows 0 .. 1"),
        (True, 2, [0], bytes(16), "appearance_layout 2"),
        (True, 0, [], bytes(16), "appearance_layout is 0"),
        (False, 1, [0], bytes(16), "the frame has no tracks"),
    ],
)
async def test_hostile_appearance_columns_are_refused_with_a_reason(
    start_ingest: StartIngest,
    fusion_inputs: list[CameraObservations],
    tracks: bool,
    layout: int,
    rows: list[int],
    payload: bytes,
    reason_part: str,
) -> None:
    ingest = await start_ingest()
    with_site_analytics(ingest)
    device = ingest.devices[0]
    bad_camera, other_camera = device.camera_ids
    bad_frames, _ = edge_frames(bad_camera, 3)
    other_frames, _ = edge_frames(other_camera, 3)
    broken = bad_frames[1]
    if not tracks:
        _empty(broken)
    broken.appearance_layout = layout
    del broken.appearance_rows[:]
    broken.appearance_rows.extend(rows)
    broken.appearance = payload
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.send(*(message(f) for pair in zip(bad_frames, other_frames, strict=True) for f in pair))
    refusal = await conv.wait_for(lambda r: rejected(2)(r) and r.rejected.camera_id == bad_camera)
    assert refusal.rejected.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert reason_part in refusal.rejected.reason
    await conv.wait_for(acked(other_camera, 3))
    await conv.wait_for(acked(bad_camera, 3))
    await conv.close()
    reached = {(o.camera_id, o.capture_time_us) for o in fusion_inputs}
    assert (bad_camera, broken.capture_time_us) not in reached
    assert {(other_camera, f.capture_time_us) for f in other_frames} <= reached


async def test_a_thousand_tracks_each_with_a_descriptor_reach_the_fusion(
    start_ingest: StartIngest, fusion_inputs: list[CameraObservations]
) -> None:
    ingest = await start_ingest()
    with_site_analytics(ingest)
    device = ingest.devices[0]
    camera = device.camera_ids[0]
    count = 1000
    rng = np.random.default_rng(5)
    descriptors = rng.integers(1, 256, (count, 16), dtype=np.uint8)
    xy = rng.uniform(0, 600, (count, 2)).astype(np.float32)
    tracks = Tracks(
        ids=np.arange(1, count + 1, dtype=np.int64)[::-1].copy(),  # out of order: the encoder sorts them
        xyxy_px=np.c_[xy, xy + 40].astype(np.float32),
        scores=np.full(count, 0.9, np.float32),
        states=np.full(count, 2, np.int8),
        floor_xy_cm=rng.uniform(0, 1000, (count, 2)).astype(np.float32),
        appearance=descriptors,
    )
    frame = encode_track_frame(camera, 1, time.time_ns() // 1000, tracks)
    assert len(frame.appearance_rows) == count
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.send(message(frame))
    await conv.wait_for(acked(camera, 1), timeout_s=15.0)
    await conv.close()
    mine = [o for o in fusion_inputs if o.camera_id == camera]
    assert len(mine) == 1
    assert mine[0].appearance_rows.tolist() == list(range(count))
    # Row k is the track of the k-th lowest id: the descriptor given to that id.
    by_id = dict(zip(tracks.ids.tolist(), descriptors.tolist(), strict=True))
    assert mine[0].appearance.tolist() == [by_id[i] for i in mine[0].local_ids.tolist()]
