"""The processor's calibration check: a camera pair that places the same people a metre apart is logged for the
installer, once per ten minutes, a well calibrated pair never."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from server.fusion.agreement import CameraPairAgreement
from server.insights.processor import SiteAnalyticsProcessor, build_setup
from server.insights.recorder import InsightsRecorder


def _pair(median_m: float, p90_m: float, samples: float = 500.0) -> CameraPairAgreement:
    return CameraPairAgreement(1, 2, samples, median_m, p90_m, (median_m, 0.0))


@pytest.mark.parametrize(
    ("pair", "warned"),
    [
        (_pair(0.11, 0.20), False),  # pillar cameras, well calibrated
        (_pair(0.45, 0.86), False),  # tilted ceiling cameras: their geometry, not a fault
        (_pair(0.9, 1.3), True),  # a calibration off by a metre
        (
            _pair(0.5, 1.2),
            True,
        ),  # an undistorted wide-angle lens: right in the middle, metres off at the border
        (_pair(0.9, 1.3, samples=40.0), False),  # too little evidence yet
    ],
)
def test_a_disagreeing_pair_is_logged_once_per_ten_minutes(
    pair: CameraPairAgreement, warned: bool, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = build_setup(
        site_id=3,
        zones=[],
        width_m=30.0,
        height_m=20.0,
        origin_x_m=0.0,
        origin_y_m=0.0,
        cell_m=0.5,
        first_person_id=1,
    )
    processor = SiteAnalyticsProcessor(
        publisher=None,  # type: ignore[arg-type]
        points=None,  # type: ignore[arg-type]
        recorder=InsightsRecorder(),
        load_setup=lambda site_id: setup,
        load_identities=lambda site_id: {},
        on_alert=None,  # type: ignore[arg-type]
    )
    state = processor._new_state(setup, {})
    monkeypatch.setattr(state.fusion, "camera_agreement", lambda: [pair])
    clock = iter(np.arange(0.0, 2000.0, 300.0).tolist())  # checks 5 minutes apart
    monkeypatch.setattr("server.insights.processor.time.monotonic", lambda: next(clock))
    with caplog.at_level(logging.WARNING, logger="server.insights.processor"):
        for _ in range(5):  # 0, 5, 10, 15, 20 minutes
            processor._check_agreement(3, state)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == (3 if warned else 0)
    if warned:
        assert "cameras 1 and 2 place the people both see" in lines[0]
        assert "check both calibrations" in lines[0]
