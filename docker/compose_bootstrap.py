"""One-shot job of docker/compose.yaml: the demo store, its users, one edge-agent config per edge container.

Runs in the server image once the server is healthy (migrations applied):

    python /opt/retail/compose_bootstrap.py --out /var/lib/retail-bootstrap --edges 2

It creates (or updates: it is idempotent) the demo site (floor plan, zones, the two demo cameras on the
sample video), gives each camera its own edge device with credentials, and writes ``edge-<n>.yaml`` (mode
0600, an `edge_agent.config.AgentSettings` document) for the edge container ``edge-<n>``. The users admin,
installer and staff get their passwords from RETAIL_ADMIN_PASSWORD, RETAIL_INSTALLER_PASSWORD and
RETAIL_STAFF_PASSWORD.

A real edge box is enrolled with a one-time token instead (docs/installer-guide.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger("compose_bootstrap")

PASSWORD_VARIABLES = {
    "admin": "RETAIL_ADMIN_PASSWORD",
    "installer": "RETAIL_INSTALLER_PASSWORD",
    "staff": "RETAIL_STAFF_PASSWORD",
}
MIN_PASSWORD_CHARS = 10


class BootstrapError(RuntimeError):
    """The compose bootstrap cannot complete; the message says what to fix."""

    code = "compose_bootstrap_failed"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=Path("/var/lib/retail-bootstrap"), help="where edge-N.yaml go"
    )
    parser.add_argument("--edges", type=int, default=2, help="edge containers (one demo camera each)")
    parser.add_argument("--server", default="server:50051", help="HOST:PORT of the ingest, as edges see it")
    parser.add_argument(
        "--video", default="/srv/assets/video/vtest.avi", help="sample video path in the edges"
    )
    parser.add_argument(
        "--model", default="/srv/assets/models/yolox_nano.onnx", help="ONNX model in the edges"
    )
    parser.add_argument("--state-dir", default="/var/lib/retail-edge", help="edge state directory")
    return parser.parse_args(argv)


def passwords_from_env(environ: dict[str, str]) -> dict[str, str]:
    """The demo users' passwords; each must be set and at least MIN_PASSWORD_CHARS long."""
    passwords: dict[str, str] = {}
    for username, variable in PASSWORD_VARIABLES.items():
        value = environ.get(variable, "")
        if len(value) < MIN_PASSWORD_CHARS:
            raise BootstrapError(
                f"{variable} must be set (docker/.env) to a password of at least "
                f"{MIN_PASSWORD_CHARS} characters"
            )
        passwords[username] = value
    return passwords


def edge_config(
    *,
    server: str,
    device_id: int,
    device_secret: str,
    state_dir: str,
    model_path: str,
    camera_id: int,
    camera_name: str,
    video: str,
    crop_xywh_px: tuple[int, int, int, int],
    homography_px_to_cm: tuple[float, ...],
) -> dict[str, Any]:
    """The YAML document of one edge container (validated by the agent's own settings model)."""
    from edge_agent.config import AgentSettings

    document: dict[str, Any] = {
        "state_dir": state_dir,
        "uplink": {"server": server, "device_id": device_id, "device_secret": device_secret, "tls": False},
        "detector": {"model_path": model_path},
        "cameras": [
            {
                "camera_id": camera_id,
                "name": camera_name,
                "source": video,
                "loop": True,
                "pace": "native",
                "crop_xywh_px": list(crop_xywh_px),
                "homography_px_to_cm": list(homography_px_to_cm),
            }
        ],
    }
    AgentSettings.model_validate(document)
    return document


def write_private(path: Path, document: dict[str, Any]) -> None:
    """Write `document` as YAML, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Written by docker/compose_bootstrap.py; rewritten at every `docker compose up`.\n")
        yaml.safe_dump(document, handle, sort_keys=False)
    temporary.replace(path)


def existing_secret(path: Path) -> str | None:
    """The device secret of a config written earlier: a re-run keeps the running edges' credentials."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    secret = document.get("uplink", {}).get("device_secret") if isinstance(document, dict) else None
    return secret if isinstance(secret, str) and secret else None


def bootstrap(args: argparse.Namespace) -> list[Path]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.production")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from server.demo.setup import setup_demo
    from server.devices.models import EdgeDevice
    from server.devices.services import device_set_credentials
    from server.inventory.models import Camera

    passwords = passwords_from_env(dict(os.environ))
    demo = setup_demo(video_path=args.video)
    if args.edges < 1 or args.edges > len(demo.camera_ids):
        raise BootstrapError(
            f"--edges must be 1 .. {len(demo.camera_ids)} (one demo camera per edge container)"
        )
    written: list[Path] = []
    with transaction.atomic():
        user_model = get_user_model()
        for username, password in passwords.items():
            user = user_model.objects.get(username=username)
            user.set_password(password)
            user.save(update_fields=["password"])
        for index in range(args.edges):
            camera_id = demo.camera_ids[index]
            path = args.out / f"edge-{index + 1}.yaml"
            if index == 0:
                device = EdgeDevice.objects.get(pk=demo.device_id)
            else:
                device, _ = EdgeDevice.objects.get_or_create(
                    site_id=demo.site_id, name=f"Demo edge box {index + 1}"
                )
            Camera.objects.filter(pk=camera_id).update(device=device)
            camera = Camera.objects.get(pk=camera_id)
            secret = existing_secret(path) or secrets.token_urlsafe(32)
            device_set_credentials(device=device, secret=secret)
            document = edge_config(
                server=args.server,
                device_id=device.pk,
                device_secret=secret,
                state_dir=args.state_dir,
                model_path=args.model,
                camera_id=camera_id,
                camera_name=camera.name,
                video=args.video,
                crop_xywh_px=demo.crops_px[index],
                homography_px_to_cm=demo.homographies[index],
            )
            write_private(path, document)
            written.append(path)
            logger.info(
                "edge-%d: device %d, camera %d (%s) -> %s", index + 1, device.pk, camera_id, camera.name, path
            )
    return written


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        written = bootstrap(args)
    except BootstrapError as err:
        print(f"compose bootstrap: {err}", file=sys.stderr)
        return 2
    print(f"compose bootstrap: demo store ready, {len(written)} edge config(s) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
