"""The commands of ``retail-edge``, each taking its typed command line: enroll / run / probe / calibrate / bench."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from edge_agent.cli.grammar import BenchCommand, CalibrateCommand, EnrollCommand, ProbeCommand, RunCommand
from edge_agent.cli.settings import build_settings, load_device_config, numbers, save_device_config
from edge_agent.cli.wiring import EXIT_OK, build_detector, check_file_sources, serve, uplink_options
from edge_agent.config import AgentSettings, CameraSettings, sample_video_path
from edge_agent.errors import ConfigError
from retail_common.redaction import redact_source

logger = logging.getLogger("edge_agent.cli")


def enroll(command: EnrollCommand) -> int:
    from edge_agent.transport.enroll import enroll as enroll_device

    settings = build_settings(command.options)
    credentials, config = enroll_device(
        server=command.server,
        token=command.token,
        credentials_path=settings.credentials_path,
        tls=command.options.tls,
        root_cert=command.options.root_cert,
    )
    save_device_config(settings.device_config_path, config)
    print(
        f"enrolled as device {credentials.device_id} with {len(config.cameras)} camera(s); "
        f"credentials in {settings.credentials_path} (mode 0600)"
    )
    return EXIT_OK


def run(command: RunCommand) -> int:
    from edge_agent.pipeline import Pipeline
    from edge_agent.transport.sink import SpoolSink
    from edge_agent.transport.spool import Spool

    settings = build_settings(command.options)
    options = uplink_options(settings, command.credentials)
    saved = load_device_config(settings.device_config_path)
    if not settings.cameras and saved is None:
        raise ConfigError("no cameras: pass --source FILE --camera-id N, a --config file, or enroll the box")
    check_file_sources(settings.cameras)
    detector = build_detector(settings)
    spool = Spool(settings.spool_path, settings.spool.max_frames, settings.spool.max_bytes)
    pipeline = Pipeline(settings, detector, SpoolSink(spool))
    if saved is not None:
        pipeline.apply_device_config(saved)
    if options is None:
        logger.warning("no server configured: frames are only spooled to %s", settings.spool_path)
    try:
        return asyncio.run(
            serve(
                pipeline,
                spool,
                options,
                max_seconds=command.max_seconds,
                max_frames=command.max_frames,
                drain_s=command.drain_s,
            )
        )
    finally:
        pipeline.close()
        spool.close()


def probe(command: ProbeCommand) -> int:
    import cv2

    from edge_agent.capture import open_source, validate_image

    capture = open_source(command.source)
    try:
        reported_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = 0
        garbage = 0
        width = height = 0
        started = time.perf_counter()
        while frames < command.frames and time.perf_counter() - started < command.seconds:
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
        raise ConfigError(f"source {redact_source(command.source)} opened but delivered no readable frame")
    decode_fps = frames / elapsed if elapsed > 0 else 0.0
    if command.json:
        result = {
            "source": redact_source(command.source),
            "width_px": width,
            "height_px": height,
            "fps": reported_fps,
            "decode_fps": decode_fps,
            "frames_decoded": frames,
            "garbage_frames": garbage,
        }
        print(json.dumps(result))
    else:
        print(
            f"{redact_source(command.source)}: {width}x{height} px, {reported_fps:.2f} fps reported, "
            f"decodes at {decode_fps:.1f} fps ({frames} frames, {garbage} garbage)"
        )
    return EXIT_OK


def point_pairs(command: CalibrateCommand) -> tuple[list[list[float]], list[list[float]]]:
    """The image (px) and floor (cm) points of ``--pair`` and ``--pairs-file`` (``#`` comments, blank lines)."""
    lines = list(command.pairs)
    if command.pairs_file is not None:
        try:
            text = command.pairs_file.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read point pairs file {command.pairs_file}: {err}") from err
        lines += [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    image, floor = [], []
    scale = 100.0 if command.floor_unit == "m" else 1.0
    for line in lines:
        values = numbers(line.replace(":", ",").replace(" ", ","), 4, "a point pair (u,v:x,y)")
        image.append(values[:2])
        floor.append([values[2] * scale, values[3] * scale])
    return image, floor


def calibrate(command: CalibrateCommand) -> int:
    from edge_agent.geometry import fit_homography

    image, floor = point_pairs(command)
    calibration = fit_homography(image, floor)
    values = [float(v) for v in calibration.homography_px_to_cm.reshape(-1)]
    if command.json:
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


def bench(command: BenchCommand) -> int:
    import cv2
    import numpy as np

    from edge_agent.capture import check_source
    from edge_agent.pipeline import NullSink, Pipeline

    settings = build_settings(command.options)
    source = str(command.source or sample_video_path())
    check_source(source)
    detector = build_detector(settings)
    capture = cv2.VideoCapture(source)
    ok, raw = capture.read()
    capture.release()
    if not ok:
        raise ConfigError(f"cannot read a frame of {redact_source(source)}")
    image = np.asarray(raw, dtype=np.uint8)  # what cv2 decodes already: no copy
    for _ in range(3):
        detector.detect(image)
    timings = []
    for _ in range(command.repeats):
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
        pipeline.run(max_seconds=command.seconds)
        elapsed = time.perf_counter() - started
        pipeline.close()
        print(f"pipeline, {count} camera(s): {sink.frames / elapsed / count:.1f} fps per camera (null sink)")
    return EXIT_OK
