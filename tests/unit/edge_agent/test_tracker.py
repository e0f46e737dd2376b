"""ByteTrack-family tracker: Kalman filter, association, life cycle, and accuracy on MOTChallenge ground truth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from edge_agent.tracking import ByteTracker, TrackerConfig, kalman
from edge_agent.tracking.evaluation import (
    NOISE_FAMILIES,
    NoiseFamily,
    NoiseModel,
    crowded,
    noisy_detections,
    occluded_fraction,
    run_tracker,
    score_sequence,
    sequences,
    subsampled,
)
from edge_agent.tracking.matching import (
    _assign_components,
    _clear_best,
    _solve,
    assign,
    assign_pairs,
    iou_matrix,
    iou_rows,
    linear_assignment,
)
from edge_agent.types import Detections, Tracks, TrackState


def dets(*boxes: tuple[float, float, float, float, float]) -> Detections:
    array = np.array(boxes, dtype=np.float32).reshape(-1, 5)
    return Detections(xyxy_px=array[:, :4].copy(), scores=array[:, 4].copy())


def person(x: float, y: float, score: float = 0.9) -> tuple[float, float, float, float, float]:
    return (x, y, x + 40.0, y + 100.0, score)


def by_id(tracks: Tracks) -> dict[int, tuple[int, np.ndarray]]:
    return {int(i): (int(s), b) for i, s, b in zip(tracks.ids, tracks.states, tracks.xyxy_px, strict=True)}


# ---- Kalman filter ----------------------------------------------------------------------------------------------


def textbook(mean: np.ndarray, cov: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ByteTrack's 8x8 matrix equations for one track: predict, then update with z."""
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h = np.eye(4, 8)
    height = mean[3]
    q = np.diag(
        np.square(
            [height / 20, height / 20, 1e-2, height / 20, height / 160, height / 160, 1e-5, height / 160]
        )
    )
    mean = f @ mean
    cov = f @ cov @ f.T + q
    predicted = mean.copy()
    r = np.diag(np.square([mean[3] / 20, mean[3] / 20, 1e-1, mean[3] / 20]))
    s = h @ cov @ h.T + r
    gain = cov @ h.T @ np.linalg.inv(s)
    return predicted, mean + gain @ (z - h @ mean), cov - gain @ s @ gain.T


def test_kalman_block_form_equals_the_matrix_form() -> None:
    rng = np.random.default_rng(3)
    measurements = np.column_stack((rng.uniform(0, 500, 6), rng.uniform(0, 500, 6), rng.uniform(0.3, 0.6, 6),
                                    rng.uniform(50, 200, 6)))  # fmt: skip
    block = kalman.initiate(measurements.T)  # the filter is quantity-major: 20 x tracks
    block[kalman.VELOCITY] = rng.normal(0, 3, (4, 6))
    means = block[:8].T.copy()
    covs = kalman.full_covariance(block)
    for step in range(5):
        z = measurements + rng.normal(0, 2, measurements.shape) + step
        kalman.predict(block)
        predicted = block[:8].T.copy()
        block = kalman.update(block, z.T)
        for i in range(6):
            expected_prediction, means[i], covs[i] = textbook(means[i], covs[i], z[i])
            assert np.allclose(predicted[i], expected_prediction)
        assert np.allclose(block[:8].T, means)
        assert np.allclose(kalman.full_covariance(block), covs)


def test_box_conversions_round_trip() -> None:
    boxes = np.array([[10, 20, 50, 120], [0, 0, 1, 2]], dtype=np.float64).T  # 4 x boxes
    assert np.allclose(kalman.xyah_to_xyxy(kalman.xyxy_to_xyah(boxes)), boxes)
    assert np.allclose(kalman.xyxy_to_xyah(boxes)[:, 0], [30, 70, 0.4, 100])


# ---- matching ---------------------------------------------------------------------------------------------------


def test_iou_matrix_values() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=np.float64)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 110, 110]], dtype=np.float64)
    assert np.allclose(iou_matrix(a, b), np.array([[1 / 3, 1, 0], [0, 0, 0]]))
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_iou_of_box_rows_equals_iou_matrix_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for rows, cols in ((1, 1), (7, 5), (60, 80)):
        a = rng.uniform(0, 500, (rows, 4))
        a[:, 2:] = a[:, :2] + rng.uniform(10, 80, (rows, 2))
        b = np.concatenate((a[: rows // 2] + rng.normal(0, 5, (rows // 2, 4)), a[:1]))
        b = np.concatenate((b, rng.uniform(0, 500, (cols, 4))))[:cols]
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
        assert np.array_equal(iou_rows(a.T.copy(), b.T.copy()), iou_matrix(a, b))
    assert iou_rows(np.zeros((4, 0)), np.ones((4, 3))).shape == (0, 3)


@pytest.mark.parametrize(
    ("cost", "limit", "expected"),
    [
        ([[0.1, 0.9], [0.9, 0.2]], 0.5, {(0, 0), (1, 1)}),
        ([[0.1, 0.2], [0.15, 0.9]], 0.5, {(0, 1), (1, 0)}),  # the global optimum, not greedy
        ([[0.9, 0.9], [0.9, 0.9]], 0.5, set()),  # nothing admissible
        ([[0.1], [0.2], [0.3]], 0.5, {(0, 0)}),
    ],
)
def test_linear_assignment(cost: list[list[float]], limit: float, expected: set[tuple[int, int]]) -> None:
    rows, cols = linear_assignment(np.array(cost), limit)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected


def test_assign_on_a_masked_matrix_equals_linear_assignment_on_the_sub_matrix() -> None:
    # The tracker masks whole rows / columns of one cost matrix instead of cutting out the sub-matrix, and
    # assign's shortcut (every row and column has at most one admissible partner) skips the solver.
    rng = np.random.default_rng(5)
    for trial in range(300):
        rows, cols = rng.integers(1, 12, 2)
        cost = rng.uniform(0.0, 1.0, (rows, cols)) ** (0.3 if trial % 2 else 3.0)  # sparse or crowded gates
        row_ok = rng.random(rows) < 0.8
        col_ok = rng.random(cols) < 0.8
        admissible = (cost <= 0.5) & row_ok[:, None] & col_ok
        got_r, got_c = assign(cost, 0.5, admissible)
        row_idx, col_idx = np.flatnonzero(row_ok), np.flatnonzero(col_ok)
        sub_r, sub_c = linear_assignment(cost[row_idx][:, col_idx], 0.5)
        assert set(zip(got_r.tolist(), got_c.tolist(), strict=True)) == set(
            zip(row_idx[sub_r].tolist(), col_idx[sub_c].tolist(), strict=True)
        )


def test_assign_finds_the_solvers_optimum_for_small_conflicts_and_big_ones() -> None:
    # Conflicts among a few pairs are solved in Python (exhaustively per connected component), bigger
    # components by lap.lapjv: either way the matching is the gated problem's optimum, as lapjv finds it on the
    # whole masked matrix.
    rng = np.random.default_rng(11)
    for trial in range(400):
        rows, cols = rng.integers(1, 9, 2)
        cost = rng.uniform(0.0, 1.0, (rows, cols)) ** (0.5 if trial % 2 else 2.0)
        admissible = (cost <= 0.6) & (rng.random((rows, cols)) < 0.7)
        got_r, got_c = assign(cost, 0.6, admissible)
        want_r, want_c = _solve(np.where(admissible, cost, 2.2), 0.6)
        assert set(zip(got_r.tolist(), got_c.tolist(), strict=True)) == set(
            zip(want_r.tolist(), want_c.tolist(), strict=True)
        ), (cost, admissible)


def test_assign_respects_a_per_row_gate_in_the_solver() -> None:
    # Row 0 has a tighter gate (its 0.1 pair is not admissible): the cheapest assignment by cost alone,
    # (0, 0) + (1, 1), is not allowed; the only admissible complete one is (0, 1) + (1, 0).
    cost = np.array([[0.1, 0.5], [0.3, 0.6]])
    admissible = np.array([[False, True], [True, True]])
    rows, cols = assign(cost, 0.7, admissible)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {(0, 1), (1, 0)}


def test_assign_pairs_solves_each_conflict_component_to_the_solvers_optimum() -> None:
    # The tracker hands the admissible pairs over as lists (row-major); conflicts fall apart into connected
    # components (people far apart do not compete), each solved on its own: the same matching as lapjv on the
    # whole gated matrix, also for crowds whose components are too big to search.
    rng = np.random.default_rng(17)
    for trial in range(300):
        rows, cols = rng.integers(1, 40 if trial % 3 == 0 else 10, 2)
        cost = rng.uniform(0.0, 1.0, (rows, cols))
        admissible = (cost <= 0.6) & (rng.random((rows, cols)) < (0.15 if trial % 2 else 0.6))
        pair_rows, pair_cols = admissible.nonzero()
        got = assign_pairs(pair_rows.tolist(), pair_cols.tolist(), cost[admissible].tolist(), 0.6)
        want_r, want_c = _solve(np.where(admissible, cost, 2.2), 0.6)
        assert set(zip(*got, strict=True)) == set(zip(want_r.tolist(), want_c.tolist(), strict=True))


def test_assign_pairs_keeps_the_first_of_equally_good_pairs_in_a_one_row_or_one_column_conflict() -> None:
    # A track with a false positive just as close as the person (one row), two tracks on one detection (one
    # column): read off without a search, with the search's tie-break (the first pair in row-major order).
    assert assign_pairs([0, 0, 0], [1, 2, 3], [0.3, 0.2, 0.2], 0.6) == ([0], [2])
    assert assign_pairs([1, 2, 4], [5, 5, 5], [0.3, 0.3, 0.4], 0.6) == ([1], [5])
    # Two components at once, and a direct pair beside them.
    rows, cols = assign_pairs([0, 0, 1, 2, 3, 4], [0, 1, 2, 2, 3, 4], [0.1, 0.05, 0.3, 0.2, 0.5, 0.5], 0.6)
    assert set(zip(rows, cols, strict=True)) == {(0, 1), (2, 2), (3, 3), (4, 4)}


def test_clear_best_matchings_are_those_of_the_component_search() -> None:
    # The shortcut for a few pairs (every column's, or every row's, clearly cheapest pair, in distinct rows /
    # columns) must give the very pairs of the component-by-component search, ties and near-ties included
    # (costs drawn from a few values, some a hair apart): it answers only where the optimum is unique.
    rng = np.random.default_rng(23)
    levels = np.array([0.1, 0.2, 0.2 + 1e-12, 0.3, 0.45, 0.6 - 1e-12, 0.6])
    answered = 0
    for trial in range(3000):
        rows, cols = rng.integers(1, 8, 2)
        spread = rng.uniform(0.0, 0.6, (rows, cols))
        cost = spread if trial % 2 else levels[rng.integers(0, len(levels), (rows, cols))]
        admissible = (cost <= 0.6) & (rng.random((rows, cols)) < 0.35)
        pair_rows, pair_cols = admissible.nonzero()
        args = (pair_rows.tolist(), pair_cols.tolist(), cost[admissible].tolist(), 0.6)
        want = set(zip(*_assign_components(*args), strict=True))
        clear = _clear_best(*args)
        if clear is not None:
            answered += 1
            assert set(zip(*clear, strict=True)) == want
        assert set(zip(*assign_pairs(*args), strict=True)) == want
    assert answered > 1000  # the shortcut is exercised, not just the search


def test_clear_best_reads_off_two_tracks_on_one_detection_and_a_false_positive_beside_a_person() -> None:
    # Track 1 and 2 on detection 5 (track 2 closer), track 3 alone: every column's cheapest pair.
    assert _clear_best([1, 2, 3], [5, 5, 6], [0.4, 0.2, 0.3], 0.6) == ([2, 3], [5, 6])
    # Track 0 with its person (detection 1) and a false positive (detection 2) beside them: every row's cheapest.
    assert _clear_best([0, 0, 1, 1], [1, 2, 2, 3], [0.1, 0.3, 0.5, 0.2], 0.6) == ([0, 1], [1, 3])
    # Equally close: left to the search and its tie-break.
    assert _clear_best([0, 0, 0], [1, 2, 3], [0.3, 0.2, 0.2], 0.6) is None
    assert _clear_best([1, 2], [5, 5], [0.3, 0.3], 0.6) is None
    # A cost at the gate: a match gains nothing there, left to the search.
    assert _clear_best([1, 2], [5, 5], [0.3, 0.6], 0.6) == ([1], [5])
    assert _clear_best([1, 2], [5, 6], [0.6, 0.1], 0.6) is None


def test_score_thresholds_hold_for_scores_at_the_thresholds_float32_value() -> None:
    # Association compares scores as Python floats; NumPy compared the float32 scores with the threshold in
    # float32. A score equal to float32(0.45) (0.44999998...) is at the threshold 0.45, so it starts a track and
    # counts as a high-score detection, as before.
    config = TrackerConfig(high_score_threshold=0.45, new_track_threshold=0.45, min_hits_to_confirm=1)
    at_threshold = float(np.float32(0.45))
    assert at_threshold < 0.45
    tracker = ByteTracker(config)
    first = tracker.update(dets(person(100, 100, at_threshold)))
    assert len(first) == 1
    # Matched in stage 1 (a high-score detection), so confirmed with its box, not left for stage 2.
    second = tracker.update(dets(person(104, 100, at_threshold)))
    assert second.ids.tolist() == first.ids.tolist()
    assert second.states.tolist() == [int(TrackState.CONFIRMED)]
    below = float(np.nextafter(np.float32(0.45), np.float32(0.0)))
    assert len(ByteTracker(config).update(dets(person(100, 100, below)))) == 0


# ---- life cycle -------------------------------------------------------------------------------------------------


def test_crossing_people_keep_their_ids() -> None:
    tracker = ByteTracker(TrackerConfig())
    ids_right: set[int] = set()
    ids_left: set[int] = set()
    for t in range(60):
        right = person(100 + 8 * t, 200)  # walks right
        left = person(580 - 8 * t, 230)  # walks left, crossing at t = 30 with a large overlap
        tracks = tracker.update(dets(right, left))
        confirmed = tracks.states == TrackState.CONFIRMED
        for track_id, box in zip(tracks.ids[confirmed], tracks.xyxy_px[confirmed], strict=True):
            (ids_right if abs(box[1] - right[1]) < abs(box[1] - left[1]) else ids_left).add(int(track_id))
    assert len(ids_right) == 1
    assert len(ids_left) == 1
    assert ids_right != ids_left


def test_lost_track_is_reported_as_lost_and_recovered_with_its_id() -> None:
    tracker = ByteTracker(TrackerConfig(lost_track_buffer_frames=30))
    for t in range(10):
        first = tracker.update(dets(person(100 + 5 * t, 100)))
    (track_id,) = first.ids.tolist()
    for _ in range(10, 20):  # occluded: no detection
        gap = tracker.update(Detections())
        assert by_id(gap)[track_id][0] == TrackState.LOST
    predicted_x = by_id(gap)[track_id][1][0]
    assert 180 < predicted_x < 210  # the Kalman prediction kept walking
    back = tracker.update(dets(person(100 + 5 * 20, 100)))
    assert back.ids.tolist() == [track_id]
    assert back.states.tolist() == [TrackState.CONFIRMED]


def test_a_lost_track_on_the_detection_another_track_took_is_removed() -> None:
    # B (the younger) stands beside A, then is missed; next frame A takes, in stage 2, a low-score detection
    # lying exactly on B's prediction (a lost track takes no part in stage 2). B is A's duplicate: removed.
    # The dedup reads the overlap off the association matrix (B's prediction vs the detection A took), not
    # A's Kalman estimate, which lags between A's prediction and the detection (IoU with B < 0.85 here).
    tracker = ByteTracker(TrackerConfig())
    tracker.update(dets(person(187, 100)))
    for _ in range(5):
        out = tracker.update(dets(person(187, 100), person(200, 100)))
    a, b = sorted(out.ids.tolist())
    gap = tracker.update(dets(person(187, 100)))
    assert by_id(gap)[b][0] == TrackState.LOST
    taken = by_id(tracker.update(dets(person(200, 100, score=0.15))))
    assert taken[a][0] == TrackState.CONFIRMED
    assert taken[b][0] == TrackState.REMOVED


def test_track_is_removed_after_the_buffer_and_its_id_never_reused() -> None:
    tracker = ByteTracker(TrackerConfig(lost_track_buffer_frames=5))
    for _ in range(3):
        first = tracker.update(dets(person(100, 100)))
    (track_id,) = first.ids.tolist()
    states = [by_id(tracker.update(Detections())).get(track_id, (None,))[0] for _ in range(8)]
    assert states[:5] == [TrackState.LOST] * 5
    assert states[5] == TrackState.REMOVED  # reported once
    assert states[6:] == [None, None]
    assert len(tracker) == 0
    for _ in range(2):
        again = tracker.update(dets(person(100, 100)))
    assert again.ids.tolist() != [track_id]
    assert again.ids.tolist()[0] > track_id


def test_low_score_detection_rescues_a_confirmed_track_in_the_second_stage() -> None:
    tracker = ByteTracker(TrackerConfig())
    for t in range(5):
        start = tracker.update(dets(person(100 + 4 * t, 100, 0.9)))
    (track_id,) = start.ids.tolist()
    for t in range(5, 15):  # mostly occluded: only a detection below the high-score threshold
        tracks = tracker.update(dets(person(100 + 4 * t, 100, 0.15)))
        assert tracks.ids.tolist() == [track_id]
        assert tracks.states.tolist() == [TrackState.CONFIRMED]
    assert abs(float(tracks.scores[0]) - 0.15) < 1e-6


def test_detections_below_the_new_track_threshold_never_start_tracks_and_one_frame_blips_are_not_reported() -> (
    None
):
    tracker = ByteTracker(TrackerConfig())
    for _ in range(5):
        assert len(tracker.update(dets(person(300, 300, 0.25)))) == 0
    tracker.update(dets(person(300, 300, 0.9)))  # frame 6: tentative, not reported
    blip = tracker.update(Detections())
    assert len(blip) == 0
    assert len(tracker) == 0


def test_a_person_the_detector_scores_low_but_consistently_is_tracked_with_one_id() -> None:
    # YOLOX-Nano scores many real people 0.3-0.6 (a quarter of those >= 0.3 on the sample video are below 0.6);
    # ByteTrack's MOT17 thresholds (0.6 to start a track) never tracked them.
    tracker = ByteTracker(TrackerConfig())
    tracker.update(dets(person(500, 100)))  # someone else, so the low-score person is not a first-frame track
    scores = [0.35, 0.45, 0.32, 0.5, 0.4, 0.38, 0.55, 0.33, 0.42, 0.36]
    reported: list[list[int]] = []
    for t, score in enumerate(scores):
        tracks = tracker.update(dets(person(500, 100), person(100 + 6 * t, 300, score)))
        confirmed = tracks.states == TrackState.CONFIRMED
        reported.append(
            [
                int(i)
                for i, b in zip(tracks.ids[confirmed], tracks.xyxy_px[confirmed], strict=True)
                if b[1] > 200
            ]
        )
    assert reported[0] == []  # tentative after one hit
    assert all(len(ids) == 1 for ids in reported[1:])
    assert len({ids[0] for ids in reported[1:]}) == 1


def test_a_person_back_from_an_occlusion_with_a_low_score_gets_their_id_back_at_a_low_frame_rate() -> None:
    # 8 fps: 12 px a frame on a 40 px wide person; hidden for 4 frames, back half occluded (score 0.4). The lost
    # track takes part in stage 1 (0.4 >= the high-score threshold), so it is matched, not replaced by a new id.
    tracker = ByteTracker(TrackerConfig().scaled_to_rate(8.0))
    for t in range(8):
        tracks = tracker.update(dets(person(100 + 12 * t, 200, 0.8)))
    (track_id,) = tracks.ids.tolist()
    for _ in range(8, 12):
        hidden = tracker.update(Detections())
        assert hidden.states.tolist() == [TrackState.LOST]
    back = tracker.update(dets(person(100 + 12 * 12, 200, 0.4)))
    assert back.ids.tolist() == [track_id]
    assert back.states.tolist() == [TrackState.CONFIRMED]


def test_a_tracked_person_does_not_take_a_detection_beside_them_but_a_lost_one_is_found_there() -> None:
    # Static person, 40 px wide; a box 22 px beside them overlaps it at IoU 0.29 (cost 0.71): outside the gate of
    # a track matched in the previous frame (0.6: a false positive next to a person would steal the track), inside
    # that of a lost track (0.75: its prediction is older).
    beside = person(122, 100, 0.9)
    tracker = ByteTracker(TrackerConfig())
    for _ in range(6):
        tracks = tracker.update(dets(person(100, 100)))
    (track_id,) = tracks.ids.tolist()
    stolen = tracker.update(dets(beside))
    assert by_id(stolen)[track_id][0] == TrackState.LOST
    assert stolen.ids.tolist() == [track_id]  # the box beside them starts its own (unreported) track

    tracker = ByteTracker(TrackerConfig())
    for _ in range(6):
        tracks = tracker.update(dets(person(100, 100)))
    (track_id,) = tracks.ids.tolist()
    assert tracker.update(Detections()).states.tolist() == [TrackState.LOST]
    found = tracker.update(dets(beside))
    assert found.ids.tolist() == [track_id]
    assert found.states.tolist() == [TrackState.CONFIRMED]


def test_a_new_track_keeps_its_own_gate_while_another_track_is_lost() -> None:
    # B's second detection is 19 px further (IoU 0.36, cost 0.64): inside the tentative gate (0.7), outside the
    # stage-1 gate of a track matched last frame (0.6). A lost track elsewhere must not change B's gate.
    tracker = ByteTracker(TrackerConfig())
    for _ in range(4):
        tracker.update(dets(person(500, 100)))  # A, confirmed on the first frame
    tracker.update(dets(person(100, 300)))  # A lost; B starts, tentative
    second = tracker.update(dets(person(119, 300)))
    confirmed = second.ids[second.states == TrackState.CONFIRMED].tolist()
    assert len(confirmed) == 1  # B, confirmed by its second hit
    assert second.states[second.ids != confirmed[0]].tolist() == [TrackState.LOST]  # A


def test_first_frame_tracks_are_confirmed_later_ones_after_two_hits() -> None:
    tracker = ByteTracker(TrackerConfig(min_hits_to_confirm=2))
    assert len(tracker.update(dets(person(0, 0)))) == 1
    assert len(tracker.update(dets(person(0, 0), person(500, 0)))) == 1
    third = tracker.update(dets(person(0, 0), person(500, 0)))
    assert sorted(third.ids.tolist()) == [1, 2]


def test_matched_tracks_report_their_detection_box_lost_ones_the_prediction() -> None:
    tracker = ByteTracker(TrackerConfig())
    for t in range(6):
        detection = person(100 + 10 * t, 100)
        tracks = tracker.update(dets(detection))
    np.testing.assert_array_equal(tracks.xyxy_px[0], np.array(detection[:4], dtype=np.float32))
    lost = tracker.update(Detections())
    assert lost.states.tolist() == [TrackState.LOST]
    assert lost.xyxy_px[0, 0] > detection[0] + 5  # the Kalman prediction, still walking right


def test_association_does_not_depend_on_the_reported_box() -> None:
    gt = dict(sequences())["TUD-Stadtmitte"]
    detections = noisy_detections(gt, NoiseModel(seed=0))
    by_detection = ByteTracker(TrackerConfig(report_detection_boxes=True))
    by_filter = ByteTracker(TrackerConfig(report_detection_boxes=False))
    for index in sorted(detections):
        a = by_detection.update(detections[index])
        b = by_filter.update(detections[index])
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.states, b.states)
        lost = a.states == TrackState.LOST
        np.testing.assert_array_equal(a.xyxy_px[lost], b.xyxy_px[lost])
    # The filter's estimate is not the detection: the two settings do report different boxes.
    assert not np.array_equal(a.xyxy_px, b.xyxy_px)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low_score_threshold": 0.6, "high_score_threshold": 0.5}, "low_score_threshold"),
        ({"min_hits_to_confirm": 0}, "min_hits_to_confirm"),
        ({"lost_track_buffer_frames": -1}, "lost_track_buffer_frames"),
    ],
)
def test_config_is_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackerConfig(**kwargs)  # type: ignore[arg-type]


def test_buffer_scales_with_the_analysis_rate() -> None:
    assert TrackerConfig(lost_track_buffer_frames=30).scaled_to_rate(10).lost_track_buffer_frames == 10


def test_stage_one_gates_widen_below_30_fps_only() -> None:
    config = TrackerConfig(first_match_max_cost=0.6, lost_match_max_cost=0.75)
    for fps in (30.0, 50.0, 0.0):
        same = config.with_gates_for_rate(fps)
        assert (same.first_match_max_cost, same.lost_match_max_cost) == (0.6, 0.75)
    slow = config.scaled_to_rate(30.0 / 2**5)  # factor (1/32) ** 0.2 = 1/2: half the IoU is enough
    assert slow.first_match_max_cost == pytest.approx(0.8)
    assert slow.lost_match_max_cost == pytest.approx(0.875)
    medium = config.with_gates_for_rate(12.5)
    assert 0.6 < medium.first_match_max_cost < slow.first_match_max_cost


def test_the_agent_builds_its_tracker_with_the_gates_for_its_rate() -> None:
    from edge_agent.config import TrackerSettings
    from edge_agent.pipeline import tracker_config

    at_8 = tracker_config(TrackerSettings(), 8.0)
    assert at_8 == TrackerConfig(lost_track_buffer_frames=8).with_gates_for_rate(8.0)
    assert at_8.first_match_max_cost > TrackerConfig().first_match_max_cost


# ---- accuracy on ground truth -----------------------------------------------------------------------------------


def ours_step(tracker: ByteTracker) -> Callable[[Detections], tuple[np.ndarray, np.ndarray]]:
    def step(found: Detections) -> tuple[np.ndarray, np.ndarray]:
        tracks = tracker.update(found)
        keep = tracks.states == TrackState.CONFIRMED
        return tracks.ids[keep], tracks.xyxy_px[keep].astype(np.float64)

    return step


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_accuracy_on_tud_with_noisy_detections(name: str) -> None:
    gt = dict(sequences())[name]
    scores = []
    for seed in (0, 1):
        detections = noisy_detections(gt, NoiseModel(seed=seed))
        scores.append(score_sequence(gt, run_tracker(detections, ours_step(ByteTracker(TrackerConfig())))))
    assert np.mean([s.mota for s in scores]) >= 0.87
    assert np.mean([s.idf1 for s in scores]) >= 0.90
    assert np.mean([s.hota for s in scores]) >= 0.75


# Floors a little under what the defaults score on seeds 0-1 (both sequences, mean): the noise families the
# defaults were chosen over, including those the team did not design around.
FAMILY_FLOORS = {
    "team": (0.88, 0.91, 0.75),
    "occlusion": (0.725, 0.805, 0.62),
    "broad-scores": (0.795, 0.825, 0.665),
    "crowded": (0.595, 0.63, 0.475),
    "low-fps": (0.68, 0.79, 0.605),
}


@pytest.mark.parametrize("family", NOISE_FAMILIES, ids=lambda f: f.name)
def test_accuracy_under_every_noise_family(family: NoiseFamily) -> None:
    results = []
    for _, raw in sequences():
        gt = family.ground_truth(raw)
        for seed in (0, 1):
            tracker = ByteTracker(TrackerConfig().scaled_to_rate(family.frame_rate()))
            detections = noisy_detections(gt, family.with_seed(seed))
            s = score_sequence(gt, run_tracker(detections, ours_step(tracker)))
            results.append((s.mota, s.idf1, s.hota))
    mota, idf1, hota = np.mean(results, axis=0)
    floor = FAMILY_FLOORS[family.name]
    assert mota >= floor[0], (mota, idf1, hota)
    assert idf1 >= floor[1], (mota, idf1, hota)
    assert hota >= floor[2], (mota, idf1, hota)


# ---- noise families ---------------------------------------------------------------------------------------------


def test_occluded_fraction_counts_only_people_nearer_the_camera() -> None:
    boxes = np.array([[0, 0, 10, 20], [5, 0, 15, 30], [100, 0, 110, 20]], dtype=np.float64)
    # Box 1 reaches lower (nearer): it covers half of box 0; nothing covers box 1 or box 2.
    np.testing.assert_allclose(occluded_fraction(boxes), [0.5, 0.0, 0.0])


def test_crowded_and_subsampled_scenes() -> None:
    gt = dict(sequences())["TUD-Campus"]
    dense = crowded(gt)
    assert all(len(dense[i].ids) == 2 * len(gt[i].ids) for i in gt)
    assert all(
        len(set(dense[i].ids.tolist())) == len(dense[i].ids) for i in gt
    )  # the copies have their own ids
    sparse = subsampled(gt, 3)
    assert sorted(sparse) == list(range(1, len(range(1, len(gt) + 1, 3)) + 1))
    np.testing.assert_array_equal(sparse[2].xyxy, gt[4].xyxy)


def test_occlusion_noise_misses_occluded_people_more_and_puts_false_positives_next_to_people() -> None:
    gt = crowded(dict(sequences())["TUD-Stadtmitte"])
    family = next(f for f in NOISE_FAMILIES if f.name == "occlusion")
    detections = noisy_detections(gt, family.with_seed(0))
    found_occluded: list[bool] = []
    occluded_flags: list[bool] = []
    for index, frame in gt.items():
        iou = iou_matrix(frame.xyxy, detections[index].xyxy_px)
        found = iou.max(axis=1, initial=0.0) >= 0.5
        occluded = occluded_fraction(frame.xyxy) > 0.5
        found_occluded += found.tolist()
        occluded_flags += occluded.tolist()
    found_arr, occluded_arr = np.array(found_occluded), np.array(occluded_flags)
    assert found_arr[occluded_arr].mean() < found_arr[~occluded_arr].mean() - 0.3
    scores = np.concatenate([d.scores for d in detections.values()])
    assert scores.min() < 0.35
    assert scores.max() <= 0.9


def test_a_retuned_tracker_keeps_its_tracks_and_their_speed_in_pixels_per_second() -> None:
    # 10 px a frame at 10 fps; the box slows to 5 fps: the same walk is 20 px a frame, and the prediction follows.
    tracker = ByteTracker(TrackerConfig().scaled_to_rate(10.0))
    for t in range(12):
        tracks = tracker.update(dets(person(100 + 10 * t, 200)))
    (track_id,) = tracks.ids.tolist()
    slower = TrackerConfig().scaled_to_rate(5.0)
    tracker.retune(slower, velocity_scale=2.0)
    assert tracker.config == slower
    lost = tracker.update(Detections())  # predicted one 5-fps frame on
    assert lost.ids.tolist() == [track_id]
    assert lost.xyxy_px[0, 0] == pytest.approx(100 + 10 * 11 + 20, abs=1.5)
    back = tracker.update(dets(person(100 + 10 * 11 + 40, 200)))
    assert back.ids.tolist() == [track_id]
    assert back.states.tolist() == [TrackState.CONFIRMED]
