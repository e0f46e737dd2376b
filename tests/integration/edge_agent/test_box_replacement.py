"""Replacing a broken box (installer guide, "Replace a broken box"; Hardening 2), end to end: the real agent transport
(enroll, spool, uplink) against the real grpc.aio ingest on loopback and PostgreSQL.

The new box has a fresh spool, so its sequences restart at 1; they must be stored, not taken for replays of the old
box's, and the old box must be refused without refusing the new one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from edge_agent.errors import AuthenticationError
from edge_agent.transport.enroll import enroll
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool
from edge_agent.transport.uplink import UplinkClient, UplinkOptions
from edge_agent.types import Tracks
from server.devices.models import EdgeDevice
from server.devices.services import device_create, device_issue_enrollment_token, device_replace
from server.ingest.models import CameraStreamState
from server.ingest.pipeline import IngestPipeline
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera, Site
from tests.integration.edge_agent.test_uplink import FakeControl, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@dataclass
class Server:
    address: str
    device_id: int
    camera_ids: list[int]
    token: str


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    def inventory() -> tuple[int, list[int], str]:
        site = Site.objects.create(name="Replacement store")
        device = device_create(site=site, name="back-office box")
        cameras = [Camera.objects.create(site=site, device=device, name=f"cam{i}").pk for i in range(2)]
        return device.pk, cameras, device_issue_enrollment_token(device=device).token

    device_id, camera_ids, token = await sync_to_async(inventory)()
    pipeline = IngestPipeline(reorder_window=64)
    servicer = EdgeServicer(
        pipeline=pipeline, settings=StreamSettings(ack_interval_s=0.05, auth_recheck_s=0.2)
    )
    grpc_server, port = await create_grpc_server(servicer=servicer, bind="127.0.0.1:0")
    try:
        yield Server(f"127.0.0.1:{port}", device_id, camera_ids, token)
    finally:
        await grpc_server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()


def produce(spool: Spool, camera_ids: list[int], count: int) -> None:
    sink = SpoolSink(spool)
    now_us = time.time_ns() // 1000
    tracks = Tracks(
        ids=np.arange(1, 4, dtype=np.int64),
        xyxy_px=np.tile(np.array([10.0, 10.0, 60.0, 130.0], np.float32), (3, 1)),
        scores=np.full(3, 0.8, np.float32),
        states=np.full(3, 2, np.int8),
    )
    for i in range(count):
        for camera_id in camera_ids:
            sink.emit(camera_id, now_us + i * 40_000, tracks)


async def box(server: Server, state_dir: Path, token: str) -> tuple[UplinkClient, Spool]:
    """A freshly installed box: enrolled with `token`, an empty spool."""
    credentials, _ = await asyncio.to_thread(
        enroll, server=server.address, token=token, credentials_path=state_dir / "credentials.json"
    )
    spool = Spool(state_dir / "spool.sqlite3")
    options = UplinkOptions(
        server=server.address,
        device_id=credentials.device_id,
        device_secret=credentials.device_secret,
        heartbeat_interval_s=0.5,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.2,
    )
    return UplinkClient(options, spool, FakeControl()), spool


def _states(camera_ids: list[int]) -> list[tuple[int, int, int, int]]:
    """(stored, duplicates dropped, epochs started, frames rejected) per camera, as the server persisted them."""
    return [
        (s.frames_stored, s.duplicates_dropped, s.epochs_started, s.frames_rejected)
        for s in CameraStreamState.objects.filter(camera_id__in=camera_ids).order_by("camera_id")
    ]


async def test_a_replacement_box_with_a_fresh_spool_loses_nothing(server: Server, tmp_path: Path) -> None:
    old_client, old_spool = await box(server, tmp_path / "old", server.token)
    produce(old_spool, server.camera_ids, 30)
    async with running(old_client):
        await wait_for(lambda: old_spool.depth_frames == 0)
    assert await sync_to_async(_states)(server.camera_ids) == [(30, 0, 0, 0), (30, 0, 0, 0)]

    # The old box breaks. The installer replaces it: one action on the device, then enrolls the new box.
    device = await sync_to_async(EdgeDevice.objects.get)(pk=server.device_id)
    issued = await sync_to_async(device_replace)(device=device)
    old_again = UplinkClient(old_client.options, old_spool, FakeControl())
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(old_again.run(), timeout=10)  # the old box's credentials no longer work

    new_client, new_spool = await box(server, tmp_path / "new", issued.token)
    assert new_spool.epoch != old_spool.epoch
    produce(new_spool, server.camera_ids, 20)  # sequences 1..20 again, in the new spool's epoch
    async with running(new_client):
        await wait_for(lambda: new_spool.depth_frames == 0)
    # (The client's own rejection count also holds heartbeat refusals: FakeControl reports a camera the device does
    # not own, and heartbeats come faster than the server records them; the frames are what must not be refused.)
    assert await sync_to_async(_states)(server.camera_ids) == [(50, 0, 1, 0), (50, 0, 1, 0)]
    device = await sync_to_async(EdgeDevice.objects.get)(pk=server.device_id)
    assert device.is_active
    assert await sync_to_async(Camera.objects.filter(device_id=server.device_id).count)() == 2
