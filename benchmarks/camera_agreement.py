"""The calibration check (``server.fusion.agreement``) on simulated stores: does it tell a bad calibration from
a good one, and from the geometry of tilted ceiling cameras?

Families (the identity scenarios of :mod:`simulation.scenarios_identity`, streamed through ``SiteFusion`` as the
ingest does): ``gaps`` (three overhead cameras, well calibrated), ``ceiling`` (three tilted 3 m / 35° ceiling
cameras plus the entrance's), ``ceil-low`` (2.5 m / 20°), ``distorted`` (3 m / 35° barrel lenses left
undistorted), and ``shift-0.5`` / ``shift-1.1``: ``gaps`` with the calibration of camera 2 off by (0.5, 0) m or
(1.0, 0.5) m (every position it reports moved by that, as a homography fitted to a shifted floor plan would).

Prints per family and seed each camera pair's median and 90th-percentile distance, its mean offset and whether
the processor would warn of it (``CameraPairAgreement.suspect``), then per family the range over seeds and the
pairs flagged. A family of well calibrated cameras should flag none; a shifted one the pairs with camera 2.

Run: PYTHONPATH=. .venv/bin/python -m benchmarks.camera_agreement [--seeds 31-35] [--duration 120]
[--families gaps,shift-1.1,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from server.fusion import FusionConfig, SiteFusion
from server.fusion.agreement import CameraPairAgreement
from simulation.scenarios_identity import identity_scenario

SHIFTS = {"shift-0.5": (0.5, 0.0), "shift-1.1": (1.0, 0.5)}
SHIFTED_CAMERA = 2
FAMILIES = ("gaps", "ceiling", "ceil-low", "distorted", *SHIFTS)


def run(family: str, seed: int, duration_s: float) -> list[CameraPairAgreement]:
    """The camera pairs' agreement at the end of one seeded run."""
    shift = SHIFTS.get(family)
    result = identity_scenario("gaps" if shift else family, seed, duration_s=duration_s)
    fusion = SiteFusion(FusionConfig(site_id=1))
    for frame in result.frames:
        observations = frame.to_observations(1)
        if shift is not None and observations.camera_id == SHIFTED_CAMERA:
            observations = dataclasses.replace(
                observations, floor_xy_m=observations.floor_xy_m + np.array(shift)
            )
        fusion.update(observations)
    return fusion.camera_agreement(min_samples=20.0)


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="31-35")
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    summary: list[str] = []
    for family in args.families.split(","):
        medians: list[float] = []
        p90s: list[float] = []
        flagged = pairs = 0
        flagged_with_shifted = 0
        for seed in _seeds(args.seeds):
            started = time.perf_counter()
            found = run(family, seed, args.duration)
            for pair in found:
                medians.append(pair.median_distance_m)
                p90s.append(pair.p90_distance_m)
                pairs += 1
                flagged += pair.suspect
                flagged_with_shifted += pair.suspect and SHIFTED_CAMERA in (
                    pair.camera_id,
                    pair.other_camera_id,
                )
            print(
                f"{family:<10}{seed:>4} ({time.perf_counter() - started:.0f} s) "
                + "; ".join(
                    f"{p.camera_id}-{p.other_camera_id} {p.median_distance_m:.2f}/{p.p90_distance_m:.2f} m "
                    f"({p.offset_m[0]:+.2f}, {p.offset_m[1]:+.2f}){' SUSPECT' if p.suspect else ''}"
                    for p in found
                ),
                flush=True,
            )
        if pairs:
            note = (
                f", {flagged_with_shifted} of them with camera {SHIFTED_CAMERA}" if family in SHIFTS else ""
            )
            summary.append(
                f"{family:<10} median {min(medians):.2f}-{max(medians):.2f} m, p90 {min(p90s):.2f}-{max(p90s):.2f} m;"
                f" {flagged} of {pairs} pairs flagged{note}"
            )
    print(
        "\nper family (median / p90 distance between two cameras' placements of the same people, over seeds):"
    )
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
