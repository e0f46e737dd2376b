"""A person extrapolated while unseen stops at the floor plan's edge: somebody leaving a camera's view at the
plan's edge does not walk on through the wall on the live map (the e2e live-map test saw y = 20.5 m on a 20 m
plan). One last placed outside the plan is shown where they were seen."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from server.fusion import FusionConfig, FusionConfigError, SiteFusion
from tests.unit.fusion.helpers import SITE, obs

IMMEDIATE = FusionConfig(site_id=SITE, reorder_window_us=0, arrival_jitter_us=0)
PLAN = (0.0, 0.0, 30.0, 20.0)


def _walk_out(config: FusionConfig, start_y: float) -> list[float]:
    """One person walking +y at 1.2 m/s from `start_y`, seen for 2 s, then not: their reported y afterwards."""
    fusion = SiteFusion(config)
    after: list[float] = []
    for k in range(40):
        y = start_y + 0.12 * k
        frame = fusion.update(obs(1, k * 100.0, [(4, 10.0, y)] if k < 20 else []))
        if k >= 20 and frame.size:
            after.append(float(frame.floor_xy_m[0, 1]))
    return after


def test_an_unseen_person_stops_at_the_plans_edge() -> None:
    unbounded = _walk_out(IMMEDIATE, 17.5)
    bounded = _walk_out(dataclasses.replace(IMMEDIATE, floor_bounds_m=PLAN), 17.5)
    assert unbounded
    assert max(unbounded) > 20.3
    assert bounded
    assert max(bounded) == pytest.approx(20.0)
    assert len(bounded) == len(unbounded)  # reported as long as before


def test_a_person_seen_outside_the_plan_is_not_moved() -> None:
    bounded = _walk_out(dataclasses.replace(IMMEDIATE, floor_bounds_m=PLAN), 20.5)
    unbounded = _walk_out(IMMEDIATE, 20.5)
    assert bounded == unbounded
    assert min(bounded) > 20.0


def test_the_bounds_follow_a_changed_plan_and_are_checked() -> None:
    fusion = SiteFusion(dataclasses.replace(IMMEDIATE, floor_bounds_m=PLAN))
    fusion.set_floor_bounds((0.0, 0.0, 30.0, 40.0))
    assert fusion.config.floor_bounds_m == (0.0, 0.0, 30.0, 40.0)
    for bad in ((0.0, 0.0, 0.0, 20.0), (0.0, 0.0, float("nan"), 20.0), (5.0, 0.0, 1.0, 20.0)):
        with pytest.raises(FusionConfigError):
            SiteFusion(FusionConfig(site_id=SITE, floor_bounds_m=bad))
    assert np.isfinite(PLAN).all()
