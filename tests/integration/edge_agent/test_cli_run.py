"""``retail-edge enroll`` and ``retail-edge run`` as processes, on the sample video, against a real gRPC server."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import sample_video_path
from edge_agent.transport.encoder import decode_local_ids
from proto.retail.v1 import track_pb2
from tests.integration.edge_agent.fake_server import FakeEdgeServer, Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[3]
VIDEO = str(sample_video_path())
TOKEN = "enroll-token-0123456789abcdef"


async def retail_edge(*args: str, timeout_s: float = 60.0) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge_agent.cli",
        "--log-level",
        "WARNING",
        *args,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    assert process.returncode is not None
    return process.returncode, output.decode()


def frames_of(store: Store, camera_id: int) -> list[track_pb2.TrackFrame]:
    return [store.frames[key] for key in sorted(store.frames) if key[0] == camera_id]


async def test_enroll_then_run_two_cropped_cameras_streams_tracked_people(tmp_path: Path) -> None:
    store = Store(reorder_window=1000)
    store.tokens[TOKEN] = (11, "secret-of-eleven")
    store.config.heartbeat_interval_s = 3600
    camera = store.config.cameras.add(camera_id=2, name="Right half", enabled=True)
    camera.homography_px_to_cm.extend([2.0, 0, 0, 0, 2.0, 0, 0, 0, 1])
    server = await FakeEdgeServer(store).start()
    try:
        state = tmp_path / "state"
        code, output = await retail_edge(
            "enroll", "--server", server.address, "--token", TOKEN, "--state-dir", str(state)
        )
        assert code == 0, output
        assert stat.S_IMODE((state / "credentials.json").stat().st_mode) == 0o600
        code, output = await retail_edge(
            "run",
            "--state-dir",
            str(state),
            "--source",
            VIDEO,
            "--camera-id",
            "1",
            "--crop",
            "0,0,760,720",
            "--source",
            VIDEO,
            "--camera-id",
            "2",
            "--crop",
            "520,0,760,720",
            "--pace",
            "native",
            # Stop on frames, not on time: a loaded CI machine analyses fewer frames per second.
            "--max-frames",
            "60",
            "--max-seconds",
            "40",
        )
    finally:
        await server.kill()
    assert code == 0, output
    for camera_id in (1, 2):
        frames = frames_of(store, camera_id)
        assert len(frames) >= 20, f"camera {camera_id}: only {len(frames)} frames"
        assert [f.sequence for f in frames] == list(range(1, len(frames) + 1))
        people = [len(f.local_id_deltas) for f in frames[10:]]
        assert np.median(people) >= 5  # the hall is busy
        for frame in frames:
            ids = decode_local_ids(frame)
            assert ids == sorted(set(ids))
            confirmed = np.asarray(frame.state) == track_pb2.TRACK_STATE_CONFIRMED
            centre_x = (np.asarray(frame.bbox_x_px) + np.asarray(frame.bbox_w_px) / 2)[confirmed]
            assert np.all((centre_x > -10) & (centre_x < 770))  # people seen in the 760 px wide crop
    uncalibrated = frames_of(store, 1)[-1]
    assert set(uncalibrated.flags) == {2}  # TRACK_FLAG_UNCALIBRATED
    calibrated = frames_of(store, 2)[-1]
    assert list(calibrated.flags) == []  # the server's homography applied: no flags at all
    foot_x_px = np.asarray(calibrated.bbox_x_px) + np.asarray(calibrated.bbox_w_px) / 2
    assert np.allclose(np.asarray(calibrated.floor_x_cm), 2 * foot_x_px, atol=2.5)
    widths: dict[int, int] = {}
    # Periodic heartbeats are hourly here (set below): the one at the start precedes the first frame (width 0);
    # the one sent on a clean exit carries the cameras' frame sizes.
    for heartbeat in store.heartbeats:
        for c in heartbeat.cameras:
            widths[c.camera_id] = max(widths.get(c.camera_id, 0), c.frame_width_px)
    assert widths == {1: 760, 2: 760}, f"{len(store.heartbeats)} heartbeats: {widths}"
    assert store.duplicates == 0


async def test_demo_flags_and_revoked_credentials(tmp_path: Path) -> None:
    store = Store()
    store.credentials[5] = "demo-secret"
    server = await FakeEdgeServer(store).start()
    common = [
        "--state-dir",
        str(tmp_path),
        "--source",
        VIDEO,
        "--camera-id",
        "1",
        "--loop",
        "--pace",
        "native",
    ]
    try:
        code, output = await retail_edge(
            "run", "--server", server.address, "--device-id", "5", "--device-secret", "demo-secret", *common,
            "--max-frames", "12", "--max-seconds", "30",
        )  # fmt: skip
        assert code == 0, output
        assert len(frames_of(store, 1)) >= 10
        store.revoked.add(5)
        attempts = store.stream_attempts
        code, output = await retail_edge(
            "run", "--server", server.address, "--device-id", "5", "--device-secret", "demo-secret", *common,
            "--max-seconds", "30",
        )  # fmt: skip
    finally:
        await server.kill()
    assert code == 3, output
    assert "re-enroll" in output
    assert store.stream_attempts - attempts == 1  # one refused attempt, no retry storm
