"""The processor's calibration check: a camera pair that places the same people a metre apart is logged for the
installer, once per ten minutes, a well calibrated pair never; the check is stored on the cameras once a minute."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from server.fusion.agreement import CameraPairAgreement
from server.insights.processor import SiteAnalyticsProcessor, build_setup
from server.insights.recorder import InsightsRecorder


def _pair(median_m: float, p90_m: float, samples: float = 500.0) -> CameraPairAgreement:
    return CameraPairAgreement(1, 2, samples, median_m, p90_m, (median_m, 0.0))


def _processor(stored: list[tuple[int, int]] | None = None) -> SiteAnalyticsProcessor:
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
    return SiteAnalyticsProcessor(
        publisher=None,  # type: ignore[arg-type]
        points=None,  # type: ignore[arg-type]
        recorder=InsightsRecorder(),
        load_setup=lambda site_id: setup,
        load_identities=lambda site_id: {},
        on_alert=None,  # type: ignore[arg-type]
        store_agreement=None
        if stored is None
        else lambda site_id, pairs: stored.append((site_id, len(pairs))),
    )


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
    processor = _processor()
    state = processor._new_state(processor._load_setup(3), {})
    monkeypatch.setattr(state.fusion, "camera_agreement", lambda: [pair])
    clock = iter(np.arange(0.0, 2000.0, 300.0).tolist())  # checks 5 minutes apart
    monkeypatch.setattr("server.insights.processor._clock", lambda: next(clock))
    with caplog.at_level(logging.WARNING, logger="server.insights.processor"):
        for _ in range(5):  # 0, 5, 10, 15, 20 minutes
            asyncio.run(processor._check_agreement(3, state))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == (3 if warned else 0)
    if warned:
        assert "cameras 1 and 2 place the people both see" in lines[0]
        assert "check both calibrations" in lines[0]


def test_the_check_is_stored_on_the_cameras_once_a_minute_and_a_failing_store_stops_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stored: list[tuple[int, int]] = []
    processor = _processor(stored)
    state = processor._new_state(processor._load_setup(3), {})
    monkeypatch.setattr(state.fusion, "camera_agreement", lambda: [_pair(0.11, 0.2)])
    clock = iter([0.0, 3.0, 30.0, 61.0, 64.0, 125.0])
    monkeypatch.setattr("server.insights.processor._clock", lambda: next(clock))
    for _ in range(6):
        asyncio.run(processor._check_agreement(3, state))
    assert stored == [(3, 1), (3, 1), (3, 1)]  # at 0, 61 and 125 s

    def broken(site_id: int, pairs: object) -> None:
        raise RuntimeError("database down")

    processor._store_agreement = broken
    state.agreement_stored = None
    with caplog.at_level(logging.ERROR, logger="server.insights.processor"):
        monkeypatch.setattr("server.insights.processor._clock", lambda: 500.0)
        asyncio.run(processor._check_agreement(3, state))  # does not raise
    assert "storing the cameras' calibration check failed" in caplog.text
