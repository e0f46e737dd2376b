"""Device credentials on disk: JSON written atomically with 0600 rights."""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_agent.errors import ConfigError

logger = logging.getLogger(__name__)

# The device secret from the environment (instead of --device-secret, which every local user sees in `ps`).
SECRET_ENV = "RETAIL_EDGE_DEVICE_SECRET"  # noqa: S105 (a variable name, not a secret)


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    server: str
    device_id: int
    device_secret: str
    tls: bool = False
    root_cert: str | None = None

    def __repr__(self) -> str:  # never log the secret
        return f"DeviceCredentials(server={self.server!r}, device_id={self.device_id}, tls={self.tls})"


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` so that only the owner can read it (0600), replacing any previous file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def save_credentials(path: Path, credentials: DeviceCredentials) -> None:
    write_private_file(path, json.dumps(asdict(credentials), indent=2).encode("utf-8"))


def load_credentials(path: Path) -> DeviceCredentials:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DeviceCredentials(
            server=str(data["server"]),
            device_id=int(data["device_id"]),
            device_secret=str(data["device_secret"]),
            tls=bool(data.get("tls", False)),
            root_cert=data.get("root_cert"),
        )
    except FileNotFoundError as err:
        raise ConfigError(f"no device credentials at {path}: run `retail-edge enroll` first") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"device credentials file {path} is unreadable or damaged: {err}") from err


def read_secret_file(path: Path) -> str:
    """The device secret kept in a file (its first line); warns when other local users may read the file."""
    try:
        mode = path.stat().st_mode
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"device secret file {path} is unreadable: {err.strerror or err}") from err
    if not secret:
        raise ConfigError(f"device secret file {path} is empty")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("device secret file %s is readable by other users: chmod 600 it", path)
    return secret
