"""From the typed command line to the agent's settings, and the device configuration saved between runs.

Precedence, lowest first: the defaults of :class:`edge_agent.config.AgentSettings`, the ``--config`` YAML file,
the flags. A camera given on the command line replaces the file's camera of the same id. The device secret
comes from ``--device-secret``, else ``--device-secret-file``, else ``$RETAIL_EDGE_DEVICE_SECRET``, else the file.
Every mistake is a :class:`edge_agent.errors.ConfigError` naming the flag.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from edge_agent.cli.grammar import AgentOptions, CameraToken, agent_options
from edge_agent.config import AgentSettings, CameraSettings, load_settings
from edge_agent.errors import ConfigError
from edge_agent.types import RemoteCameraConfig, RemoteDeviceConfig
from retail_common.redaction import redact_source


def numbers(text: str, count: int | None, what: str) -> list[float]:
    """Comma- (or semicolon-) separated numbers; exactly ``count`` of them unless it is None."""
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError as err:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from err
    if count is not None and len(values) != count:
        raise ConfigError(f"{what} needs exactly {count} numbers, got {len(values)}: {text!r}")
    return values


def group_camera_tokens(tokens: list[CameraToken] | tuple[CameraToken, ...]) -> list[dict[str, str]]:
    """Group ordered (option, value) pairs into one dict per ``--source`` (see :mod:`edge_agent.cli.grammar`)."""
    sources = [i for i, (name, _) in enumerate(tokens) if name == "source"]
    if not sources:
        if tokens:
            raise ConfigError(f"--{tokens[0][0].replace('_', '-')} given without any --source")
        return []
    cameras: list[dict[str, str]] = [{"source": tokens[i][1]} for i in sources]
    others = [(i, name, value) for i, (name, value) in enumerate(tokens) if name != "source"]
    all_after_sources = bool(others) and len(sources) > 1 and others[0][0] > sources[-1]
    if all_after_sources:
        counters: dict[str, int] = {}
        for _, name, value in others:
            index = counters.get(name, 0)
            if index >= len(cameras):
                raise ConfigError(f"more --{name.replace('_', '-')} values than --source values")
            cameras[index][name] = value
            counters[name] = index + 1
        return cameras
    for position, name, value in others:
        owner = max((k for k, i in enumerate(sources) if i < position), default=0)
        if name in cameras[owner]:
            raise ConfigError(
                f"--{name.replace('_', '-')} given twice for source {redact_source(cameras[owner]['source'])}"
            )
        cameras[owner][name] = value
    return cameras


def _number(text: str, flag: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError as err:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{flag} must be {what}, got {text!r}") from err


def _camera(number: int, group: dict[str, str], options: AgentOptions) -> CameraSettings:
    camera_id = int(_number(group["camera_id"], "--camera-id", int)) if "camera_id" in group else number
    crop: tuple[int, ...] | None = None
    if "crop" in group:
        crop = tuple(int(v) for v in numbers(group["crop"], 4, "--crop"))
    homography = numbers(group["homography"], 9, "--homography") if "homography" in group else None
    region: list[tuple[float, float]] | None = None
    if "floor_region" in group:
        values = numbers(group["floor_region"], None, "--floor-region")
        if len(values) < 6 or len(values) % 2:
            raise ConfigError("--floor-region needs x,y pairs of at least 3 vertices")
        region = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    data: dict[str, object] = {"camera_id": camera_id, "source": group["source"]}
    data.update(loop=options.loop, pace=options.pace)
    if "name" in group:
        data["name"] = group["name"]
    if "fps" in group:
        data["analysis_fps"] = _number(group["fps"], "--fps", float)
    if crop is not None:
        data["crop_xywh_px"] = crop
    if homography is not None:
        data["homography_px_to_cm"] = homography
    if region is not None:
        data["floor_region_cm"] = region
    try:
        return CameraSettings.model_validate(data)
    except ValueError as err:
        raise ConfigError(f"camera {camera_id}: {err}") from err


def cli_cameras(options: AgentOptions) -> list[CameraSettings]:
    """The cameras given by ``--source`` and the options that belong to each (numbered from 1 by default)."""
    groups = group_camera_tokens(options.camera_tokens)
    return [_camera(number, group, options) for number, group in enumerate(groups, start=1)]


def secret_from_file_or_env(options: AgentOptions) -> str | None:
    """--device-secret-file, else $RETAIL_EDGE_DEVICE_SECRET: ways to pass the secret that `ps` does not show."""
    from edge_agent.transport.credentials import SECRET_ENV, read_secret_file

    if options.device_secret_file is not None:
        return read_secret_file(options.device_secret_file)
    return os.environ.get(SECRET_ENV, "").strip() or None


def build_settings(options: AgentOptions | argparse.Namespace) -> AgentSettings:
    """The agent's settings: the ``--config`` file (or the defaults) with the flags applied, validated whole."""
    if isinstance(options, argparse.Namespace):
        options = agent_options(options)
    settings = load_settings(options.config)
    detector: dict[str, object] = {}
    if options.model is not None:
        detector["model_path"] = options.model
    if options.threads is not None:
        detector["intra_op_threads"] = options.threads
    cameras = {c.camera_id: c for c in settings.cameras}
    for camera in cli_cameras(options):
        cameras[camera.camera_id] = camera
    uplink: dict[str, object] = {
        name: value
        for name, value in (
            ("server", options.server),
            ("device_id", options.device_id),
            ("device_secret", options.device_secret),
            ("root_cert", options.root_cert),
            ("heartbeat_interval_s", options.heartbeat_interval_s),
        )
        if value is not None
    }
    if options.device_secret is None:
        uplink["device_secret"] = secret_from_file_or_env(options) or settings.uplink.device_secret
    if options.tls:
        uplink["tls"] = True
    data = settings.model_dump()
    data["detector"] = {**data["detector"], **detector}
    data["cameras"] = [camera.model_dump() for camera in cameras.values()]
    data["uplink"] = {**data["uplink"], **uplink}
    if options.state_dir is not None:
        data["state_dir"] = options.state_dir
    if options.spool_max_frames is not None:
        data["spool"] = {**data["spool"], "max_frames": options.spool_max_frames}
    if options.appearance is not None:
        data["appearance"] = {**data["appearance"], "enabled": options.appearance}
    try:
        return AgentSettings.model_validate(data)
    except ValueError as err:
        raise ConfigError(f"invalid settings: {err}") from err


# ---- the device configuration saved between runs (enroll writes it; run applies it before the stream delivers a
# fresh one) -------------------------------------------------------------------------------------------------------


def save_device_config(path: Path, config: RemoteDeviceConfig) -> None:
    data = {
        "revision": config.revision,
        "heartbeat_interval_s": config.heartbeat_interval_s,
        "cameras": [
            {
                "camera_id": c.camera_id,
                "name": c.name,
                "source_uri": c.source_uri,
                "analysis_fps": c.analysis_fps,
                "homography_px_to_cm": list(c.homography_px_to_cm) if c.homography_px_to_cm else None,
                "floor_region_cm": [list(p) for p in c.floor_region_cm] if c.floor_region_cm else None,
                "min_score": c.min_score,
                "enabled": c.enabled,
            }
            for c in config.cameras
        ],
    }
    from edge_agent.transport.credentials import write_private_file

    # 0600: camera source URLs carry their login.
    write_private_file(path, yaml.safe_dump(data, sort_keys=False).encode("utf-8"))


def load_device_config(path: Path) -> RemoteDeviceConfig | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cameras = tuple(
            RemoteCameraConfig(
                camera_id=int(c["camera_id"]),
                name=str(c.get("name", "")),
                source_uri=str(c.get("source_uri", "")),
                analysis_fps=float(c.get("analysis_fps", 0.0)),
                homography_px_to_cm=tuple(c["homography_px_to_cm"]) if c.get("homography_px_to_cm") else None,
                floor_region_cm=tuple((float(p[0]), float(p[1])) for p in c["floor_region_cm"])
                if c.get("floor_region_cm")
                else None,
                min_score=float(c.get("min_score", 0.0)),
                enabled=bool(c.get("enabled", True)),
            )
            for c in data.get("cameras", [])
        )
        return RemoteDeviceConfig(
            revision=int(data.get("revision", 0)),
            cameras=cameras,
            heartbeat_interval_s=float(data.get("heartbeat_interval_s", 0)),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"saved device configuration {path} is damaged: {err}") from err
