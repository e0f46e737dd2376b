"""`retail-server`: run the server (ASGI app + gRPC ingest in one process), the demo, or Django management commands.

retail-server run  [--http HOST:PORT] [--grpc HOST:PORT] [--no-http | --no-grpc] [--no-migrate]
retail-server demo [--http HOST:PORT] [--grpc HOST:PORT] [--no-edge]   (embedded defaults + sample-video agent)
retail-server worker [--no-migrate] [--metrics HOST:PORT]   (scale-out site worker; needs RETAIL_BUS_URL)
retail-server manage <django command> [args...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.runtime import Runtime

logger = logging.getLogger("server.cli")
# How long the demo waits for its edge agent's stream before it prints the banner anyway.
EDGE_CONNECT_WAIT_S = 60.0
# HTTP keep-alive of the web server: above the 60 s idle timeout of common balancers and client pools.
KEEP_ALIVE_S = 75


def _split_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
    import django

    django.setup()


def _prepare(migrate: bool) -> None:
    from django.conf import settings
    from django.core.management import call_command

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    if migrate:
        call_command("migrate", interactive=False, verbosity=0)


async def serve(
    *,
    http: tuple[str, int] | None,
    grpc_bind: str | None,
    on_ready: list[str] | None = None,
    after_start: Callable[[], None] | None = None,
    supervise: Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or until `supervise`, started once everything listens, sets the stop event): the
    gRPC ingest server and/or the ASGI app under uvicorn, in this event loop."""
    import uvicorn
    from django.conf import settings

    from server.ingest.server import create_grpc_server
    from server.runtime import build_runtime

    runtime = build_runtime()
    runtime.writer.start()
    runtime.start_background()
    grpc_server = None
    if grpc_bind:
        grpc_server, runtime.grpc_port = await create_grpc_server(
            servicer=runtime.servicer,
            bind=grpc_bind,
            tls_cert=settings.GRPC_TLS_CERT,
            tls_key=settings.GRPC_TLS_KEY,
            tls_client_ca=settings.GRPC_TLS_CLIENT_CA,
            max_connection_age_s=settings.GRPC_MAX_CONNECTION_AGE_S,
            max_connection_age_grace_s=settings.GRPC_MAX_CONNECTION_AGE_GRACE_S,
        )
        print(f"gRPC ingest listening on {grpc_bind.rsplit(':', 1)[0]}:{runtime.grpc_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    uv_server = None
    uv_task = None
    if http:
        config = uvicorn.Config(
            "server.config.asgi:application",
            host=http[0],
            port=http[1],
            log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
            lifespan="off",
            ws="auto",
            # Longer than the idle time of a client's or a balancer's pooled connection (60 s is common): with
            # uvicorn's 5 s, a request sent on a connection idle for about 5 s met the server's close (ECONNRESET).
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        uv_server = uvicorn.Server(config)
        uv_server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
        uv_task = asyncio.create_task(uv_server.serve())
        while not uv_server.started and not uv_task.done():
            await asyncio.sleep(0.05)
        if uv_task.done():
            uv_task.result()
        print(f"HTTP listening on http://{http[0]}:{http[1]}/", flush=True)
    if after_start is not None:
        after_start()
    for line in on_ready or []:
        print(line, flush=True)
    supervisor = None if supervise is None else asyncio.create_task(supervise(runtime, stop))
    await stop.wait()
    if supervisor is not None:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await supervisor
    logger.info("shutting down")
    if uv_server is not None and uv_task is not None:
        uv_server.should_exit = True
        with contextlib.suppress(Exception):
            await uv_task
    if grpc_server is not None:
        await grpc_server.stop(grace=3)
    with contextlib.suppress(Exception):
        await runtime.pipeline.flush()
    await runtime.aclose()


def cmd_run(args: argparse.Namespace) -> int:
    _setup_django()
    _prepare(migrate=not args.no_migrate)
    asyncio.run(
        serve(
            http=None if args.no_http else args.http,
            grpc_bind=None if args.no_grpc else args.grpc,
        )
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.demo.users import LOOPBACK_HOSTS, demo_passwords

    # Debug pages for the demo on this machine only; never for a demo reachable from the network.
    os.environ.setdefault("DJANGO_DEBUG", "true" if args.http[0] in LOOPBACK_HOSTS else "false")
    _setup_django()
    _prepare(migrate=True)
    from django.conf import settings

    from server.demo.assets import AssetMissingError, sample_video_path
    from server.demo.setup import setup_demo

    try:
        video = sample_video_path(Path(settings.DATA_DIR))
    except AssetMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    http_host, http_port = args.http
    passwords = demo_passwords(http_host)
    demo = setup_demo(video_path=str(video), passwords=passwords)
    url = f"http://{'127.0.0.1' if http_host in ('0.0.0.0', '::') else http_host}:{http_port}/"
    grpc_host, grpc_port = args.grpc
    edges: list[subprocess.Popen[bytes]] = []
    command: list[str] = []
    if not args.no_edge:
        command = demo_edge_command(
            server=f"{'127.0.0.1' if grpc_host in ('0.0.0.0', '::') else grpc_host}:{grpc_port}",
            device_id=demo.device_id,
            device_secret_file=demo.device_secret_file,
            video=video,
            cameras=list(zip(demo.camera_ids, demo.crops_px, demo.homographies, strict=True)),
            state_dir=Path(settings.DATA_DIR) / "edge",
            analysis_fps=demo.analysis_fps,
        )

    def start_edge() -> None:
        # Started once the ingest listens, so that the agent connects at its first try.
        if command:
            edges.append(subprocess.Popen(command))

    users = ", ".join(
        f"{u}/{p}" if u in demo.created_users else f"{u} (password unchanged)" for u, p in passwords.items()
    )
    banner = [
        "",
        f"Retail Vision demo is running: open {url}",
        f"Users (change these passwords): {users}",
    ]
    failure: list[str] = []

    async def supervise(runtime: Runtime, stop: asyncio.Event) -> None:
        """Announce the demo once the agent is streaming; if the agent dies before it ever streamed (a missing
        model, an unreadable video), say so and stop the demo. One that exits after streaming (its box revoked or
        replaced in the dashboard) leaves the dashboard running, with a notice."""
        if not command:
            _print_lines([*banner, "Edge agent: not started (--no-edge)", "Stop with Ctrl+C."])
            return
        announced = streamed = False
        deadline = asyncio.get_running_loop().time() + EDGE_CONNECT_WAIT_S
        while True:
            streamed = streamed or runtime.servicer.open_streams > 0
            code = edges[0].poll() if edges else None
            if code is not None and streamed:
                print(
                    f"notice: the demo's edge agent exited with code {code} after streaming (e.g. its box was "
                    "revoked or replaced in the dashboard; its error is printed above); the dashboard keeps "
                    "running, restart the demo to stream again.",
                    file=sys.stderr,
                    flush=True,
                )
                return
            if code is not None:
                failure.append(
                    f"error: the demo's edge agent exited with code {code}"
                    f"{' before it connected' if not announced else ''} (its error is printed above: "
                    "e.g. a missing detector model (--model / RETAIL_MODEL_PATH) or an unreadable video "
                    "(RETAIL_SAMPLE_VIDEO)); the demo stops."
                )
                print(failure[0], file=sys.stderr, flush=True)
                stop.set()
                return
            if not announced and runtime.servicer.open_streams > 0:
                _print_lines([*banner, f"Edge agent: 2 cameras on {video}, connected", "Stop with Ctrl+C."])
                announced = True
            elif not announced and asyncio.get_running_loop().time() > deadline:
                _print_lines(
                    [*banner, f"Edge agent: started, not connected after {EDGE_CONNECT_WAIT_S:.0f} s "
                     "(see its log above)", "Stop with Ctrl+C."]
                )  # fmt: skip
                announced = True
            await asyncio.sleep(0.2)

    try:
        asyncio.run(
            serve(
                http=args.http,
                grpc_bind=f"{grpc_host}:{grpc_port}",
                after_start=start_edge,
                supervise=supervise,
            )
        )
    finally:
        for edge in edges:
            edge.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                edge.wait(timeout=10)
            if edge.poll() is None:
                edge.kill()
    return 1 if failure else 0


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        print(line, flush=True)


def demo_edge_command(
    *,
    server: str,
    device_id: int,
    device_secret_file: Path,
    video: Path,
    cameras: list[tuple[int, tuple[int, int, int, int], tuple[float, ...]]],
    state_dir: Path,
    executable: str | None = None,
    analysis_fps: float = 0.0,
) -> list[str]:
    """The demo's edge agent command line. The device secret stays in its 0600 file: a command line is visible
    to every local user (`ps`). `analysis_fps`: each camera's analysis rate (the server's camera setting, given
    here too so that the trackers start sized for it, before the server's configuration arrives)."""
    command = [
        executable or _edge_executable(),
        "run",
        "--server",
        server,
        f"--device-id={device_id}",
        f"--device-secret-file={device_secret_file}",
        "--loop",
        "--pace",
        "native",
        "--state-dir",
        str(state_dir),
    ]
    for camera_id, crop, homography in cameras:
        # `--flag=value`: values may start with "-" (negative numbers).
        command += [f"--source={video}", f"--camera-id={camera_id}"]
        command += ["--crop=" + ",".join(str(v) for v in crop)]
        command += ["--homography=" + ",".join(repr(v) for v in homography)]
        if analysis_fps > 0:
            command += [f"--fps={analysis_fps:g}"]
    return command


def _edge_executable() -> str:
    candidate = Path(sys.executable).with_name("retail-edge")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("retail-edge")
    if found is None:
        raise SystemExit("retail-edge is not installed: pip install -e '.[edge]'")
    return found


async def serve_worker(metrics_bind: str | None = None) -> None:
    """Run a site worker until SIGINT/SIGTERM (server.worker.service); with `metrics_bind`, /metrics on it."""
    from django.conf import settings

    from server.bus.jetstream import BusConfig
    from server.observability.exposition import start_metrics_server
    from server.runtime import build_runtime
    from server.worker import startup, stopping
    from server.worker.service import SiteWorker, list_site_ids

    startup.mark("worker imports")
    if metrics_bind:
        start_metrics_server(metrics_bind)
    runtime = build_runtime(role="worker")
    runtime.writer.start()
    runtime.start_background()
    startup.mark("runtime")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Where a worker waits, for a stop that does not end: SIGUSR2 logs its tasks' stacks, SIGUSR1 its threads'.
    loop.add_signal_handler(signal.SIGUSR2, stopping.dump_tasks)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    worker = SiteWorker(
        runtime=runtime,
        config=BusConfig.from_settings(),
        ack_interval_s=settings.INGEST_ACK_INTERVAL_MS / 1000.0,
        max_lag_s=settings.RETAIL_WORKER_MAX_LAG_S,
        list_sites=list_site_ids,
    )
    try:
        await worker.run(stop)
    finally:
        await runtime.aclose()


def cmd_worker(args: argparse.Namespace) -> int:
    from server.worker import startup

    startup.mark("interpreter")
    _setup_django()
    from django.conf import settings

    startup.mark("django")
    if not settings.RETAIL_BUS_URL:
        print("error: retail-server worker needs RETAIL_BUS_URL (nats://host:4222)", file=sys.stderr)
        return 2
    _prepare(migrate=not args.no_migrate)
    startup.mark("migrations" if not args.no_migrate else "data dir")
    asyncio.run(serve_worker(args.metrics))
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings
    from django.core.management import execute_from_command_line

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)

    execute_from_command_line(["retail-server manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retail-server", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the ASGI app and the gRPC ingest server")
    run.add_argument("--http", type=_split_host_port, default=_split_host_port("127.0.0.1:8000"))
    run.add_argument("--grpc", default=os.environ.get("GRPC_BIND", "127.0.0.1:50051"))
    group = run.add_mutually_exclusive_group()
    group.add_argument("--no-http", action="store_true", help="ingest-only process")
    group.add_argument("--no-grpc", action="store_true", help="web-only process")
    run.add_argument("--no-migrate", action="store_true")
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="embedded defaults + demo store + an edge agent on the sample video")
    demo.add_argument("--http", type=_split_host_port, default=_split_host_port("127.0.0.1:8000"))
    demo.add_argument("--grpc", type=_split_host_port, default=_split_host_port("127.0.0.1:50051"))
    demo.add_argument("--no-edge", action="store_true")
    demo.set_defaults(func=cmd_demo)
    worker = sub.add_parser(
        "worker", help="site worker: fusion + analytics of the sites on the bus (RETAIL_BUS_URL)"
    )
    worker.add_argument("--no-migrate", action="store_true")
    worker.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics here (e.g. 0.0.0.0:9100)"
    )
    worker.set_defaults(func=cmd_worker)
    manage = sub.add_parser("manage", help="Django management commands")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
