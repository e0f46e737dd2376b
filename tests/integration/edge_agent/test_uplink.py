"""The uplink against a real grpc.aio server on loopback: delivery, acks, replay, faults, config, commands."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import numpy as np
import pytest

from edge_agent.errors import AuthenticationError, EnrollmentError
from edge_agent.transport.credentials import load_credentials
from edge_agent.transport.enroll import enroll
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool
from edge_agent.transport.uplink import UplinkClient, UplinkOptions
from edge_agent.types import AgentStatus, CameraHealthStatus, RemoteDeviceConfig, Tracks
from proto.retail.v1 import edge_service_pb2
from tests.integration.edge_agent.fake_server import FakeEdgeServer, Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEVICE_ID = 7
SECRET = "s3cret-device-key"


class FakeControl:
    def __init__(self) -> None:
        self.configs: list[RemoteDeviceConfig] = []
        self.restarts = 0

    def status(self) -> AgentStatus:
        camera = CameraHealthStatus(
            camera_id=1,
            connected=True,
            analysed_fps=12.5,
            inference_time_us=19000,
            dropped_frames_total=3,
            reconnects_total=1,
            last_sequence=0,
            last_error="",
            frame_width_px=1280,
            frame_height_px=720,
        )
        return AgentStatus(uptime_s=5.0, software_version="0.1.0", cameras=[camera])

    def apply_device_config(self, config: RemoteDeviceConfig) -> None:
        self.configs.append(config)

    def restart_pipeline(self) -> None:
        self.restarts += 1

    def snapshots(self, camera_id: int) -> list[tuple[int, int, bytes]]:
        return [(camera_id or 1, 1_700_000_000_000_000, b"\xff\xd8fake-jpeg\xff\xd9")]


def _tracks(n: int, seed: int) -> Tracks:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (n, 2))
    boxes = np.concatenate((xy, xy + np.array([50.0, 120.0])), axis=1).astype(np.float32)
    return Tracks(
        ids=np.arange(1, n + 1, dtype=np.int64),
        xyxy_px=boxes,
        scores=np.full(n, 0.8, np.float32),
        states=np.full(n, 2, np.int8),
    )


def produce(sink: SpoolSink, camera_ids: tuple[int, ...], count: int) -> None:
    for i in range(count):
        for camera_id in camera_ids:
            sink.emit(camera_id, 1_700_000_000_000_000 + i * 40_000, _tracks(5, i))


def options(server: str, **overrides: object) -> UplinkOptions:
    base: dict[str, object] = {
        "server": server,
        "device_id": DEVICE_ID,
        "device_secret": SECRET,
        "heartbeat_interval_s": 0.2,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
    }
    base.update(overrides)
    return UplinkOptions(**base)  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def store() -> Store:
    store = Store()
    store.credentials[DEVICE_ID] = SECRET
    return store


@pytest.fixture
async def server(store: Store) -> AsyncIterator[FakeEdgeServer]:
    server = await FakeEdgeServer(store).start()
    yield server
    await server.kill()


@contextlib.asynccontextmanager
async def running(client: UplinkClient) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        client.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)


async def test_frames_are_delivered_in_order_acked_and_leave_the_spool(
    tmp_path: Path, server: FakeEdgeServer
) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    sink = SpoolSink(spool)
    produce(sink, (1, 2), 50)
    client = UplinkClient(options(server.address), spool, FakeControl())
    async with running(client):
        await wait_for(lambda: spool.depth_frames == 0)
        await wait_for(lambda: len(server.store.heartbeats) >= 1)
    assert sorted(server.store.frames) == [(c, s) for c in (1, 2) for s in range(1, 51)]
    per_camera = [s for c, s in server.store.received_order if c == 1]
    assert per_camera == sorted(per_camera)
    heartbeat = server.store.heartbeats[0]
    assert heartbeat.cameras[0].analysed_fps_mhz == 12500
    assert heartbeat.cameras[0].inference_time_us == 19000
    assert client.stats.frames_acked == 100
    frame = server.store.frames[(1, 7)]
    assert len(frame.local_id_deltas) == 5
    assert list(frame.flags) == []


async def test_server_down_at_start_then_up_delivers_everything(tmp_path: Path, store: Store) -> None:
    probe = await FakeEdgeServer(store).start()
    port = probe.port
    await probe.kill()
    spool = Spool(tmp_path / "spool.sqlite3")
    sink = SpoolSink(spool)
    produce(sink, (1,), 20)
    client = UplinkClient(options(f"127.0.0.1:{port}"), spool, FakeControl())
    async with running(client):
        await wait_for(lambda: client.stats.sessions >= 2)  # retried while the server was down
        assert spool.depth_frames == 20
        produce(sink, (1,), 5)  # the pipeline keeps producing meanwhile
        server = await FakeEdgeServer(store, port=port).start()
        try:
            await wait_for(lambda: spool.depth_frames == 0)
        finally:
            await server.kill()
    assert sorted(store.frames) == [(1, s) for s in range(1, 26)]
    assert store.duplicates == 0


async def test_server_killed_mid_stream_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, store: Store
) -> None:
    server = await FakeEdgeServer(store).start()
    port = server.port
    spool = Spool(tmp_path / "spool.sqlite3")
    sink = SpoolSink(spool)
    client = UplinkClient(options(server.address), spool, FakeControl())
    async with running(client):
        for _ in range(10):
            produce(sink, (1, 2), 10)
            await asyncio.sleep(0.02)
        await wait_for(lambda: len(store.frames) > 50)
        await server.kill()
        acked_before_kill = len(store.frames) - spool.depth_frames
        produce(sink, (1, 2), 30)  # produced while the server is gone
        await asyncio.sleep(0.3)
        server = await FakeEdgeServer(store, port=port).start()
        try:
            await wait_for(lambda: spool.depth_frames == 0)
        finally:
            await server.kill()
    expected = [(c, s) for c in (1, 2) for s in range(1, 131)]
    assert sorted(store.frames) == expected  # nothing lost
    assert len(store.received_order) - store.duplicates == len(expected)  # each stored once
    # Only frames that were unacked at the kill may be sent twice (and the server dedups them).
    assert store.duplicates <= len(expected) - max(0, acked_before_kill)
    assert client.stats.sessions >= 2


async def test_spool_full_evicts_oldest_counts_and_reports_in_heartbeat(tmp_path: Path, store: Store) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_frames=30)
    sink = SpoolSink(spool)
    produce(sink, (1,), 50)  # server not there yet: 20 oldest must go
    assert spool.depth_frames == 30
    assert spool.evicted_total == 20
    store.reorder_window = 10  # the server gives up on the evicted gap, as the production ingest does
    server = await FakeEdgeServer(store).start()
    client = UplinkClient(options(server.address), spool, FakeControl())
    try:
        async with running(client):
            await wait_for(lambda: spool.depth_frames == 0 and len(store.heartbeats) >= 1)
    finally:
        await server.kill()
    assert sorted(store.frames) == [(1, s) for s in range(21, 51)]
    assert store.heartbeats[-1].spool_evicted_total == 20


async def test_revoked_credentials_stop_the_uplink_without_a_retry_storm(
    tmp_path: Path, server: FakeEdgeServer
) -> None:
    server.store.revoked.add(DEVICE_ID)
    spool = Spool(tmp_path / "spool.sqlite3")
    produce(SpoolSink(spool), (1,), 3)
    client = UplinkClient(options(server.address), spool, FakeControl())
    with pytest.raises(AuthenticationError, match="re-enroll"):
        await asyncio.wait_for(client.run(), timeout=10)
    await asyncio.sleep(0.3)
    assert server.store.unauthenticated_attempts == 1
    assert spool.depth_frames == 3  # nothing lost: the frames wait for new credentials


async def test_revocation_on_an_open_stream_stops_the_uplink(tmp_path: Path, server: FakeEdgeServer) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    client = UplinkClient(options(server.address), spool, FakeControl())
    task = asyncio.create_task(client.run())
    await wait_for(lambda: client.stats.connected)
    server.store.revoked.add(DEVICE_ID)
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(task, timeout=10)
    await asyncio.sleep(0.3)
    # The open stream ends; at most one reconnect attempt is refused, then the uplink stops for good.
    assert server.store.stream_attempts <= 2


async def test_rejected_frames_leave_the_spool_and_are_counted(
    tmp_path: Path, server: FakeEdgeServer
) -> None:
    server.store.reject_cameras.add(9)
    spool = Spool(tmp_path / "spool.sqlite3")
    produce(SpoolSink(spool), (1, 9), 5)
    client = UplinkClient(options(server.address), spool, FakeControl())
    async with running(client):
        await wait_for(lambda: spool.depth_frames == 0)
    assert client.stats.frames_rejected == 5
    assert client.stats.rejections[0][3] == "camera 9 does not exist"
    assert sorted(server.store.frames) == [(1, s) for s in range(1, 6)]


async def test_config_updates_and_commands(tmp_path: Path, server: FakeEdgeServer) -> None:
    server.store.config.cameras.add(camera_id=1, name="Left", source_uri="/videos/a.mp4", enabled=True)
    spool = Spool(tmp_path / "spool.sqlite3")
    control = FakeControl()
    client = UplinkClient(options(server.address), spool, control)
    async with running(client):
        await wait_for(lambda: len(control.configs) == 1)
        assert control.configs[0].cameras[0].name == "Left"
        update = edge_service_pb2.DeviceConfig(revision=2, heartbeat_interval_s=3600)
        update.cameras.add(camera_id=1, name="Left", source_uri="/videos/a.mp4", enabled=True)
        update.cameras[0].homography_px_to_cm.extend([2, 0, 0, 0, 2, 0, 0, 0, 1])
        update.cameras.add(camera_id=2, name="Right", source_uri="/videos/b.mp4", enabled=True)
        await server.servicer.push(edge_service_pb2.ServerMessage(config=update))
        stale = edge_service_pb2.DeviceConfig(revision=1)
        await server.servicer.push(edge_service_pb2.ServerMessage(config=stale))
        for kind in (
            edge_service_pb2.COMMAND_KIND_RESTART_PIPELINE,
            edge_service_pb2.COMMAND_KIND_CAPTURE_SNAPSHOT,
        ):
            await server.servicer.push(
                edge_service_pb2.ServerMessage(command=edge_service_pb2.Command(kind=kind))
            )
        await wait_for(lambda: control.restarts == 1 and len(server.store.snapshots) == 1)
        # The periodic heartbeat is now hourly: once the beat still due at the old 0.2 s interval is out, only
        # the command can make one.
        await asyncio.sleep(0.5)
        beats = len(server.store.heartbeats)
        command = edge_service_pb2.Command(kind=edge_service_pb2.COMMAND_KIND_SEND_HEARTBEAT)
        await server.servicer.push(edge_service_pb2.ServerMessage(command=command))
        await wait_for(lambda: len(server.store.heartbeats) > beats, timeout_s=5)
    assert [c.revision for c in control.configs] == [1, 2]  # the stale revision 1 was ignored
    assert control.configs[1].cameras[0].homography_px_to_cm == (2, 0, 0, 0, 2, 0, 0, 0, 1)
    assert [c.camera_id for c in control.configs[1].cameras] == [1, 2]
    assert server.store.snapshots[0].jpeg.startswith(b"\xff\xd8")


async def test_enroll_writes_private_credentials(tmp_path: Path, server: FakeEdgeServer) -> None:
    server.store.tokens["one-time-token-abcdefghijkl"] = (42, "fresh-secret")
    server.store.config.cameras.add(camera_id=3, name="Door", source_uri="usb:0", enabled=True)
    path = tmp_path / "state" / "credentials.json"
    credentials, config = await asyncio.to_thread(
        enroll, server=server.address, token="one-time-token-abcdefghijkl", credentials_path=path
    )
    assert credentials.device_id == 42
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials(path).device_secret == "fresh-secret"
    assert config.cameras[0].camera_id == 3
    with pytest.raises(EnrollmentError, match="refused the enrollment token"):
        await asyncio.to_thread(
            enroll, server=server.address, token="one-time-token-abcdefghijkl", credentials_path=path
        )


async def test_enroll_with_server_down_is_a_clear_error(tmp_path: Path) -> None:
    probe = await FakeEdgeServer().start()
    address = probe.address
    await probe.kill()
    with pytest.raises(EnrollmentError, match="cannot reach server"):
        await asyncio.to_thread(
            enroll, server=address, token="t" * 30, credentials_path=tmp_path / "c.json", timeout_s=2
        )


def test_grpc_status_code_of_rejections_is_numeric() -> None:
    assert grpc.StatusCode.NOT_FOUND.value[0] == 5


async def test_acks_of_another_sequence_epoch_leave_the_spool_alone(
    tmp_path: Path, server: FakeEdgeServer
) -> None:
    """After a box replacement the server also acks the old box's epoch; those acks are not about this spool's
    frames (same cameras, same sequence numbers) and must not remove them. Acks without an epoch (servers before
    epochs) still apply."""
    server.servicer.ack_interval_s = 3600  # the fake server acks nothing by itself during this test
    spool = Spool(tmp_path / "spool.sqlite3")
    produce(SpoolSink(spool), (1,), 10)
    client = UplinkClient(options(server.address), spool, FakeControl())

    def ack(highest: int, **epoch: int) -> edge_service_pb2.ServerMessage:
        camera = edge_service_pb2.CameraAck(camera_id=1, highest_contiguous_sequence=highest, **epoch)
        return edge_service_pb2.ServerMessage(ack=edge_service_pb2.Ack(cameras=[camera]))

    async with running(client):
        await wait_for(lambda: len(server.store.frames) == 10)
        await server.servicer.push(ack(10, sequence_epoch=spool.epoch - 1))  # the replaced box's epoch
        await server.servicer.push(ack(10, sequence_epoch=0))  # the legacy epoch of an agent before epochs
        await server.servicer.push(ack(3, sequence_epoch=spool.epoch))
        await wait_for(lambda: spool.depth_frames == 7)
        await server.servicer.push(ack(6))  # an older server: no epoch in the ack
        await wait_for(lambda: spool.depth_frames == 4)
        assert client.stats.frames_acked == 6
