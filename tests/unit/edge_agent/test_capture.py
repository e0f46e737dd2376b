"""Camera readers: garbage frames, back-off and reopen, drops, analysis rate, looping, vanished files, crops."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.backoff import Backoff
from edge_agent.capture import CameraReader, LatestFrameSlot, check_source, open_source, validate_image
from edge_agent.config import CameraSettings
from edge_agent.errors import SourceError

pytestmark = pytest.mark.timeout(60)


def image(value: int = 50, shape: tuple[int, ...] = (48, 64, 3), dtype: type = np.uint8) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


class FakeSource:
    def __init__(self, frames: Sequence[tuple[bool, object]], fps: float = 50.0) -> None:
        self.frames = list(frames)
        self.fps = fps
        self.released = False

    def read(self) -> tuple[bool, object]:
        return self.frames.pop(0) if self.frames else (False, None)

    def get(self, prop_id: int) -> float:
        return self.fps if prop_id == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


class Consumer(threading.Thread):
    """Takes frames from a reader's slot like the pipeline does."""

    def __init__(self, reader: CameraReader) -> None:
        super().__init__(daemon=True)
        self.reader = reader
        self.taken = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            if self.reader.slot.take() is not None:
                self.taken += 1
            time.sleep(0.001)


def reader_for(source: str, opener: Callable[[str], object], **settings: object) -> CameraReader:
    camera = CameraSettings.model_validate({"camera_id": 1, "source": source, "pace": "fast", **settings})
    return CameraReader(camera, LatestFrameSlot(), opener=opener, backoff=Backoff(initial_s=0.01, max_s=0.05))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        (None, False),
        (image(dtype=np.float32), False),
        (image(shape=(48, 64, 4)), False),
        (image(shape=(4, 4, 3)), False),
        ("not an image", False),
        (image(), True),
        (image(shape=(48, 64)), True),  # grey frames are converted
    ],
)
def test_validate_image(raw: object, valid: bool) -> None:
    result = validate_image(raw)
    assert (result is not None) == valid
    if result is not None:
        assert result.shape == (48, 64, 3)


def test_garbage_frames_are_counted_and_skipped() -> None:
    script: list[tuple[bool, object]] = [(True, image(1)), (True, None), (True, image(dtype=np.float64)),
                                         (True, image(shape=(48, 64, 2))), (True, image(2))]  # fmt: skip
    source = FakeSource(script)
    reader = reader_for("rtsp://camera/stream", lambda _: source)
    reader.start()
    wait_until(lambda: reader.stats.frames_published == 2 and reader.stats.last_error != "")
    reader.stop()
    reader.join(5)
    assert reader.stats.garbage_frames == 3
    frame = reader.slot.take()
    assert frame is not None
    assert int(frame.image[0, 0, 0]) == 2
    assert "stopped delivering" in reader.stats.last_error  # the stream ended: reopen scheduled


def test_failing_source_is_retried_with_back_off_and_reconnects_are_counted() -> None:
    attempts: list[float] = []

    def opener(source: str) -> FakeSource:
        attempts.append(time.monotonic())
        if len(attempts) in (1, 2, 4):
            raise SourceError(f"cannot open video source {source}")
        return FakeSource([(True, image())] * 3)

    reader = reader_for("rtsp://flaky", opener)
    reader.start()
    wait_until(lambda: reader.stats.reconnects >= 1 and reader.stats.frames_published >= 6)
    reader.stop()
    reader.join(5)
    assert len(attempts) >= 5
    assert reader.stats.reconnects >= 1


def test_latest_frame_wins_and_drops_are_counted() -> None:
    source = FakeSource([(True, image(i)) for i in range(50)])
    reader = reader_for("rtsp://fast", lambda _: source)
    reader.start()
    wait_until(lambda: reader.stats.frames_published == 50)
    reader.stop()
    reader.join(5)
    assert reader.stats.dropped_frames == 49  # nobody consumed: every frame but the newest was dropped
    frame = reader.slot.take()
    assert frame is not None
    assert int(frame.image[0, 0, 0]) == 49
    assert reader.slot.take() is None


def test_analysis_rate_subsamples_a_file_by_media_time() -> None:
    frames = [(True, image(i % 250)) for i in range(100)]  # 2 s of 50 fps video
    reader = reader_for("/videos/shop.avi", lambda _: FakeSource(frames), analysis_fps=10.0, loop=False)
    consumer = Consumer(reader)
    consumer.start()
    reader.start()
    reader.join(10)
    consumer.done.set()
    assert reader.stats.ended
    assert reader.stats.frames_read == 100
    assert reader.stats.frames_published == 20


def test_native_pace_follows_the_file_fps() -> None:
    frames = [(True, image())] * 10
    reader = reader_for("/videos/shop.avi", lambda _: FakeSource(frames, fps=50.0), loop=False, pace="native")
    started = time.monotonic()
    reader.start()
    reader.join(10)
    assert 0.17 <= time.monotonic() - started < 2.0  # 10 frames at 50 fps: 0.2 s


def test_a_file_played_fast_runs_in_lockstep_with_the_pipeline_without_drops() -> None:
    frames = [(True, image(i)) for i in range(40)]
    reader = reader_for("/videos/shop.avi", lambda _: FakeSource(frames), loop=False)
    consumer = Consumer(reader)
    consumer.start()
    reader.start()
    reader.join(10)
    wait_until(lambda: consumer.taken == 40, timeout_s=5)  # the last frame may still sit in the slot
    consumer.done.set()
    assert reader.stats.frames_published == 40
    assert reader.stats.dropped_frames == 0
    assert consumer.taken == 40


def write_video(path: Path, frames: int = 12) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()


def test_vanished_file_is_reopened_with_back_off_while_other_cameras_go_on(tmp_path: Path) -> None:
    vanishing = tmp_path / "a.avi"
    steady = tmp_path / "b.avi"
    write_video(vanishing)
    write_video(steady)
    first = reader_for(str(vanishing), open_source, loop=True)
    second = reader_for(str(steady), open_source, loop=True)
    second.settings = second.settings.model_copy(update={"camera_id": 2})
    consumers = [Consumer(first), Consumer(second)]
    for thread in (*consumers, first, second):
        thread.start()
    wait_until(lambda: first.stats.frames_read > 0)
    kept = tmp_path / "kept.avi"
    shutil.move(vanishing, kept)
    wait_until(lambda: "not found" in first.stats.last_error)
    assert not first.stats.connected
    published = second.stats.frames_published
    wait_until(lambda: second.stats.frames_published > published + 20)  # the other camera is unaffected
    shutil.move(kept, vanishing)
    wait_until(lambda: first.stats.reconnects >= 1 and first.stats.connected)
    for reader in (first, second):
        reader.stop()
        reader.join(5)
    for consumer in consumers:
        consumer.done.set()


def test_unreadable_file_gives_source_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"\x00\x01 definitely not a video" * 200)
    with pytest.raises(SourceError, match=r"garbage\.avi"):
        check_source(str(garbage))
    with pytest.raises(SourceError, match="not found"):
        open_source(str(tmp_path / "absent.avi"))
    with pytest.raises(SourceError, match="usb:N"):
        open_source("usb:front")


def test_crop_is_applied_and_bad_crops_are_counted() -> None:
    big = np.arange(100 * 200 * 3, dtype=np.uint32).astype(np.uint8).reshape(100, 200, 3)
    reader = reader_for("rtsp://cam", lambda _: FakeSource([(True, big)]), crop_xywh_px=(50, 10, 100, 80))
    reader.start()
    wait_until(lambda: reader.stats.frames_published == 1)
    reader.stop()
    reader.join(5)
    frame = reader.slot.take()
    assert frame is not None
    assert frame.image.shape == (80, 100, 3)
    assert np.array_equal(frame.image, big[10:90, 50:150])
    assert (reader.stats.frame_width_px, reader.stats.frame_height_px) == (100, 80)
    outside = reader_for("rtsp://cam", lambda _: FakeSource([(True, big)]), crop_xywh_px=(500, 500, 10, 10))
    outside.start()
    wait_until(lambda: outside.stats.garbage_frames == 1)
    outside.stop()
    outside.join(5)
    assert outside.stats.frames_published == 0


def test_backoff_grows_with_jitter_and_resets() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5)
    delays = [backoff.next_delay_s() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(b * 0.5 <= d <= b for d, b in zip(delays, bases, strict=True))
    backoff.reset()
    assert backoff.next_delay_s() <= 1.0
