"""Dashboard benchmark: page load from a cold cache, and the live map under 100 synthetic people at 5 Hz.

    .venv/bin/python -m benchmarks.dashboard_load [--runs 5] [--seconds 10] [--people 100] [--rate-hz 5]

Starts `retail-server demo --no-edge` on free ports with a fresh data directory (no real people, so only the
synthetic ones are drawn), drives headless Chromium, and prints:
- cold load: navigation start → live map drawn and WebSocket open, each run in a new browser context (empty
  cache), median and worst (goal ≤ 2 s);
- live map: synthetic `live.positions` frames fed through the page's event path (window.__retail.inject, the same
  handler the WebSocket uses); frames injected vs. frames that reached the canvas (a Konva layer draw before the
  next frame), injection → draw latency, and the browser's animation-frame rate meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    ensure_dashboard_built,
    wait_healthy,
)
from tests.support.processes import free_port

LIVE_MAP_JS = """
async ({ seconds, people, rateHz }) => {
  const hook = window.__retail;
  const period = 1000 / rateHz;
  const frames = Math.round(seconds * rateHz);
  const rafGaps = [];
  let lastRaf = performance.now();
  let measuring = true;
  const raf = (t) => { rafGaps.push(t - lastRaf); lastRaf = t; if (measuring) requestAnimationFrame(raf); };
  requestAnimationFrame(raf);
  const base = Array.from({ length: people }, (_, i) => ({
    x: 1 + (i % 14) * 2, y: 1 + Math.floor(i / 14) * 2.4, a: (i * 0.7) % (2 * Math.PI),
  }));
  let drawn = 0, missed = 0;
  const latencies = [];
  for (let f = 0; f < frames; f++) {
    const started = performance.now();
    const drawsBefore = hook.draws;
    const persons = base.map((p, i) => ({
      id: 100000 + i,
      x_m: Math.min(29.9, Math.max(0.1, p.x + Math.cos(p.a + f * 0.1) * 0.8)),
      y_m: Math.min(19.9, Math.max(0.1, p.y + Math.sin(p.a + f * 0.1) * 0.8)),
    }));
    const contacts = [[100000, 100001, 0.9], [100020, 100021, 1.2]];
    hook.inject({ type: "live.positions", site_id: hook.siteId(), time_us: Date.now() * 1000, persons, contacts });
    let latency = null;
    while (performance.now() - started < period - 2) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (latency === null && hook.draws > drawsBefore) latency = performance.now() - started;
    }
    if (latency === null && hook.draws > drawsBefore) latency = performance.now() - started;
    if (latency === null) missed++; else { drawn++; latencies.push(latency); }
  }
  measuring = false;
  const shown = hook.persons().length;
  rafGaps.shift();
  return { frames, drawn, missed, latencies, rafGaps, shown };
}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def cold_loads(browser: Browser, base_url: str, storage: Any, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        context = browser.new_context(
            base_url=base_url, storage_state=storage, viewport={"width": 1500, "height": 950}
        )
        page = context.new_page()
        page.goto("/live")
        page.wait_for_selector("[data-testid=floor-map] canvas")
        page.wait_for_function("() => window.__retail && window.__retail.live().status === 'open'")
        elapsed_ms = page.evaluate("() => performance.now()")
        transferred = page.evaluate(
            "() => performance.getEntriesByType('resource').reduce((s, e) => s + (e.transferSize || 0), 0)"
            " + (performance.getEntriesByType('navigation')[0]?.transferSize || 0)"
        )
        timings.append(elapsed_ms / 1000.0)
        print(
            f"  cold load: {elapsed_ms / 1000.0:.3f} s ({transferred / 1024:.0f} KiB transferred)", flush=True
        )
        context.close()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=5.0)
    args = parser.parse_args()

    ensure_dashboard_built()
    data_dir = Path(tempfile.mkdtemp(prefix="retail-bench-"))
    log_path = data_dir / "server.log"
    http_port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "INFLUX_URL"}}
    env.update(RETAIL_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="server.config.settings.local")
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "retail-server"),
        "demo",
        "--no-edge",
        "--http",
        f"127.0.0.1:{http_port}",
        "--grpc",
        f"127.0.0.1:{grpc_port}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        wait_healthy(base_url, process, log_path)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            login_context = browser.new_context(base_url=base_url)
            page = login_context.new_page()
            page.goto("/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "admin")
            page.click("[data-testid=login-submit]")
            page.wait_for_url("**/live")
            storage = login_context.storage_state()
            login_context.close()

            print(
                f"Dashboard page load from a cold cache ({args.runs} runs, signed in, /live until map + socket):"
            )
            loads = cold_loads(browser, base_url, storage, args.runs)
            print(f"  median {statistics.median(loads):.3f} s, worst {max(loads):.3f} s (goal <= 2 s)")

            context = browser.new_context(
                base_url=base_url, storage_state=storage, viewport={"width": 1500, "height": 950}
            )
            page = context.new_page()
            page.goto("/live")
            page.wait_for_selector("[data-testid=floor-map] canvas")
            result = page.evaluate(
                LIVE_MAP_JS, {"seconds": args.seconds, "people": args.people, "rateHz": args.rate_hz}
            )
            lat = result["latencies"]
            gaps = result["rafGaps"]
            fps = 1000.0 / statistics.mean(gaps) if gaps else float("nan")
            long_frames = sum(1 for g in gaps if g > 50)
            print(
                f"Live map: {args.people} people at {args.rate_hz:g} Hz for {args.seconds:g} s (synthetic, via inject):"
            )
            print(
                f"  frames injected {result['frames']}, drawn {result['drawn']}, dropped {result['missed']}"
            )
            print(
                f"  inject -> canvas draw: median {statistics.median(lat) if lat else float('nan'):.1f} ms,"
                f" p95 {percentile(lat, 0.95):.1f} ms, max {max(lat) if lat else float('nan'):.1f} ms"
            )
            print(f"  browser animation frames: {fps:.1f} fps, {long_frames} frames longer than 50 ms")
            print(f"  people shown at the end: {result['shown']}")
            context.close()
            browser.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
