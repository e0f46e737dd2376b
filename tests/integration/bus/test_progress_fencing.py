"""The worker's durable progress in PostgreSQL: a save is fenced by the row's revision, so a worker that lost its
site to another one (which saved since) writes nothing and learns it; the new owner starts from what is saved."""

from __future__ import annotations

import pytest
from django.db import connections, transaction

from server.ingest.models import SiteFrameProgress
from server.inventory.models import Site
from server.worker.progress import Applied, SiteLostError, SiteProgress, _ProgressCheckpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _worker(acks: list[str]) -> SiteProgress:
    return SiteProgress(held_from=lambda camera, epoch: None, ack=acks.append)


def _save(progress: SiteProgress) -> None:
    checkpoint = progress.checkpoint()
    assert checkpoint is not None
    _commit(checkpoint)
    checkpoint.settled()


@pytest.mark.asyncio
async def test_a_worker_that_lost_its_site_saves_nothing() -> None:
    from asgiref.sync import sync_to_async

    site = await sync_to_async(Site.objects.create)(name="Fenced store")
    old_acks: list[str] = []
    new_acks: list[str] = []
    old, new = _worker(old_acks), _worker(new_acks)
    await old.activate(site.pk)
    old.record(site.pk, Applied(3, 1, 0, 1, "ack.3"))
    await sync_to_async(_save)(old)
    row = await sync_to_async(SiteFrameProgress.objects.get)(site=site)
    assert (row.applied_through, row.revision) == (3, 2)  # taking the site over claimed revision 1

    # JetStream pins another worker: it starts from what is saved, applies more and saves first.
    ledger = await new.activate(site.pk)
    assert (ledger.through, ledger.revision) == (3, 3)
    new.record(site.pk, Applied(5, 1, 0, 2, "ack.5"))
    await sync_to_async(_save)(new)

    # The old owner, stalled meanwhile, applied the same frame and tries to save it: fenced, nothing written.
    old.record(site.pk, Applied(5, 1, 0, 2, "ack.5-old"))
    checkpoint = old.checkpoint()
    assert checkpoint is not None

    with pytest.raises(SiteLostError):
        await sync_to_async(_commit)(checkpoint)
    assert old.lost == {site.pk}
    assert old_acks == ["ack.3"]  # the fenced frame is not acked: the new owner's copy counts
    assert new_acks == ["ack.5"]
    row = await sync_to_async(SiteFrameProgress.objects.get)(site=site)
    assert (row.applied_through, row.revision) == (5, 4)
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
async def test_taking_a_site_over_fences_the_old_owner_before_the_new_one_saves() -> None:
    """The new owner closes what the old one left open right after taking over; a barrier of the old owner that
    commits after that (its visits would stay open for ever) must fail even before the new owner's first save."""
    from asgiref.sync import sync_to_async

    site = await sync_to_async(Site.objects.create)(name="Claimed store")
    old_acks: list[str] = []
    old, new = _worker(old_acks), _worker([])
    await old.activate(site.pk)
    old.record(site.pk, Applied(3, 1, 0, 1, "ack.3"))
    await sync_to_async(_save)(old)
    await new.activate(site.pk)  # no save of its own yet
    old.record(site.pk, Applied(4, 1, 0, 2, "ack.4"))
    checkpoint = old.checkpoint()
    assert checkpoint is not None

    with pytest.raises(SiteLostError):
        await sync_to_async(_commit)(checkpoint)
    assert old_acks == ["ack.3"]
    row = await sync_to_async(SiteFrameProgress.objects.get)(site=site)
    assert row.applied_through == 3
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stored", "cameras"),
    [
        ({"1:0": 7, "2:5": "9"}, {(1, 0): 7, (2, 5): 9}),
        ({"1:0": 7, "cam-2:0": 9, "3:x": 1, "4:0": "soon", "5:0": None, "6:0": [1]}, {(1, 0): 7}),
        ([["1:0", 7]], {}),
        ("garbage", {}),
    ],
    ids=["good", "bad-entries", "a-list", "a-string"],
)
async def test_a_take_over_reads_each_cameras_next_sequence_past_garbage(
    stored: object, cameras: dict[tuple[int, int], int]
) -> None:
    # A camera_next that does not read (edited by hand, a bad restore) failed every take-over of the site with a
    # ValueError or AttributeError: its frames waited unapplied for ever. The entries that read are kept.
    from asgiref.sync import sync_to_async

    site = await sync_to_async(Site.objects.create)(name="Garbled store")
    await sync_to_async(SiteFrameProgress.objects.create)(
        site=site, applied_through=4, applied_after=[], camera_next=stored, revision=3
    )
    ledger = await _worker([]).activate(site.pk)
    await sync_to_async(connections.close_all)()
    assert (ledger.through, ledger.revision) == (4, 4)
    assert ledger.cameras == cameras


@pytest.mark.asyncio
async def test_the_periodic_fence_finds_a_site_lost_that_has_nothing_to_save() -> None:
    """A site whose stream no longer comes to the old owner: nothing of it to save, so no save is fenced; the
    periodic fence (`check_owned`) checks its revision all the same, and changes nothing when it is still held."""
    from asgiref.sync import sync_to_async

    site = await sync_to_async(Site.objects.create)(name="Quiet store")
    old = _worker([])
    await old.activate(site.pk)
    assert old.checkpoint() is None  # nothing to save, and no fence asked for
    old.check_owned()
    await sync_to_async(_save)(old)  # still ours: checked, nothing written
    row = await sync_to_async(SiteFrameProgress.objects.get)(site=site)
    assert (row.applied_through, row.revision) == (0, 1)
    assert old.checkpoint() is None  # once per `check_owned`

    await _worker([]).activate(site.pk)  # taken over
    old.check_owned()
    checkpoint = old.checkpoint()
    assert checkpoint is not None

    with pytest.raises(SiteLostError):
        await sync_to_async(_commit)(checkpoint)
    checkpoint.abandon()
    assert old.lost == {site.pk}
    assert old.checkpoint() is not None  # abandoned: the next barrier checks again
    assert old.discard(site.pk) is not None
    assert (old.lost, old.sites) == (set(), {})
    await sync_to_async(connections.close_all)()


def _commit(checkpoint: _ProgressCheckpoint) -> None:
    """Commit a worker's barrier checkpoint in a transaction of its own (as the barrier does)."""
    with transaction.atomic():
        checkpoint.commit()
