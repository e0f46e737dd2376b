"""The command line's grammar: the ``argparse`` parser of ``retail-edge`` and the typed command it parses into.

Cameras on the command line: every ``--source`` starts a camera; ``--camera-id``, ``--crop``, ``--homography``,
``--floor-region``, ``--fps`` and ``--name`` given after a ``--source`` belong to it. When all sources come first
and the per-camera options after them, the n-th value of each option goes to the n-th source instead
(:func:`edge_agent.cli.settings.group_camera_tokens`). The grammar only records them, in order, as text.

Nothing here reads a file or the environment: :func:`parse_command_line` turns ``argv`` into one of the command
dataclasses below, and :mod:`edge_agent.cli.settings` makes the agent's settings of it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from edge_agent import __version__

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Pace = Literal["native", "fast"]
FloorUnit = Literal["cm", "m"]
# The per-camera options, in the order the parser records them: (option dest, its text).
CameraToken = tuple[str, str]

CAMERA_OPTIONS = ("source", "camera_id", "crop", "homography", "floor_region", "fps", "name")
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentOptions:
    """The options the agent's settings are built from (``enroll``, ``run`` and ``bench``); None = not given."""

    config: Path | None = None
    state_dir: Path | None = None
    model: Path | None = None
    threads: int | None = None
    tls: bool = False
    root_cert: Path | None = None
    camera_tokens: tuple[CameraToken, ...] = ()
    loop: bool = True
    pace: Pace = "native"
    server: str | None = None
    device_id: int | None = None
    device_secret: str | None = None
    device_secret_file: Path | None = None
    heartbeat_interval_s: float | None = None
    spool_max_frames: int | None = None
    appearance: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class EnrollCommand:
    """``enroll``: exchange a one-time token for device credentials."""

    options: AgentOptions
    server: str
    token: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RunCommand:
    """``run``: capture, detect, track and stream."""

    options: AgentOptions
    credentials: Path | None
    max_seconds: float | None
    max_frames: int | None
    drain_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeCommand:
    """``probe``: open a source; report resolution, fps and decode rate."""

    source: str
    frames: int
    seconds: float
    json: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class CalibrateCommand:
    """``calibrate``: a homography from image↔floor point pairs."""

    pairs: tuple[str, ...]
    pairs_file: Path | None
    floor_unit: FloorUnit
    json: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchCommand:
    """``bench``: detector ms/frame and pipeline fps on a video."""

    options: AgentOptions
    source: Path | None
    seconds: float
    repeats: int


Command = EnrollCommand | RunCommand | ProbeCommand | CalibrateCommand | BenchCommand


@dataclass(frozen=True, slots=True)
class CommandLine:
    log_level: LogLevel
    command: Command


class _CameraToken(argparse.Action):
    """Records per-camera options in command-line order so they can be grouped by ``--source``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        tokens: list[CameraToken] = list(getattr(namespace, "camera_tokens", None) or [])
        tokens.append((self.dest, str(values)))
        namespace.camera_tokens = tokens


def _seconds(text: str) -> float:
    """A duration: a finite number of seconds, at least 0 (``--max-seconds nan`` never stopped)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    """A count of frames or repeats: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


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
    parser.add_argument("--log-level", default="INFO", choices=list(LOG_LEVELS))
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="exchange a one-time token for device credentials")
    _add_common(enroll)
    enroll.add_argument("--server", required=True, help="HOST:PORT of the server's gRPC endpoint")
    enroll.add_argument("--token", required=True, help="one-time enrollment token from the admin")
    enroll.set_defaults(camera_tokens=[], loop=True, pace="native", spool_max_frames=None)

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
    run.add_argument(
        "--appearance",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="clothing-colour descriptors for re-acquisition and the fusion (default: on; docs/privacy.md)",
    )
    run.add_argument("--max-seconds", type=_seconds, help="stop after this many seconds")
    run.add_argument("--max-frames", type=_count, help="stop after this many analysed frames (all cameras)")
    run.add_argument(
        "--drain-s", type=_seconds, default=10.0, help="seconds to wait for the last acks on exit"
    )

    probe = commands.add_parser("probe", help="open a source; print resolution, fps and decode rate")
    probe.add_argument("source")
    probe.add_argument("--frames", type=_count, default=200)
    probe.add_argument("--seconds", type=_seconds, default=10.0)
    probe.add_argument("--json", action="store_true")

    calibrate = commands.add_parser("calibrate", help="homography from image↔floor point pairs")
    calibrate.add_argument("--pair", action="append", help="u,v:x,y (image px : floor); repeat ≥ 4 times")
    calibrate.add_argument("--pairs-file", type=Path, help="file with one 'u v x y' pair per line")
    calibrate.add_argument("--floor-unit", choices=["cm", "m"], default="cm")
    calibrate.add_argument("--json", action="store_true")

    bench = commands.add_parser("bench", help="detector ms/frame and pipeline fps on a video")
    _add_common(bench)
    bench.add_argument("--source", dest="bench_source", type=Path, help="video (default: the sample video)")
    bench.add_argument("--seconds", type=_seconds, default=10.0)
    bench.add_argument("--repeats", type=_count, default=20)
    bench.set_defaults(camera_tokens=[], loop=True, pace="fast", spool_max_frames=None)
    return parser


# ---- Namespace → typed command ---------------------------------------------------------------------------------


def _get(namespace: argparse.Namespace, name: str, kind: type[_T]) -> _T | None:
    """The parsed value ``name`` (None when the command has no such option or it was not given), checked to be
    a ``kind``: the parser's types above and these dataclasses' fields must agree."""
    value: object = getattr(namespace, name, None)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise TypeError(f"option {name}: expected {kind.__name__}, parsed {type(value).__name__}")
    return value


def _need(namespace: argparse.Namespace, name: str, kind: type[_T]) -> _T:
    value = _get(namespace, name, kind)
    if value is None:
        raise TypeError(f"option {name} has no value")
    return value


def _float(namespace: argparse.Namespace, name: str) -> float | None:
    value: object = getattr(namespace, name, None)
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise TypeError(f"option {name}: expected a number, parsed {type(value).__name__}")
    return float(value)


def _pace(text: str) -> Pace:
    return "fast" if text == "fast" else "native"


def _log_level(text: str) -> LogLevel:
    for level in LOG_LEVELS:
        if level == text:
            return level
    raise TypeError(f"unknown log level {text!r}")


def agent_options(namespace: argparse.Namespace) -> AgentOptions:
    """The settings-relevant options of a parsed ``enroll``, ``run`` or ``bench`` command line."""
    tokens = _get(namespace, "camera_tokens", list) or []
    return AgentOptions(
        config=_get(namespace, "config", Path),
        state_dir=_get(namespace, "state_dir", Path),
        model=_get(namespace, "model", Path),
        threads=_get(namespace, "threads", int),
        tls=bool(_get(namespace, "tls", bool)),
        root_cert=_get(namespace, "root_cert", Path),
        camera_tokens=tuple((str(name), str(value)) for name, value in tokens),
        loop=_get(namespace, "loop", bool) is not False,
        pace=_pace(_get(namespace, "pace", str) or "native"),
        server=_get(namespace, "server", str),
        device_id=_get(namespace, "device_id", int),
        device_secret=_get(namespace, "device_secret", str),
        device_secret_file=_get(namespace, "device_secret_file", Path),
        heartbeat_interval_s=_float(namespace, "heartbeat_interval_s"),
        spool_max_frames=_get(namespace, "spool_max_frames", int),
        appearance=_get(namespace, "appearance", bool),
    )


def command_of(namespace: argparse.Namespace) -> Command:
    """The typed command of a parsed command line."""
    name = _need(namespace, "command", str)
    if name == "enroll":
        return EnrollCommand(
            options=agent_options(namespace),
            server=_need(namespace, "server", str),
            token=_need(namespace, "token", str),
        )
    if name == "run":
        return RunCommand(
            options=agent_options(namespace),
            credentials=_get(namespace, "credentials", Path),
            max_seconds=_float(namespace, "max_seconds"),
            max_frames=_get(namespace, "max_frames", int),
            drain_s=_float(namespace, "drain_s") or 0.0,
        )
    if name == "probe":
        return ProbeCommand(
            source=_need(namespace, "source", str),
            frames=_need(namespace, "frames", int),
            seconds=_float(namespace, "seconds") or 0.0,
            json=bool(_get(namespace, "json", bool)),
        )
    if name == "calibrate":
        return CalibrateCommand(
            pairs=tuple(str(pair) for pair in _get(namespace, "pair", list) or []),
            pairs_file=_get(namespace, "pairs_file", Path),
            floor_unit="m" if _get(namespace, "floor_unit", str) == "m" else "cm",
            json=bool(_get(namespace, "json", bool)),
        )
    if name == "bench":
        return BenchCommand(
            options=agent_options(namespace),
            source=_get(namespace, "bench_source", Path),
            seconds=_float(namespace, "seconds") or 0.0,
            repeats=_need(namespace, "repeats", int),
        )
    raise TypeError(f"unknown command {name!r}")


def parse_command_line(argv: Sequence[str] | None = None) -> CommandLine:
    """Parse ``argv`` (default: ``sys.argv[1:]``); argparse exits with status 2 and its usage on bad syntax."""
    namespace = build_parser().parse_args(argv)
    return CommandLine(
        log_level=_log_level(_need(namespace, "log_level", str)), command=command_of(namespace)
    )
