"""scripts/build-dashboard (run by scripts/setup, so by every scripts/run): the dashboard is built when its
sources changed, not on every run. Runs the real script on a copy of its layout with a recording `npm`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.support.processes import REPO_ROOT

FAKE_NPM = """#!/usr/bin/env bash
echo "$*" >> "$NPM_LOG"
mkdir -p ../server/web/static/dashboard/.vite
echo '{}' > ../server/web/static/dashboard/.vite/manifest.json
"""


def _layout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "build-dashboard", root / "scripts" / "build-dashboard")
    (root / "frontend" / "src").mkdir(parents=True)
    (root / "frontend" / "package.json").write_text('{"name": "x"}')
    (root / "frontend" / "src" / "main.ts").write_text("export const a = 1;\n")
    (root / "frontend" / "node_modules").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NPM_LOG": str(tmp_path / "npm.log")}
    return root, env


def _build(root: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["bash", str(root / "scripts" / "build-dashboard"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stderr


def _builds(tmp_path: Path) -> int:
    log = tmp_path / "npm.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_the_dashboard_is_rebuilt_only_when_its_sources_change(tmp_path: Path) -> None:
    root, env = _layout(tmp_path)
    assert "building the dashboard" in _build(root, env)
    assert _builds(tmp_path) == 1
    assert "up to date" in _build(root, env)  # nothing changed: no second build
    (root / "frontend" / "node_modules" / "cache.bin").write_text("tooling noise")
    _build(root, env)
    assert _builds(tmp_path) == 1  # node_modules is not a source
    (root / "frontend" / "src" / "main.ts").write_text("export const a = 2;\n")
    _build(root, env)
    assert _builds(tmp_path) == 2
    (root / "frontend" / "src" / "new.vue").write_text("<template />\n")
    _build(root, env)
    assert _builds(tmp_path) == 3  # a new file counts
    shutil.rmtree(root / "server" / "web" / "static" / "dashboard")
    _build(root, env)
    assert _builds(tmp_path) == 4  # the output was removed: built again
    _build(root, env, "--force")
    assert _builds(tmp_path) == 5
