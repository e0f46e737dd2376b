"""Make sure the real services the tests need are there, then run a command with their URLs in the environment.

    python -m tests.support.services run -- pytest ...

PostgreSQL and Redis: the machine's own instances are used when they answer on 127.0.0.1 (5432 / 6379); otherwise the
machine's cluster is started, and failing that an ephemeral instance is started on a free port in a temporary
directory (installing the Debian package first when missing and running as root). InfluxDB 1.x: always an ephemeral
instance on free ports with a temporary data directory (tests/support/influxdb.py), unless INFLUX_URL is set.
Mosquitto (MQTT): the machine's broker when one answers on 127.0.0.1:1883, otherwise `mosquitto` on a free port
with a temporary configuration and directory (installing Debian's `mosquitto` first when missing and running as
root); its URL is exported as MQTT_TEST_URL (not MQTT_URL: the servers the tests start connect to a broker only
when a test says so).
URLs already in the environment (DATABASE_URL, REDIS_URL, INFLUX_URL, MQTT_TEST_URL) are respected.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def log(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise RuntimeError(
            f"{', '.join(packages)} missing and not root: install them (apt-get install {' '.join(packages)})"
        )
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout_s:.0f} s")


# ---- PostgreSQL ------------------------------------------------------------------------------------------------
def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    default = "postgres://postgres@127.0.0.1:5432/test"
    if port_open(5432):
        log("PostgreSQL: using 127.0.0.1:5432")
        yield default
        return
    if shutil.which("pg_ctlcluster") and glob.glob("/etc/postgresql/*/main"):
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
        with contextlib.suppress(RuntimeError):
            wait_for(lambda: port_open(5432), 20, "PostgreSQL cluster")
            log("PostgreSQL: started the machine's cluster on 5432")
            subprocess.run(
                ["runuser", "-u", "postgres", "--", "createdb", "-h", "127.0.0.1", "test"],
                check=False,
                capture_output=True,
            )
            yield default
            return
    if _pg_bin("initdb") is None:
        apt_install("postgresql")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    assert initdb
    assert pg_ctl
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="retail-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -h 127.0.0.1",
            "start",
        ],
        check=True,
    )
    try:
        wait_for(lambda: port_open(port), 30, "ephemeral PostgreSQL")
        subprocess.run(
            [
                *run_as,
                _pg_bin("createdb") or "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "test",
            ],
            check=True,
        )
        log(f"PostgreSQL: ephemeral instance on 127.0.0.1:{port}")
        yield f"postgres://postgres@127.0.0.1:{port}/test"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "stop", "-m", "fast"], check=False, capture_output=True
        )
        shutil.rmtree(data, ignore_errors=True)


# ---- Redis -----------------------------------------------------------------------------------------------------
def _redis_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def redis() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if _redis_ping(6379):
        log("Redis: using 127.0.0.1:6379")
        yield "redis://127.0.0.1:6379/0"
        return
    if shutil.which("redis-server") is None:
        apt_install("redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="retail-redis-")
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _redis_ping(port), 20, "ephemeral Redis")
        log(f"Redis: ephemeral instance on 127.0.0.1:{port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


# ---- InfluxDB --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def influxdb() -> Iterator[str]:
    if os.environ.get("INFLUX_URL"):
        yield os.environ["INFLUX_URL"]
        return
    from tests.support.influxdb import EphemeralInfluxDB, ensure_influxd_installed

    ensure_influxd_installed()
    with EphemeralInfluxDB() as server:
        log(f"InfluxDB: ephemeral instance at {server.url}")
        yield server.url


# ---- Mosquitto -------------------------------------------------------------------------------------------------
def _mqtt_answers(port: int) -> bool:
    """An MQTT 3.1.1 CONNECT answered by a CONNACK."""
    connect = (
        bytes([0x10, 0x10, 0x00, 0x04]) + b"MQTT" + bytes([0x04, 0x02, 0x00, 0x0A, 0x00, 0x04]) + b"ping"
    )
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(connect)
        return sock.recv(4)[:1] == b"\x20"
    return False


def _mosquitto_bin() -> str | None:
    return shutil.which("mosquitto") or next(
        (path for path in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if os.path.exists(path)), None
    )


@contextlib.contextmanager
def mosquitto() -> Iterator[str]:
    if os.environ.get("MQTT_TEST_URL"):
        yield os.environ["MQTT_TEST_URL"]
        return
    if _mqtt_answers(1883):
        log("Mosquitto: using 127.0.0.1:1883")
        yield "mqtt://127.0.0.1:1883"
        return
    if _mosquitto_bin() is None:
        apt_install("mosquitto")
    binary = _mosquitto_bin()
    assert binary
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="retail-mosquitto-"))
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(config)], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _mqtt_answers(port), 20, "ephemeral Mosquitto")
        log(f"Mosquitto: ephemeral instance on 127.0.0.1:{port}")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "run" or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[2:]
    with postgres() as database_url, redis() as redis_url, influxdb() as influx_url, mosquitto() as mqtt_url:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "INFLUX_URL": influx_url}
        env["MQTT_TEST_URL"] = mqtt_url
        env["RETAIL_TEST_SERVICES"] = "1"
        log(
            f"DATABASE_URL={database_url} REDIS_URL={redis_url} INFLUX_URL={influx_url} MQTT_TEST_URL={mqtt_url}"
        )
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
