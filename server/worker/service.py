"""`retail-server worker`: fusion + analytics of the sites JetStream places on this process.

Every worker pulls from every site's consumer in the priority group `sites` (server.bus.jetstream); JetStream pins
each consumer to one pulling worker and delivers that site's frames only to it, and pins another worker once the
pinned one has not pulled for the pin timeout (it died, or stalled). So placement, failover and the one-owner rule
come from JetStream; the worker adds none of its own.

Taking a site over: the worker loads what is durable of the site (`SiteFrameProgress`), reads from the stream the
messages delivered to its predecessor and not acked (they would otherwise come back only after the ack wait, out of
order), then goes on with the consumer's next messages. The same catch-up runs after a pin change, a jump in the
consumer sequence (deliveries lost with a NATS node) and the first new message after redeliveries; a read that
fails is retried, never taken for "nothing more" (the site's progress is a watermark: a frame skipped here would be
covered by it and acked unapplied when it comes back). Fusion starts from those frames (new global ids for the
people present); anything summed over time lives in the analytics records. A site lost to another worker (a
barrier's progress save fenced: another worker took the site over since, `server.worker.progress`) is dropped, and only
it: its puller stopped, its fusion and analytics state and its records not durable yet discarded, nothing of it
written, closed, acked or unpinned (what was not durable is applied by the new owner, once); the barrier then goes on
with the worker's other sites, which it keeps. Every LOSS_CHECK_EVERY_S the barrier fences every site held, also one
whose stream no longer comes here, so such a loss is found too. (The worker exited on a loss before: its other sites
then waited for a new frame to be taken over, and one whose stream had ended kept its visits open.) A pin-id mismatch
alone is not a loss (a new consumer leader pins afresh): the worker pulls without its old id and, pinned again, goes
on where it was after reading what it missed from the stream.

What reaches the fusion is in each camera's sequence order (server.worker.ordering): the stream is not always (a
gateway's republish after a NATS reconnect stores newer frames first), and the fusion would drop the older ones as
late, their effect lost though acked. A frame ahead of a gap first makes the worker read the stream for deliveries
it missed, then holds the site's later frames until the gap's frames come (at most GAP_HOLD_S); a duplicate is
dropped before the fusion and counted.

Rebalancing: a worker that holds more than its share of the sites (sites / workers pulling, JetStream's count of
waiting pull requests on the consumer) finishes one site cleanly (its fusion flushed and recorded, a barrier, the
acks) and releases the pin, so a worker that joins takes a share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from nats.js.errors import NotFoundError

from server.bus import jetstream
from server.bus.codec import FrameCodecError, decode_frame_message, site_subject
from server.frames import DecodedFrame, SiteCamera
from server.observability import metrics
from server.worker import startup, stopping
from server.worker.ordering import Released, SiteOrder
from server.worker.progress import Applied, SiteProgress

if TYPE_CHECKING:
    import nats.aio.client
    import nats.aio.msg

    from server.runtime import Runtime

logger = logging.getLogger(__name__)

PULL_BATCH = 128
# What one worker asks JetStream for, over all its sites, is what it gets through in PULL_AHEAD_S at its measured
# rate (`_pull_batch`), each site's pull at least PULL_MIN_BATCH and at most PULL_BATCH. A message JetStream has
# sent and the worker has not read off its connection yet cannot be sent an in-progress ack (`_keep_alive`): with
# PULL_BATCH per site, 64 sites were sent 8,192 messages at once, read off the connection at the worker's rate
# (20-45 s on a loaded host), and those still unread when the ack wait ran out were redelivered.
PULL_MIN_BATCH = 8
PULL_AHEAD_S = 2.5
PULL_EXPIRES_S = 1.0
DISCOVER_EVERY_S = 2.0
REBALANCE_EVERY_S = 3.0
# How often a barrier fences every site held (`SiteProgress.check_owned`), those with nothing to save too.
LOSS_CHECK_EVERY_S = 3.0
STANDBY_PAUSE_S = 1.0
STATUS_EVERY_S = float(os.environ.get("RETAIL_WORKER_STATUS_S", "10"))
# Longest wait for the frames of a gap in a camera's sequences (server.worker.ordering) before giving up on them.
GAP_HOLD_S = float(os.environ.get("RETAIL_WORKER_GAP_HOLD_S", "5"))
EXIT_SITE_LOST = 3
# Longest a worker retries reading a site's stream when catching up before it gives up (and exits).
CATCH_UP_RETRY_S = 30.0
CATCH_UP_RETRY_PAUSE_S = 0.5
# Every message delivered here and not acked yet (waiting in a pull inbox, applied and waiting for its barrier) is
# sent an in-progress ack this often, as a share of the consumer's ack wait: JetStream then keeps waiting for its
# ack instead of redelivering it (`_keep_alive`).
KEEP_ALIVE_SHARE_OF_ACK_WAIT = 1 / 3
# JetStream unpins a worker once it has had no pull request waiting for the pin TTL, and a pull met by a backlog is
# complete at once (a take-over's first pull always is; so is every pull of a worker working through more than it is
# sent): a pinned worker busy for longer than the TTL (a take-over, a catch-up read of the stream, a batch read on a
# loaded host) lost the site to a standby worker mid-way, which took it over in turn (`_keep_pins`). This often
# (a share of the TTL), every pinned site with no pull sent for as long is sent one that delivers nothing.
PIN_KEEP_SHARE_OF_TTL = 1 / 4


@dataclass(slots=True)
class SiteStats:
    frames: int = 0
    lag_s: float = 0.0
    shedding: bool = False
    # Per (camera, sequence epoch): the last sequence given to the fusion since this worker took the site over.
    fused_through: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(slots=True)
class SiteTotals:
    """What this process did with one site since it started (over every take-over and release), for the status
    line: which camera sequences reached the fusion here, the frames the fusion dropped as late, the messages
    made durable and the heat made durable by this process's barriers."""

    fused: dict[int, list[list[int]]] = field(default_factory=dict)  # per camera: merged [first, last] ranges
    late_released: int = 0  # dropped as late by fusions of this site released here since
    durable: int = 0  # messages made durable by this process's barriers (then acked)
    takeovers: int = 0
    releases: int = 0
    lost: int = 0

    def add_fused(self, camera_id: int, sequence: int) -> None:
        ranges = self.fused.setdefault(camera_id, [])
        if ranges and ranges[-1][0] <= sequence <= ranges[-1][1] + 1:
            ranges[-1][1] = max(ranges[-1][1], sequence)
            return
        ranges.append([sequence, sequence])
        ranges.sort()
        merged: list[list[int]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        ranges[:] = merged[-MAX_STATUS_RANGES:]


# Ranges of fused camera sequences kept per camera for the status line (the newest).
MAX_STATUS_RANGES = 16


@dataclass(slots=True)
class WorkerStats:
    frames: int = 0
    skipped_covered: int = 0
    caught_up: int = 0
    duplicates: int = 0
    # Camera sequences that never reached the fusion here between two that did (a skip: their effect is lost).
    skipped_sequences: int = 0
    takeovers: int = 0
    releases: int = 0
    lost: int = 0  # sites dropped because another worker took them over
    sites: dict[int, SiteStats] = field(default_factory=dict)
    totals: dict[int, SiteTotals] = field(default_factory=dict)

    def site(self, site_id: int) -> SiteTotals:
        totals = self.totals.get(site_id)
        if totals is None:
            totals = self.totals[site_id] = SiteTotals()
        return totals


def _die(reason: str) -> None:
    logger.error(
        "%s: exiting without writing anything more (crash-only; the new owner applies the rest)", reason
    )
    logging.shutdown()
    os._exit(EXIT_SITE_LOST)


class SiteWorker:
    def __init__(
        self,
        *,
        runtime: Runtime,
        config: jetstream.BusConfig,
        ack_interval_s: float,
        max_lag_s: float,
        list_sites: Callable[[], list[int]],
        on_lost: Callable[[str], None] = _die,
    ) -> None:
        self._runtime = runtime
        self._config = config
        self._ack_interval_s = ack_interval_s
        self._max_lag_s = max_lag_s
        self._list_sites = list_sites
        self._on_lost = on_lost
        self._nc: nats.aio.client.Client | None = None
        self._pins: dict[int, str] = {}
        self._cameras: dict[int, SiteCamera] = {}
        self._pullers: dict[int, asyncio.Task[None]] = {}
        self._inboxes: dict[int, jetstream.Deliveries] = {}  # per site: its puller's inbox
        self.in_progress_sent = 0  # in-progress acks sent (`_keep_alive`)
        self._rate: float | None = None  # messages applied per second, measured (`_keep_alive_loop`)
        self._share: int | None = None  # sites per worker, from the last rebalancing round
        self._consumer_seqs: dict[int, int] = {}  # per site: the consumer sequence of the last delivery here
        self._after_redelivery: set[int] = set()  # sites whose last delivery here was a redelivery
        self._worker_samples: list[int] = []
        self._acks: list[str] = []  # acks not sent yet (`_ack`)
        # The one task sending them, in order (held here: the event loop holds a task only weakly, and one collected
        # mid-way would drop its acks).
        self._ack_sender: asyncio.Task[None] | None = None
        self._orders: dict[
            int, SiteOrder[tuple[Applied, DecodedFrame]]
        ] = {}  # per site: camera-sequence order
        self._orders_done: list[SiteOrder[tuple[Applied, DecodedFrame]]] = []  # released: their counters
        self._progress = SiteProgress(
            held_from=runtime.processor.held_from,
            ack=self._ack,
            on_acked=self._count_acked,
            points=runtime.held_points,
        )
        self._stopping = False  # set once the worker stops: no puller is started any more
        self._pulled_at: dict[int, float] = {}  # per site: when its last pull request went out (`_keep_pins`)
        self.pin_keeps_sent = 0  # pull requests sent only to keep a pin (`_keep_pins`)
        self._rebalance_view: tuple[object, ...] = ()  # what the rebalancing last logged (`_note_rebalance`)
        self._first_pull = False  # logged with the start-up's phases (server.worker.startup)
        self._taking_over: set[int] = (
            set()
        )  # sites whose take-over is under way here (not released meanwhile)
        self.stats = WorkerStats()
        runtime.pipeline.add_sink(self._progress)
        metrics.WORKER_SITES_OWNED.set_function(lambda: len(self._pins))
        metrics.register_queue_depth(
            metrics.Queue.FUSION, lambda: sum(len(s.entries) for s in self._progress.sites.values())
        )

    @property
    def owned_sites(self) -> set[int]:
        return set(self._pins)

    # ---- lifecycle -----------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self._nc = await jetstream.connect(self._config, name=f"retail-worker-{os.getpid()}")
        startup.mark("nats")
        # JetStream may not answer at once (a stream leader election after a NATS node died, a loaded host): wait
        # for it rather than exit (a worker that joins mid-failover would otherwise die and join nothing).
        while not stop.is_set():
            try:
                await jetstream.ensure_stream(self._nc, self._config)
                await jetstream.ensure_roll_call(self._nc, self._config)
                startup.mark("stream")
                break
            except asyncio.CancelledError:
                raise
            except Exception as err:
                logger.warning("the frame stream is not ready (%s: %s); retrying", type(err).__name__, err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        tasks = [
            asyncio.create_task(self._discover_loop()),
            asyncio.create_task(self._barrier_loop()),
            asyncio.create_task(self._rebalance_loop()),
            asyncio.create_task(self._keep_alive_loop()),
            asyncio.create_task(self._keep_pins_loop()),
            asyncio.create_task(jetstream.answer_roll_call(self._nc, self._config)),
        ]
        print(f"worker pulling from {','.join(self._config.servers)}", flush=True)
        try:
            await stop.wait()
        finally:
            self._stopping = True
            await stopping.end_tasks([*tasks, *self._pullers.values()])
            await self._finish_sites()
            self.report("stopped")
            await self._close_connection()

    async def _finish_sites(self) -> None:
        """A clean stop: the fusion releases what it holds, open visits close, a last barrier acks it all but the
        messages held for a gap, left to the next owner (`_leave_held`)."""
        for site_id, order in list(self._orders.items()):
            self._leave_held(site_id, order)
        self._runtime.processor.flush()
        try:
            await self._flush()
        except Exception:
            logger.exception("final barrier of the worker failed")

    def _leave_held(self, site_id: int, order: SiteOrder[tuple[Applied, DecodedFrame]]) -> None:
        """The site leaves this worker (a stop, a release, a loss to another worker) while messages wait for a gap
        in a camera's sequences: they are not fused here. Fused with the gap given up on, they were made durable with
        their camera's next sequence past the gap, and the gap's frames, still on their way in the stream, reached
        the next owner's fusion after them and were dropped as late (acked, their effect lost). Left as they are,
        they stay waiting in the site's progress: the barrier makes durable (and acks) only what precedes them, and
        the next owner applies them, in order, once the gap's frames come (or gives the gap up after its own
        hold)."""
        if order.holding:
            logger.info(
                "site %d: %d message(s) held for a gap left to the next owner (not fused here, not acked)",
                site_id,
                order.holding,
            )
            order.drop_held()  # the order's counters are kept (`_orders_done`), not up to MAX_HELD frames

    async def _discover_loop(self) -> None:
        assert self._nc is not None
        while True:
            try:
                new = [s for s in await sync_to_async(self._list_sites)() if s not in self._pullers]
                # All at once: one JetStream round trip (a consumer create is a cluster-wide operation, slow on a
                # loaded cluster) rather than one per site before the next site's first pull.
                created = await asyncio.gather(
                    *(jetstream.ensure_site_consumer(self._nc, self._config, s) for s in new),
                    return_exceptions=True,
                )
                for site_id, outcome in zip(new, created, strict=True):
                    if isinstance(outcome, BaseException):
                        logger.warning(
                            "site %d: creating its consumer failed (%s); retrying", site_id, outcome
                        )
                    elif site_id not in self._pullers and not self._stopping:
                        self._pullers[site_id] = asyncio.create_task(self._pull_site(site_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("listing sites / creating their consumers failed; retrying")
            await asyncio.sleep(DISCOVER_EVERY_S)

    async def _barrier_loop(self) -> None:
        reported = checked = time.monotonic()
        while True:
            await asyncio.sleep(self._ack_interval_s)
            if time.monotonic() - reported >= STATUS_EVERY_S:
                reported = time.monotonic()
                self.report()
            if time.monotonic() - checked >= LOSS_CHECK_EVERY_S:
                checked = time.monotonic()
                self._progress.check_owned()
            for site_id, order in list(self._orders.items()):
                given_up = order.frames_given_up
                self._fuse(site_id, order.expire())
                if order.frames_given_up != given_up:
                    logger.warning(
                        "site %d: %d frame(s) of a gap never came within %g s; given up on",
                        site_id,
                        order.frames_given_up - given_up,
                        order.hold_s,
                    )
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                logger.warning("worker barrier failed (acks withheld, retried): %s", err)

    async def _flush(self) -> None:
        """The ack barrier; one fenced because a site was taken over by another worker drops that site
        (`_drop_lost`) and runs again for the others (their records and progress were in the failed transaction,
        rolled back and kept: none is lost or written twice)."""
        while True:
            try:
                await self._runtime.pipeline.flush()
                return
            except Exception:
                if not self._progress.lost:
                    raise
            self._drop_lost()

    def _drop_lost(self) -> None:
        for site_id in sorted(self._progress.lost):
            self._drop_site(site_id)

    def _drop_site(self, site_id: int) -> None:
        """Another worker took the site over: drop it here, and only it. Synchronous (no other task runs meanwhile):
        its puller is cancelled before it can apply anything more, and its state goes at once: its messages
        applied and not durable (not acked: JetStream redelivers them to the new owner), its camera order, its
        fusion and analytics and their records not durable yet (the new owner applies those frames again; written
        here too, they would count twice), all without finishing anything (no visit closed, no barrier, no unpin:
        the pin and the site's open records are the new owner's). Acks queued already are of durable messages and
        go out. A puller stands by for the site again, after a while, should it come back here."""
        ledger = self._progress.discard(site_id)
        puller = self._pullers.pop(site_id, None)
        self._inboxes.pop(site_id, None)  # what it received is the new owner's: no in-progress acks for it
        pulling = puller is not None and not puller.done()
        if puller is not None:
            puller.cancel()
        self._pins.pop(site_id, None)
        order = self._orders.pop(site_id, None)
        if order is not None:
            self._leave_held(site_id, order)  # the new owner's: unfused and unacked here
            self._orders_done.append(order)
        self._consumer_seqs.pop(site_id, None)
        self._after_redelivery.discard(site_id)
        self.stats.sites.pop(site_id, None)
        totals = self.stats.site(site_id)
        totals.late_released += self._runtime.processor.dropped_late_frames(site_id)
        self._runtime.processor.discard_site(site_id)
        self.stats.lost += 1
        totals.lost += 1
        metrics.WORKER_SITES_LOST.inc()
        logger.warning(
            "site %d: taken over by another worker; dropped here (%d message(s) applied and not durable left to "
            "the new owner), %d site(s) left here",
            site_id,
            len(ledger.entries) if ledger is not None else 0,
            len(self._pins),
        )
        if pulling and not self._stopping:
            self._pullers[site_id] = asyncio.create_task(
                self._pull_site(site_id, after_s=2 * PULL_EXPIRES_S + 1.0)
            )

    def report(self, event: str = "") -> None:
        """Log the status line: the counters that say which path a frame took (dropped as late, duplicates, held
        for a gap and given up, caught up, acked as durable already, skipped), then the same as one JSON line
        (`worker status {...}`), with per site the camera sequences that reached the fusion here, its frames
        dropped as late, the messages made durable and the heat made durable by this process."""
        orders = [*self._orders_done, *self._orders.values()]
        status = self.status()
        logger.info(
            "worker%s: %d site(s) fused here %s, %d frames applied, %d waiting for the barrier, %d dropped "
            "by the fusion as late, %d duplicates dropped, %d held for a gap (%d gaps held, %d given up: "
            "%d frames never came), %d caught up from the stream, %d acked as durable already, %d camera "
            "sequences skipped, %d take-over(s), %d release(s), %d lost",
            f" {event}" if event else "",
            len(self._pins),
            sorted(self._pins),
            self.stats.frames,
            sum(len(ledger.entries) for ledger in self._progress.sites.values()),
            status["late"],
            self.stats.duplicates,
            sum(o.holding for o in self._orders.values()),
            sum(o.gaps_held for o in orders),
            sum(o.gaps_given_up for o in orders),
            sum(o.frames_given_up for o in orders),
            self.stats.caught_up,
            self.stats.skipped_covered,
            self.stats.skipped_sequences,
            self.stats.takeovers,
            self.stats.releases,
            self.stats.lost,
        )
        logger.info("worker status %s", json.dumps({"event": event, **status}, separators=(",", ":")))

    def status(self) -> dict[str, Any]:
        """The status line's counters (see `report`)."""
        orders = [*self._orders_done, *self._orders.values()]
        heat = self._runtime.recorder.heat_committed
        sites: dict[str, dict[str, Any]] = {}
        for site_id in sorted({*self.stats.totals, *heat}):
            totals = self.stats.site(site_id)
            sites[str(site_id)] = {
                "fused": {
                    str(camera): ",".join(f"{lo}-{hi}" if hi > lo else str(lo) for lo, hi in ranges)
                    for camera, ranges in totals.fused.items()
                },
                "late": totals.late_released + self._runtime.processor.dropped_late_frames(site_id),
                "durable": totals.durable,
                "heat": round(heat.get(site_id, 0.0), 1),
                "takeovers": totals.takeovers,
                "releases": totals.releases,
                "lost": totals.lost,
            }
        return {
            "pid": os.getpid(),
            "owned": sorted(self._pins),
            "frames": self.stats.frames,
            "late": sum(site["late"] for site in sites.values()),
            "duplicates": self.stats.duplicates,
            "holding": sum(o.holding for o in self._orders.values()),
            "gaps_held": sum(o.gaps_held for o in orders),
            "gaps_given_up": sum(o.gaps_given_up for o in orders),
            "never_came": sum(o.frames_given_up for o in orders),
            "caught_up": self.stats.caught_up,
            "covered": self.stats.skipped_covered,
            "skipped": self.stats.skipped_sequences,
            "takeovers": self.stats.takeovers,
            "releases": self.stats.releases,
            "lost": self.stats.lost,
            "sites": sites,
        }

    def _count_acked(self, site_id: int, count: int) -> None:
        self.stats.site(site_id).durable += count

    def _lost(self, reason: str) -> None:
        """The worker cannot go on safely (a site's stream cannot be read, a release's barrier failed): the status,
        then `on_lost` (crash-only: the process exits)."""
        with contextlib.suppress(Exception):
            self.report("lost a site")
        self._on_lost(reason)

    def _ack(self, reply: str) -> None:
        """Ack one message (durable, or nothing to apply): queued for the one sender task, which sends them in the
        order settled (a barrier settles hundreds at once), on the connection of now."""
        if self._nc is None:
            return
        self._acks.append(reply)
        if self._ack_sender is None or self._ack_sender.done():
            self._ack_sender = asyncio.get_running_loop().create_task(self._send_acks(self._nc))

    async def _send_acks(self, nc: nats.aio.client.Client) -> None:
        while self._acks:  # also the ones queued while this one sent (no second sender: one order)
            replies, self._acks = self._acks, []
            for reply in replies:
                try:
                    await nc.publish(reply, b"+ACK")
                except (
                    Exception
                ) as err:  # closed or cut off: JetStream redelivers it, and it is acked as covered
                    logger.debug("ack not sent: %s", err)

    async def _close_connection(self) -> None:
        """Let go of the connection once the acks queued so far went out on it (the last barrier's among them).
        Acks settled later have nowhere to go: none are (JetStream redelivers, and they are acked as covered)."""
        nc, self._nc = self._nc, None
        if self._ack_sender is not None:
            with contextlib.suppress(Exception):  # a cut-off connection: what is not sent is redelivered
                await asyncio.wait_for(self._ack_sender, jetstream.BARRIER_WAIT_S)
        if nc is not None:
            await jetstream.close(nc)

    # ---- keeping delivered messages ------------------------------------------------------------------------------
    async def _keep_alive_loop(self) -> None:
        period_s = self._config.ack_wait_s * KEEP_ALIVE_SHARE_OF_ACK_WAIT
        frames, at = self.stats.frames, time.monotonic()
        while True:
            await asyncio.sleep(period_s)
            now = time.monotonic()
            self._rate = (self.stats.frames - frames) / max(1e-3, now - at)
            frames, at = self.stats.frames, now
            try:
                await self._keep_alive()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the connection is reconnecting: the next round sends them
                logger.debug("in-progress acks not sent: %s", err)

    async def _keep_alive(self) -> None:
        """Send an in-progress ack ("+WPI": JetStream restarts the message's ack wait) for every message delivered
        here and not acked: those waiting in a pull inbox and those applied and not durable yet (waiting for a
        barrier, or held for a gap). A worker with many sites is delivered a pull's worth of each at once (128 per
        site: over 8,000 at 64 sites), more than it works through within the ack wait on a loaded host; JetStream
        then redelivered a quarter to a half of them, each read again and dropped (some started a catch-up read
        of the stream), and acked twice. A message is still acked only once its barrier made its effect durable;
        a worker that dies or stalls sends no in-progress acks, so its messages come back after the ack wait as
        before (failover is not slowed), and one that lost a site stops with the site (`_drop_site`)."""
        nc = self._nc
        if nc is None:
            return
        replies: list[str] = []
        for deliveries in list(self._inboxes.values()):
            replies.extend(deliveries.queued_replies())
        for ledger in list(self._progress.sites.values()):
            replies.extend(entry.reply for entry in ledger.entries if entry.reply)
        for index, reply in enumerate(replies):
            await nc.publish(reply, b"+WPI")
            if index % 512 == 511:
                await asyncio.sleep(0)  # the rest of the process runs meanwhile
        self.in_progress_sent += len(replies)

    # ---- keeping pins --------------------------------------------------------------------------------------------
    async def _keep_pins_loop(self) -> None:
        assert self._nc is not None
        nc = self._nc
        period_s = self._config.pin_ttl_s * PIN_KEEP_SHARE_OF_TTL
        inbox = nc.new_inbox()

        async def discard(msg: nats.aio.msg.Msg) -> None:
            """Their answers: 409s (and a 423 once the pin moved: the site's own pulls see that too)."""

        sub = await nc.subscribe(inbox, cb=discard)
        try:
            while True:
                await asyncio.sleep(period_s)
                try:
                    await self._keep_pins(inbox, idle_s=period_s)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # the connection is reconnecting: the next round sends them
                    logger.debug("pin keeping requests not sent: %s", err)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _keep_pins(self, inbox: str, *, idle_s: float) -> None:
        """For every site pinned here whose last pull request went out `idle_s` ago or more (its puller is busy: a
        take-over, a catch-up, the messages it was sent), a pull request with the pin's id that delivers nothing
        (`max_bytes` 1: JetStream answers 409, no message is sent) to an inbox of its own: JetStream counts the
        pinned worker as pulling and keeps the pin. Without one, a pull met by a backlog was complete at once, and
        a worker busy for longer than the pin TTL afterwards was unpinned mid-way and the site given to a standby
        worker, which took it over while the first still applied it (two take-overs, the live feed shed for both)."""
        nc = self._nc
        if nc is None:
            return
        now = time.monotonic()
        for site_id, pin in list(self._pins.items()):
            if not pin or now - self._pulled_at.get(site_id, now) < idle_s:
                continue
            await self._send_pull(nc, site_id, batch=1, reply=inbox, pin=pin, max_bytes=1)
            self.pin_keeps_sent += 1

    # ---- pulling -------------------------------------------------------------------------------------------------
    async def _send_pull(
        self,
        nc: nats.aio.client.Client,
        site_id: int,
        *,
        batch: int,
        reply: str,
        pin: str | None,
        max_bytes: int | None = None,
    ) -> None:
        """A pull request for `batch` messages of the site's consumer in the priority group, with the pin id `pin`
        when the site is pinned here, its answers to `reply`; `max_bytes` caps what it may deliver (1: nothing, a
        pin keeping request). It notes when the site's last pull went out (`_keep_pins`)."""
        request: dict[str, Any] = {
            "batch": batch,
            "expires": int(PULL_EXPIRES_S * jetstream.NS),
            "group": jetstream.PRIORITY_GROUP,
        }
        if max_bytes is not None:
            request["max_bytes"] = max_bytes
        if pin:
            request["id"] = pin
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._config.stream}.{self._config.consumer_name(site_id)}"
        self._pulled_at[site_id] = time.monotonic()
        await nc.publish(subject, json.dumps(request).encode(), reply=reply)

    async def _pull_site(self, site_id: int, *, after_s: float = 0.0) -> None:
        assert self._nc is not None
        nc = self._nc
        if after_s:
            await asyncio.sleep(after_s)
        if self._stopping:
            return
        inbox = nc.new_inbox()
        sub = await jetstream.subscribe_deliveries(nc, inbox)
        self._inboxes[site_id] = sub
        try:
            await self._pull_loop(site_id, sub, inbox)
        finally:
            if self._inboxes.get(site_id) is sub:
                del self._inboxes[site_id]
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _pull_loop(self, site_id: int, sub: Any, inbox: str) -> None:
        assert self._nc is not None
        nc = self._nc
        if not self._first_pull:
            self._first_pull = True
            startup.mark("first pull")
            logger.info("worker start-up: first pull %s", startup.summary())
        this = asyncio.current_task()
        while True:
            if self._stopping or self._pullers.get(site_id) is not this:
                # No longer the site's puller (stopping, dropped, released and replaced): a cancellation can be
                # lost (`stopping.end_tasks`), and a puller going on would pull a site that is not this one's.
                return
            if site_id not in self._pins and self._share is not None and len(self._pins) >= self._share:
                # This worker holds its share: it stands by for this site less eagerly, so that a worker with
                # fewer sites is the likelier one JetStream pins (and it is still counted as a worker).
                await asyncio.sleep(STANDBY_PAUSE_S)
            batch = self._pull_batch()
            try:
                await self._send_pull(nc, site_id, batch=batch, reply=inbox, pin=self._pins.get(site_id))
                await self._receive(site_id, sub, batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("site %d: pulling failed; retrying", site_id)
                await asyncio.sleep(0.5)

    def _pull_batch(self) -> int:
        """Messages one pull of a site asks for: the site's share of what the worker applies in PULL_AHEAD_S at its
        last measured rate (PULL_MIN_BATCH before it is measured: a worker starting with many sites is not sent
        them all at once), within PULL_MIN_BATCH..PULL_BATCH."""
        ahead = (self._rate or 0.0) * PULL_AHEAD_S
        return max(PULL_MIN_BATCH, min(PULL_BATCH, int(ahead) // max(1, len(self._pullers))))

    async def _receive(self, site_id: int, sub: Any, batch: int = PULL_BATCH) -> None:
        deadline = time.monotonic() + PULL_EXPIRES_S + 0.5
        got = 0
        while got < batch:
            try:
                msg = await sub.next_msg(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                return
            headers = msg.headers or {}
            status = headers.get("Status")
            if status:
                if status == "423":  # Nats-Pin-Id mismatch: another worker is pinned now
                    self._pin_lost(site_id, headers)
                if status in {"404", "408"} and got < batch and site_id in self._pins:
                    # The request came back short: the site's stream holds nothing more for this worker now, so a
                    # gap's frames not delivered by now are not stored yet (the hold may give up on them).
                    order = self._orders.get(site_id)
                    if order is not None:
                        order.stream_read()
                if status in {"404", "408", "409", "423"}:
                    return  # this pull request is over
                continue  # 100: idle heartbeat
            got += 1
            new_pin = headers.get("Nats-Pin-Id")
            stream_seq = msg.metadata.sequence.stream
            consumer_seq = msg.metadata.sequence.consumer
            redelivered = (msg.metadata.num_delivered or 1) > 1
            last_consumer_seq = self._consumer_seqs.get(site_id)
            self._consumer_seqs[site_id] = consumer_seq
            if site_id not in self._progress.sites:
                self._pins[site_id] = new_pin or ""
                self._taking_over.add(site_id)
                try:
                    await self._take_over(site_id, stream_seq)
                finally:
                    self._taking_over.discard(site_id)
            elif new_pin is not None and new_pin != self._pins.get(site_id):
                self._pins[site_id] = new_pin  # pinned again (e.g. by a new consumer leader): same state
                await self._catch_up(site_id, stream_seq)
            elif (last_consumer_seq is not None and consumer_seq > last_consumer_seq + 1) or (
                not redelivered and site_id in self._after_redelivery
            ):
                # Deliveries this worker never got (lost with the connection to a NATS node that died): read them
                # from the stream now, or they would come back only after the ack wait, behind newer frames. So
                # too for the first new message after redeliveries: those are older messages, and the messages
                # between them and this one may have gone to a predecessor, unacked (after a takeover whose first
                # delivery was a redelivery). Applied without them, the site's progress would cover them (it is a
                # watermark), and they would be acked unapplied when they come back.
                await self._catch_up(site_id, stream_seq)
            if redelivered:
                self._after_redelivery.add(site_id)
            else:
                self._after_redelivery.discard(site_id)
            if self._apply(site_id, stream_seq, msg.data, msg.reply):
                # A gap in a camera's sequences: the frames may be deliveries lost on the way here (read them from
                # the stream now); if they are not in the stream yet, the site's later frames wait for them.
                await self._catch_up(site_id, stream_seq)
            if msg.metadata.num_pending == 0 and site_id in self._pins:
                # The last message the site's stream holds for this worker now (whatever the site's rate: a busy
                # site's pulls may never come back short): a gap's frames not delivered by now are not stored yet.
                order = self._orders.get(site_id)
                if order is not None:
                    order.stream_read()

    def _pin_lost(self, site_id: int, headers: dict[str, str]) -> None:
        """Our pin id is no longer the site's (another worker, or a new consumer leader that pinned afresh). Pull
        without it: if JetStream pins this worker again, it goes on where it was (`_catch_up`); if another worker
        took the site, this worker's next barrier that fences the site finds it lost and drops it (`_drop_site`)."""
        if self._pins.pop(site_id, None) is not None:
            logger.warning("site %d: pin lost (%s)", site_id, headers.get("Description", ""))

    async def _take_over(self, site_id: int, first_stream_seq: int) -> None:
        """This worker was just pinned to the site: load its durable progress, start its analytics, and apply the
        messages its predecessor was given and did not ack (they precede `first_stream_seq`)."""
        assert self._nc is not None
        self.stats.takeovers += 1
        self.stats.site(site_id).takeovers += 1
        self.stats.sites.pop(site_id, None)
        metrics.WORKER_TAKEOVERS.inc()
        ledger = await self._progress.activate(site_id)
        previous = self._orders.get(site_id)
        if previous is not None:
            self._orders_done.append(previous)
        order = self._orders[site_id] = SiteOrder(hold_s=GAP_HOLD_S, by_stream=True)
        # Each camera's order goes on where the predecessor's durable progress left it: newer frames stored before
        # older ones (a gateway's republish after a NATS reconnect, the very fault that moves the pins) wait for
        # them, instead of starting the order past them and reaching the fusion first (the older ones dropped as
        # late, their effect lost).
        for (camera_id, epoch), next_sequence in ledger.cameras.items():
            order.seed(camera_id, epoch, next_sequence)
        try:
            await self._runtime.processor.prepare(self._camera(site_id, 0))
        except Exception:
            # No analytics for the site here (its setup or the closing of what the predecessor left open failed:
            # the database refused, a deadlock). Left activated, the site's next messages were "applied" with
            # nothing fused (the processor skips a site it has no state for) and acked: their heat and visits
            # lost. Undone instead: the next delivery takes the site over again, from its durable progress.
            self._progress.sites.pop(site_id, None)
            self._orders.pop(site_id, None)
            raise
        caught_up = await self._catch_up(site_id, first_stream_seq)
        logger.info("site %d: now fused here (%d message(s) caught up)", site_id, caught_up)

    async def _catch_up(self, site_id: int, first_stream_seq: int) -> int:
        """Apply, in stream order, the site's messages before `first_stream_seq` that are neither durable nor
        applied here: those JetStream gave another worker (or this one before a consumer leader change) and nobody
        acked. Read from the stream itself: the consumer would redeliver them only after the ack wait, behind
        newer frames."""
        assert self._nc is not None
        ledger = self._progress.sites[site_id]
        try:
            info = await jetstream.consumer_info(self._nc, self._config, site_id)
            floor = int(info.get("ack_floor", {}).get("stream_seq", 0))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # JetStream busy (a leader election): read from the durable progress on
            logger.warning(
                "site %d: consumer info unavailable (%s); catching up from the progress", site_id, err
            )
            floor = 0
        seq = max(floor, ledger.through) + 1
        subject = site_subject(self._config.subject_prefix, site_id)
        js = self._nc.jetstream()
        caught_up = 0
        failing_since: float | None = None
        while seq < first_stream_seq:
            if seq in ledger.seen or ledger.covered(seq):  # here already: no need to read it
                seq += 1
                continue
            try:
                raw = await js.get_msg(self._config.stream, seq=seq, subject=subject, next=True)
            except asyncio.CancelledError:
                raise
            except NotFoundError:  # nothing more of the site
                break
            except Exception as err:
                # Not "nothing more": the stream did not answer (a NATS node died, a leader election). Giving up
                # here would apply the later frames without these, and the site's progress (a watermark) would
                # then cover them: acked, their effect lost. Retry; a worker that cannot read the stream exits
                # without writing anything more (what it did not make durable is not acked).
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > CATCH_UP_RETRY_S:
                    self._lost(
                        f"site {site_id}: the stream cannot be read for {CATCH_UP_RETRY_S:g} s ({err})"
                    )
                    raise
                logger.warning("site %d: reading stream sequence %d failed (%s); retrying", site_id, seq, err)
                await asyncio.sleep(CATCH_UP_RETRY_PAUSE_S)
                continue
            failing_since = None
            if raw.seq is None or raw.seq >= first_stream_seq:
                break
            if raw.seq not in ledger.seen and not ledger.covered(raw.seq):
                self._apply(site_id, raw.seq, raw.data or b"", None)
                caught_up += 1
            seq = raw.seq + 1
        self.stats.caught_up += caught_up
        return caught_up

    def _camera(self, site_id: int, camera_id: int) -> SiteCamera:
        camera = self._cameras.get(camera_id)
        if camera is None or camera.site_id != site_id:
            camera = self._cameras[camera_id] = SiteCamera(camera_id=camera_id, site_id=site_id)
        return camera

    def _apply(self, site_id: int, stream_seq: int, data: bytes, reply: str | None) -> bool:
        """One message of the site: recorded in its progress, and given to the fusion in camera-sequence order
        (server.worker.ordering). True when it starts a hold (a gap in its camera's sequences)."""
        ledger = self._progress.sites[site_id]
        if ledger.covered(stream_seq):
            self.stats.skipped_covered += 1
            if reply:
                self._ack(reply)  # durable already (a predecessor's, or a redelivery)
            return False
        seen = ledger.seen.get(stream_seq)
        if seen is not None:  # a redelivery of a message applied (or held) and not durable yet
            seen.reply = seen.reply or reply
            return False
        try:
            frame = decode_frame_message(data)
        except FrameCodecError as err:
            logger.error("site %d: bus message %d is unreadable (%s); dropped", site_id, stream_seq, err)
            if reply:
                self._ack(reply)
            return False
        applied = Applied(
            stream_seq, frame.camera_id, frame.sequence_epoch, frame.sequence, reply, waiting=True
        )
        self._progress.record(site_id, applied)
        order = self._orders.get(site_id)
        if order is None:
            order = self._orders[site_id] = SiteOrder(hold_s=GAP_HOLD_S, by_stream=True)
        expected = order.expected(frame.camera_id, frame.sequence_epoch)
        released, holding = order.offer(
            frame.camera_id, frame.sequence_epoch, frame.sequence, (applied, frame)
        )
        if holding:
            logger.info(
                "site %d: camera %d sequence %d (stream sequence %d) came before %d: the site's later frames wait "
                "for the gap (at most %g s)",
                site_id,
                frame.camera_id,
                frame.sequence,
                stream_seq,
                expected,
                order.hold_s,
            )
        self._fuse(site_id, released)
        return holding

    def _fuse(self, site_id: int, released: list[Released[tuple[Applied, DecodedFrame]]]) -> None:
        """Give the released messages to the site's fusion, in order; a duplicate (a frame applied here already,
        stored twice in the stream) is only recorded, so that it is acked with the rest."""
        for entry in released:
            applied, frame = entry.item
            applied.waiting = False
            if entry.duplicate:
                self.stats.duplicates += 1
                logger.debug(
                    "site %d: message %d duplicates camera %d sequence %d; dropped",
                    site_id,
                    applied.stream_seq,
                    frame.camera_id,
                    frame.sequence,
                )
                continue
            site = self.stats.sites.get(site_id)
            if site is None:
                site = self.stats.sites[site_id] = SiteStats()
            key = (frame.camera_id, frame.sequence_epoch)
            last = site.fused_through.get(key)
            if last is not None and frame.sequence > last + 1:
                self.stats.skipped_sequences += frame.sequence - last - 1
                logger.warning(
                    "site %d: camera %d sequences %d..%d never reached the fusion here (the next one, stream "
                    "sequence %d, did)",
                    site_id,
                    frame.camera_id,
                    last + 1,
                    frame.sequence - 1,
                    applied.stream_seq,
                )
            if last is None or frame.sequence > last:
                site.fused_through[key] = frame.sequence
            site.lag_s = max(0.0, time.time() - frame.capture_time_us / 1e6)
            shedding = site.lag_s > self._max_lag_s
            if shedding != site.shedding:
                site.shedding = shedding
                logger.warning(
                    "site %d: %s (lag %.1f s)",
                    site_id,
                    "behind, live pushes shed" if shedding else "caught up, live pushes resume",
                    site.lag_s,
                )
            self._runtime.processor.set_live(site_id, not shedding)
            metrics.record_worker_site(site_id, lag_s=site.lag_s, shedding=shedding)
            self._runtime.processor.process(self._camera(site_id, frame.camera_id), frame)
            self.stats.site(site_id).add_fused(frame.camera_id, frame.sequence)
            site.frames += 1
            self.stats.frames += 1

    # ---- rebalancing ---------------------------------------------------------------------------------------------
    async def _rebalance_loop(self) -> None:
        assert self._nc is not None
        while True:
            await asyncio.sleep(REBALANCE_EVERY_S)
            try:
                await self._rebalance()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("rebalancing failed; retrying")

    async def _rebalance(self) -> None:
        """Release one site when this worker holds more than its share. The number of workers is JetStream's count
        of the pull requests waiting on the roll call (`jetstream.workers_present`: each worker keeps one there),
        the largest of the last few samples (a loaded worker may ask again late). It was the count waiting on the
        site consumers, where a worker at its share stands by only half of the time (`_pull_loop`): on a loaded
        host that count came out low, and a worker holding no site stayed idle beside one holding three."""
        assert self._nc is not None
        self._worker_samples.append(await jetstream.workers_present(self._nc, self._config))
        del self._worker_samples[:-3]
        workers = max(self._worker_samples)
        share = math.ceil(len(self._pullers) / workers)
        self._share = share
        # What this worker holds now: a pin may have gone to another worker while JetStream was asked (seconds on a
        # loaded host); releasing that site would unpin its new owner.
        owned = sorted(self._pins)
        if len(owned) <= share:
            self._note_rebalance(owned, workers, share, "")
            return
        # Not a site holding frames for a gap in a camera's sequences, by preference: a release leaves what is held
        # to the next owner (`_leave_held`), who reads it from the stream again and holds for the gap anew; a site
        # whose gap is filled moves with less work. Such a site is released at a later round.
        # Nor one whose take-over is under way: cancelled mid-way, its claim (a thread) still raised the site's revision
        # after the release, and fenced the worker JetStream pinned next (a cluster run showed one released so).
        free = [s for s in owned if not self._holding(s) and s not in self._taking_over]
        self._note_rebalance(
            owned,
            workers,
            share,
            "; none free to release (held for a gap or being taken over)" if not free else "",
        )
        if not free:
            return
        await self.release(free[-1])

    def _note_rebalance(self, owned: list[int], workers: int, share: int, why: str) -> None:
        """Log the rebalancing's view when it changes (a joining worker's share is decided here; a cluster test run
        once ended with a worker holding none beside one holding two, and this said nothing at INFO)."""
        view = (tuple(owned), workers, share, why)
        if view == self._rebalance_view:
            return
        self._rebalance_view = view
        logger.info(
            "rebalance: sites %s here of %d, %d worker(s) answering the roll call (last samples %s), share %d%s",
            owned,
            len(self._pullers),
            workers,
            self._worker_samples,
            share,
            why,
        )

    def _holding(self, site_id: int) -> bool:
        order = self._orders.get(site_id)
        return order is not None and order.holding > 0

    async def release(self, site_id: int) -> None:
        """Hand a site back cleanly: its pulling stopped, its fusion flushed and recorded, a barrier, the acks, then
        the pin released; this worker pulls the site again only after a while, so that another one is pinned."""
        assert self._nc is not None
        puller = self._pullers.get(site_id)
        if puller is not None:
            # Waited for without taking its outcome: a cancellation of this task (the worker stopping) must end it,
            # not be taken for the puller's (swallowed, it left the release going on and the worker's stop
            # waiting for ever on this task). Cancelled again while it runs: a cancellation can be lost.
            await stopping.end_tasks([puller], waiting=f"site {site_id}'s release")
            if not puller.cancelled() and puller.exception() is not None:
                logger.warning("site %d: its puller had failed: %s", site_id, puller.exception())
        try:
            order = self._orders.pop(site_id, None)
            if order is not None:
                # Not a site the rebalancing chose while it held, but a hold may have begun since.
                self._leave_held(site_id, order)
                self._orders_done.append(order)
            totals = self.stats.site(site_id)
            totals.late_released += self._runtime.processor.dropped_late_frames(site_id)
            self._runtime.processor.release_site(site_id)
            lost_before = totals.lost
            try:
                await self._flush()
            except Exception as err:
                # The site's analytics are gone from here, its ledger is not: frames pulled next would be counted
                # as applied (and acked) with nothing fused. Crash-only: what was not made durable is not acked.
                self._lost(f"site {site_id}: the barrier releasing it failed ({type(err).__name__}: {err})")
                raise
            if totals.lost != lost_before:
                return  # taken over by another worker meanwhile: dropped (`_drop_site`), its pin is not ours
            self._progress.sites.pop(site_id, None)
            if self._pins.pop(site_id, None) is not None:  # still pinned here: another one may be pinned now
                try:
                    await jetstream.unpin(self._nc, self._config, site_id)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    # Released all the same (nothing of the site is here any more, and this worker sends no
                    # pull with its pin id): JetStream unpins it once the pin's TTL has passed without one. It
                    # was logged as "rebalancing failed", with the release's own log and counters skipped.
                    logger.warning(
                        "site %d: unpinning it failed (%s); its pin ends within the pin TTL (%g s)",
                        site_id,
                        err or type(err).__name__,
                        self._config.pin_ttl_s,
                    )
            self.stats.releases += 1
            totals.releases += 1
            metrics.WORKER_RELEASES.inc()
            logger.info("site %d released for rebalancing (%d sites left here)", site_id, len(self._pins))
        finally:
            if not self._stopping:
                self._pullers[site_id] = asyncio.create_task(
                    self._pull_site(site_id, after_s=2 * PULL_EXPIRES_S + 1.0)
                )


def list_site_ids() -> list[int]:
    from server.inventory.models import Site

    return list(Site.objects.order_by("id").values_list("id", flat=True))
