"""pytest fixtures for InfluxDB (register with ``pytest_plugins = ["tests.support.influx_fixtures"]``).

- ``influxdb`` (session): an ``InfluxServer`` with ``.url``. When the ``INFLUX_URL`` environment variable is
  set that server is used; otherwise one ephemeral influxd is started for the whole test process (shared even
  when this module's fixtures are imported by several conftest files) and stopped at exit.
- ``ephemeral_influxdb`` (module): an ``EphemeralInfluxDB`` of its own, for fault tests that stop and restart
  it.
- ``influx_database`` (function): a fresh database name on ``influxdb`` (dropped afterwards on a best effort
  basis).
"""

from __future__ import annotations

import atexit
import os
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.influxdb import EphemeralInfluxDB

_shared_lock = threading.Lock()
_shared_server: EphemeralInfluxDB | None = None


@dataclass(frozen=True)
class InfluxServer:
    url: str
    ephemeral: EphemeralInfluxDB | None  # None for a server given by INFLUX_URL


def shared_ephemeral_influxdb() -> EphemeralInfluxDB:
    """The process-wide ephemeral influxd (started on first use, stopped at interpreter exit)."""
    global _shared_server
    with _shared_lock:
        if _shared_server is None or not _shared_server.running:
            server = EphemeralInfluxDB()
            server.start()
            atexit.register(server.close)
            _shared_server = server
        return _shared_server


def drop_database(url: str, name: str) -> None:
    body = urllib.parse.urlencode({"q": f'DROP DATABASE "{name}"'}).encode()
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/query", data=body, timeout=5):
            pass
    except OSError:
        pass


@pytest.fixture(scope="session")
def influxdb() -> InfluxServer:
    external = os.environ.get("INFLUX_URL", "").strip()
    if external:
        return InfluxServer(url=external, ephemeral=None)
    server = shared_ephemeral_influxdb()
    return InfluxServer(url=server.url, ephemeral=server)


@pytest.fixture(scope="module")
def ephemeral_influxdb() -> Iterator[EphemeralInfluxDB]:
    with EphemeralInfluxDB() as server:
        yield server


@pytest.fixture
def influx_database(influxdb: InfluxServer) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    drop_database(influxdb.url, name)
