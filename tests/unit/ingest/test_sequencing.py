import pytest

from server.ingest.sequencing import MAX_ANALYSIS_FPS, MAX_SEQUENCE_JUMP, Admission, SequenceWindow


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


@pytest.mark.parametrize("sequence", [0, 2**63, 2**63 + 5, 2**64 - 1])
def test_sequences_outside_the_legal_range_are_refused(sequence):
    window = SequenceWindow(reorder_window=10, highest_contiguous=2**63 - 20)
    assert "legal range 1 .. 2^63-1" in (window.check(sequence) or "")


def test_the_largest_legal_sequence_is_taken_where_the_prefix_allows_it():
    window = SequenceWindow(reorder_window=10, highest_contiguous=2**63 - 20)
    assert window.check(2**63 - 1) is None
    window.mark_done(2**63 - 1)
    assert window.highest_contiguous == 2**63 - 11  # the gap beyond the reorder window is given up


def test_a_jump_beyond_the_allowed_distance_is_refused_and_changes_nothing():
    window = SequenceWindow(reorder_window=10)
    window.mark_done(1, capture_time_us=1_000_000)
    assert window.check(1 + MAX_SEQUENCE_JUMP) is None
    reason = window.check(2 + MAX_SEQUENCE_JUMP, capture_time_us=1_000_000)
    assert reason is not None
    assert "ahead of the camera's contiguous prefix 1" in reason
    assert window.check(2**62, capture_time_us=10**12) is not None  # even after 11 days of capture time
    assert (window.highest_contiguous, window.pending) == (1, set())
    assert window.admit(2) is Admission.NEW  # the next ordinary frame is not taken for a replay


def test_a_large_gap_explained_by_elapsed_capture_time_is_skipped():
    """A box offline for an hour evicted most of its frames: the jump is consistent with its clock."""
    window = SequenceWindow(reorder_window=10)
    window.mark_done(1, capture_time_us=1_000_000)
    one_hour_us = 3600 * 10**6
    sequence = 1 + MAX_SEQUENCE_JUMP + 3600 * MAX_ANALYSIS_FPS
    assert window.check(sequence, capture_time_us=1_000_000 + one_hour_us) is None
    assert window.check(sequence + 1, capture_time_us=1_000_000 + one_hour_us) is not None
    window.mark_done(sequence, capture_time_us=1_000_000 + one_hour_us)
    assert window.highest_contiguous == sequence - 10
    assert window.skipped_total == sequence - 10 - 1


def test_a_late_frame_of_a_gap_given_up_on_is_new_once():
    window = SequenceWindow(reorder_window=10)
    for sequence in (1, 5, 20):
        window.mark_done(sequence)
    assert (window.highest_contiguous, window.skipped_total) == (10, 8)  # 2..4 and 6..10 given up
    assert window.skipped_ranges == [(2, 4), (6, 10)]
    assert window.admit(5) is Admission.DUPLICATE
    assert window.admit(7) is Admission.NEW
    window.mark_done(7)
    assert window.admit(7) is Admission.DUPLICATE
    assert (window.skipped_total, window.skipped_ranges) == (7, [(2, 4), (6, 6), (8, 10)])


def test_the_first_frame_replaces_an_epoch_start_from_a_clock_that_was_ahead():
    """A box whose clock was a year ahead when it created its spool: its windows still allow eviction gaps."""
    one_year_us = 365 * 24 * 3600 * 10**6
    window = SequenceWindow(reorder_window=10, reference_time_us=2 * one_year_us)
    window.mark_done(1, capture_time_us=one_year_us)
    assert window.reference_time_us == one_year_us
    assert window.check(1 + MAX_SEQUENCE_JUMP + 1200, capture_time_us=one_year_us + 10 * 10**6) is None
