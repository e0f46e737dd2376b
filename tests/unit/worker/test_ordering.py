"""The worker's camera-sequence order (server.worker.ordering): what reaches the fusion, in which order."""

from __future__ import annotations

from server.worker.ordering import SiteOrder


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(
    order: SiteOrder[tuple[int, int]], messages: list[tuple[int, int]]
) -> list[tuple[tuple[int, int], bool]]:
    out = []
    for camera, sequence in messages:
        released, _ = order.offer(camera, 0, sequence, (camera, sequence))
        out += [(r.item, r.duplicate) for r in released]
    return out


def test_newer_frames_stored_first_wait_for_the_older_ones() -> None:
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=5.0, clock=Clock())
    stored = [*range(1, 11), *range(16, 21), *range(11, 16)]
    out = _feed(order, [(1, s) for s in stored])
    assert out == [((1, s), False) for s in range(1, 21)]
    assert (order.gaps_held, order.duplicates, order.holding) == (1, 0, 0)


def test_other_cameras_wait_behind_the_gap_and_keep_time_order() -> None:
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=5.0, clock=Clock())
    out = _feed(order, [(1, 1), (2, 1), (1, 3), (2, 2), (9, 1), (1, 2), (2, 3)])
    # (2, 2) arrived after the gap of camera 1: it waits behind (1, 3), though camera 2 has no gap
    assert [item for item, _ in out] == [(1, 1), (2, 1), (1, 2), (1, 3), (2, 2), (9, 1), (2, 3)]


def test_a_gap_filled_out_of_order_inside_the_hold() -> None:
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=5.0, clock=Clock())
    out = _feed(order, [(1, s) for s in [1, 6, 7, 4, 2, 3, 5]])
    assert [s for (_, s), _ in out] == [1, 2, 3, 4, 5, 6, 7]


def test_a_duplicate_is_told_from_a_first_late_frame() -> None:
    clock = Clock()
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=2.0, clock=clock)
    out = _feed(order, [(1, s) for s in [5, 6, 7, 6, 10]])
    assert out[-1] == ((1, 6), True)  # applied here already: a duplicate
    assert order.holding == 1  # 10 waits for 8, 9
    clock.now = 1.0
    assert order.expire() == []
    clock.now = 2.5
    assert [(r.item, r.duplicate) for r in order.expire()] == [((1, 10), False)]
    assert (order.gaps_given_up, order.frames_given_up) == (1, 2)
    # 8 arrives after all (given up on: not a duplicate), 3 is older than anything applied here (the predecessor's
    # or never applied: the fusion decides), 10 again is a duplicate.
    out = _feed(order, [(1, 8), (1, 3), (1, 10)])
    assert out == [((1, 8), False), ((1, 3), False), ((1, 10), True)]
    assert order.duplicates == 2


def test_expire_everything_releases_the_hold_in_order() -> None:
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=60.0, clock=Clock())
    _feed(order, [(1, 1), (1, 5), (2, 1), (1, 9)])
    out = order.expire(everything=True)
    assert [r.item for r in out] == [(1, 5), (2, 1), (1, 9)]
    assert (order.holding, order.gaps_given_up, order.frames_given_up) == (0, 2, 6)


def test_a_worker_behind_its_stream_keeps_the_hold_until_it_read_the_stream() -> None:
    """The hold's time runs against the stream, not against the worker's own processing: a gap is given up on
    only once the site's stream was read to its end `hold_s` after the hold began (the gap's frames may still be
    stored behind the backlog of a worker that fell behind)."""
    clock = Clock()
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=2.0, clock=clock, by_stream=True)
    _feed(order, [(1, s) for s in [1, 2, 5, 6]])
    clock.now = 1.0
    order.stream_read()  # read to its end, but too early to tell: the gap's frames may come within the hold
    clock.now = 10.0
    assert order.expire() == []  # 8 s more and still reading the backlog: nothing given up
    assert [s for (_, s), _ in _feed(order, [(1, 3), (1, 4)])] == [3, 4, 5, 6]
    _feed(order, [(1, 9)])
    clock.now = 20.0
    assert order.expire() == []
    order.stream_read()  # nothing more in the stream 10 s after the hold began: 7, 8 never came
    assert [(r.item, r.duplicate) for r in order.expire()] == [((1, 9), False)]
    assert (order.gaps_given_up, order.frames_given_up) == (1, 2)


def test_a_second_copy_of_a_frame_held_behind_a_gap_is_the_duplicate() -> None:
    """Camera 2's sequence 2 waits behind camera 1's gap; a second copy of it comes before the gap is filled. The
    second copy is the duplicate (the waiting one is applied in its place): released as the frame, it made camera
    2's sequence durable past the waiting copy, which a next owner then fused again."""
    order: SiteOrder[tuple[int, int]] = SiteOrder(hold_s=5.0, clock=Clock())
    out = _feed(order, [(1, 1), (2, 1), (1, 3), (2, 2), (2, 2)])
    assert out == [((1, 1), False), ((2, 1), False), ((2, 2), True)]
    assert order.holding == 2
    assert _feed(order, [(1, 2)]) == [((1, 2), False), ((1, 3), False), ((2, 2), False)]
    assert order.duplicates == 1
