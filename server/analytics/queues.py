"""Queues: length, waiting time, abandonment and a predicted wait per queue zone; the "open another till" alert.

Definitions (from the zone visits of :mod:`server.analytics.presence`; staff are left out of every figure):

* A **queue** is a zone of kind queue; its **service points** are the site's zones of kind service (a till).
* **Queue length**: the visitors with an open visit of the queue zone.
* A visitor **joins** at the start of their queue visit and **reaches service** at the start of their first
  service-zone visit that begins while the queue visit is open or within ``queue_service_grace_s`` after it ended.
  **Waiting time** = reaching service - joining. **Service time** is the service-zone visit's dwell (stored as
  any zone dwell).
* A visitor whose queue visit ended (or who left the floor) without reaching service within the grace
  **abandoned** the queue (``QueueVisit.service_us`` None), reported once the grace has passed.
* A person who becomes staff (bound to an employee) while waiting is no visitor: their wait is dropped (no
  ``QueueVisit``, no service for the predicted wait), whether they then reach service or walk off. One bound
  after their wait was reported loses its service from the predicted wait; the recorder re-marks the stored wait
  as staff's (``QueueWait.staff``), as it re-marks their visit.
* A person whose binding is **revoked** (an unbind: a wrong binding corrected, docs/kpis.md "Staff") is a
  visitor again from that frame on, in the queue length and the predicted wait as in the waits: one who is in a
  queue then waits there from the start of their queue visit (they were a visitor all along; the binding was
  the mistake), whether it began before or after they were bound. A wait that had ended while they were staff
  (served, walked off or left the floor) is not taken back live (the recorder has no such wait to re-mark), nor
  one that reached service while they stay in the queue's zone (a till drawn over the queue's head): that queue
  visit has had its wait.
* **Predicted wait** for a newcomer: queue length x the mean interval between the services of the last
  ``queue_rate_window_s`` (services / window, over the time these analytics ran when shorter); None until two
  services were seen in the window.
* **Alert** ("open another till", ``QueueAlert``): opens when the length is at least ``queue_alert_length`` or the
  predicted wait at least ``queue_alert_wait_s`` continuously for ``queue_alert_after_s`` (a queue's own
  ``QueueThresholds`` in ``queue_thresholds`` replace these three for it); closes at the first
  frame neither holds.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from server.analytics.geometry import BoolArray, IntArray
from server.analytics.types import (
    AnalyticsConfig,
    DwellRecord,
    QueueAlert,
    QueueStatus,
    QueueVisit,
    ZoneEntry,
    ZoneKind,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Waiting:
    zone_id: int
    joined_us: int
    left_us: int | None = None  # the queue visit ended (last observation inside), service not reached yet


class QueueTracker:
    """Per queue: who is waiting since when, the recent services, the alert state."""

    def __init__(self, config: AnalyticsConfig) -> None:
        self.configure(config)
        self._waiting: dict[tuple[int, int], _Waiting] = {}  # (global id, queue zone id)
        # (global id, queue zone id) of the waits that reached service while the person is still in that queue's
        # zone (a till drawn over the queue's head): their queue visit has had its wait, an unbind takes none back.
        self._served_inside: set[tuple[int, int]] = set()
        # Queue zone id -> the recent services: (time µs, global id), so that a person bound to an employee
        # after reaching service is taken out of the predicted wait as out of the stored waits.
        self._services: dict[int, deque[tuple[int, int]]] = {}
        self._above_since: dict[int, int] = {}
        self._staff_seen: set[int] = set()  # the staff of the last frame that had any
        self._alerting: set[int] = set()
        self._first_us: int | None = None

    def configure(self, config: AnalyticsConfig) -> None:
        zone_ids = [zone.zone_id for zone in config.zones]
        self._queue_columns = [z for z, zone in enumerate(config.zones) if zone.kind is ZoneKind.QUEUE]
        self.queue_ids = [zone_ids[z] for z in self._queue_columns]
        self._service_ids = {zone.zone_id for zone in config.zones if zone.kind is ZoneKind.SERVICE}
        self._grace_us = int(config.queue_service_grace_s * 1e6)
        self._window_us = int(config.queue_rate_window_s * 1e6)
        self._alert_length = config.queue_alert_length
        self._alert_wait_s = config.queue_alert_wait_s
        self._alert_after_us = int(config.queue_alert_after_s * 1e6)
        # Per queue zone: (length, wait_s, after_us) replacing the three defaults above.
        self._limits = {
            t.zone_id: (
                t.length,
                t.wait_s,
                self._alert_after_us if t.after_s is None else int(t.after_s * 1e6),
            )
            for t in config.queue_thresholds
        }
        queues = set(self.queue_ids)
        for key in [key for key in getattr(self, "_waiting", {}) if key[1] not in queues]:
            del self._waiting[key]  # a queue deleted: its waits end unreported

    @property
    def active(self) -> bool:
        return bool(self._queue_columns)

    def update(
        self,
        t_us: int,
        in_zone: BoolArray,
        staff: BoolArray,
        entries: Sequence[ZoneEntry],
        dwell: Sequence[DwellRecord],
        visits: list[QueueVisit],
        alerts: list[QueueAlert],
        global_ids: IntArray | None = None,
        *,
        unstaffed: BoolArray | None = None,
        entered_us: IntArray | None = None,
    ) -> list[QueueStatus]:
        """Take one frame's zone entries and ended visits (``staff``: who is staff, per person of the frame,
        ``global_ids`` their ids; ``unstaffed``: who stopped being staff at this frame, their binding revoked,
        ``entered_us`` when each person's open zone visits began, per zone column); the status of each queue
        now."""
        if not self._queue_columns:
            return []
        if self._first_us is None:
            self._first_us = t_us
        if global_ids is not None and unstaffed is not None and entered_us is not None and unstaffed.any():
            self._unbound(global_ids, unstaffed, in_zone, entered_us)
        if global_ids is not None and staff.any() and (self._waiting or self._services):
            bound = set(global_ids[staff].tolist())
            for key in [key for key in self._waiting if key[0] in bound]:
                del self._waiting[key]
                logger.debug("queue wait of person %d dropped: bound to an employee while waiting", key[0])
            newly = bound - self._staff_seen
            if newly:  # bound since the last frame: a service they had is no visitor's
                for zone_id, services in list(self._services.items()):
                    if any(gid in newly for _, gid in services):
                        self._services[zone_id] = deque(s for s in services if s[1] not in newly)
            self._staff_seen = bound
        queues = set(self.queue_ids)
        for entry in entries:
            if entry.staff:
                continue
            if entry.zone_id in queues:
                self._waiting.setdefault(
                    (entry.global_id, entry.zone_id), _Waiting(entry.zone_id, entry.time_us)
                )
            elif entry.zone_id in self._service_ids:
                self._served(entry.global_id, entry.time_us, visits)
        for record in dwell:
            self._served_inside.discard((record.global_id, record.zone_id))
            waiting = self._waiting.get((record.global_id, record.zone_id))
            if waiting is not None and waiting.left_us is None:
                waiting.left_us = record.exit_us
        for key, waiting in list(self._waiting.items()):
            if waiting.left_us is not None and t_us - waiting.left_us > self._grace_us:
                del self._waiting[key]
                visits.append(QueueVisit(waiting.zone_id, key[0], waiting.joined_us, None, waiting.left_us))
        visitors = ~staff
        lengths: IntArray = (in_zone[:, self._queue_columns] & visitors[:, None]).sum(axis=0)
        statuses = []
        for zone_id, length in zip(self.queue_ids, lengths.tolist(), strict=True):
            predicted = self._predicted_wait_s(zone_id, t_us, length)
            statuses.append(QueueStatus(zone_id, length, predicted, zone_id in self._alerting))
            self._alert(zone_id, t_us, length, predicted, alerts)
        return statuses

    def _unbound(
        self, global_ids: IntArray, unstaffed: BoolArray, in_zone: BoolArray, entered_us: IntArray
    ) -> None:
        """Persons whose binding was revoked (a wrong binding corrected: they were a visitor all along) who are in
        a queue: their wait there is a visitor's again, from the start of their queue visit."""
        for i in np.flatnonzero(unstaffed).tolist():
            gid = int(global_ids[i])
            self._staff_seen.discard(gid)  # bound again later: "newly" bound then
            for column, zone_id in zip(self._queue_columns, self.queue_ids, strict=True):
                key = (gid, zone_id)
                if in_zone[i, column] and key not in self._waiting and key not in self._served_inside:
                    self._waiting[key] = _Waiting(zone_id, int(entered_us[i, column]))
                    logger.debug("queue wait of person %d taken back: their binding was revoked", gid)

    def _served(self, gid: int, t_us: int, visits: list[QueueVisit]) -> None:
        """`gid` reached a service point: their wait in the queue they were in (the earliest joined) ends."""
        candidates = [(w.joined_us, key) for key, w in self._waiting.items() if key[0] == gid]
        if not candidates:
            return
        _, key = min(candidates)
        waiting = self._waiting.pop(key)
        if waiting.left_us is None:
            self._served_inside.add(key)
        left_us = waiting.left_us if waiting.left_us is not None else t_us
        visits.append(QueueVisit(waiting.zone_id, gid, waiting.joined_us, t_us, left_us))
        services = self._services.setdefault(waiting.zone_id, deque())
        services.append((t_us, gid))

    def _predicted_wait_s(self, zone_id: int, t_us: int, length: int) -> float | None:
        services = self._services.get(zone_id)
        if services is None:
            return None
        while services and t_us - services[0][0] > self._window_us:
            services.popleft()
        if len(services) < 2:
            return None
        span_us = min(self._window_us, t_us - (self._first_us or t_us))
        if span_us <= 0:
            return None
        interval_s = span_us / len(services) / 1e6
        return round(length * interval_s, 1)

    def _alert(
        self, zone_id: int, t_us: int, length: int, predicted: float | None, alerts: list[QueueAlert]
    ) -> None:
        alert_length, alert_wait_s, after_us = self._limits.get(
            zone_id, (self._alert_length, self._alert_wait_s, self._alert_after_us)
        )
        above = (alert_length is not None and length >= alert_length) or (
            alert_wait_s is not None and predicted is not None and predicted >= alert_wait_s
        )
        if not above:
            self._above_since.pop(zone_id, None)
            if zone_id in self._alerting:
                self._alerting.discard(zone_id)
                alerts.append(QueueAlert(zone_id, False, length, predicted, t_us))
            return
        since = self._above_since.setdefault(zone_id, t_us)
        if zone_id not in self._alerting and t_us - since >= after_us:
            self._alerting.add(zone_id)
            logger.info(
                "queue %d: open another till (length %d, predicted wait %s s)", zone_id, length, predicted
            )
            alerts.append(QueueAlert(zone_id, True, length, predicted, t_us))

    def end_alerts(self, t_us: int, alerts: list[QueueAlert]) -> None:
        """End of stream: every alert still open closes (``stopped``; the queue's people have left with the
        stream), and a queue above its limit from now on waits its ``after_s`` again before alerting."""
        for zone_id in sorted(self._alerting):
            alerts.append(QueueAlert(zone_id, False, 0, None, t_us, stopped=True))
        self._alerting.clear()
        self._above_since.clear()

    def flush(self, visits: list[QueueVisit]) -> None:
        """End of stream: every wait still open is reported (abandoned when it has not reached service)."""
        for (gid, _), waiting in sorted(self._waiting.items()):
            left_us = waiting.left_us if waiting.left_us is not None else waiting.joined_us
            visits.append(QueueVisit(waiting.zone_id, gid, waiting.joined_us, None, left_us))
        self._waiting.clear()
        self._served_inside.clear()
