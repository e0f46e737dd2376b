"""The calibration snapshot round trip: an installer's POST /api/cameras/<id>/snapshot/ → the real gRPC ingest
sends a capture command down the box's open stream → the real edge pipeline (stub detector, a generated video)
and uplink answer with one JPEG → the server stores it on the camera (PostgreSQL) with its capture time."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.db import connections
from rest_framework.test import APIClient

from edge_agent.config import AgentSettings, CameraSettings
from edge_agent.pipeline import Pipeline
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool
from edge_agent.transport.uplink import UplinkClient, UplinkOptions
from edge_agent.types import Detections
from server.accounts.roles import ensure_roles
from server.devices.services import device_create, device_set_credentials
from server.ingest.models import CameraStreamState
from server.ingest.pipeline import IngestPipeline
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera, Site

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

SECRET = "s3cret-device-secret-for-snapshot-tests"
WIDTH, HEIGHT = 160, 120


class StubDetector:
    name = "stub"

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        boxes = np.array([[10, 10, 30, 60]], dtype=np.float32)
        return [Detections(xyxy_px=boxes.copy(), scores=np.array([0.9], np.float32)) for _ in images]


def write_video(path: Path) -> str:
    """Left half dark, right half bright: recognisable in the stored JPEG."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (WIDTH, HEIGHT))
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[:, WIDTH // 2 :] = 230
    for _ in range(50):
        writer.write(image)
    writer.release()
    return str(path)


@dataclass
class Box:
    camera_id: int
    other_camera_id: int
    started_us: int


def _inventory() -> tuple[int, int, int]:
    site = Site.objects.create(name="Snapshot store")
    device = device_create(site=site, name="box-1")
    device_set_credentials(device=device, secret=SECRET)
    camera = Camera.objects.create(site=site, device=device, name="Door")
    other = Camera.objects.create(site=site, device=device, name="Till")
    return device.pk, camera.pk, other.pk


def _post_snapshot(camera_id: int) -> tuple[int, dict[str, Any]]:
    ensure_roles()
    user = User.objects.create_user(username="fitter", password="x")
    user.groups.add(Group.objects.get(name="installer"))
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(f"/api/cameras/{camera_id}/snapshot/")
    return response.status_code, response.json()


@pytest.fixture
async def box(tmp_path: Path, settings: Any) -> AsyncIterator[Box]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    device_id, camera_id, other_id = await sync_to_async(_inventory)()
    servicer = EdgeServicer(
        pipeline=IngestPipeline(reorder_window=64),
        settings=StreamSettings(ack_interval_s=0.05, auth_recheck_s=0.2),
    )
    server, port = await create_grpc_server(servicer=servicer, bind="127.0.0.1:0")
    video = write_video(tmp_path / "door.avi")
    cameras = [
        CameraSettings.model_validate({"camera_id": cid, "source": video, "pace": "native", "loop": True})
        for cid in (camera_id, other_id)
    ]
    spool = Spool(tmp_path / "spool.sqlite3")
    pipeline = Pipeline(AgentSettings(cameras=cameras), StubDetector(), SpoolSink(spool))
    options = UplinkOptions(
        server=f"127.0.0.1:{port}", device_id=device_id, device_secret=SECRET, heartbeat_interval_s=1.0
    )
    uplink = UplinkClient(options, spool, pipeline)
    started_us = time.time_ns() // 1000
    pipeline.start()
    thread = threading.Thread(target=pipeline.run, kwargs={"max_seconds": 30}, daemon=True)
    thread.start()
    uplink_task = asyncio.create_task(uplink.run())
    try:
        yield Box(camera_id=camera_id, other_camera_id=other_id, started_us=started_us)
    finally:
        uplink.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(uplink_task, timeout=5)
        pipeline.stop()
        thread.join(timeout=5)
        pipeline.close()
        spool.close()
        await server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()


async def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await sync_to_async(predicate)()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_installer_asks_for_a_snapshot_and_the_box_sends_one(box: Box) -> None:
    # The box streams frames first: its first frame exists before anyone asks.
    await wait_for(
        lambda: CameraStreamState.objects.filter(
            camera_id=box.camera_id, highest_contiguous_sequence__gt=0
        ).exists()
    )
    status, body = await sync_to_async(_post_snapshot)(box.camera_id)
    assert status == 202, body
    assert body["snapshot_pending"] is True
    assert body["snapshot_requested_at"]

    camera = await wait_for(
        lambda: Camera.objects.filter(pk=box.camera_id, snapshot_captured_at__isnull=False).first()
    )
    assert camera.snapshot_pending is False  # the command was claimed and sent once
    assert camera.snapshot_requested_at is not None
    captured_us = int(camera.snapshot_captured_at.timestamp() * 1e6)
    assert box.started_us <= captured_us <= time.time_ns() // 1000  # the frame's capture time, not a default
    jpeg = camera.snapshot.read()
    assert jpeg.startswith(b"\xff\xd8")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    assert image.shape == (HEIGHT, WIDTH)  # the analysed frame, unscaled at this size
    assert image[:, : WIDTH // 2 - 8].mean() < 40
    assert image[:, WIDTH // 2 + 8 :].mean() > 190
    # Only the camera asked for: the box's other camera sent nothing.
    other = await sync_to_async(Camera.objects.get)(pk=box.other_camera_id)
    assert not other.snapshot
    assert other.snapshot_captured_at is None
