"""The processor gives each site's fusion the site's entrance zones as entry regions (where someone new is always
plausible, so the fusion never re-acquires an unseen person there: a newcomer at the door does not take over the
id, and the badge binding, of someone who just left)."""

from __future__ import annotations

from typing import Any

from server.insights.processor import SiteAnalyticsProcessor, build_setup


def _zone(zone_id: int, kind: str, polygon: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "id": zone_id,
        "name": f"zone {zone_id}",
        "kind": kind,
        "polygon": polygon,
        "required_level": 0,
        "warning_distance_m": 0.0,
    }


def test_the_sites_entrance_zones_are_the_fusions_entry_regions() -> None:
    setup = build_setup(
        site_id=3,
        zones=[
            _zone(1, "entrance", [(0.0, 8.0), (2.0, 8.0), (2.0, 12.0), (0.0, 12.0)]),
            _zone(2, "interest", [(5.0, 5.0), (9.0, 5.0), (9.0, 9.0)]),
        ],
        width_m=30.0,
        height_m=20.0,
        origin_x_m=0.0,
        origin_y_m=0.0,
        cell_m=0.5,
        first_person_id=1,
    )
    processor = SiteAnalyticsProcessor(
        publisher=None,  # type: ignore[arg-type]
        points=None,  # type: ignore[arg-type]
        recorder=None,  # type: ignore[arg-type]
        load_setup=lambda site_id: setup,
        load_identities=lambda site_id: {},
        on_alert=None,  # type: ignore[arg-type]
    )
    state = processor._new_state(setup, {})
    assert state.fusion.config.entry_regions_m == ((-0.5, 7.5, 2.5, 12.5),)
