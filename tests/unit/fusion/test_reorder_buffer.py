"""ReorderBuffer: the watermark rule, camera silence, jitter, late drops and flush."""

from __future__ import annotations

import pytest

from server.fusion import ReorderBuffer
from tests.unit.fusion.helpers import T0_US, obs


def pushes(buffer: ReorderBuffer, events: list[tuple[int, float]]) -> list[list[tuple[int, int]]]:
    """Push (camera, t_ms) frames; per push, the released (camera, t_ms) list."""
    out = []
    for camera, t_ms in events:
        released = buffer.push(obs(camera, t_ms, []))
        out.append([(o.camera_id, (o.capture_time_us - T0_US) // 1000) for o in released])
    return out


def test_single_camera_releases_at_once() -> None:
    buffer = ReorderBuffer(window_us=500_000, camera_silence_us=2_000_000)
    assert pushes(buffer, [(1, 0), (1, 100)]) == [[(1, 0)], [(1, 100)]]


def test_frames_wait_for_every_live_camera() -> None:
    buffer = ReorderBuffer(window_us=500_000, camera_silence_us=2_000_000)
    result = pushes(buffer, [(1, 0), (2, 20), (1, 100), (1, 200), (2, 120), (2, 220)])
    assert result == [[(1, 0)], [], [(2, 20)], [], [(1, 100), (2, 120)], [(1, 200)]]


def test_window_bounds_the_wait() -> None:
    buffer = ReorderBuffer(window_us=300_000, camera_silence_us=2_000_000)
    result = pushes(buffer, [(1, 0), (2, 0), (1, 100), (1, 200), (1, 300), (1, 400)])
    assert result[-2:] == [[], [(1, 100)]]  # 400 - 300 = 100: the window released the oldest frame


def test_silent_camera_stops_holding_the_buffer() -> None:
    buffer = ReorderBuffer(window_us=10_000_000, camera_silence_us=1_000_000)
    result = pushes(buffer, [(1, 0), (2, 0), (1, 500), (1, 1100)])
    assert result[-2:] == [[], [(1, 500), (1, 1100)]]


def test_jitter_lets_a_camera_deliver_its_own_frames_out_of_order() -> None:
    buffer = ReorderBuffer(window_us=1_000_000, camera_silence_us=2_000_000, jitter_us=150_000)
    result = pushes(buffer, [(1, 0), (1, 200), (1, 100), (1, 300)])
    assert buffer.dropped_late_frames == 0
    assert [t for step in result for _, t in step] == [0, 100]
    assert [t for _, t in [(o.camera_id, (o.capture_time_us - T0_US) // 1000) for o in buffer.flush()]] == [
        200,
        300,
    ]


@pytest.mark.parametrize(("late_ms", "dropped"), [(50, 1), (100, 0), (150, 0)])
def test_frame_older_than_the_released_ones_is_dropped_and_counted(late_ms: int, dropped: int) -> None:
    buffer = ReorderBuffer(window_us=0, camera_silence_us=2_000_000)
    pushes(buffer, [(1, 0), (1, 100)])
    released = pushes(buffer, [(2, late_ms)])
    assert buffer.dropped_late_frames == dropped
    assert (released == [[]]) == bool(dropped)
    assert buffer.released_until_us is not None


def test_flush_releases_everything_in_order() -> None:
    buffer = ReorderBuffer(window_us=10_000_000, camera_silence_us=20_000_000)
    pushes(buffer, [(1, 0), (2, 300), (1, 100), (2, 200)])
    assert buffer.pending == 2
    flushed = [(o.capture_time_us - T0_US) // 1000 for o in buffer.flush()]
    assert flushed == [200, 300]
    assert buffer.pending == 0
    assert buffer.flush() == []
