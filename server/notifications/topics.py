"""MQTT topic names and payloads (pure Python): per-site topics under a prefix, Home Assistant discovery.

| topic | retained | payload |
| --- | --- | --- |
| `<prefix>/status` | yes | `online` / `offline` (the connection's last will) |
| `<prefix>/<site>/occupancy` | yes | people on the site now (an integer) |
| `<prefix>/<site>/zones/<zone id>/occupancy` | yes | people in the zone now |
| `<prefix>/<site>/counts` | yes | JSON `{"occupancy", "zones": {id: n}, "visits_today", "time"}` |
| `<prefix>/<site>/alerts` | no | JSON of each alert notification (as the webhook's body) |
| `<prefix>/<site>/alerts/last` | yes | the newest of them |
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")


def site_slugs(sites: Iterable[tuple[int, str]]) -> dict[int, str]:
    """A topic name per site: its name as a slug; `site-<id>` when empty; `-<id>` appended to names shared by
    several sites, so that no two sites share a topic."""
    pairs = list(sites)
    plain = {site_id: slugify(name) or f"site-{site_id}" for site_id, name in pairs}
    seen: dict[str, int] = {}
    for slug in plain.values():
        seen[slug] = seen.get(slug, 0) + 1
    return {site_id: slug if seen[slug] == 1 else f"{slug}-{site_id}" for site_id, slug in plain.items()}


def status_topic(prefix: str) -> str:
    return f"{prefix}/status"


def occupancy_topic(prefix: str, slug: str) -> str:
    return f"{prefix}/{slug}/occupancy"


def zone_occupancy_topic(prefix: str, slug: str, zone_id: int) -> str:
    return f"{prefix}/{slug}/zones/{zone_id}/occupancy"


def counts_topic(prefix: str, slug: str) -> str:
    return f"{prefix}/{slug}/counts"


def alerts_topic(prefix: str, slug: str) -> str:
    return f"{prefix}/{slug}/alerts"


def discovery_messages(
    *, prefix: str, discovery_prefix: str, site_id: int, slug: str, site_name: str
) -> list[tuple[str, dict[str, Any]]]:
    """Home Assistant MQTT discovery: (config topic, config) of the site's occupancy and visits-today sensors."""
    device = {
        "identifiers": [f"retail_vision_site_{site_id}"],
        "name": site_name,
        "manufacturer": "Retail Vision",
        "model": "Store analytics",
    }
    common = {"availability_topic": status_topic(prefix), "device": device, "state_class": "measurement"}
    return [
        (
            f"{discovery_prefix}/sensor/retail_{site_id}_occupancy/config",
            {
                **common,
                "name": "Occupancy",
                "unique_id": f"retail_vision_{site_id}_occupancy",
                "state_topic": occupancy_topic(prefix, slug),
                "unit_of_measurement": "people",
                "icon": "mdi:account-group",
            },
        ),
        (
            f"{discovery_prefix}/sensor/retail_{site_id}_visits_today/config",
            {
                **common,
                "state_class": "total",
                "name": "Visits today",
                "unique_id": f"retail_vision_{site_id}_visits_today",
                "state_topic": counts_topic(prefix, slug),
                "value_template": "{{ value_json.visits_today }}",
                "unit_of_measurement": "visits",
                "icon": "mdi:door-open",
            },
        ),
    ]
