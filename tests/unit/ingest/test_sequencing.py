import pytest

from server.ingest.sequencing import Admission, SequenceWindow


@pytest.mark.parametrize(
    ("arrivals", "expected_contiguous", "expected_pending", "expected_skipped"),
    [
        ([1, 2, 3], 3, set(), 0),
        ([2, 3], 0, {2, 3}, 0),  # 1 still missing
        ([2, 3, 1], 3, set(), 0),  # out of order within the window
        ([1, 5, 3, 2], 3, {5}, 0),
        ([1, 20], 10, {20}, 9),  # gap beyond the window of 10: 2..10 given up (9 sequences never stored)
    ],
)
def test_contiguous_prefix(arrivals, expected_contiguous, expected_pending, expected_skipped):
    window = SequenceWindow(reorder_window=10)
    for sequence in arrivals:
        assert window.admit(sequence) is Admission.NEW
        window.mark_done(sequence)
    assert window.highest_contiguous == expected_contiguous
    assert window.pending == expected_pending
    assert window.skipped_total == expected_skipped


def test_replays_are_duplicates():
    window = SequenceWindow(reorder_window=10)
    for sequence in (1, 2, 4):
        window.mark_done(sequence)
    assert window.admit(1) is Admission.DUPLICATE
    assert window.admit(2) is Admission.DUPLICATE
    assert window.admit(4) is Admission.DUPLICATE  # pending, already stored
    assert window.admit(3) is Admission.NEW
