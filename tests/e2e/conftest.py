"""End-to-end fixtures: the system started as the README starts it (`retail-server demo` on the embedded defaults,
a fresh data directory, free ports, the edge agent streaming the sample video) and headless Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MANIFEST = REPO_ROOT / "server" / "web" / "static" / "dashboard" / ".vite" / "manifest.json"
STARTUP_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class RunningSystem:
    base_url: str
    data_dir: Path
    log_path: Path


def ensure_dashboard_built() -> None:
    """The README's setup builds the dashboard; build it here too when a checkout skipped that step."""
    if MANIFEST.exists():
        return
    frontend = REPO_ROOT / "frontend"
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to build the dashboard (scripts/setup installs it)"
    if not (frontend / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=frontend, check=True)
    subprocess.run([npm, "run", "build"], cwd=frontend, check=True)
    assert MANIFEST.exists(), "npm run build did not produce the Vite manifest"


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the demo exited with {process.returncode}; log:\n{log_path.read_text()[-4000:]}"
            )
        with (
            contextlib.suppress(urllib.error.URLError, OSError, ValueError),
            urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as response,
        ):
            if response.status == 200 and json.loads(response.read()).get("status") in {"ok", "degraded"}:
                return
        time.sleep(0.5)
    raise RuntimeError(
        f"the demo did not become healthy in {STARTUP_TIMEOUT_S} s; log:\n{log_path.read_text()[-4000:]}"
    )


@pytest.fixture(scope="module")
def system() -> Iterator[RunningSystem]:
    ensure_dashboard_built()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="retail-e2e-"))
    http_port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "INFLUX_URL"}}
    env.update(RETAIL_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="server.config.settings.local")
    env["NOTIFY_WEBHOOK_ALLOW_PRIVATE"] = "true"  # the webhook receivers of the e2e tests listen on 127.0.0.1
    log_path = ARTIFACTS / "e2e-server.log"
    server = REPO_ROOT / ".venv" / "bin" / "retail-server"
    command = [str(server), "demo", "--http", f"127.0.0.1:{http_port}", "--grpc", f"127.0.0.1:{grpc_port}"]
    with log_path.open("wb") as log:
        process = (
            subprocess.Popen(  # the README's run command, minus the setup step the test command already ran
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        wait_healthy(base_url, process, log_path)
        yield RunningSystem(base_url=base_url, data_dir=data_dir, log_path=log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, system: RunningSystem) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=system.base_url, viewport={"width": 1500, "height": 950})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"


def login(page: Page, username: str, password: str | None = None) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or username)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/live")
    page.wait_for_selector("[data-testid=current-user]")


def screenshot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def csrf_headers(context: BrowserContext) -> dict[str, str]:
    token = next((c["value"] for c in context.cookies() if c["name"] == "csrftoken"), "")
    return {"X-CSRFToken": token, "Content-Type": "application/json"}
