"""The appearance cue on the edge: colour-class descriptors from pixels, send on change, the tracker's use of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent import appearance
from edge_agent.appearance import AppearanceSender, SenderConfig, describe, similarity
from edge_agent.config import AgentSettings
from edge_agent.errors import SpoolError
from edge_agent.pipeline import NullSink, Pipeline
from edge_agent.tracking import ByteTracker, TrackerConfig
from edge_agent.transport.encoder import encode_track_frame
from edge_agent.transport.sink import SpoolSink
from edge_agent.transport.spool import Spool
from edge_agent.types import Detections, Tracks, TrackState
from proto.retail.v1 import track_pb2
from server.fusion import appearance as server_appearance
from tests.unit.edge_agent.test_pipeline import StubDetector, camera, run_until, write_video

RED, BLUE, GREEN, GREY, SKIN = (30, 30, 200), (150, 60, 20), (40, 170, 40), (128, 128, 128), (140, 170, 220)
BLACK = (15, 15, 15)


def scene(
    people: list[tuple[tuple[int, int, int, int], tuple[int, int, int], tuple[int, int, int]]],
    size: tuple[int, int] = (240, 320),
    background: tuple[int, int, int] = GREY,
) -> tuple[np.ndarray, np.ndarray]:
    """A BGR image with people drawn as (box, top colour, trousers colour), the later ones in front, and their
    boxes."""
    image = np.empty((*size, 3), dtype=np.uint8)
    image[:] = background
    boxes = []
    for (x1, y1, x2, y2), top, bottom in people:
        height = y2 - y1
        image[y1 : y1 + height // 6, x1:x2] = SKIN  # head
        image[y1 + height // 6 : y1 + height // 2, x1:x2] = top
        image[y1 + height // 2 : y2, x1:x2] = bottom
        boxes.append((x1, y1, x2, y2))
    return image, np.array(boxes, dtype=np.float32)


def shares_of(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return appearance.unpack(appearance.pack(describe(image, boxes)))


def test_red_top_blue_trousers_and_a_green_top_are_far_apart() -> None:
    image, boxes = scene([((20, 20, 80, 200), RED, BLUE), ((200, 20, 260, 200), GREEN, BLACK)])
    shares = shares_of(image, boxes)
    value = similarity(shares[0], shares[1])
    assert value is not None
    assert value < 0.1  # nothing in common but a sliver of skin: the tracker's veto holds them apart
    assert value < TrackerConfig().appearance_veto_similarity


def test_the_same_trousers_under_another_top_agree_only_by_half() -> None:
    image, boxes = scene([((20, 20, 80, 200), RED, BLUE), ((200, 20, 260, 200), GREEN, BLUE)])
    shares = shares_of(image, boxes)
    tops = similarity(shares[0, :1], shares[1, :1])
    assert tops is not None
    assert tops < 0.1
    both = similarity(shares[0], shares[1])
    assert both is not None
    assert both == pytest.approx(0.5 + tops / 2)  # the mean over the parts: trousers 1, tops ~0
    assert both < TrackerConfig().appearance_agree_similarity  # never re-acquired at a larger distance


@pytest.mark.parametrize("gain", [0.6, 0.8, 1.25])
def test_the_same_person_under_another_brightness_stays_similar(gain: float) -> None:
    image, boxes = scene([((40, 20, 110, 220), RED, BLUE)])
    darker = np.clip(image.astype(np.float64) * gain, 0, 255).astype(np.uint8)
    value = similarity(shares_of(image, boxes)[0], shares_of(darker, boxes)[0])
    assert value is not None
    assert value >= 0.8


def test_a_part_hidden_by_a_closer_person_is_not_measurable() -> None:
    # Person 1 stands behind person 2 (whose box ends lower: nearer the camera), who hides its lower body.
    image, boxes = scene([((100, 20, 160, 180), RED, BLUE), ((80, 100, 180, 235), GREEN, GREEN)])
    shares = describe(image, boxes)
    assert shares[0, 0].sum() == pytest.approx(1.0)  # upper body visible
    assert shares[0, 1].sum() == 0.0  # lower body hidden
    assert shares[1].sum(axis=1) == pytest.approx([1.0, 1.0])  # the closer person is whole
    assert appearance.pack(shares)[0, 8:].tolist() == [0] * 8  # travels as an all-zero part


@pytest.mark.parametrize(
    ("box", "measurable"),
    [
        ((10, 10, 70, 200), [True, True]),
        ((10, 10, 14, 30), [False, False]),  # too small
        ((-200, 10, 20, 200), [False, False]),  # mostly left of the frame
        ((10, 150, 70, 400), [True, False]),  # the lower body below the image
    ],
)
def test_parts_too_small_or_outside_the_frame_are_not_measurable(
    box: tuple[int, int, int, int], measurable: list[bool]
) -> None:
    image = np.full((240, 320, 3), 90, dtype=np.uint8)
    shares = describe(image, np.array([box], dtype=np.float32))
    assert (shares[0].sum(axis=1) > 0).tolist() == measurable


def test_no_boxes_gives_no_descriptors() -> None:
    assert describe(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4), np.float32)).shape == (0, 2, 16)


def test_colour_classes_of_known_colours() -> None:
    lab = np.array(
        [
            [5, 0, 0],
            [40, 0, 0],
            [60, 0, 0],
            [95, 0, 0],
            [53, 80, 67],
            [30, 20, 28],
            [88, -86, 83],
            [32, 79, -108],
        ],
        dtype=np.float64,
    )
    # black, dark grey, light grey, white, light red, dark red/brown, light green, dark blue
    assert appearance.colour_class_of_lab(lab).tolist() == [0, 1, 2, 3, 10, 4, 12, 8]


def test_the_edge_layout_is_the_servers() -> None:
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(16), size=(20, 2)) * (rng.random((20, 2, 1)) > 0.2)
    packed = appearance.pack(shares)
    assert packed.tolist() == server_appearance.pack(shares).tolist()
    ours, theirs = appearance.unpack(packed), server_appearance.unpack(packed)
    np.testing.assert_allclose(ours, theirs)
    matrix = appearance.similarity_matrix(ours, ours)
    for i in range(20):
        for j in range(20):
            expected = server_appearance.similarity(theirs[i], theirs[j])
            if expected is None:
                assert np.isnan(matrix[i, j])
            else:
                assert matrix[i, j] == pytest.approx(expected, abs=1e-6)


def test_blend_keeps_what_an_occluded_observation_cannot_see() -> None:
    track = np.zeros((1, 2, 16), np.float32)
    track[0, :, 3] = 1.0
    seen = np.zeros((1, 2, 16), np.float32)
    seen[0, 0, 5] = 1.0  # lower body not measurable
    out = appearance.blend(track, seen, 0.25)
    assert out[0, 0, 3] == pytest.approx(0.75)
    assert out[0, 0, 5] == pytest.approx(0.25)
    assert out[0, 1].tolist() == track[0, 1].tolist()
    assert appearance.blend(np.zeros_like(track), seen, 0.25)[0, 0, 5] == pytest.approx(1.0)


# ---- send on change ---------------------------------------------------------------------------------------------


def one_hot(top: int, bottom: int | None) -> np.ndarray:
    shares = np.zeros((2, 16), np.float32)
    shares[0, top] = 1.0
    if bottom is not None:
        shares[1, bottom] = 1.0
    return shares


def test_sender_sends_new_changed_and_refreshed_descriptors_only() -> None:
    sender = AppearanceSender(SenderConfig(change_threshold=0.8, refresh_s=5.0))
    ids = np.array([1, 2], dtype=np.int64)
    keep = np.zeros(2, dtype=bool)
    first = np.stack([one_hot(3, 8), one_hot(10, None)])
    sent = sender.select(ids, first, 0, keep)
    assert sent.any(axis=1).tolist() == [True, True]
    assert sent[1, 8:].tolist() == [0] * 8  # unmeasured lower body: zero part
    assert not sender.select(ids, first, 100_000, keep).any()  # unchanged
    changed = first.copy()
    changed[0, 0] = 0.5 * one_hot(3, 8)[0] + 0.5 * one_hot(12, 8)[0]  # similarity 0.75 < 0.8
    changed[1, 1, 8] = 1.0  # a part measurable now
    sent = sender.select(ids, changed, 200_000, keep)
    assert sent.any(axis=1).tolist() == [True, True]
    slightly = changed.copy()
    slightly[0, 0, 3] += 0.05  # noise: similarity ~0.98
    assert not sender.select(ids, slightly, 300_000, keep).any()
    assert sender.select(ids, slightly, 5_200_000, keep).any(axis=1).tolist() == [True, True]  # refresh


def test_sender_forgets_removed_and_vanished_tracks_and_skips_unmeasured_ones() -> None:
    sender = AppearanceSender()
    shares = np.stack([one_hot(3, 8), one_hot(4, 9)])
    sender.select(np.array([1, 2]), shares, 0, np.array([False, False]))
    assert len(sender) == 2
    sender.select(np.array([1, 2]), shares, 1, np.array([False, True]))
    assert len(sender) == 1
    sent = sender.select(np.array([3]), np.zeros((1, 2, 16), np.float32), 2, np.array([False]))
    assert not sent.any()
    assert len(sender) == 0
    # A track seen again after its id vanished is sent again (the server may have dropped it).
    assert sender.select(np.array([1]), shares[:1], 3, np.array([False])).any()


def sends_under_noise(noise: float, smoothing: float) -> int:
    """Descriptors sent for one person walking 20 s at 12.5 fps with per-frame noise on their colours."""
    rng = np.random.default_rng(11)
    base = np.stack([one_hot(3, 8)])
    base[0, 0, 4] = 0.6
    base[0, 1, 9] = 0.4
    base /= base.sum(axis=2, keepdims=True)
    tracker = ByteTracker(TrackerConfig(appearance_smoothing=smoothing))
    sender = AppearanceSender(SenderConfig(change_threshold=0.8, refresh_s=10.0))
    sends = 0
    for frame in range(250):
        noisy = np.clip(base + rng.normal(0, noise, base.shape), 0, None).astype(np.float32)
        noisy /= noisy.sum(axis=2, keepdims=True)
        x = 10.0 + 2.0 * frame
        found = Detections(
            xyxy_px=np.array([[x, 20, x + 40, 120]], np.float32),
            scores=np.array([0.9], np.float32),
            appearance=noisy,
        )
        tracks = tracker.update(found)
        assert tracks.appearance_shares is not None
        removed = tracks.states == TrackState.REMOVED
        sends += int(
            sender.select(tracks.ids, tracks.appearance_shares, frame * 80_000, removed).any(axis=1).sum()
        )
    return sends


@pytest.mark.parametrize("noise", [0.02, 0.04])
def test_smoothed_tracks_send_rarely_under_observation_noise(noise: float) -> None:
    # The first descriptor and the refreshes every 10 s (+ at most one while the running average settles).
    assert 2 <= sends_under_noise(noise, TrackerConfig().appearance_smoothing) <= 4


def test_without_smoothing_noise_would_trigger_sends() -> None:
    assert sends_under_noise(0.04, 1.0) > 20


# ---- the tracker re-acquires with colours ------------------------------------------------------------------------


def box(x: float, y: float = 20.0) -> list[float]:
    return [x, y, x + 40.0, y + 100.0]


def run(frames: list[tuple[list[list[float]], np.ndarray | None]]) -> list[dict[int, int]]:
    """Tracker outputs per frame as {id: state}."""
    tracker = ByteTracker(TrackerConfig(lost_track_buffer_frames=30))
    out = []
    for boxes, shares in frames:
        found = Detections(
            xyxy_px=np.array(boxes, np.float32).reshape(-1, 4),
            scores=np.full(len(boxes), 0.9, np.float32),
            appearance=shares,
        )
        tracks = tracker.update(found)
        out.append({int(i): int(s) for i, s in zip(tracks.ids, tracks.states, strict=True)})
    return out


def occlusion(reappear: list[float], colours: np.ndarray | None, gap: int = 5) -> list[dict[int, int]]:
    """One person seen for 10 frames, unseen for ``gap``, then a detection at ``reappear`` with ``colours``."""
    red = np.stack([one_hot(10, 8)])
    before = [([box(10.0)], None if colours is None else red) for _ in range(10)]
    hidden: list[tuple[list[list[float]], np.ndarray | None]] = [
        ([], None if colours is None else np.zeros((0, 2, 16), np.float32)) for _ in range(gap)
    ]
    return run([*before, *hidden, ([reappear], colours)])


def test_a_lost_track_is_not_re_acquired_by_someone_in_other_colours() -> None:
    green = np.stack([one_hot(12, 12)])
    assert occlusion(box(14.0), None)[-1] == {1: TrackState.CONFIRMED}  # by boxes alone: re-acquired
    last = occlusion(box(14.0), green)[-1]
    assert last.get(1) == TrackState.LOST  # the other person does not take the id (a new track starts)


def test_matching_colours_re_acquire_at_a_lower_overlap() -> None:
    red = np.stack([one_hot(10, 8)])
    far = box(38.0)  # IoU with the (still) box ~0.2, below the lost gate's 0.25
    assert occlusion(far, None)[-1].get(1) == TrackState.LOST
    assert occlusion(far, red)[-1] == {1: TrackState.CONFIRMED}


def test_unmeasurable_descriptors_change_nothing() -> None:
    rng = np.random.default_rng(5)
    frames = []
    for index in range(60):
        count = int(rng.integers(0, 5))
        xs = rng.uniform(0, 300, count) + index
        frames.append([box(float(x)) for x in xs])
    plain = run([(b, None) for b in frames])
    blank = run([(b, np.zeros((len(b), 2, 16), np.float32)) for b in frames])
    assert plain == blank


# ---- the pipeline -------------------------------------------------------------------------------------------------


class EveryFrameSink(NullSink):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Tracks] = []

    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        self.seen.append(tracks)
        return super().emit(camera_id, capture_time_us, tracks)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_pipeline_sends_each_tracks_descriptor_once_while_it_stays_the_same(
    tmp_path: Path, enabled: bool
) -> None:
    settings = AgentSettings(cameras=[camera(1, write_video(tmp_path / "v.avi"))])
    settings.appearance.enabled = enabled
    sink = EveryFrameSink()
    pipeline = Pipeline(settings, StubDetector(), sink)
    pipeline.start()
    try:
        run_until(pipeline, lambda: sink.last_sequence(1) >= 10)
    finally:
        pipeline.close()
    if not enabled:
        assert all(t.appearance is None and t.appearance_shares is None for t in sink.seen)
        return
    carried: list[list[bool]] = [
        [bool(v) for v in np.any(t.appearance, axis=1).tolist()]
        for t in sink.seen
        if t.appearance is not None
    ]
    assert len(carried) == len(sink.seen)
    assert carried[0] == [True, True]  # both tracks' first frame
    assert not any(any(rows) for rows in carried[1:])  # a still scene: nothing changes, nothing more is sent
    first = sink.seen[0]
    assert first.appearance is not None
    frame = encode_track_frame(1, 1, 1, first)
    assert len(frame.appearance) == 32


def test_spooled_frames_carry_their_descriptors_until_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    sink = SpoolSink(spool)
    descriptor = appearance.pack(np.stack([np.stack([one_hot(3, 8)[0], one_hot(3, 8)[1]])]))
    tracks = Tracks(
        ids=np.array([7], dtype=np.int64),
        xyxy_px=np.array([[10, 20, 50, 140]], np.float32),
        scores=np.array([0.9], np.float32),
        states=np.array([2], np.int8),
        appearance=descriptor,
    )
    sequence = sink.emit(1, 1_000, tracks)
    (spooled,) = spool.pending(0, 10)
    frame = track_pb2.TrackFrame.FromString(spooled.payload)
    assert frame.appearance == descriptor.tobytes()
    assert spool.ack(1, sequence) == 1
    assert spool.pending(0, 10) == []  # deleted on the ack, descriptor with it
    spool.close()


@pytest.mark.parametrize(
    "bad_box",
    [
        [np.nan, 20.0, 60.0, 200.0],
        [20.0, 20.0, 60.0, np.nan],
        [20.0, 20.0, np.inf, 200.0],
        [-np.inf, -np.inf, np.inf, np.inf],
        [np.nan, np.nan, np.nan, np.nan],
    ],
)
def test_a_non_finite_box_is_not_measurable_and_changes_nobody_else(bad_box: list[float]) -> None:
    # A detector plug-in (or a model fed garbage) may report NaN or infinite coordinates: the analysis loop must
    # go on, with that box unmeasured and every other box described as without it.
    image, boxes = scene([((20, 20, 80, 200), RED, BLUE), ((200, 30, 260, 210), GREEN, BLACK)])
    alone = describe(image, boxes)
    shares = describe(image, np.vstack([boxes, np.asarray([bad_box], dtype=np.float32)]))
    assert shares.shape == (3, 2, 16)
    assert not shares[2].any()
    np.testing.assert_array_equal(shares[:2], alone)


def test_a_track_beyond_the_frames_track_limit_sends_its_descriptor_once_it_is_on_the_wire() -> None:
    # The encoder sends the MAX_TRACKS_PER_FRAME lowest ids; a descriptor "sent" for a track it left out never
    # reached the server, and was not sent again until the refresh (10 s).
    from edge_agent.pipeline import select_appearance
    from edge_agent.transport.encoder import MAX_TRACKS_PER_FRAME, decode_local_ids

    count = MAX_TRACKS_PER_FRAME + 5
    rng = np.random.default_rng(11)
    shares = rng.dirichlet(np.ones(16), size=(count, 2)).astype(np.float32)
    xy = rng.uniform(0, 600, (count, 2)).astype(np.float32)

    def frame_of(first: int, time_us: int, sequence: int) -> track_pb2.TrackFrame:
        tracks = Tracks(
            ids=np.arange(first + 1, count + 1, dtype=np.int64),
            xyxy_px=np.c_[xy, xy + 40][first:].astype(np.float32),
            scores=np.full(count - first, 0.9, np.float32),
            states=np.full(count - first, int(TrackState.CONFIRMED), np.int8),
            appearance_shares=shares[first:],
        )
        select_appearance(sender, tracks, time_us)
        return encode_track_frame(1, sequence, time_us, tracks)

    sender = AppearanceSender()
    first = frame_of(0, 0, 1)
    assert len(first.appearance_rows) == MAX_TRACKS_PER_FRAME
    second = frame_of(5, 80_000, 2)  # the five lowest ids have gone: the five highest are on the wire now
    ids = decode_local_ids(second)
    assert [ids[row] for row in second.appearance_rows] == list(range(count - 4, count + 1))


class FailingFirstFramesSink(EveryFrameSink):
    """A spool that is full (SpoolError) for its first ``failures`` frames: those frames are lost."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def emit(self, camera_id: int, capture_time_us: int, tracks: Tracks) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise SpoolError("spool full (test)")
        return super().emit(camera_id, capture_time_us, tracks)


def test_descriptors_of_a_lost_frame_are_sent_with_the_next_one(tmp_path: Path) -> None:
    # A frame the spool refused never reaches the server: its descriptors were counted as sent, and the server had
    # none for these tracks until the refresh (10 s).
    settings = AgentSettings(cameras=[camera(1, write_video(tmp_path / "v.avi"))])
    sink = FailingFirstFramesSink(failures=1)
    pipeline = Pipeline(settings, StubDetector(), sink)
    pipeline.start()
    try:
        run_until(pipeline, lambda: sink.last_sequence(1) >= 3)
    finally:
        pipeline.close()
    assert pipeline.frames_lost == 1
    first_delivered = sink.seen[0]
    assert first_delivered.appearance is not None
    assert np.any(first_delivered.appearance, axis=1).tolist() == [True, True]
    assert not any(np.any(t.appearance) for t in sink.seen[1:] if t.appearance is not None)
