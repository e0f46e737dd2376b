"""Time-series points held per site until their frames' barrier releases them: a site worker's
(server.worker.progress).

The fusion and analytics of a site write their points (server.timeseries.site_points) as frames are fused. Handed
straight to the batching writer, a site worker's points reached the store within the writer's flush interval, and at
the latest at the ack barrier, before the barrier's transaction found the site taken over by another worker (its
progress revision moved): the new owner applied those frames again and wrote its own points for them, so the store
held both owners' points of the same frames. Both backends keep one point per (measurement, tags, time), but the two
owners' points do not share their times: the new owner samples occupancy and zone counts from the first frame it
fuses and counts entries from its own start, its people have new global ids; so the old owner's samples stayed
beside the new owner's and its positions of the same instants were overwritten with other people's
(tests/integration/bus/test_fenced_points.py).

So a worker's points wait here, per site, and the barrier hands them to the writer only once it holds the site's
progress row locked at the revision it expects: a fenced barrier writes none (they go with the site's other unsaved
state), a barrier that passes the fence makes them durable before it commits and acks.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.timeseries.types import Point
from server.timeseries.writer import BatchingWriter


class HeldPoints:
    """A PointSink that keeps each site's points (by their `site` tag) until `take`; points of no site pass
    through to `writer` at once."""

    def __init__(self, writer: BatchingWriter) -> None:
        self.writer = writer
        self._sites: dict[int, list[Point]] = {}

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        site = points[0].tags.get("site")
        if site is not None and all(p.tags.get("site") == site for p in points):
            held = self._sites.get(int(site))
            if held is None:
                self._sites[int(site)] = list(points)
            else:
                held.extend(points)
            return
        for point in points:  # mixed (not written so by the site processor): one by one
            tag = point.tags.get("site")
            if tag is None:
                self.writer.write((point,))
            else:
                self._sites.setdefault(int(tag), []).append(point)

    def holds(self, site_id: int) -> bool:
        return bool(self._sites.get(site_id))

    def take(self, site_id: int) -> list[Point]:
        """The site's points written so far, no longer held here (the barrier's checkpoint)."""
        return self._sites.pop(site_id, None) or []

    def give_back(self, site_id: int, points: list[Point]) -> None:
        """A barrier that wrote nothing of them failed: the next one takes them again, before the newer ones."""
        if points:
            self._sites[site_id] = points + self._sites.get(site_id, [])

    def discard(self, site_id: int) -> int:
        """The site was lost to another worker: its points are the new owner's to write. Returns how many."""
        return len(self._sites.pop(site_id, []))

    def write_durably(self, points: Sequence[Point]) -> None:
        """Hand `points` to the writer and return once the store took them (with everything queued before them);
        raises ``TimeSeriesUnavailable`` when it did not within the writer's ``durable_timeout_s`` (they stay queued
        there and are written later)."""
        self.writer.write(points)
        checkpoint = self.writer.checkpoint()
        if checkpoint is not None:
            checkpoint.commit()

    def held_points(self) -> int:
        return sum(len(points) for points in self._sites.values())
