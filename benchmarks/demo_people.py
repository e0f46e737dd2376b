"""How many people the demo shows live, against how many its two cameras see: the demo's two overlapping crops of
the sample video (real YOLOX-Nano detections, cached as ``benchmarks/tracker_video.py`` caches them), looped as
the demo loops it, through the agent's tracker and the server's ``SiteFusion``.

The agent sizes each tracker's lost-track buffer (1 s) and association gates for the camera's analysis rate (a
rate of 0, "as fast as possible", for 30 fps) to begin with, then for the rate the CPU reaches, measured over 5 s
(``edge_agent.pipeline.RateMeter``); before, it kept the first sizing whatever rate the CPU reached. Each
row analyses the video at one rate (what the CPU reaches) with trackers sized for one rate, all rows in the same
run on the same detections:

- *live*: persons in the fused frame (the live map's and "people on the floor"'s count), mean per step;
- *seen now*: those of them a camera observed within the last 0.3 s; *unseen*: the rest (kept while a camera
  still reports their lost track, up to 5 s, or for 1.3 s after their last sighting);
- *cameras see*: the reference, the two cameras' confirmed tracks with the pairs in the overlap (closer than
  0.8 m) counted once;
- visits: the ended persons' (first reported → last seen, as the recorder stores a visit) mean and the share
  under 1 s.

Steps of the first 2 s of each loop are left out (the loop restart moves everybody at once).

Then the stock room's access-control incidents per minute of video, the demo as deployed (10 fps), everybody a
visitor, with the stock room where it lies now (``server.demo.layout``) and where it lay before, on the same fused
frames.

    python -m benchmarks.demo_people [--loops 3]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from tracker_video import cached_detections  # noqa: E402
from video_assets import add_asset_arguments  # noqa: E402

from edge_agent.config import DetectorSettings, TrackerSettings  # noqa: E402
from edge_agent.geometry import FloorProjector, homography_from_values  # noqa: E402
from edge_agent.pipeline import tracker_config  # noqa: E402
from edge_agent.tracking import ByteTracker  # noqa: E402
from edge_agent.types import Detections, TrackState  # noqa: E402
from server.analytics.geometry import FloatArray  # noqa: E402
from server.analytics.site import SiteAnalytics  # noqa: E402
from server.analytics.types import (  # noqa: E402
    AlertKind,
    AnalyticsConfig,
    FloorGrid,
    IncidentPhase,
    Zone,
    ZoneKind,
)
from server.demo.cameras import ANALYSIS_RATE_HZ, CAMERA_CROPS_PX, crop_homography  # noqa: E402
from server.demo.layout import DEMO_ZONES, STOCK_ROOM, STOCK_ROOM_BEFORE, DemoZone  # noqa: E402
from server.fusion.site import SiteFusion  # noqa: E402
from server.fusion.types import CameraObservations, FusedFrame, FusionConfig  # noqa: E402

SAME_PERSON_M = 0.8
SEEN_NOW_US = 300_000
WARMUP_S = 2.0


@dataclass
class Step:
    """One analysed step of the demo: the fused frames it produced and each camera's confirmed tracks (floor m)."""

    frame: int  # the video frame (within the loop)
    fused: list[FusedFrame]
    confirmed_xy: list[FloatArray]


def steps(
    detections: list[list[Detections]],
    video_fps: float,
    analysed_fps: float,
    sized_for_fps: float,
    loops: int,
) -> Iterator[Step]:
    """The demo's pipeline on the cached detections: each camera's tracker (sized for `sized_for_fps`) and the
    floor projection of its crop, every camera's frame into one SiteFusion, at `analysed_fps`."""
    min_score = DetectorSettings().score_threshold
    step = max(1, round(video_fps / analysed_fps))
    trackers = [ByteTracker(tracker_config(TrackerSettings(), sized_for_fps)) for _ in CAMERA_CROPS_PX]
    projectors = [
        FloorProjector(
            homography_px_to_cm=homography_from_values(np.ravel(crop_homography(c)[0])), floor_region_cm=None
        )
        for c in CAMERA_CROPS_PX
    ]
    fusion = SiteFusion(FusionConfig(site_id=1, arrival_jitter_us=0))
    t0_us = 1_800_000_000_000_000
    index = 0
    for _ in range(loops):
        for frame, per_camera in enumerate(detections):
            index += 1
            if frame % step:
                continue
            t_us = t0_us + round(index * 1e6 / video_fps)
            confirmed_xy = []
            frames = []
            for camera_id, (found, tracker, projector) in enumerate(
                zip(per_camera, trackers, projectors, strict=True), start=1
            ):
                keep = found.scores >= min_score
                tracks = tracker.update(Detections(xyxy_px=found.xyxy_px[keep], scores=found.scores[keep]))
                floor_cm, outside = projector.project(tracks.xyxy_px)
                confirmed = tracks.states == TrackState.CONFIRMED
                confirmed_xy.append(floor_cm[confirmed] / 100.0)
                frames += fusion.update_frames(
                    CameraObservations(
                        site_id=1,
                        camera_id=camera_id,
                        capture_time_us=t_us,
                        local_ids=tracks.ids.astype(np.int64),
                        floor_xy_m=floor_cm.astype(np.float64) / 100.0,
                        scores=tracks.scores.astype(np.float32),
                        confirmed=confirmed,
                        valid_floor=~outside & np.isfinite(floor_cm).all(axis=1),
                        removed_local_ids=tracks.ids[tracks.states == TrackState.REMOVED].astype(np.int64),
                    )
                )
            yield Step(frame=frame, fused=frames, confirmed_xy=confirmed_xy)


def run(
    detections: list[list[Detections]],
    video_fps: float,
    analysed_fps: float,
    sized_for_fps: float,
    loops: int,
) -> dict[str, float]:
    live: list[int] = []
    seen: list[int] = []
    distinct: list[int] = []
    first_reported: dict[int, int] = {}
    visits: list[float] = []
    for step in steps(detections, video_fps, analysed_fps, sized_for_fps, loops):
        for fused in step.fused:
            for person in fused.global_ids.tolist():
                first_reported.setdefault(person, fused.time_us)
            for ended in fused.ended:
                started = first_reported.pop(ended.global_id, None)
                if started is not None:
                    visits.append((ended.last_seen_us - started) / 1e6)
        if not step.fused or step.frame / video_fps < WARMUP_S:
            continue
        fused = step.fused[-1]
        left, right = step.confirmed_xy
        pairs = 0
        if len(left) and len(right):
            cost = np.linalg.norm(left[:, None, :] - right[None, :, :], axis=2)
            rows, cols = linear_sum_assignment(cost)
            pairs = int((cost[rows, cols] <= SAME_PERSON_M).sum())
        live.append(fused.size)
        seen.append(int((fused.time_us - fused.last_seen_us <= SEEN_NOW_US).sum()))
        distinct.append(len(left) + len(right) - pairs)
    lengths = np.array(visits) if visits else np.zeros(1)
    return {
        "live": float(np.mean(live)),
        "seen": float(np.mean(seen)),
        "distinct": float(np.mean(distinct)),
        "visit_mean_s": float(lengths.mean()),
        "visit_short": float((lengths < 1.0).mean()),
        "visits": float(len(visits)),
    }


def incidents(
    fused_frames: list[FusedFrame], layouts: dict[str, tuple[DemoZone, ...]], minutes: float
) -> list[tuple[str, float, float]]:
    """Per layout: the access-control incidents opened, and those that were alarms, per minute of video, with
    everybody a visitor (the demo binds nobody), the demo's analytics on the same fused frames."""
    results = []
    for name, zones in layouts.items():
        config = AnalyticsConfig(
            site_id=1,
            zones=tuple(
                Zone(i, z.name, ZoneKind(z.kind), z.polygon_m, z.required_level, z.warning_distance_m)
                for i, z in enumerate(zones, start=1)
            ),
            grid=FloorGrid(0.0, 0.0, 30.0, 20.0),
        )
        analytics = SiteAnalytics(config)
        opened = alarms = 0
        for frame in fused_frames:
            for alert in analytics.update(frame, {}).alerts:
                opened += alert.phase is IncidentPhase.OPENED
                alarms += alert.kind is AlertKind.ALARM and alert.phase in (
                    IncidentPhase.OPENED,
                    IncidentPhase.ESCALATED,
                )
        results.append((name, opened / minutes, alarms / minutes))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loops", type=int, default=3, help="times the video is played, back to back")
    add_asset_arguments(parser)
    args = parser.parse_args()
    video_fps, detections = cached_detections(Path(args.video), Path(args.model))
    print(
        f"{Path(args.video).name}: {len(detections)} frames at {video_fps:g} fps, looped {args.loops} times; the "
        f"demo's two crops {CAMERA_CROPS_PX}"
    )
    print("analysed fps  trackers sized for   live  seen now  unseen  cameras see  visits: mean  < 1 s")
    rows = [
        (ANALYSIS_RATE_HZ, 30.0, "demo before (rate 0 = sized for 30 fps)"),
        (ANALYSIS_RATE_HZ, ANALYSIS_RATE_HZ, "demo now"),
        (3.0, 30.0, "a CPU reaching 3 fps, rate 0"),
        (3.0, ANALYSIS_RATE_HZ, "a CPU reaching 3 fps, sized for the rate set (before the agent adapted)"),
        (3.0, 3.0, "a CPU reaching 3 fps, now (the agent sizes for the rate reached)"),
        (25.0, 30.0, "a CPU reaching 25 fps, before"),
    ]
    for analysed, sized_for, label in rows:
        r = run(detections, video_fps, analysed, sized_for, args.loops)
        print(
            f"{analysed:12g}  {sized_for:17g}  {r['live']:5.1f}  {r['seen']:8.1f}  {r['live'] - r['seen']:6.1f}  "
            f"{r['distinct']:11.1f}  {r['visit_mean_s']:11.2f} s  {100 * r['visit_short']:4.0f} %   {label}"
        )
    # The stock room's incidents: the demo as deployed (10 fps, trackers sized for 10), its layout now and before.
    fused_frames = [
        frame
        for step in steps(detections, video_fps, ANALYSIS_RATE_HZ, ANALYSIS_RATE_HZ, args.loops)
        for frame in step.fused
    ]
    minutes = args.loops * len(detections) / video_fps / 60.0
    before = tuple(STOCK_ROOM_BEFORE if z.name == STOCK_ROOM.name else z for z in DEMO_ZONES)
    print("\nstock room incidents (everybody a visitor), per minute of video:  opened  alarms")
    for name, opened, alarms in incidents(
        fused_frames,
        {
            f"now {STOCK_ROOM.polygon_m[0]}-{STOCK_ROOM.polygon_m[2]}": DEMO_ZONES,
            f"before {STOCK_ROOM_BEFORE.polygon_m[0]}-{STOCK_ROOM_BEFORE.polygon_m[2]}": before,
        },
        minutes,
    ):
        print(f"  {name:<52}{opened:8.1f}{alarms:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
