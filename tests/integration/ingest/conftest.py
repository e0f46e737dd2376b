"""A real grpc.aio ingest server on loopback over the test database, built per test with the settings it needs:
two enrolled devices of one site with two cameras each, and a camera of the site without a device."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.devices.services import device_create, device_set_credentials
from server.ingest.live import CameraTracksLive
from server.ingest.pipeline import IngestPipeline
from server.ingest.server import create_grpc_server
from server.ingest.servicer import EdgeServicer, StreamSettings
from server.inventory.models import Camera, Site
from server.realtime.publisher import LivePublisher
from server.timeseries.types import Point

DEVICE_SECRETS = ("s3cret-device-one-for-ingest-tests-0123", "s3cret-device-two-for-ingest-tests-4567")


class NullLayer:
    async def group_send(self, group: str, event: object) -> None:
        pass


@dataclass
class PointList:
    points: list[Point] = field(default_factory=list)

    def write(self, points: Sequence[Point]) -> None:
        self.points.extend(points)


@dataclass
class Device:
    device_id: int
    secret: str
    camera_ids: list[int]


@dataclass
class Ingest:
    site_id: int
    devices: list[Device]
    unassigned_camera_id: int
    port: int
    servicer: EdgeServicer
    pipeline: IngestPipeline
    positions: PointList
    health: list[tuple[int, dict[str, Any]]]
    publisher: LivePublisher


def _make_inventory() -> tuple[int, list[Device], int]:
    site = Site.objects.create(name="Ingest test store")
    devices = []
    for index, secret in enumerate(DEVICE_SECRETS):
        device = device_create(site=site, name=f"box-{index + 1}")
        device_set_credentials(device=device, secret=secret)
        cameras = [
            Camera.objects.create(site=site, device=device, name=f"box{index + 1}-cam{i}") for i in range(2)
        ]
        devices.append(Device(device.pk, secret, [c.pk for c in cameras]))
    unassigned = Camera.objects.create(site=site, name="no device")
    return site.pk, devices, unassigned.pk


StartIngest = Callable[..., Awaitable[Ingest]]


@pytest.fixture
async def start_ingest() -> AsyncIterator[StartIngest]:
    """`await start_ingest(max_connection_age_s=0, layer=None, **StreamSettings fields)`: the server, stopped at
    the end; `layer`: the live push's channel layer (None: one that drops everything)."""
    servers: list[Any] = []

    async def start(max_connection_age_s: float = 0.0, layer: Any = None, **settings: Any) -> Ingest:
        site_id, devices, unassigned = await sync_to_async(_make_inventory)()
        positions = PointList()
        health: list[tuple[int, dict[str, Any]]] = []
        pipeline = IngestPipeline(reorder_window=64)
        publisher = LivePublisher(rate_hz=5, layer=layer if layer is not None else NullLayer())
        pipeline.add_processor(CameraTracksLive(publisher, points=positions, positions_sample_hz=1000))
        servicer = EdgeServicer(
            pipeline=pipeline,
            settings=StreamSettings(**{"ack_interval_s": 0.05, "auth_recheck_s": 0.2, **settings}),
            on_health=lambda identity, record: health.append((identity.device_id, record)),
        )
        server, port = await create_grpc_server(
            servicer=servicer,
            bind="127.0.0.1:0",
            max_connection_age_s=max_connection_age_s,
            max_connection_age_grace_s=0.5,
        )
        servers.append(server)
        return Ingest(site_id, devices, unassigned, port, servicer, pipeline, positions, health, publisher)

    try:
        yield start
    finally:
        for server in servers:
            await server.stop(grace=0.5)
        await sync_to_async(connections.close_all)()
