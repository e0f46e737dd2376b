"""Staff found after the visit: a person bound to an employee once their visit has ended (a manual binding from
the records, a badge read processed late). The recorder re-marks a person's records as staff's when the live
analytics report them bound (docs/kpis.md, "Staff"); a person no longer tracked is never reported again, so their
visit, crossings, flow, queue waits and zone dwells stayed a visitor's, and their door counts too. This re-marks
them in the binding's own transaction. A person still in a visit is left to the recorder (doing it here as well
would move their door counts twice)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db.models import F

from server.insights.models import LineCount, LineCrossing, PersonVisit
from server.insights.recorder import LINE_BUCKET_US, STAFF_MARKED

logger = logging.getLogger(__name__)


def mark_ended_visit_staff(*, site_id: int, person_id: int) -> int:
    """Re-mark the records of `person_id`'s ended visit as staff's and move their door crossings to the staff's
    counts; 0 when the person has no visit or one still open (the recorder's case). Returns the rows changed."""
    visits = PersonVisit.objects.filter(site_id=site_id, person_id=person_id)
    if not visits.exists() or visits.filter(ended_at__isnull=True).exists():
        return 0
    rows = 0
    crossings = list(
        LineCrossing.objects.select_for_update().filter(site_id=site_id, person_id=person_id, staff=False)
    )
    for crossing in crossings:
        if crossing.line_id is None:
            continue  # its line was deleted: its counts' row has no line to find it by
        at_us = int(crossing.at.timestamp() * 1_000_000)
        start = datetime.fromtimestamp((at_us - at_us % LINE_BUCKET_US) / 1e6, tz=UTC)
        moved: dict[str, Any] = (
            {"in_count": F("in_count") - 1, "staff_in": F("staff_in") + 1}
            if crossing.direction == LineCrossing.Direction.IN
            else {"out_count": F("out_count") - 1, "staff_out": F("staff_out") + 1}
        )
        rows += LineCount.objects.filter(site_id=site_id, line_id=crossing.line_id, start=start).update(
            **moved
        )
    for model in STAFF_MARKED:
        rows += model.objects.filter(site_id=site_id, person_id=person_id, staff=False).update(staff=True)
    if rows:
        logger.info(
            "site %d: person %d bound after their visit: %d records re-marked as staff's",
            site_id,
            person_id,
            rows,
        )
    return rows


def on_person_bound(sender: object, *, site_id: int, person_id: int, **kwargs: object) -> None:
    mark_ended_visit_staff(site_id=site_id, person_id=person_id)
