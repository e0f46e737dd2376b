"""``retail-edge``: enroll / run / probe / calibrate / bench.

Cameras on the command line: every ``--source`` starts a camera; ``--camera-id``, ``--crop``,
``--homography``, ``--floor-region``, ``--fps`` and ``--name`` given after a ``--source`` belong to it. When
all sources come first and the per-camera options after them, the n-th value of each option goes to the n-th
source instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from edge_agent import __version__
from edge_agent.config import AgentSettings, CameraSettings, load_settings, sample_video_path
from edge_agent.errors import AuthenticationError, ConfigError, EdgeError, GeometryError
from edge_agent.types import RemoteCameraConfig, RemoteDeviceConfig

logger = logging.getLogger("edge_agent.cli")

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAUTHENTICATED = 3

_CAMERA_OPTIONS = ("source", "camera_id", "crop", "homography", "floor_region", "fps", "name")


class _CameraToken(argparse.Action):
    """Records per-camera options in command-line order so they can be grouped by ``--source``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        tokens = getattr(namespace, "camera_tokens", None) or []
        tokens.append((self.dest, values))
        namespace.camera_tokens = tokens


def _numbers(text: str, count: int | None, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError as err:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from err
    if count is not None and len(values) != count:
        raise ConfigError(f"{what} needs exactly {count} numbers, got {len(values)}: {text!r}")
    return values


def group_camera_tokens(tokens: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Group ordered (option, value) pairs into one dict per ``--source`` (see the module docstring)."""
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
            raise ConfigError(f"--{name.replace('_', '-')} given twice for source {cameras[owner]['source']}")
        cameras[owner][name] = value
    return cameras


def cli_cameras(args: argparse.Namespace) -> list[CameraSettings]:
    cameras = []
    groups = group_camera_tokens(getattr(args, "camera_tokens", None) or [])
    for number, group in enumerate(groups, start=1):
        data: dict[str, Any] = {
            "camera_id": int(group.get("camera_id", number)),
            "source": group["source"],
            "loop": args.loop,
            "pace": args.pace,
        }
        if "name" in group:
            data["name"] = group["name"]
        if "fps" in group:
            data["analysis_fps"] = float(group["fps"])
        if "crop" in group:
            data["crop_xywh_px"] = tuple(int(v) for v in _numbers(group["crop"], 4, "--crop"))
        if "homography" in group:
            data["homography_px_to_cm"] = _numbers(group["homography"], 9, "--homography")
        if "floor_region" in group:
            values = _numbers(group["floor_region"], None, "--floor-region")
            if len(values) < 6 or len(values) % 2:
                raise ConfigError("--floor-region needs x,y pairs of at least 3 vertices")
            data["floor_region_cm"] = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
        try:
            cameras.append(CameraSettings.model_validate(data))
        except ValueError as err:
            raise ConfigError(f"camera {data['camera_id']}: {err}") from err
    return cameras


def build_settings(args: argparse.Namespace) -> AgentSettings:
    settings = load_settings(args.config)
    update: dict[str, Any] = {}
    if args.state_dir is not None:
        update["state_dir"] = args.state_dir
    detector = settings.detector.model_copy()
    if args.model is not None:
        detector.model_path = args.model
    if args.threads is not None:
        detector.intra_op_threads = args.threads
    update["detector"] = detector
    cameras = {c.camera_id: c for c in settings.cameras}
    for camera in cli_cameras(args):
        cameras[camera.camera_id] = camera
    update["cameras"] = list(cameras.values())
    uplink = settings.uplink.model_copy()
    for name in ("server", "device_id", "device_secret", "root_cert", "heartbeat_interval_s"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(uplink, name, value)
    if getattr(args, "device_secret", None) is None:
        uplink.device_secret = _secret_from_file_or_env(args) or uplink.device_secret
    if args.tls:
        uplink.tls = True
    update["uplink"] = uplink
    if args.spool_max_frames is not None:
        update["spool"] = settings.spool.model_copy(update={"max_frames": args.spool_max_frames})
    try:
        return AgentSettings.model_validate(
            {**settings.model_dump(), **{k: _dump(v) for k, v in update.items()}}
        )
    except ValueError as err:
        raise ConfigError(f"invalid settings: {err}") from err


def _secret_from_file_or_env(args: argparse.Namespace) -> str | None:
    """--device-secret-file, else $RETAIL_EDGE_DEVICE_SECRET: ways to pass the secret that `ps` does not show."""
    from edge_agent.transport.credentials import SECRET_ENV, read_secret_file

    secret_file: Path | None = getattr(args, "device_secret_file", None)
    if secret_file is not None:
        return read_secret_file(secret_file)
    return os.environ.get(SECRET_ENV, "").strip() or None


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump() if hasattr(value, "model_dump") else value


# ---- device config persistence (enroll writes it; run applies it before the stream delivers a fresh one)
# --------


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


# ---- commands
# ---------------------------------------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace) -> int:
    from edge_agent.transport.enroll import enroll

    settings = build_settings(args)
    credentials, config = enroll(
        server=args.server,
        token=args.token,
        credentials_path=settings.credentials_path,
        tls=args.tls,
        root_cert=args.root_cert,
    )
    save_device_config(settings.device_config_path, config)
    print(
        f"enrolled as device {credentials.device_id} with {len(config.cameras)} camera(s); "
        f"credentials in {settings.credentials_path} (mode 0600)"
    )
    return EXIT_OK


def _build_detector(settings: AgentSettings) -> Any:
    from edge_agent.detection import YoloxOnnxDetector, YoloxOptions

    options = YoloxOptions(
        score_threshold=settings.detector.score_threshold,
        nms_iou_threshold=settings.detector.nms_iou_threshold,
        intra_op_threads=settings.detector.intra_op_threads,
        providers=tuple(settings.detector.providers) if settings.detector.providers else None,
        max_batch=settings.detector.max_batch,
    )
    return YoloxOnnxDetector(settings.detector.resolved_model_path(), options)


def _check_file_sources(cameras: Sequence[CameraSettings]) -> None:
    from edge_agent.capture import check_source, is_file

    for camera in cameras:
        if camera.enabled and is_file(camera.source):
            check_source(camera.source)


def _uplink_options(args: argparse.Namespace, settings: AgentSettings) -> Any:
    from edge_agent.transport.credentials import load_credentials
    from edge_agent.transport.uplink import UplinkOptions

    uplink = settings.uplink
    server, device_id, secret = uplink.server, uplink.device_id, uplink.device_secret
    tls, root_cert = uplink.tls, uplink.root_cert
    credentials_file = args.credentials or (settings.credentials_path if device_id is None else None)
    if credentials_file is not None and (args.credentials is not None or credentials_file.is_file()):
        credentials = load_credentials(credentials_file)
        device_id = device_id or credentials.device_id
        secret = secret or credentials.device_secret
        server = server or credentials.server
        tls = tls or credentials.tls
        root_cert = root_cert or (Path(credentials.root_cert) if credentials.root_cert else None)
    if server is None:
        return None
    if device_id is None or not secret:
        raise ConfigError(
            f"server {server} given but no device credentials: run `retail-edge enroll` or pass "
            "--device-id and --device-secret"
        )
    return UplinkOptions(
        server=server,
        device_id=device_id,
        device_secret=secret,
        tls=tls,
        root_cert=root_cert,
        heartbeat_interval_s=uplink.heartbeat_interval_s,
        reconnect_initial_s=uplink.reconnect_initial_s,
        reconnect_max_s=uplink.reconnect_max_s,
        max_in_flight_frames=uplink.max_in_flight_frames,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.pipeline import Pipeline
    from edge_agent.transport.sink import SpoolSink
    from edge_agent.transport.spool import Spool

    settings = build_settings(args)
    options = _uplink_options(args, settings)
    saved = load_device_config(settings.device_config_path)
    if not settings.cameras and saved is None:
        raise ConfigError("no cameras: pass --source FILE --camera-id N, a --config file, or enroll the box")
    _check_file_sources(settings.cameras)
    detector = _build_detector(settings)
    spool = Spool(settings.spool_path, settings.spool.max_frames, settings.spool.max_bytes)
    pipeline = Pipeline(settings, detector, SpoolSink(spool))
    if saved is not None:
        pipeline.apply_device_config(saved)
    if options is None:
        logger.warning("no server configured: frames are only spooled to %s", settings.spool_path)
    try:
        return asyncio.run(_serve(pipeline, spool, options, args.max_seconds, args.max_frames, args.drain_s))
    finally:
        pipeline.close()
        spool.close()


async def _serve(
    pipeline: Any, spool: Any, options: Any, max_seconds: float | None, max_frames: int | None, drain_s: float
) -> int:
    from edge_agent.transport.uplink import UplinkClient

    loop = asyncio.get_running_loop()
    pipeline.start()
    done = asyncio.Event()

    def run_pipeline() -> None:
        try:
            pipeline.run(max_seconds=max_seconds, max_frames=max_frames)
        finally:
            loop.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=run_pipeline, name="pipeline", daemon=True)
    thread.start()
    uplink = UplinkClient(options, spool, pipeline) if options is not None else None
    uplink_task = asyncio.create_task(uplink.run()) if uplink is not None else None
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, pipeline.stop)
    done_task = asyncio.create_task(done.wait())
    waiting: set[asyncio.Task[Any]] = {done_task} | ({uplink_task} if uplink_task else set())
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    code = EXIT_OK
    if uplink_task is not None and uplink_task.done():
        pipeline.stop()
        await done.wait()
        error = uplink_task.exception()
        if isinstance(error, AuthenticationError):
            print(f"retail-edge: error: {error}", file=sys.stderr)
            code = EXIT_UNAUTHENTICATED
        elif error is not None:
            raise error
    elif uplink is not None and uplink_task is not None:
        uplink.request_heartbeat()  # a last health report: the server sees the box's final state
        uplink.stop()
        try:
            await asyncio.wait_for(uplink_task, timeout=drain_s)
        except TimeoutError:
            logger.warning(
                "uplink did not drain within %.0f s; %d frames stay spooled", drain_s, spool.depth_frames
            )
        except AuthenticationError as err:
            print(f"retail-edge: error: {err}", file=sys.stderr)
            code = EXIT_UNAUTHENTICATED
    done_task.cancel()
    thread.join(timeout=5)
    logger.info(
        "stopped after %d analysed frames; %d frames spooled, %d evicted",
        pipeline.frames_analysed,
        spool.depth_frames,
        spool.evicted_total,
    )
    return code


def cmd_probe(args: argparse.Namespace) -> int:
    import cv2

    from edge_agent.capture import open_source, validate_image

    capture = open_source(args.source)
    try:
        reported_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = 0
        garbage = 0
        width = height = 0
        started = time.perf_counter()
        while frames < args.frames and time.perf_counter() - started < args.seconds:
            ok, raw = capture.read()
            if not ok:
                break
            image = validate_image(raw)
            if image is None:
                garbage += 1
                continue
            height, width = image.shape[:2]
            frames += 1
        elapsed = time.perf_counter() - started
    finally:
        capture.release()
    if frames == 0:
        raise ConfigError(f"source {args.source} opened but delivered no readable frame")
    result = {
        "source": args.source,
        "width_px": width,
        "height_px": height,
        "fps": reported_fps,
        "decode_fps": frames / elapsed if elapsed > 0 else 0.0,
        "frames_decoded": frames,
        "garbage_frames": garbage,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.source}: {width}x{height} px, {reported_fps:.2f} fps reported, "
            f"decodes at {result['decode_fps']:.1f} fps ({frames} frames, {garbage} garbage)"
        )
    return EXIT_OK


def _parse_pairs(args: argparse.Namespace) -> tuple[list[list[float]], list[list[float]]]:
    lines: list[str] = list(args.pair or [])
    if args.pairs_file is not None:
        try:
            text = args.pairs_file.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read point pairs file {args.pairs_file}: {err}") from err
        lines += [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    image, floor = [], []
    scale = 100.0 if args.floor_unit == "m" else 1.0
    for line in lines:
        values = _numbers(line.replace(":", ",").replace(" ", ","), 4, "a point pair (u,v:x,y)")
        image.append(values[:2])
        floor.append([values[2] * scale, values[3] * scale])
    return image, floor


def cmd_calibrate(args: argparse.Namespace) -> int:
    from edge_agent.geometry import fit_homography

    image, floor = _parse_pairs(args)
    calibration = fit_homography(image, floor)
    values = [float(v) for v in calibration.homography_px_to_cm.reshape(-1)]
    if args.json:
        print(
            json.dumps(
                {
                    "homography_px_to_cm": values,
                    "rms_error_cm": calibration.rms_error_cm,
                    "max_error_cm": calibration.max_error_cm,
                    "errors_cm": [float(e) for e in calibration.errors_cm],
                }
            )
        )
    else:
        print("homography_px_to_cm: " + ",".join(f"{v:.10g}" for v in values))
        rms, worst = calibration.rms_error_cm, calibration.max_error_cm
        print(f"reprojection error: rms {rms:.2f} cm, max {worst:.2f} cm")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from edge_agent.capture import check_source
    from edge_agent.pipeline import NullSink, Pipeline

    settings = build_settings(args)
    source = str(args.source or sample_video_path())
    check_source(source)
    detector = _build_detector(settings)
    capture = cv2.VideoCapture(source)
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise ConfigError(f"cannot read a frame of {source}")
    for _ in range(3):
        detector.detect(image)
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        detector.detect(image)
        timings.append((time.perf_counter() - started) * 1000.0)
    providers = ",".join(detector.providers)
    print(f"detector {detector.name} on {providers}: median {np.median(timings):.2f} ms/frame")
    for count in (1, 2):
        cameras = [
            CameraSettings(camera_id=i + 1, source=source, loop=True, pace="fast").model_dump()
            for i in range(count)
        ]
        run_settings = AgentSettings.model_validate({**settings.model_dump(), "cameras": cameras})
        sink = NullSink()
        pipeline = Pipeline(run_settings, detector, sink)
        pipeline.start()
        started = time.perf_counter()
        pipeline.run(max_seconds=args.seconds)
        elapsed = time.perf_counter() - started
        pipeline.close()
        print(f"pipeline, {count} camera(s): {sink.frames / elapsed / count:.1f} fps per camera (null sink)")
    return EXIT_OK


# ---- parser
# -----------------------------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML settings file")
    parser.add_argument(
        "--state-dir", type=Path, help="credentials, spool and saved configuration (var/edge)"
    )
    parser.add_argument(
        "--model", type=Path, help="ONNX detector (default: $RETAIL_MODEL_PATH or the assets)"
    )
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (0 = default)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--root-cert", type=Path, help="PEM root certificate for TLS")


def _add_cameras(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cameras (repeat; options follow their --source)")
    group.add_argument("--source", action=_CameraToken, help="video file, rtsp/http URL or usb:N")
    group.add_argument("--camera-id", action=_CameraToken, help="server camera id of the preceding --source")
    group.add_argument("--crop", action=_CameraToken, help="x,y,w,h region of the source to analyse")
    group.add_argument(
        "--homography", action=_CameraToken, help="9 comma-separated numbers, pixels → floor cm"
    )
    group.add_argument("--floor-region", action=_CameraToken, help="x1,y1,x2,y2,... floor polygon in cm")
    group.add_argument("--fps", action=_CameraToken, help="analysis rate (0 = as fast as possible)")
    group.add_argument("--name", action=_CameraToken, help="display name")
    group.add_argument("--loop", action=argparse.BooleanOptionalAction, default=True, help="loop video files")
    group.add_argument("--pace", choices=["native", "fast"], default="native", help="file playback speed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retail-edge", description="Retail CCTV edge agent")
    parser.add_argument("--version", action="version", version=f"retail-edge {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="exchange a one-time token for device credentials")
    _add_common(enroll)
    enroll.add_argument("--server", required=True, help="HOST:PORT of the server's gRPC endpoint")
    enroll.add_argument("--token", required=True, help="one-time enrollment token from the admin")
    enroll.set_defaults(handler=cmd_enroll, camera_tokens=[], loop=True, pace="native", spool_max_frames=None)

    run = commands.add_parser("run", help="capture, detect, track and stream")
    _add_common(run)
    _add_cameras(run)
    run.add_argument("--server", help="HOST:PORT (default: from the credentials file)")
    run.add_argument("--device-id", type=int, help="device id (default: from the credentials file)")
    run.add_argument(
        "--device-secret",
        help="device secret (visible to every local user in `ps`: prefer --device-secret-file or "
        "$RETAIL_EDGE_DEVICE_SECRET; default: from the credentials file)",
    )
    run.add_argument("--device-secret-file", type=Path, help="file holding the device secret (mode 0600)")
    run.add_argument(
        "--credentials", type=Path, help="credentials file (default: STATE_DIR/credentials.json)"
    )
    run.add_argument("--heartbeat-interval", dest="heartbeat_interval_s", type=float, help="seconds")
    run.add_argument("--spool-max-frames", type=int, help="spool bound in frames")
    run.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    run.add_argument("--max-frames", type=int, help="stop after this many analysed frames (all cameras)")
    run.add_argument("--drain-s", type=float, default=10.0, help="seconds to wait for the last acks on exit")
    run.set_defaults(handler=cmd_run)

    probe = commands.add_parser("probe", help="open a source; print resolution, fps and decode rate")
    probe.add_argument("source")
    probe.add_argument("--frames", type=int, default=200)
    probe.add_argument("--seconds", type=float, default=10.0)
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(handler=cmd_probe)

    calibrate = commands.add_parser("calibrate", help="homography from image↔floor point pairs")
    calibrate.add_argument("--pair", action="append", help="u,v:x,y (image px : floor); repeat ≥ 4 times")
    calibrate.add_argument("--pairs-file", type=Path, help="file with one 'u v x y' pair per line")
    calibrate.add_argument("--floor-unit", choices=["cm", "m"], default="cm")
    calibrate.add_argument("--json", action="store_true")
    calibrate.set_defaults(handler=cmd_calibrate)

    bench = commands.add_parser("bench", help="detector ms/frame and pipeline fps on a video")
    _add_common(bench)
    bench.add_argument("--source", dest="bench_source", type=Path, help="video (default: the sample video)")
    bench.add_argument("--seconds", type=float, default=10.0)
    bench.add_argument("--repeats", type=int, default=20)
    bench.set_defaults(
        handler=cmd_bench,
        camera_tokens=[],
        loop=True,
        pace="fast",
        spool_max_frames=None,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bench":
        args.source = args.bench_source
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
        return code
    except AuthenticationError as err:
        print(f"retail-edge: error: {err}", file=sys.stderr)
        return EXIT_UNAUTHENTICATED
    except (EdgeError, GeometryError) as err:
        print(f"retail-edge: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
