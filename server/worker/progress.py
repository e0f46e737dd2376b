"""Which bus messages of each owned site a worker has applied, made durable at the ack barrier in the transaction of
the analytics records they produced (`SiteFrameProgress`), and only then acked to JetStream.

So a worker that takes a site over (the previous one died or was stalled past the pin timeout) skips exactly what
its predecessor recorded, and no frame's effect is counted twice or lost: a message whose effects were not
committed is not acked, JetStream still holds it, and the new owner applies it. Each save checks the row's
`revision` against the one this worker last saved or loaded: a mismatch means another worker took the site meanwhile,
the transaction fails (nothing of it is written) and the worker learns it (`SiteLostError`, the site in `lost`): it
drops that site's unsaved state and goes on with its others (server.worker.service). `check_owned` makes the next
barrier fence every site held, also one with nothing to save (its stream ended): so a worker learns of a loss even
when no frame of the site comes to it any more.

The site's time-series points (server.timeseries.held) go to the store inside the same barrier: after every saved
site's row is locked and its revision checked, before the rows are saved and the transaction commits. A fenced
barrier writes none (another worker applies those frames again and writes its own), and no other worker can claim a
site between the check and the commit (its claim waits for the lock). A crash (or a failed commit) after the points
went out and before the commit leaves them in the store, unacked: the new owner writes its points of the same
frames too (a retry of this worker's own writes the same points again, which both backends merge).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

if TYPE_CHECKING:
    from server.timeseries.held import HeldPoints
    from server.timeseries.types import Point

logger = logging.getLogger(__name__)

HeldFrom = Callable[[int, int], "int | None"]


class SiteLostError(RuntimeError):
    """Another worker saved a site's progress since this one last did: it owns the site now."""

    def __init__(self, site_id: int) -> None:
        super().__init__(f"site {site_id} was taken over by another worker")
        self.site_id = site_id


@dataclass(slots=True, eq=False)
class Applied:
    """One bus message given to the site's frame processor."""

    stream_seq: int
    camera_id: int
    epoch: int
    sequence: int
    reply: str | None  # the JetStream ack subject; None for a message read from the stream at take-over
    waiting: bool = (
        False  # held by the worker's camera-sequence order (server.worker.ordering), not fused yet
    )


@dataclass(slots=True)
class SiteLedger:
    site_id: int
    through: int = 0
    after: set[int] = field(default_factory=set)
    revision: int = 0
    entries: list[Applied] = field(default_factory=list)  # applied, not durable yet, in delivery order
    seen: dict[int, Applied] = field(default_factory=dict)
    # Per (camera, sequence epoch): the camera sequence after the highest one durable (`SiteFrameProgress`).
    cameras: dict[tuple[int, int], int] = field(default_factory=dict)

    def covered(self, stream_seq: int) -> bool:
        """The message's effects are durable (this worker's or a predecessor's)."""
        return stream_seq <= self.through or stream_seq in self.after


@dataclass(slots=True)
class _SiteSave:
    ledger: SiteLedger
    through: int
    after: list[int]
    expected_revision: int
    resolved: list[Applied]
    cameras: dict[tuple[int, int], int]
    # Nothing to save: the row's revision is only checked (under its lock until the barrier commits).
    check_only: bool = False
    # The site's time-series points since the last barrier, written once the row is locked and checked.
    points: list[Point] = field(default_factory=list)


class SiteProgress:
    """A DurableSink of the ack barrier (server.ingest.pipeline) for the site worker."""

    def __init__(
        self,
        *,
        held_from: HeldFrom,
        ack: Callable[[str], None],
        on_acked: Callable[[int, int], None] | None = None,
        points: HeldPoints | None = None,
    ) -> None:
        self._held_from = held_from
        self._points = points  # each site's time-series points until a barrier fenced it (None: none held)
        self._ack = ack
        self._on_acked = on_acked  # (site, messages made durable by a barrier): the worker's status counters
        self.sites: dict[int, SiteLedger] = {}
        self.lost: set[int] = set()
        self._check_all = False  # `check_owned`: the next checkpoint fences every site held

    def check_owned(self) -> None:
        """Fence every site held at the next barrier, those with nothing to save too (their revision checked, not
        raised): a site taken over by another worker whose stream no longer comes here is then found lost."""
        self._check_all = True

    def discard(self, site_id: int) -> SiteLedger | None:
        """Forget a site lost to another worker: what it applied and did not make durable is not acked (JetStream
        redelivers it to the new owner, which applies it once)."""
        self.lost.discard(site_id)
        if self._points is not None:
            self._points.discard(site_id)
        return self.sites.pop(site_id, None)

    async def activate(self, site_id: int) -> SiteLedger:
        """Take the site over: what is durable of it now. The row's revision is raised at once (`_claim`), so that
        a barrier of the previous owner that commits from now on is fenced, before this worker closes what that one
        left open (`close_left_open`): a visit it recorded after that closing would stay open for ever."""
        through, after, revision, cameras = await sync_to_async(_claim)(site_id)
        ledger = SiteLedger(
            site_id=site_id, through=through, after=set(after), revision=revision, cameras=cameras
        )
        self.sites[site_id] = ledger
        logger.info(
            "site %d taken over: applied through stream sequence %d (revision %d)", site_id, through, revision
        )
        return ledger

    def record(self, site_id: int, applied: Applied) -> None:
        ledger = self.sites[site_id]
        ledger.entries.append(applied)
        ledger.seen[applied.stream_seq] = applied

    def checkpoint(self) -> _ProgressCheckpoint | None:
        saves = []
        check_all, self._check_all = self._check_all, False
        points = self._points
        for ledger in self.sites.values():
            # Points without a message to save (a fusion flush's) are written behind a fence check all the same.
            check = check_all or (points is not None and points.holds(ledger.site_id))
            if not ledger.entries:
                if check:
                    saves.append(_check_only(ledger))
                continue
            held: list[Applied] = []
            resolved: list[Applied] = []
            for entry in ledger.entries:
                first = self._held_from(entry.camera_id, entry.epoch)
                waits = entry.waiting or (first is not None and entry.sequence >= first)
                (held if waits else resolved).append(entry)
            if not resolved:
                if check:
                    saves.append(_check_only(ledger))
                continue
            if held:
                through = max(ledger.through, min(e.stream_seq for e in held) - 1)
                after = sorted(s for s in {*ledger.after, *(e.stream_seq for e in resolved)} if s > through)
            else:
                through = max(ledger.through, *(e.stream_seq for e in resolved), *ledger.after)
                after = []
            cameras = dict(ledger.cameras)
            for entry in resolved:
                key = (entry.camera_id, entry.epoch)
                cameras[key] = max(cameras.get(key, 0), entry.sequence + 1)
            for entry in held:
                # Never durable past a message still waiting: a later copy of the same frame (stored twice) released
                # while the first waits behind a gap made its sequence durable, and the next owner, seeded past it,
                # gave the waiting copy to its fusion as an older frame, not applied here: counted twice.
                key = (entry.camera_id, entry.epoch)
                if cameras.get(key, 0) > entry.sequence:
                    cameras[key] = entry.sequence
            saves.append(_SiteSave(ledger, through, after, ledger.revision, resolved, cameras))
        if not saves:
            return None
        if points is not None:  # taken in the same loop step: the points of exactly the frames fused so far
            for save in saves:
                save.points = points.take(save.ledger.site_id)
        return _ProgressCheckpoint(saves, self, rechecks=check_all)


def _check_only(ledger: SiteLedger) -> _SiteSave:
    return _SiteSave(
        ledger, ledger.through, sorted(ledger.after), ledger.revision, [], ledger.cameras, check_only=True
    )


class _ProgressCheckpoint:
    def __init__(self, saves: list[_SiteSave], owner: SiteProgress, *, rechecks: bool = False) -> None:
        self._saves = saves
        self._owner = owner
        self._rechecks = (
            rechecks  # it carries a `check_owned`: abandoned, the next checkpoint carries it again
        )
        self._points_sent = (
            False  # the points went to the writer (a failure after that does not take them back)
        )

    def commit(self) -> None:
        """Inside the barrier's transaction: lock each site's progress row and check its revision (the fence),
        then write the sites' time-series points and wait until the store has them, then save the rows."""
        from server.ingest.models import SiteFrameProgress
        from server.inventory.models import Site

        existing = set(
            Site.objects.filter(pk__in=[save.ledger.site_id for save in self._saves]).values_list(
                "pk", flat=True
            )
        )
        # In site order: two workers' barriers lock their rows in one order (no deadlock).
        checked: list[tuple[_SiteSave, Any, int]] = []
        for save in sorted(self._saves, key=lambda save: save.ledger.site_id):
            site_id = save.ledger.site_id
            if site_id not in existing:  # deleted meanwhile: its records go as refused ones, nothing to save
                continue
            row = SiteFrameProgress.objects.select_for_update().filter(site_id=site_id).first()
            current = row.revision if row is not None else 0
            if current != save.expected_revision:
                self._owner.lost.add(site_id)
                raise SiteLostError(site_id)
            checked.append((save, row, current))
        # Every site still ours, and its row locked until the commit: its points may go to the store now.
        points = [point for save, _, _ in checked for point in save.points]
        if points and self._owner._points is not None:
            self._points_sent = True
            self._owner._points.write_durably(points)
        for save, row, current in checked:
            site_id = save.ledger.site_id
            if save.check_only:
                continue
            camera_next = {f"{camera}:{epoch}": after for (camera, epoch), after in save.cameras.items()}
            if row is None:
                SiteFrameProgress.objects.create(
                    site_id=site_id,
                    applied_through=save.through,
                    applied_after=save.after,
                    camera_next=camera_next,
                    revision=1,
                )
            else:
                row.applied_through = save.through
                row.applied_after = save.after
                row.camera_next = camera_next
                row.revision = current + 1
                row.save(
                    update_fields=[
                        "applied_through",
                        "applied_after",
                        "camera_next",
                        "revision",
                        "updated_at",
                    ]
                )

    def abandon(self) -> None:
        """Nothing changed in memory: the next checkpoint takes the same messages again (and checks again), and
        the same points unless they went to the writer already (then it writes them; the store merges them)."""
        if self._rechecks:
            self._owner._check_all = True
        held = self._owner._points
        if held is not None and not self._points_sent:  # none written: the next barrier takes them again
            for save in self._saves:
                if save.ledger.site_id in self._owner.sites:
                    held.give_back(save.ledger.site_id, save.points)

    def settled(self) -> None:
        """The barrier is durable: the covered messages are acked to JetStream and leave the ledgers."""
        for save in self._saves:
            if save.check_only:
                continue
            ledger = save.ledger
            ledger.through, ledger.after, ledger.revision, ledger.cameras = (
                save.through,
                set(save.after),
                save.expected_revision + 1,
                save.cameras,
            )
            done = {id(e) for e in save.resolved}
            ledger.entries = [e for e in ledger.entries if id(e) not in done]
            for entry in save.resolved:
                ledger.seen.pop(entry.stream_seq, None)
                if entry.reply:
                    self._owner._ack(entry.reply)
            if self._owner._on_acked is not None:
                self._owner._on_acked(ledger.site_id, len(save.resolved))


def _claim(site_id: int) -> tuple[int, list[int], int, dict[tuple[int, int], int]]:
    """The site's durable progress (applied through, applied after, revision, each camera's next sequence), its
    revision raised (the row created at revision 1 when there is none yet)."""
    from django.db import transaction

    from server.ingest.models import SiteFrameProgress
    from server.inventory.models import Site

    with transaction.atomic():
        row = SiteFrameProgress.objects.select_for_update().filter(site_id=site_id).first()
        if row is None:
            if not Site.objects.filter(pk=site_id).exists():  # deleted: its records go as refused ones
                return 0, [], 0, {}
            row, created = SiteFrameProgress.objects.get_or_create(
                site_id=site_id, defaults={"applied_through": 0, "applied_after": [], "revision": 1}
            )
            if created:
                return 0, [], 1, {}
        row.revision += 1
        row.save(update_fields=["revision", "updated_at"])
        return row.applied_through, [int(s) for s in row.applied_after], row.revision, _camera_next(row)


def _camera_next(row: Any) -> dict[tuple[int, int], int]:
    """Each camera's next sequence from the row; an entry that does not read as one (the field edited by hand, a
    bad restore) is left out with a warning: its camera's order then starts at its first frame here, as before the
    field existed. Raising instead failed every take-over of the site, whose frames then waited unapplied."""
    cameras: dict[tuple[int, int], int] = {}
    stored = row.camera_next
    if not isinstance(stored, dict):
        if stored:
            logger.warning("site %d: camera_next is not an object (%r); ignored", row.site_id, stored)
        return cameras
    for key, after in stored.items():
        camera, _, epoch = str(key).partition(":")
        try:
            if isinstance(after, bool) or not isinstance(after, int | str):
                raise TypeError(type(after).__name__)
            cameras[(int(camera), int(epoch or 0))] = int(after)
        except (TypeError, ValueError) as err:
            logger.warning("site %d: camera_next entry %r: %r ignored (%s)", row.site_id, key, after, err)
    return cameras
