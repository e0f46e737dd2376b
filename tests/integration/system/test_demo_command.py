"""`retail-server demo` (what `scripts/run` runs) tells the truth about its edge agent: with a missing detector
model or an unreadable video the agent dies at start, and the demo says so and exits non-zero instead of printing
"demo is running … 2 cameras"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import BIN, REPO_ROOT, SAMPLE_VIDEO, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _demo(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "INFLUX_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="server.config.settings.local",
        RETAIL_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(REPO_ROOT),
        **env,
    )
    command = [str(BIN / "retail-server"), "demo", "--http", f"127.0.0.1:{free_port()}"]
    command += ["--grpc", f"127.0.0.1:{free_port()}"]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=90, check=False
    )


def test_a_missing_model_stops_the_demo_with_the_reason(tmp_path: Path) -> None:
    assert SAMPLE_VIDEO.is_file(), f"sample video missing: {SAMPLE_VIDEO}"
    result = _demo(
        tmp_path, RETAIL_MODEL_PATH=str(tmp_path / "absent.onnx"), RETAIL_SAMPLE_VIDEO=str(SAMPLE_VIDEO)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "edge agent exited with code 2 before it connected" in result.stderr
    assert "absent.onnx" in result.stderr  # the agent's own message, above ours
    assert "demo is running" not in output


def test_an_unreadable_video_stops_the_demo_with_the_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.avi"
    garbage.write_bytes(b"this is not a video" * 100)
    result = _demo(tmp_path, RETAIL_SAMPLE_VIDEO=str(garbage))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "edge agent exited with code 2 before it connected" in result.stderr
    assert "demo is running" not in output
