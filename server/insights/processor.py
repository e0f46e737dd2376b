"""Per-site fusion + analytics behind the ingest: every stored TrackFrame goes through its site's SiteFusion and
SiteAnalytics; the results are pushed live, recorded in the database, written to the time series, and access
alerts are raised at once.

The hot path (`process`) is synchronous and touches no database: site configurations and identities are loaded
asynchronously (`prepare`, and a refresher every few seconds) and the records are flushed by a background task.

This module holds the sites' lifecycle (start, reconfigure, release, flush) and the orchestration of each frame;
what it hands on is built by the owners of the types: the fusion's input from the frame (`server.frames`), the
live event (`server.realtime.positions`), the live state snapshot (`server.livestate.snapshot`), the time-series
points (`server.timeseries.site_points`), the database records (`server.insights.recorder`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from server.analytics.geometry import entrance_boxes_m
from server.analytics.site import SiteAnalytics
from server.analytics.types import (
    AccessAlert,
    AnalyticsUpdate,
    CapacityEvent,
    PersonIdentity,
    QueueAlert,
)
from server.analytics.types import ZoneKind as AnalyticsZoneKind
from server.frames import CameraRef, DecodedFrame, camera_observations
from server.fusion.agreement import CameraPairAgreement
from server.fusion.site import SiteFusion
from server.fusion.types import FusedFrame, FusionConfig
from server.insights.recorder import InsightsRecorder

# Re-exported: the setup is built in its own module (server.insights.setup); callers may import it from here.
from server.insights.setup import SiteSetup as SiteSetup
from server.insights.setup import analytics_zone_kind as analytics_zone_kind
from server.insights.setup import build_setup as build_setup
from server.livestate import LiveState
from server.livestate.snapshot import live_snapshot
from server.observability.metrics import forget_site_fusion, record_camera_agreement, record_camera_skews
from server.realtime.events import LivePositionsEvent
from server.realtime.positions import site_positions_event
from server.realtime.publisher import LivePublisher
from server.timeseries.measurements import PositionSampler
from server.timeseries.site_points import SitePoints, violation_points
from server.timeseries.types import PointSink

logger = logging.getLogger(__name__)

# A camera pair whose calibrations disagree is logged at most this often.
_AGREEMENT_WARN_EVERY_S = 600.0
# ... and stored on its cameras (`Camera.calibration_check`, shown on the dashboard) at most this often.
_AGREEMENT_STORE_EVERY_S = 60.0
_clock = time.monotonic  # seconds, for those two (a module attribute: the tests move it)


@dataclass
class _SiteState:
    setup: SiteSetup
    fusion: SiteFusion
    analytics: SiteAnalytics
    series: SitePoints
    identities: Mapping[int, PersonIdentity] = field(default_factory=dict)
    names: Mapping[int, str] = field(default_factory=dict)
    latest_contacts: list[tuple[int, int, float]] = field(default_factory=list)
    last_fused: FusedFrame | None = None
    last_live_state_us: int | None = None
    # Capture time of the newest frame the fusion released (applied): later ones wait in its reorder buffer.
    released_until_us: int | None = None
    # When each camera pair was last warned of as disagreeing (`_clock`).
    agreement_warned: dict[tuple[int, int], float] = field(default_factory=dict)
    # ... and when the check was last stored on the cameras (None: never).
    agreement_stored: float | None = None


# Called with each access incident event, capacity event and queue ("open another till") event, in that order.
AlertHandler = Callable[[int, AccessAlert | CapacityEvent | QueueAlert], None]


class SiteAnalyticsProcessor:
    def __init__(
        self,
        *,
        publisher: LivePublisher,
        points: PointSink,
        recorder: InsightsRecorder,
        load_setup: Callable[[int], SiteSetup],
        load_identities: Callable[[int], Mapping[int, PersonIdentity]],
        on_alert: AlertHandler,
        live_state: LiveState | None = None,
        live_state_hz: float = 5.0,
        occupancy_sample_s: float = 1.0,
        positions_sample_hz: float = 1.0,
        arrival_jitter_us: int = 0,
        recover_site: Callable[[int], object] | None = None,
        load_revision: Callable[[int], int] | None = None,
        store_agreement: Callable[[int, list[CameraPairAgreement]], object] | None = None,
    ) -> None:
        self._publisher = publisher
        self._points = points
        self._recorder = recorder
        self._load_setup = load_setup
        # The site's configuration revision (`Site.config_revision`, bumped in the transaction of every change of
        # its zones, floor plan or day, so visible on commit to every process): a cheap read that tells the
        # refresh when to load the setup. None: the refresh loads the setup each time and compares its revision.
        self._load_revision = load_revision
        self._load_identities = load_identities
        # Stores the site's calibration check on its cameras (in a worker thread, at most every
        # _AGREEMENT_STORE_EVERY_S): `camera_calibration_check_record`.
        self._store_agreement = store_agreement
        self._on_alert = on_alert
        self._live_state = live_state
        # The live state (badge binding, occupancy, who is where; shared by every process with Redis) is written
        # at the live push rate, by capture time, not per frame.
        self._live_state_period_us = int(1e6 / live_state_hz) if live_state_hz > 0 else 0
        self._occupancy_period_us = int(occupancy_sample_s * 1e6)
        self._positions = PositionSampler(1.0 / positions_sample_hz) if positions_sample_hz > 0 else None
        # Each camera's frames come over one ordered gRPC stream, so they need no jitter allowance by default:
        # every microsecond of it is added to the live latency (the reorder buffer holds frames that long).
        self._arrival_jitter_us = arrival_jitter_us
        self._sites: dict[int, _SiteState] = {}
        # Called (in a worker thread) before a site's analytics start in this process: e.g. the recorder's
        # `close_left_open`, which ends what a crashed process left open.
        self._recover_site = recover_site
        # Per camera: (capture time, sequence epoch, sequence) of the frames given to the fusion and maybe not
        # applied yet.
        self._held: dict[int, tuple[_SiteState, deque[tuple[int, int, int]]]] = {}
        self._live_off: set[int] = set()  # sites shedding their live pushes (set_live)
        self.errors = 0
        self.frames = 0
        self.cost_us_total = 0

    # ---- configuration (async, off the hot path) ----------------------------------------------------------------
    async def prepare(self, camera: CameraRef) -> None:
        if camera.site_id not in self._sites:
            if self._recover_site is not None:
                await sync_to_async(self._recover_site)(camera.site_id)
            setup = await sync_to_async(self._load_setup)(camera.site_id)
            identities = await sync_to_async(self._load_identities)(camera.site_id)
            if camera.site_id not in self._sites:
                self._sites[camera.site_id] = self._new_state(setup, identities)

    def _new_state(self, setup: SiteSetup, identities: Mapping[int, PersonIdentity]) -> _SiteState:
        fusion = SiteFusion(
            FusionConfig(
                site_id=setup.site_id,
                first_global_id=setup.first_person_id,
                arrival_jitter_us=self._arrival_jitter_us,
                floor_bounds_m=setup.floor_bounds_m,
                entry_regions_m=entrance_boxes_m(
                    [
                        zone.polygon_m
                        for zone in setup.analytics.zones
                        if zone.kind is AnalyticsZoneKind.ENTRANCE
                    ]
                ),
            )
        )
        state = _SiteState(
            setup=setup,
            fusion=fusion,
            analytics=SiteAnalytics(setup.analytics),
            series=SitePoints(occupancy_period_us=self._occupancy_period_us, positions=self._positions),
        )
        self._set_identities(state, identities)
        self._recorder.name_zones(setup.zone_names)
        return state

    @staticmethod
    def _set_identities(state: _SiteState, identities: Mapping[int, PersonIdentity]) -> None:
        state.identities = identities
        state.names = {pid: ident.display_name for pid, ident in identities.items() if ident.display_name}

    async def refresh(self) -> None:
        """Reload identities of every active site, and its setup when its configuration revision moved (zones,
        floor plan or the site's day changed and were committed, in any process)."""
        for site_id, state in list(self._sites.items()):
            record_camera_skews(site_id, state.fusion.camera_skews_s)
            await self._check_agreement(site_id, state)
            setup = state.setup
            if self._load_revision is None or (
                await sync_to_async(self._load_revision)(site_id) != state.setup.revision
            ):
                setup = await sync_to_async(self._load_setup)(site_id)
            identities = await sync_to_async(self._load_identities)(site_id)
            if setup.revision != state.setup.revision:
                logger.info("site %d: zones or floor plan changed, analytics reconfigured", site_id)
                # Keep the fusion (global ids stay stable) and the analytics' state: a person inside a zone that
                # persists keeps their one visit. Record what the change ended (the visits of deleted zones, their
                # incidents, the heat bucket of a replaced grid) under the old names and grid, then go on.
                ended = state.analytics.reconfigure(setup.analytics)
                state.fusion.set_floor_bounds(setup.floor_bounds_m)
                self._record(state, ended)
                self._recorder.name_zones(setup.zone_names)
                state.setup = setup
            self._set_identities(state, identities)

    async def _check_agreement(self, site_id: int, state: _SiteState) -> None:
        """Publish how far apart the site's camera pairs place the people both see, warn (at most every
        ``_AGREEMENT_WARN_EVERY_S`` per pair) of a pair whose calibrations disagree, and store the check on the
        cameras (at most every ``_AGREEMENT_STORE_EVERY_S``) for the dashboard (server.fusion.agreement)."""
        pairs = state.fusion.camera_agreement()
        record_camera_agreement(site_id, pairs)
        now = _clock()
        for pair in pairs:
            key = (pair.camera_id, pair.other_camera_id)
            if pair.suspect and now - state.agreement_warned.get(key, -_AGREEMENT_WARN_EVERY_S) >= (
                _AGREEMENT_WARN_EVERY_S
            ):
                state.agreement_warned[key] = now
                logger.warning(
                    "site %d: %s; check both calibrations (docs/installer-guide.md, section 8)",
                    site_id,
                    pair.describe(),
                )
        if self._store_agreement is None or not pairs:
            return
        if state.agreement_stored is not None and now - state.agreement_stored < _AGREEMENT_STORE_EVERY_S:
            return
        state.agreement_stored = now
        try:
            await sync_to_async(self._store_agreement)(site_id, pairs)
        except Exception:  # the next check tries again; the metric and the log above hold meanwhile
            logger.exception("site %d: storing the cameras' calibration check failed", site_id)

    def identities(self, site_id: int) -> Mapping[int, PersonIdentity]:
        """Who the analytics of `site_id` take each bound person for: {person_id: identity}."""
        state = self._sites.get(site_id)
        return state.identities if state is not None else {}

    async def refresh_identities(self, site_id: int | None = None) -> None:
        """Reload the identities of `site_id` (every active site when None) now: after a binding changed."""
        for sid, state in list(self._sites.items()):
            if site_id is None or sid == site_id:
                try:
                    self._set_identities(state, await sync_to_async(self._load_identities)(sid))
                except Exception:  # the periodic refresh tries again
                    logger.exception("site %d: reloading identities failed", sid)

    async def run_background(self, *, refresh_every_s: float = 3.0) -> None:
        """Reload site configurations periodically. (The records are written by the ingest's ack barrier.)"""
        while True:
            await asyncio.sleep(refresh_every_s)
            try:
                await self.refresh()
            except Exception:
                self.errors += 1
                logger.exception("refreshing site configuration failed")

    # ---- the ack barrier (server.ingest.pipeline) -----------------------------------------------------------------
    def held_from(self, camera_id: int, epoch: int = 0) -> int | None:
        """The lowest sequence of `camera_id` (of sequence epoch `epoch`) waiting in its site's fusion reorder
        buffer (None: none waits)."""
        entry = self._held.get(camera_id)
        if entry is None:
            return None
        state, waiting = entry
        released = state.released_until_us
        while waiting and released is not None and waiting[0][0] <= released:
            waiting.popleft()
        held = [sequence for _, e, sequence in waiting if e == epoch]
        return min(held) if held else None

    def checkpoint(self) -> None:
        """Hand the heat accumulated in each site's open heat-map bucket to the recorder, so that the barrier
        makes it durable with the frames it came from. Nothing of its own to commit."""
        for state in self._sites.values():
            self._recorder.add_heat(
                state.setup.site_id, state.analytics.checkpoint_heat(), state.setup.analytics.grid
            )

    # ---- hot path --------------------------------------------------------------------------------------------------
    def process(self, camera: CameraRef, frame: DecodedFrame) -> None:
        state = self._sites.get(camera.site_id)
        if state is None:  # prepare() not done yet for this site (first frame races): skip analytics for it
            return
        started = time.perf_counter_ns()
        observations = camera_observations(camera, frame)
        held = self._held.get(camera.camera_id)
        if held is None or held[0] is not state:
            held = self._held[camera.camera_id] = (state, deque())
        held[1].append((frame.capture_time_us, frame.sequence_epoch, frame.sequence))
        try:
            fused_frames = state.fusion.update_frames(observations)
            if fused_frames:
                state.released_until_us = fused_frames[-1].time_us
            for fused in fused_frames:
                update = state.analytics.update(fused, state.identities)
                self._deliver(state, fused, update)
        except Exception:
            self.errors += 1
            logger.exception(
                "fusion/analytics failed on camera %d sequence %d", camera.camera_id, frame.sequence
            )
        self.frames += 1
        self.cost_us_total += (time.perf_counter_ns() - started) // 1000

    def flush(self) -> None:
        """End of stream (shutdown): release the reorder buffers, close open visits, contacts and heat buckets."""
        for state in self._sites.values():
            self._finish(state)

    def release_site(self, site_id: int) -> None:
        """Hand the site to another process (a site worker rebalancing): finish it as `flush` does, and forget it;
        its next frame here would start it afresh."""
        state = self._sites.pop(site_id, None)
        if state is None:
            return
        self._finish(state)
        for camera_id in [cid for cid, (held, _) in self._held.items() if held is state]:
            del self._held[camera_id]
        self._live_off.discard(site_id)
        forget_site_fusion(site_id, list(state.fusion.camera_skews_s))

    def discard_site(self, site_id: int) -> None:
        """Forget the site without finishing it (a site worker that lost it to another one): nothing of it is
        recorded any more here, no visit is closed (the new owner closes what is left open, and applies again the
        frames not durable here). Its records not durable yet go too (`InsightsRecorder.discard_site`)."""
        state = self._sites.pop(site_id, None)
        if state is not None:
            for camera_id in [cid for cid, (held, _) in self._held.items() if held is state]:
                del self._held[camera_id]
            forget_site_fusion(site_id, list(state.fusion.camera_skews_s))
        self._live_off.discard(site_id)
        self._recorder.discard_site(site_id)

    def dropped_late_frames(self, site_id: int) -> int:
        """Frames of the site the fusion dropped because later ones were applied already (0: none, or unknown site)."""
        state = self._sites.get(site_id)
        return state.fusion.dropped_late_frames if state is not None else 0

    def set_live(self, site_id: int, on: bool) -> None:
        """Load shedding: with `on` False the site's frames are fused and recorded as always but not pushed live
        (a worker that fell behind catches up faster; the live view of old frames is useless anyway)."""
        if on:
            self._live_off.discard(site_id)
        else:
            self._live_off.add(site_id)

    def _finish(self, state: _SiteState) -> None:
        for fused in state.fusion.flush():
            state.released_until_us = fused.time_us
            self._deliver(state, fused, state.analytics.update(fused, state.identities))
        self._record_final(state)
        if state.last_fused is not None:  # visits still open end at their last sighting
            last = state.last_fused
            self._recorder.end_visits(
                last.site_id, list(zip(last.global_ids.tolist(), last.last_seen_us.tolist(), strict=True))
            )

    def _record_final(self, state: _SiteState) -> None:
        """Close the site's analytics (open zone visits, contacts, heat bucket, alert incidents) and record the
        result."""
        self._record(state, state.analytics.flush())  # the incidents still open close with these analytics

    def _record(self, state: _SiteState, update: AnalyticsUpdate) -> None:
        """Record an update that belongs to no frame (a flush, a reconfiguration): what it ended."""
        for alert in _alert_events(update):
            self._on_alert(update.site_id, alert)
        self._recorder.add(None, update, state.setup.analytics.grid)
        self._points.write(violation_points(update.site_id, update))

    def _deliver(self, state: _SiteState, fused: FusedFrame, update: AnalyticsUpdate) -> None:
        site_id = fused.site_id
        state.last_fused = fused
        self._recorder.add(fused, update, state.setup.analytics.grid)
        for alert in _alert_events(update):
            self._on_alert(site_id, alert)
        if update.violations_started or update.violations_updated or update.violations_ended:
            state.latest_contacts = [
                (v.person_a, v.person_b, round(v.min_distance_m, 2))
                for v in (*update.violations_started, *update.violations_updated)
            ]
        if site_id not in self._live_off:
            self._publish_live_state(state, fused, update)
            names, identities, capacity = state.names, state.identities, state.setup.analytics.capacity
            latest_contacts = state.latest_contacts  # replaced, never changed in place: this frame's

            def event() -> LivePositionsEvent:
                # Built only for the updates the publisher sends (most are superseded within its period).
                present = set(fused.global_ids.tolist())
                contacts = [c for c in latest_contacts if c[0] in present and c[1] in present]
                return site_positions_event(names, identities, fused, update, contacts, capacity)

            self._publisher.publish(site_id, event)
        points = state.series.frame_points(fused, update)
        if points:
            self._points.write(points)

    def _publish_live_state(self, state: _SiteState, fused: FusedFrame, update: AnalyticsUpdate) -> None:
        if self._live_state is None:
            return
        last = state.last_live_state_us
        if last is not None and 0 <= fused.time_us - last < self._live_state_period_us:
            return
        state.last_live_state_us = fused.time_us
        self._live_state.publish(live_snapshot(fused, update, state.identities))

    def snapshot_cost_us(self) -> float:
        return self.cost_us_total / self.frames if self.frames else 0.0


def _alert_events(update: AnalyticsUpdate) -> list[AccessAlert | CapacityEvent | QueueAlert]:
    """What `on_alert` is called with for an update: its access incident, capacity and queue alert events."""
    return [*update.alerts, *update.capacity_events, *update.queue_alerts]
