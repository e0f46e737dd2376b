"""SiteSnapshot <-> compact JSON, for backends that keep the live state outside the process."""

from __future__ import annotations

import json
from typing import Any

from server.livestate.types import LivePerson, SiteSnapshot


def encode(snapshot: SiteSnapshot) -> bytes:
    body = {
        "s": snapshot.site_id,
        "t": snapshot.time_us,
        "o": snapshot.site_occupancy,
        "z": [[zone_id, count] for zone_id, count in snapshot.zone_occupancy.items()],
        "p": [
            [p.person_id, round(p.x_m, 3), round(p.y_m, 3), list(p.zone_ids), p.employee_id, p.name]
            for p in snapshot.persons
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode(raw: bytes | str) -> SiteSnapshot:
    body: dict[str, Any] = json.loads(raw)
    return SiteSnapshot(
        site_id=int(body["s"]),
        time_us=int(body["t"]),
        site_occupancy=int(body["o"]),
        zone_occupancy={int(zone_id): int(count) for zone_id, count in body["z"]},
        persons=tuple(
            LivePerson(
                person_id=int(pid),
                x_m=float(x),
                y_m=float(y),
                zone_ids=tuple(int(z) for z in zones),
                employee_id=None if employee_id is None else int(employee_id),
                name=str(name),
            )
            for pid, x, y, zones, employee_id, name in body["p"]
        ),
    )
