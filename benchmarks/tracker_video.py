"""Identity on real video: the sample video as two cameras (the demo's two overlapping crops), played once (no
looping), real YOLOX-Nano detections, our tracker vs the reference ByteTrack on the very same detections.

Ours runs as the agent does: with the appearance cue (colour descriptors of every kept detection computed on the
crop's pixels, ``edge_agent.appearance.describe``), and, in the same run, without it (``ours -app``: boxes only).

Reference: roboflow ``trackers.ByteTrackTracker`` at its defaults, told the analysis rate. It is the ByteTrack
that used to ship in ``supervision`` (``supervision.ByteTrack``), which supervision 0.31 no longer has.

There is no ground truth for this video, so identity is measured through the server's fusion: each tracker's
two camera outputs go through ``server.fusion.SiteFusion`` exactly as the server runs it (as
``benchmarks/two_camera_fusion.py`` does), and every confirmed local track sighting is attributed to the nearest
fused person within 0.8 m (nothing inside the fusion is read). Reported per tracker:

- per camera: confirmed track ids, median track lifetime (first to last confirmed sighting), and identity
  fragments per person = distinct local track ids of that camera attributed to one fused person (1.0 = each
  person kept one id on that camera for as long as the camera saw them);
- breaks per person: of those fragments, the ones that follow each other (a local id ends, a later one begins on
  the same person: an identity the tracker lost); the others overlap in time, mostly two people walking side by
  side whom the fusion took for one (more of them the more people a tracker follows), not a tracker's break;
- fused: persons, median person lifetime, fragments (and breaks) per fused person over both cameras.

Detections are computed once and cached in ``benchmarks/results/`` (git-ignored): the detector at score 0.1, every
frame, both crops; the tracker then sees those at or above ``--min-score`` (default: the agent's detector
threshold, as deployed).

``--reference PATH`` adds the tracker of another checkout (e.g. main's) as ``reference`` (with the appearance
cue, as ``ours``): a change against the code before it, in the same run.

    python benchmarks/tracker_video.py [--analysis-fps 12.5 25] [--min-score 0.3] [--reference PATH]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from video_assets import add_asset_arguments  # noqa: E402

from edge_agent.appearance import describe  # noqa: E402
from edge_agent.config import DetectorSettings, TrackerSettings  # noqa: E402
from edge_agent.geometry import FloorProjector, homography_from_values  # noqa: E402
from edge_agent.pipeline import tracker_config  # noqa: E402
from edge_agent.tracking import ByteTracker  # noqa: E402
from edge_agent.types import Detections, TrackState  # noqa: E402
from server.demo.cameras import CAMERA_CROPS_PX, crop_homography  # noqa: E402
from server.fusion.site import SiteFusion  # noqa: E402
from server.fusion.types import CameraObservations, FusionConfig  # noqa: E402

CACHE_SCORE = 0.1
SAME_PERSON_M = 0.8
# A local track is attributed to a fused person after this many sightings next to it (one-step coincidences
# while two people pass each other are not fragments).
MIN_SIGHTINGS = 3
RESULTS = REPO_ROOT / "benchmarks" / "results"

# One tracker step: detections -> (ids, xyxy, confirmed mask, scores).
TrackStep = Callable[
    [Detections], tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.bool_], NDArray[np.float32]]
]


@dataclass(frozen=True, slots=True)
class Identity:
    ids: int  # confirmed track ids (per camera) or fused persons with attributed tracks
    median_lifetime_s: float
    fragments_per_person: float
    breaks_per_person: float
    # Confirmed sightings per analysed step (per camera) or fused persons per step: how much of the people
    # is tracked at all (fewer ids alone could mean fewer people followed).
    per_step: float


def cached_detections(video: Path, model: Path) -> tuple[float, list[list[Detections]]]:
    """Per frame, per camera crop: the detector's output at score >= 0.1 (computed once, then read back)."""
    key = hashlib.sha256(
        f"{video.resolve()}|{model.resolve()}|{model.stat().st_size}|{CAMERA_CROPS_PX}|{CACHE_SCORE}".encode()
    ).hexdigest()[:12]
    path = RESULTS / f"video_detections_{key}.npz"
    if not path.exists():
        import cv2

        from edge_agent.detection import YoloxOnnxDetector, YoloxOptions

        detector = YoloxOnnxDetector(model, YoloxOptions(score_threshold=CACHE_SCORE))
        capture = cv2.VideoCapture(str(video))
        arrays: dict[str, NDArray[np.float32]] = {}
        frames = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            for camera, (x0, y0, w, h) in enumerate(CAMERA_CROPS_PX):
                found = detector.detect(np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w], dtype=np.uint8))
                arrays[f"c{camera}_f{frames}_xyxy"] = found.xyxy_px
                arrays[f"c{camera}_f{frames}_scores"] = found.scores
            frames += 1
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 50.0)
        capture.release()
        RESULTS.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, frames=frames, fps=fps, **arrays)  # type: ignore[arg-type]
    data = np.load(path)
    out = [
        [
            Detections(xyxy_px=data[f"c{camera}_f{index}_xyxy"], scores=data[f"c{camera}_f{index}_scores"])
            for camera in range(len(CAMERA_CROPS_PX))
        ]
        for index in range(int(data["frames"]))
    ]
    return float(data["fps"]), out


def with_appearance(
    video: Path, detections: list[list[Detections]], min_score: float
) -> list[list[Detections]]:
    """The detections with their colour descriptors, computed on each crop's pixels from the boxes the tracker
    will see (score >= ``min_score``; the others get an unmeasurable descriptor, never used)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    out = []
    for per_camera in detections:
        ok, image = capture.read()
        if not ok:
            raise RuntimeError(f"{video} ended before its cached detections")
        frame_out = []
        for (x0, y0, w, h), found in zip(CAMERA_CROPS_PX, per_camera, strict=True):
            keep = found.scores >= min_score
            shares = np.zeros((len(found), 2, 16), dtype=np.float32)
            shares[keep] = describe(
                np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w]), found.xyxy_px[keep]
            )
            frame_out.append(Detections(xyxy_px=found.xyxy_px, scores=found.scores, appearance=shares))
        out.append(frame_out)
    capture.release()
    return out


@functools.cache
def _checkout_modules(checkout: Path) -> list[ModuleType]:
    from tracker_eval import reference_modules

    return reference_modules(checkout, "edge_agent.config", "edge_agent.pipeline", "edge_agent.tracking")


def ours(fps: float, use_appearance: bool = True, checkout: Path | None = None) -> TrackStep:
    """Our tracker as the agent builds it (its default settings, sized for ``fps``), or that of another
    checkout (its own tracker, settings and sizing)."""
    if checkout is None:
        tracker = ByteTracker(tracker_config(TrackerSettings(), fps))
    else:
        config, pipeline, tracking = _checkout_modules(checkout)
        tracker = tracking.ByteTracker(pipeline.tracker_config(config.TrackerSettings(), fps))

    def step(
        found: Detections,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.bool_], NDArray[np.float32]]:
        if not use_appearance:
            found = Detections(xyxy_px=found.xyxy_px, scores=found.scores)
        tracks = tracker.update(found)
        keep = tracks.states != TrackState.REMOVED
        return (
            tracks.ids[keep],
            tracks.xyxy_px[keep],
            (tracks.states == TrackState.CONFIRMED)[keep],
            tracks.scores[keep],
        )

    return step


def reference(fps: float) -> TrackStep:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=fps)

    def step(
        found: Detections,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.bool_], NDArray[np.float32]]:
        result = tracker.update(sv.Detections(xyxy=found.xyxy_px.astype(np.float64), confidence=found.scores))
        assert result.tracker_id is not None
        keep = result.tracker_id >= 0
        confidence = result.confidence if result.confidence is not None else np.ones(len(result))
        return (
            result.tracker_id[keep].astype(np.int64),
            result.xyxy[keep].astype(np.float32),
            np.ones(int(np.count_nonzero(keep)), dtype=np.bool_),
            confidence[keep].astype(np.float32),
        )

    return step


def evaluate(
    make: Callable[[float], TrackStep],
    detections: list[list[Detections]],
    video_fps: float,
    analysis_fps: float,
    min_score: float,
) -> tuple[float, dict[str, Identity]]:
    """(the analysis rate, identity figures per camera and fused)."""
    step_frames = max(1, round(video_fps / analysis_fps))
    rate = video_fps / step_frames
    cameras = []
    for camera_id, crop in enumerate(CAMERA_CROPS_PX, start=1):
        homography, _ = crop_homography(crop)
        projector = FloorProjector(
            homography_px_to_cm=homography_from_values(np.ravel(homography)), floor_region_cm=None
        )
        cameras.append((camera_id, make(rate), projector))
    fusion = SiteFusion(FusionConfig(site_id=1, arrival_jitter_us=0))
    sightings: dict[int, list[tuple[int, NDArray[np.int64], NDArray[np.float64]]]] = defaultdict(list)
    fused_at: dict[int, object] = {}
    t0_us = 1_700_000_000_000_000
    for index in range(0, len(detections), step_frames):
        t_us = t0_us + round(index * 1e6 / video_fps)
        for camera_id, step, projector in cameras:
            found = detections[index][camera_id - 1]
            keep = found.scores >= min_score
            shares = None if found.appearance is None else found.appearance[keep]
            ids, boxes, confirmed, scores = step(
                Detections(xyxy_px=found.xyxy_px[keep], scores=found.scores[keep], appearance=shares)
            )
            floor_cm, outside = projector.project(boxes)
            valid = ~outside & np.isfinite(floor_cm).all(axis=1)
            floor_m = floor_cm.astype(np.float64) / 100.0
            sightings[t_us].append((camera_id, ids[confirmed & valid], floor_m[confirmed & valid]))
            observations = CameraObservations(
                site_id=1,
                camera_id=camera_id,
                capture_time_us=t_us,
                local_ids=ids.astype(np.int64),
                floor_xy_m=floor_m,
                scores=scores.astype(np.float32),
                confirmed=confirmed,
                valid_floor=valid,
            )
            for frame in fusion.update_frames(observations):
                fused_at[frame.time_us] = frame
    for frame in fusion.flush():
        fused_at[frame.time_us] = frame

    track_times: dict[tuple[int, int], list[int]] = defaultdict(list)
    person_times: dict[int, list[int]] = defaultdict(list)
    votes: dict[tuple[int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for t_us, per_camera in sightings.items():
        fused = fused_at.get(t_us)
        for camera_id, ids, floor_m in per_camera:
            for local_id, xy in zip(ids.tolist(), floor_m, strict=True):
                track_times[(camera_id, local_id)].append(t_us)
                if fused is None or fused.size == 0:  # type: ignore[attr-defined]
                    continue
                distance = np.linalg.norm(fused.floor_xy_m - xy, axis=1)  # type: ignore[attr-defined]
                nearest = int(np.argmin(distance))
                if distance[nearest] <= SAME_PERSON_M:
                    votes[(camera_id, local_id)][int(fused.global_ids[nearest])] += 1  # type: ignore[attr-defined]
        if fused is not None:
            for global_id in fused.global_ids.tolist():  # type: ignore[attr-defined]
                person_times[int(global_id)].append(t_us)

    # Fragments: local tracks attributed (>= MIN_SIGHTINGS) to each fused person, per camera and in all.
    fragments: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for (camera_id, local_id), per_person in votes.items():
        for global_id, count in per_person.items():
            if count >= MIN_SIGHTINGS:
                fragments[global_id][camera_id].add(local_id)

    def breaks(camera_id: int, local_ids: set[int]) -> int:
        spans = sorted(
            (min(track_times[(camera_id, i)]), max(track_times[(camera_id, i)])) for i in local_ids
        )
        return sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start > end)

    def lifetime_s(times: list[int]) -> float:
        return (max(times) - min(times)) / 1e6 + 1.0 / rate

    result: dict[str, Identity] = {}
    for camera_id, _, _ in cameras:
        lifetimes = [lifetime_s(times) for (cam, _), times in track_times.items() if cam == camera_id]
        counts = [len(by_camera[camera_id]) for by_camera in fragments.values() if by_camera.get(camera_id)]
        broken = [breaks(camera_id, by_camera[camera_id]) for by_camera in fragments.values()
                  if by_camera.get(camera_id)]  # fmt: skip
        seen = sum(
            len(ids) for per_camera in sightings.values() for cam, ids, _ in per_camera if cam == camera_id
        )
        result[f"camera {camera_id}"] = Identity(len(lifetimes), float(np.median(lifetimes)) if lifetimes else 0.0,
                                                 float(np.mean(counts)) if counts else float("nan"),
                                                 float(np.mean(broken)) if broken else float("nan"),
                                                 seen / max(1, len(sightings)))  # fmt: skip
    attributed = [g for g, by_camera in fragments.items() if by_camera]
    result["fused"] = Identity(
        len(attributed),
        float(np.median([lifetime_s(person_times[g]) for g in attributed])) if attributed else 0.0,
        float(np.mean([sum(len(ids) for ids in fragments[g].values()) for g in attributed]))
        if attributed
        else float("nan"),
        float(np.mean([sum(breaks(c, ids) for c, ids in fragments[g].items()) for g in attributed]))
        if attributed
        else float("nan"),
        sum(len(times) for times in person_times.values()) / max(1, len(sightings)),
    )
    return rate, result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--analysis-fps", type=float, nargs="*", default=[12.5, 25.0])
    parser.add_argument("--min-score", type=float, default=DetectorSettings().score_threshold)
    add_asset_arguments(parser)
    parser.add_argument(
        "--reference", type=Path, help="another checkout whose tracker runs as contender 'reference'"
    )
    args = parser.parse_args()
    extra: tuple[tuple[str, Callable[[float], TrackStep]], ...] = ()
    if args.reference is not None:
        checkout = args.reference.resolve()
        extra = (("reference", lambda rate: ours(rate, checkout=checkout)),)
    video_fps, detections = cached_detections(args.video, args.model)
    detections = with_appearance(args.video, detections, args.min_score)
    scores = np.concatenate([d.scores for frame in detections for d in frame])
    kept = scores[scores >= args.min_score]
    print(f"{args.video.name}: {len(detections)} frames at {video_fps:g} fps, two cameras {CAMERA_CROPS_PX}, "
          f"played once; {len(kept)} detections >= {args.min_score:g}, {np.mean(kept < 0.6):.0%} < 0.6")  # fmt: skip
    print(
        f"{'rate':>5} {'tracker':<10} {'where':<9} {'ids':>5} {'median life s':>14} {'fragments/person':>17} "
        f"{'breaks/person':>14} {'tracked/step':>13}"
    )
    for fps in args.analysis_fps:
        contenders: tuple[tuple[str, Callable[[float], TrackStep]], ...] = (
            ("ours", ours),
            ("ours -app", lambda rate: ours(rate, use_appearance=False)),
            *extra,
            ("ByteTrack", reference),
        )
        for label, make in contenders:
            rate, result = evaluate(make, detections, video_fps, fps, args.min_score)
            for where, figures in result.items():
                print(f"{rate:>5.1f} {label:<10} {where:<9} {figures.ids:>5d} {figures.median_lifetime_s:>14.2f} "
                      f"{figures.fragments_per_person:>17.2f} {figures.breaks_per_person:>14.2f} "
                      f"{figures.per_step:>13.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
