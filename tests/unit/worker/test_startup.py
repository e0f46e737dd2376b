"""A site worker's start-up (server.worker.startup): its phases for the log line, and what it no longer imports
before its first pull (a worker that joins takes a share only once it pulls)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.worker import startup

# What `retail-server worker` imports before its first pull (server.cli.serve_worker), in a fresh interpreter.
WORKER_IMPORTS = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
import django
django.setup()
import server.cli, server.runtime, server.worker.service, server.bus.jetstream, server.observability.exposition
print(",".join(m for m in ("matplotlib", "drf_spectacular.utils", "server.reports.runner", "server.insights.apis")
               if m in sys.modules))
"""


def test_the_phases_add_up_from_the_process_start() -> None:
    startup._marks.clear()
    try:
        startup.mark("interpreter")
        startup.mark("django")
        line = startup.summary()
        age = startup.process_age_s()
    finally:
        startup._marks.clear()
    assert age is not None
    assert 0 < age < 3600
    assert line.endswith(" s")
    assert "after the process started: interpreter " in line
    assert ", django " in line
    assert startup.summary() == ""


def test_a_worker_imports_neither_the_report_charts_nor_the_analytics_api_before_it_pulls() -> None:
    # The reports' runner (matplotlib, through its charts) and the analytics API (REST framework, the schema
    # generator) were imported by the runtime of every process: about 0.5 s of a worker's 1.7 s of CPU to its first
    # pull, for nothing it does then.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH")])
        ),
    }
    out = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "", out.stdout
