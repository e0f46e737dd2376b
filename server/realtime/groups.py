"""Channels group names: one place, so producers and consumers agree."""


def site_live_group(site_id: int) -> str:
    """Live positions and counters of a site (throttled)."""
    return f"site-{site_id}-live"


def site_alerts_group(site_id: int) -> str:
    """Security alerts and siren state of a site (pushed at once)."""
    return f"site-{site_id}-alerts"


def site_health_group(site_id: int) -> str:
    """Edge-device and camera health of a site."""
    return f"site-{site_id}-health"
