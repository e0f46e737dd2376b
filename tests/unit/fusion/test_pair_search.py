"""The fusion's pair searches (`close_pairs` and `unshared_close_pairs` for the merge check, `swapped_pairs` for the
swap check) give exactly the pairs, in the order, of the all-pairs matrices they replace for large crowds, whatever
the branch taken."""

from __future__ import annotations

import numpy as np
import pytest

from server.fusion import FusionConfig, SiteFusion
from server.fusion.appearance import CLASSES, PARTS
from server.fusion.site import (
    KD_TREE_MIN_POINTS,
    SWAP_ROWS_MIN,
    close_pairs,
    swapped_pairs,
    unshared_close_pairs,
)
from simulation import SimulationConfig, simulate


def _matrix_close_pairs(xy: np.ndarray, reach_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dx = xy[:, 0:1] - xy[:, 0]
    dy = xy[:, 1:2] - xy[:, 1]
    distance2 = dx * dx + dy * dy
    first, second = np.nonzero(distance2 < reach_m**2)
    upper = first < second
    return first[upper], second[upper], distance2[first[upper], second[upper]]


def _matrix_swapped_pairs(
    xy: np.ndarray, predicted: np.ndarray, gate_m: float, saving_m: float
) -> tuple[np.ndarray, np.ndarray]:
    own = np.hypot(*(xy - predicted).T)
    delta = xy[:, None, :] - predicted[None, :, :]
    distance = np.hypot(delta[..., 0], delta[..., 1])
    saving = own[:, None] + own[None, :] - distance - distance.T
    near = distance <= gate_m
    first, second = np.nonzero(np.triu((saving > saving_m) & near & near.T, k=1))
    return first, second


SIZES = [2, 5, SWAP_ROWS_MIN - 1, SWAP_ROWS_MIN, KD_TREE_MIN_POINTS - 1, KD_TREE_MIN_POINTS, 250]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(6))
def test_close_pairs_are_the_matrix_pairs(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    side = np.sqrt(n * 1.5)  # a dense crowd: many pairs within the reach
    xy = rng.uniform(0.0, side, size=(n, 2))
    if n > 4:  # points exactly at the reach, and two on one spot
        xy[1] = xy[0] + [0.6, 0.0]
        xy[3] = xy[2]
    expected = _matrix_close_pairs(xy, 0.6)
    got = close_pairs(xy, 0.6)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("noise_m", [0.05, 0.3])
def test_swapped_pairs_are_the_matrix_pairs(n: int, seed: int, noise_m: float) -> None:
    rng = np.random.default_rng(100 + seed)
    side = np.sqrt(n * 1.5)
    predicted = rng.uniform(0.0, side, size=(n, 2))
    xy = predicted + rng.normal(0.0, noise_m, size=(n, 2))
    if n > 4:  # a real swap: rows 0 and 1 observe each other's person
        predicted[1] = predicted[0] + [0.9, 0.0]
        xy[0], xy[1] = predicted[1] + 0.02, predicted[0] - 0.02
    expected = _matrix_swapped_pairs(xy, predicted, 1.3, 0.5)
    got = swapped_pairs(xy, predicted, 1.3, 0.5)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    if n > 4:
        assert (0, 1) in set(zip(got[0].tolist(), got[1].tolist(), strict=True))


def test_no_row_far_from_its_person_no_swap() -> None:
    predicted = np.array([[0.0, 0.0], [1.0, 0.0]])
    first, second = swapped_pairs(predicted + 0.1, predicted, 1.3, 0.5)
    assert first.size == 0
    assert second.size == 0


def test_a_subnormal_saving_misses_no_pair() -> None:
    """Half of a subnormal saving rounds up: rows exactly at that half were not picked, their pair missed."""
    tiny = 5e-324
    predicted = np.random.default_rng(3).uniform(0.0, 8.0, size=(40, 2))
    xy = predicted.copy()
    predicted[0], xy[0] = (0.0, 0.0), (2 * tiny, 0.0)
    predicted[1], xy[1] = (2 * tiny, 0.0), (0.0, 0.0)
    xy[5] += 3.0  # a row far from its person: the search runs
    expected = _matrix_swapped_pairs(xy, predicted, 1.3, 3 * tiny)
    got = swapped_pairs(xy, predicted, 1.3, 3 * tiny)
    assert (0, 1) in set(zip(expected[0].tolist(), expected[1].tolist(), strict=True))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf, as the matrix had
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_positions_are_left_out_as_the_matrix_leaves_them(bad: float) -> None:
    """The k-d tree refuses non-finite points (the fusion's input checks keep them out); the searches then take the
    matrix's path and its answer."""
    rng = np.random.default_rng(9)
    predicted = rng.uniform(0.0, 15.0, size=(KD_TREE_MIN_POINTS + 20, 2))
    xy = predicted + rng.normal(0.0, 0.3, size=predicted.shape)
    predicted[7, 0] = bad
    xy[11, 1] = bad
    for e, g in zip(_matrix_close_pairs(predicted, 0.6), close_pairs(predicted, 0.6), strict=True):
        np.testing.assert_array_equal(g, e)
    expected = _matrix_swapped_pairs(xy, predicted, 1.3, 0.5)
    got = swapped_pairs(xy, predicted, 1.3, 0.5)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("offset_m", [0.0, 1e4])
def test_pairs_on_the_reach_and_the_gate_far_from_the_origin(offset_m: float) -> None:
    """Pairs exactly on the reach / gate, or one float inside it, far from the origin too: the trees' margin still
    proposes them, and the matrix's own test decides."""
    rng = np.random.default_rng(21)
    n = KD_TREE_MIN_POINTS + 50
    predicted = offset_m + rng.uniform(0.0, 20.0, size=(n, 2))
    xy = predicted + rng.normal(0.0, 0.3, size=(n, 2))
    for k in range(0, 40, 2):  # on the reach, and a float inside it
        predicted[k + 1] = predicted[k] + [0.6, 0.0]
        predicted[k + 1, 0] = np.nextafter(predicted[k + 1, 0], -np.inf) if k % 4 else predicted[k + 1, 0]
        xy[k], xy[k + 1] = predicted[k + 1] + [0.0, 0.01], predicted[k] - [0.0, 0.01]
    for e, g in zip(_matrix_close_pairs(predicted, 0.6), close_pairs(predicted, 0.6), strict=True):
        np.testing.assert_array_equal(g, e)
    for gate_m in (0.6, 1.3):
        expected = _matrix_swapped_pairs(xy, predicted, gate_m, 0.5)
        got = swapped_pairs(xy, predicted, gate_m, 0.5)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("n", [2, 5, KD_TREE_MIN_POINTS - 1, KD_TREE_MIN_POINTS, 250])
@pytest.mark.parametrize("cameras", [1, 2, 4])
@pytest.mark.parametrize("seed", range(4))
def test_unshared_close_pairs_are_the_matrix_pairs_no_camera_saw_together(
    n: int, cameras: int, seed: int
) -> None:
    """The merge check's pairs: the matrix's close pairs less those that a camera saw both points of, whichever
    points the camera sets leave out of the search (one camera: every pair is shared, unless nothing saw them)."""
    rng = np.random.default_rng(200 + seed)
    xy = rng.uniform(0.0, np.sqrt(n * 1.5), size=(n, 2))
    seen = rng.random((n, cameras)) < [0.9, 0.3, 0.5, 0.2][:cameras]
    seen[rng.random(n) < 0.05] = False  # seen by no camera in the window: no pair of theirs is shared
    first, second, distance2 = _matrix_close_pairs(xy, 1.5)
    apart = ~(seen[first] & seen[second]).any(axis=1)
    got = unshared_close_pairs(xy, seen, 1.5)
    for e, g in zip((first[apart], second[apart], distance2[apart]), got, strict=True):
        np.testing.assert_array_equal(g, e)


def test_unshared_close_pairs_of_a_crowd_one_camera_sees() -> None:
    """No pair is unshared where one camera saw every point (nothing is searched)."""
    xy = np.random.default_rng(5).uniform(0.0, 10.0, size=(300, 2))
    first, second, distance2 = unshared_close_pairs(xy, np.ones((300, 2), dtype=np.bool_), 1.5)
    assert first.size == second.size == distance2.size == 0


@pytest.mark.parametrize("offset_m", [0.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_swaps_saving_just_over_the_threshold_are_found(offset_m: float, seed: int) -> None:
    """Swapped pairs whose saving lies within a few floats of `saving_m`, each row's share about half of it (the
    k-d tree's search radius per far row, its distance to its own person less half the saving): the matrix's
    pairs, far from the origin too."""
    rng = np.random.default_rng(300 + seed)
    n = KD_TREE_MIN_POINTS + 60
    predicted = offset_m + rng.uniform(0.0, 20.0, size=(n, 2))
    xy = predicted + rng.normal(0.0, 0.05, size=(n, 2))
    for k in range(
        0, 60, 2
    ):  # persons 1 m apart, each row 0.375 m (+- a few floats) short of the other person
        angle = rng.uniform(0.0, 2.0 * np.pi)
        step = np.array([np.cos(angle), np.sin(angle)])
        predicted[k + 1] = predicted[k] + step
        share = 0.375 + (k // 2 - 15) * 1e-16
        xy[k] = predicted[k + 1] - share * step
        xy[k + 1] = predicted[k] + share * step
    for saving_m in (0.5, 0.5 + 1e-15, 0.5 - 1e-15):
        expected = _matrix_swapped_pairs(xy, predicted, 1.3, saving_m)
        got = swapped_pairs(xy, predicted, 1.3, saving_m)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def _all_pairs_similarities(
    fusion: SiteFusion, camera_id: int, local_ids: np.ndarray, slots: np.ndarray
) -> np.ndarray:
    """Every (row, slot) similarity as one broadcast over rows x slots x parts x classes (the straightforward
    formulation `SiteFusion._similarities` computes pair by pair)."""
    rows = np.zeros((local_ids.shape[0], PARTS, CLASSES))
    for k, local in enumerate(local_ids.tolist()):
        entry = fusion._track_app.get((camera_id, local))
        if entry is not None:
            rows[k] = entry[0]
    count = fusion._app_n[slots]
    known = count >= fusion.config.appearance_min_count
    mean = fusion._app_sum[slots] / np.maximum(count, 1.0)[..., None]
    both = (rows.sum(axis=2) > 0)[:, None, :] & known[None, :, :]
    overlap = np.minimum(rows[:, None], mean[None]).sum(axis=3)
    parts = both.sum(axis=2)
    similar: np.ndarray = np.where(parts > 0, (overlap * both).sum(axis=2) / np.maximum(parts, 1), np.nan)
    return similar


def test_similarities_of_the_pairs_asked_for_are_the_all_pairs_values() -> None:
    """The colour similarities computed only for the pairs `where` marks (the joins a row could make in a crowd)
    are the all-pairs broadcast's values to the last bit, NaN elsewhere; without `where`, all of them."""
    result = simulate(SimulationConfig(seed=3, people=40, cameras=2, duration_s=6.0))
    fusion = SiteFusion(FusionConfig(site_id=1))
    for frame in result.frames:
        fusion.update(frame.to_observations(1))
    slots = np.flatnonzero(fusion._active)
    rng = np.random.default_rng(4)
    for camera_id in sorted({camera for camera, _ in fusion._track_app}):
        local_ids = np.array(sorted(local for camera, local in fusion._track_app if camera == camera_id))
        local_ids = np.concatenate([local_ids, [10**9]])  # a track without a descriptor: NaN
        expected = _all_pairs_similarities(fusion, camera_id, local_ids, slots)
        assert np.isfinite(expected).sum() > 100
        every = fusion._similarities(camera_id, local_ids, slots)
        assert every is not None
        np.testing.assert_array_equal(every, expected)
        where = rng.random(expected.shape) < 0.2
        some = fusion._similarities(camera_id, local_ids, slots, where=where)
        assert some is not None
        np.testing.assert_array_equal(some[where], expected[where])
        assert np.isnan(some[~where]).all()
