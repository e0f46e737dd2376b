"""The worker's durable progress per site: what a checkpoint may claim when the fusion still holds frames, and
what `settled` acks."""

from __future__ import annotations

from server.worker.progress import Applied, SiteLedger, SiteProgress


def _progress(held: dict[tuple[int, int], int]) -> tuple[SiteProgress, list[str]]:
    acked: list[str] = []
    progress = SiteProgress(held_from=lambda camera, epoch: held.get((camera, epoch)), ack=acked.append)
    progress.sites[1] = SiteLedger(site_id=1, through=10, revision=4)
    return progress, acked


def _applied(progress: SiteProgress, stream_seq: int, camera: int, sequence: int) -> None:
    progress.record(1, Applied(stream_seq, camera, 0, sequence, f"ack.{stream_seq}"))


def test_nothing_held_everything_is_claimed_and_acked() -> None:
    progress, acked = _progress({})
    for seq, (camera, sequence) in zip([12, 13, 15], [(1, 1), (2, 1), (1, 2)], strict=True):
        _applied(progress, seq, camera, sequence)
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    checkpoint.settled()
    ledger = progress.sites[1]
    assert (ledger.through, ledger.after, ledger.revision) == (15, set(), 5)
    assert acked == ["ack.12", "ack.13", "ack.15"]
    assert ledger.entries == []
    assert ledger.seen == {}
    assert progress.checkpoint() is None


def test_a_held_frame_keeps_the_progress_below_it() -> None:
    # Camera 2's frame (stream sequence 13) waits in the fusion's reorder buffer; camera 1's later frame is applied.
    progress, acked = _progress({(2, 0): 1})
    _applied(progress, 12, 1, 1)
    _applied(progress, 13, 2, 1)
    _applied(progress, 15, 1, 2)
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    checkpoint.settled()
    ledger = progress.sites[1]
    assert ledger.through == 12
    assert ledger.after == {15}
    assert acked == ["ack.12", "ack.15"]  # the held one is not acked
    assert ledger.covered(12)
    assert ledger.covered(15)
    assert not ledger.covered(13)
    assert [e.stream_seq for e in ledger.entries] == [13]


def test_once_released_the_held_frame_completes_the_prefix() -> None:
    held = {(2, 0): 1}
    progress, acked = _progress(held)
    for seq, camera, sequence in [(12, 1, 1), (13, 2, 1), (15, 1, 2)]:
        _applied(progress, seq, camera, sequence)
    first = progress.checkpoint()
    assert first is not None
    first.settled()
    held.clear()  # the fusion applied it
    second = progress.checkpoint()
    assert second is not None
    second.settled()
    ledger = progress.sites[1]
    assert (ledger.through, ledger.after, ledger.revision) == (15, set(), 6)
    assert acked == ["ack.12", "ack.15", "ack.13"]


def test_an_abandoned_checkpoint_changes_nothing() -> None:
    progress, acked = _progress({})
    _applied(progress, 12, 1, 1)
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    checkpoint.abandon()
    ledger = progress.sites[1]
    assert (ledger.through, ledger.revision, len(ledger.entries)) == (10, 4, 1)
    assert acked == []
    again = progress.checkpoint()
    assert again is not None
    again.settled()
    assert ledger.through == 12
    assert acked == ["ack.12"]


def test_a_camera_is_never_durable_past_one_of_its_messages_still_waiting() -> None:
    """Camera 2's sequence 5 was stored twice: the first copy (stream sequence 13) waits behind a gap, the second
    (15) was released. The durable next sequence stays 5: seeded at 6, the next owner took the waiting copy for an
    older frame it had not applied and fused it, a second time."""
    progress, acked = _progress({})
    _applied(progress, 12, 2, 4)
    progress.record(1, Applied(13, 2, 0, 5, "ack.13", waiting=True))
    _applied(progress, 15, 2, 5)
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    checkpoint.settled()
    ledger = progress.sites[1]
    assert (ledger.through, ledger.after) == (12, {15})
    assert ledger.cameras[(2, 0)] == 5
    assert acked == ["ack.12", "ack.15"]
