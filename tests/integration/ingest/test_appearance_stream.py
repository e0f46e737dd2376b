"""The appearance cue over the real gRPC ingest on loopback: descriptors computed and encoded by the edge agent's own
code arrive in the fusion's input (CameraObservations) byte for byte; malformed appearance columns are refused with
INVALID_ARGUMENT while the stream, and its other cameras, go on being acked."""

from __future__ import annotations

import time
from typing import Any

import grpc
import numpy as np
import pytest

from edge_agent.appearance import AppearanceSender, describe
from edge_agent.transport.encoder import encode_track_frame
from edge_agent.types import Tracks
from proto.retail.v1 import edge_service_pb2, track_pb2
from server.fusion.site import SiteFusion
from server.fusion.types import CameraObservations
from server.insights.processor import SiteAnalyticsProcessor
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_setup
from server.realtime.publisher import LivePublisher
from tests.integration.ingest.conftest import NullLayer, PointList, StartIngest
from tests.integration.ingest.test_grpc_stream import Conversation, acked, rejected

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

BASE_TIME_US = time.time_ns() // 1000


def people_image() -> tuple[np.ndarray, np.ndarray]:
    """Two people on a grey floor: red top / blue trousers, green top / black trousers."""
    image = np.full((240, 320, 3), 128, dtype=np.uint8)
    boxes = np.array([[20, 20, 80, 200], [200, 30, 260, 210]], dtype=np.float32)
    for (x1, y1, x2, y2), top, bottom in zip(
        boxes.astype(int), ((30, 30, 200), (40, 170, 40)), ((150, 60, 20), (15, 15, 15)), strict=True
    ):
        image[y1 : (y1 + y2) // 2, x1:x2] = top
        image[(y1 + y2) // 2 : y2, x1:x2] = bottom
    return image, boxes


def edge_frames(camera_id: int, count: int) -> tuple[list[track_pb2.TrackFrame], np.ndarray]:
    """Frames as the agent builds them (descriptors from pixels, sent on change) and the descriptors of its two
    tracks."""
    image, boxes = people_image()
    shares = describe(image, boxes)
    sender = AppearanceSender()
    frames = []
    sent = np.zeros((0, 16), dtype=np.uint8)
    for sequence in range(1, count + 1):
        tracks = Tracks(
            ids=np.array([4, 11], dtype=np.int64),
            xyxy_px=boxes,
            scores=np.array([0.9, 0.8], np.float32),
            states=np.array([2, 2], np.int8),
            floor_xy_cm=np.array([[300.0, 400.0], [900.0, 400.0]], np.float32),
            appearance_shares=shares,
        )
        tracks.appearance = sender.select(tracks.ids, shares, BASE_TIME_US, np.zeros(2, dtype=bool))
        if sequence == 1:
            sent = tracks.appearance.copy()
        frames.append(encode_track_frame(camera_id, sequence, BASE_TIME_US + sequence * 80_000, tracks))
    return frames, sent


def message(frame: track_pb2.TrackFrame) -> edge_service_pb2.EdgeMessage:
    return edge_service_pb2.EdgeMessage(frame=frame)


@pytest.fixture
def fusion_inputs(monkeypatch: pytest.MonkeyPatch) -> list[CameraObservations]:
    """Every CameraObservations the fusion is given (the real SiteFusion still runs)."""
    seen: list[CameraObservations] = []
    original = SiteFusion.update_frames

    def spy(self: SiteFusion, observations: CameraObservations) -> Any:
        seen.append(observations)
        return original(self, observations)

    monkeypatch.setattr(SiteFusion, "update_frames", spy)
    return seen


def with_site_analytics(ingest: Any) -> None:
    ingest.pipeline.add_processor(
        SiteAnalyticsProcessor(
            publisher=LivePublisher(rate_hz=5, layer=NullLayer()),
            points=PointList(),
            recorder=InsightsRecorder(),
            load_setup=site_setup,
            load_identities=lambda site_id: {},
            on_alert=lambda site_id, alert: None,
        )
    )


async def test_edge_descriptors_reach_the_fusion_unchanged(
    start_ingest: StartIngest, fusion_inputs: list[CameraObservations]
) -> None:
    ingest = await start_ingest()
    with_site_analytics(ingest)
    device = ingest.devices[0]
    camera = device.camera_ids[0]
    frames, sent = edge_frames(camera, 3)
    assert sent.any(axis=1).all()  # both new tracks send theirs in the first frame, none later
    assert [len(f.appearance_rows) for f in frames] == [2, 0, 0]
    conv = Conversation(ingest.port, device.device_id, device.secret)
    await conv.send(*(message(f) for f in frames))
    await conv.wait_for(acked(camera, 3))
    await conv.close()
    mine = [o for o in fusion_inputs if o.camera_id == camera]
    assert [o.capture_time_us for o in mine] == [f.capture_time_us for f in frames]
    assert mine[0].local_ids.tolist() == [4, 11]
    assert mine[0].appearance_rows.tolist() == [0, 1]
    assert mine[0].appearance.dtype == np.uint8
    assert mine[0].appearance.tobytes() == sent.tobytes()
    assert all(o.appearance.shape == (0, 16) and o.appearance_rows.shape == (0,) for o in mine[1:])


@pytest.mark.parametrize(
    ("layout", "rows", "payload", "reason_part"),
    [
        (7, [0], bytes(16), "appearance_layout 7"),
        (1, [0, 1], bytes(16), "expected 16 per row"),
        (1, [1, 0], bytes(32), "strictly ascending"),
        (1, [5], bytes(16), "rows 0 .. 1"),
        (0, [0], bytes(16), "appearance_layout is 0"),
    ],
)
async def test_malformed_appearance_is_rejected_and_the_other_cameras_stay_acked(
    start_ingest: StartIngest,
    fusion_inputs: list[CameraObservations],
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
    await conv.wait_for(acked(bad_camera, 3))  # the refused frame is done: the acks move past it
    await conv.close()
    # The refused frame never reached the fusion; every other one did.
    reached = {(o.camera_id, o.capture_time_us) for o in fusion_inputs}
    assert (bad_camera, broken.capture_time_us) not in reached
    assert {(bad_camera, f.capture_time_us) for f in (bad_frames[0], bad_frames[2])} <= reached
    assert {(other_camera, f.capture_time_us) for f in other_frames} <= reached
