"""An ephemeral InfluxDB 1.x (Debian's ``influxdb`` package) for tests and benchmarks.

``EphemeralInfluxDB`` writes a config into a temporary directory (data, meta and WAL inside it; HTTP and the
backup/restore RPC bound to free loopback ports; reporting, UDP, Graphite, monitor store and continuous
queries off), starts ``influxd``, and waits until ``/ping`` answers 204. ``stop()`` / ``start()`` restart it
on the same ports and data (fault tests). Use it as a context manager.

``ensure_influxd_installed()`` installs the package with apt when ``influxd`` is missing and we are root (the
test command calls it); ``influxd_path()`` finds the binary (``INFLUXD`` env var, then PATH, then
/usr/bin/influxd).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.support.processes import free_port

INFLUXD_CANDIDATES = ("/usr/bin/influxd", "/usr/local/bin/influxd")


class InfluxdUnavailableError(RuntimeError):
    """influxd is not installed and cannot be installed here, or it did not start."""


def influxd_path() -> str | None:
    explicit = os.environ.get("INFLUXD")
    if explicit and Path(explicit).is_file():
        return explicit
    found = shutil.which("influxd")
    if found:
        return found
    return next((c for c in INFLUXD_CANDIDATES if Path(c).is_file()), None)


def ensure_influxd_installed() -> str:
    """Return the influxd path, installing Debian's ``influxdb`` package first when it is missing and we are
    root."""
    path = influxd_path()
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise InfluxdUnavailableError(
            "influxd is not installed; install Debian's 'influxdb' package (as root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "influxdb"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    # The package may start a system service on 8086; tests never use it (they use free ports).
    path = influxd_path()
    if not path:
        raise InfluxdUnavailableError("apt-get installed 'influxdb' but influxd is still not found")
    return path


ensure_influxd = ensure_influxd_installed


def _config(root: Path, http_port: int, rpc_port: int) -> str:
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / "meta"}"
  logging-enabled = false

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[coordinator]
  log-queries-after = "0s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false
  max-body-size = 0

[logging]
  level = "warn"

[subscriber]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = false
"""


class EphemeralInfluxDB:
    """An influxd process on free loopback ports with its data in a temporary directory."""

    def __init__(self, *, start_timeout_s: float = 30.0, root: str | Path | None = None) -> None:
        self.binary = ensure_influxd_installed()
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="influxdb-test-"))
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.start_timeout_s = start_timeout_s
        self.config_path = self.root / "influxdb.conf"
        self.log_path = self.root / "influxd.log"
        self.config_path.write_text(_config(self.root, self.http_port, self.rpc_port))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EphemeralInfluxDB:
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "run", "-config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "INFLUXDB_REPORTING_DISABLED": "true"},
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise InfluxdUnavailableError(
                    f"influxd exited with {self._process.returncode}: {self.log_tail()}"
                )
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise InfluxdUnavailableError(
            f"influxd did not answer /ping within {self.start_timeout_s}s: {self.log_tail()}"
        )

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as response:
                return int(response.status) == 204
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop influxd (SIGTERM, then SIGKILL after ``timeout_s``); data stays for ``start()``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def kill(self) -> None:
        """Stop influxd abruptly (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)

    def close(self) -> None:
        """Stop influxd and delete the temporary directory."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def __enter__(self) -> EphemeralInfluxDB:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


if __name__ == "__main__":  # manual check: python -m tests.support.influxdb
    with EphemeralInfluxDB() as server:
        print(f"influxd {server.binary} answering at {server.url} (data in {server.root})")
