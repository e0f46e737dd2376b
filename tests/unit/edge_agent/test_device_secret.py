"""Hardening item 13: the device secret never travels on a command line (every local user sees those in `ps`);
the agent reads it from a 0600 file or the environment. Camera source logins stay out of logs and errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from edge_agent.capture import redact_source
from edge_agent.cli import build_parser, build_settings, save_device_config
from edge_agent.errors import ConfigError
from edge_agent.transport.credentials import SECRET_ENV
from edge_agent.types import RemoteCameraConfig, RemoteDeviceConfig
from server.cli import demo_edge_command

SECRET = "-starts-with-a-dash_0123456789abcdefghijklmnop"


def _secret_file(tmp_path: Path, secret: str = SECRET) -> Path:
    path = tmp_path / "device.secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def _uplink_secret(argv: list[str]) -> str | None:
    settings = build_settings(build_parser().parse_args(["run", "--server", "127.0.0.1:1", *argv]))
    return settings.uplink.device_secret


def test_demo_starts_the_agent_without_the_secret_on_its_command_line(tmp_path: Path) -> None:
    secret_file = _secret_file(tmp_path)
    command = demo_edge_command(
        server="127.0.0.1:50051",
        device_id=3,
        device_secret_file=secret_file,
        video=tmp_path / "video.avi",
        cameras=[(1, (0, 0, 760, 720), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))],
        state_dir=tmp_path / "edge",
        executable="retail-edge",
    )
    assert not any(SECRET in part for part in command)
    assert f"--device-secret-file={secret_file}" in command
    settings = build_settings(build_parser().parse_args(command[1:]))  # what the agent makes of it
    assert settings.uplink.device_secret == SECRET
    assert settings.uplink.device_id == 3


def test_secret_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert _uplink_secret([f"--device-secret-file={_secret_file(tmp_path)}"]) == SECRET
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert _uplink_secret([]) == "from-the-environment"
    assert _uplink_secret(["--device-secret=on-the-line"]) == "on-the-line"  # still works, for scripts
    with pytest.raises(ConfigError, match="unreadable"):
        _uplink_secret([f"--device-secret-file={tmp_path / 'absent'}"])
    with pytest.raises(ConfigError, match="empty"):
        _uplink_secret([f"--device-secret-file={_secret_file(tmp_path, '  ')}"])


def test_source_logins_are_redacted_and_the_saved_config_is_private(tmp_path: Path) -> None:
    assert redact_source("rtsp://viewer:s3cret@10.0.0.5:554/live?x=1") == "rtsp://***@10.0.0.5:554/live?x=1"
    assert redact_source("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert redact_source("/videos/a@b.avi") == "/videos/a@b.avi"
    path = tmp_path / "device-config.yaml"
    camera = RemoteCameraConfig(
        camera_id=1,
        name="door",
        source_uri="rtsp://viewer:s3cret@cam/live",
        analysis_fps=0.0,
        homography_px_to_cm=None,
        floor_region_cm=None,
        min_score=0.0,
        enabled=True,
    )
    save_device_config(path, RemoteDeviceConfig(revision=1, cameras=(camera,), heartbeat_interval_s=10))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_redact_source_hides_credential_query_parameters() -> None:
    assert (
        redact_source("http://cam/snapshot.cgi?user=admin&res=hd&PWD=x#f")
        == "http://cam/snapshot.cgi?user=***&res=hd&PWD=***#f"
    )
    assert redact_source("http://u:p@cam?loginpas=x") == "http://***@cam?loginpas=***"
    assert redact_source("http://cam/live?res=hd") == "http://cam/live?res=hd"


def test_the_demo_agent_analyses_at_the_demo_s_rate(tmp_path: Path) -> None:
    # With no rate ("as fast as possible") the trackers were sized for 30 fps, which a CPU analysing two crops
    # does not reach: lost tracks (and their global persons) lived far longer than meant, and the demo showed
    # about 50 people for the 30-odd its cameras see.
    from server.demo.cameras import ANALYSIS_RATE_HZ

    cameras = [(1, (0, 0, 760, 720), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))] * 2
    command = demo_edge_command(
        server="127.0.0.1:50051",
        device_id=3,
        device_secret_file=_secret_file(tmp_path),
        video=tmp_path / "video.avi",
        cameras=[(1, *cameras[0][1:]), (2, *cameras[1][1:])],
        state_dir=tmp_path / "edge",
        executable="retail-edge",
        analysis_fps=ANALYSIS_RATE_HZ,
    )
    settings = build_settings(build_parser().parse_args(command[1:]))
    assert [camera.analysis_fps for camera in settings.cameras] == [ANALYSIS_RATE_HZ] * 2
    assert 0 < ANALYSIS_RATE_HZ <= 12.5
