"""A site's configuration change reaches the running analytics through one signal: `Site.config_revision`, bumped in
the transaction of every save or delete of its zones, floor plan or the site itself, and compared by the processor's
refresh before it loads a setup. No setup is loaded while nothing changed; a change committed by another process
(the API's, while a site worker fuses) is picked up by the next refresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from server.analytics.types import ZoneKind as AnalyticsZoneKind
from server.ingest.pipeline import CameraRuntime
from server.ingest.sequencing import SequenceWindow
from server.insights.processor import SiteAnalyticsProcessor, SiteSetup
from server.insights.recorder import InsightsRecorder
from server.insights.selectors import site_config_revision, site_setup
from server.inventory.models import FloorPlan, Site, Zone
from tests.support.django_system import shared_database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SQUARE = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]]
WIDE = [[0.0, 0.0], [9.0, 0.0], [9.0, 4.0], [0.0, 4.0]]


class NullPublisher:
    def publish(self, site_id: int, event: Any) -> None:
        pass


class NullSink:
    def write(self, points: Any) -> None:
        pass


def _site() -> tuple[Site, Zone]:
    site = Site.objects.create(name="Revisioned store")
    FloorPlan.objects.create(site=site, width_m=20.0, height_m=10.0)
    zone = Zone.objects.create(site=site, name="Shelf", kind="interest", polygon=SQUARE)
    return site, zone


def test_every_committed_change_of_the_setup_moves_the_revision() -> None:
    site, zone = _site()
    revisions = [site_config_revision(site.pk)]

    def moved() -> bool:
        revisions.append(site_config_revision(site.pk))
        return revisions[-1] > revisions[-2]

    zone.polygon = WIDE
    zone.save()
    assert moved()
    Zone.objects.create(site=site, name="Till", kind="service", polygon=SQUARE)
    assert moved()
    Zone.objects.filter(name="Till").delete()  # a queryset delete sends the row signals too
    assert moved()
    plan = FloorPlan.objects.get(site=site)
    plan.heatmap_cell_m = 1.0
    plan.save()
    assert moved()
    site.capacity = 30
    site.save(update_fields=["capacity"])
    assert moved()
    # A site instance loaded before a zone edit does not write its stale revision back over the zone's bump.
    stale = Site.objects.get(pk=site.pk)
    zone.name = "Shelf A"
    zone.save()
    assert moved()
    stale.closing_time = None
    stale.save()
    assert moved()  # past the zone's bump, not back to the stale instance's number

    # Inside a transaction the bump is part of the change: rolled back with it.
    def edit_then_fail() -> None:
        with transaction.atomic():
            zone.polygon = SQUARE
            zone.save()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        edit_then_fail()
    assert not moved()
    assert site_setup(site.pk).revision == revisions[-1]
    FloorPlan.objects.filter(site=site).delete()
    assert moved()
    assert site_config_revision(10**9) == 0  # an unknown site


def _processor(loads: list[int]) -> SiteAnalyticsProcessor:
    def load_setup(site_id: int) -> SiteSetup:
        loads.append(site_id)
        return site_setup(site_id)

    return SiteAnalyticsProcessor(
        publisher=NullPublisher(),  # type: ignore[arg-type]
        points=NullSink(),
        recorder=InsightsRecorder(),
        load_setup=load_setup,
        load_revision=site_config_revision,
        load_identities=lambda site_id: {},
        on_alert=lambda site_id, alert: None,
    )


def _zones(processor: SiteAnalyticsProcessor, site_id: int) -> dict[str, Any]:
    setup = processor._sites[site_id].setup
    return {zone.name: zone for zone in setup.analytics.zones}


def test_a_zone_edit_reaches_the_running_processor_by_its_revision() -> None:
    site, zone = _site()
    loads: list[int] = []
    processor = _processor(loads)
    camera = CameraRuntime(
        camera_id=1, site_id=site.pk, device_id=None, window=SequenceWindow(reorder_window=64)
    )
    async_to_sync(processor.prepare)(camera)
    assert loads == [site.pk]
    for _ in range(3):  # nothing changed: the refresh reads the revision, never the setup (no poll)
        async_to_sync(processor.refresh)()
    assert loads == [site.pk]

    zone.polygon = WIDE
    zone.kind = "restricted"
    zone.save()
    async_to_sync(processor.refresh)()
    assert loads == [site.pk, site.pk]
    shelf = _zones(processor, site.pk)["Shelf"]
    assert shelf.kind is AnalyticsZoneKind.RESTRICTED
    assert shelf.polygon_m[1] == (9.0, 0.0)
    assert processor._sites[site.pk].setup.revision == site_config_revision(site.pk)
    async_to_sync(processor.refresh)()
    assert len(loads) == 2  # seen: not loaded again

    site.capacity = 12  # the site's own fields are part of the setup too
    site.save()
    async_to_sync(processor.refresh)()
    assert processor._sites[site.pk].setup.analytics.capacity == 12
    assert processor.errors == 0


_EDIT_IN_ANOTHER_PROCESS = """
import django
django.setup()
from server.inventory.models import Zone
zone = Zone.objects.get(pk={zone_id})
zone.polygon = {polygon!r}
zone.save()
Zone.objects.create(site_id=zone.site_id, name="Door", kind="entrance", polygon={polygon!r})
"""


def test_a_zone_edit_committed_by_another_process_reaches_the_processor() -> None:
    """The split deployment: the API process saves the zone, a site worker runs the analytics."""
    site, zone = _site()
    loads: list[int] = []
    processor = _processor(loads)
    camera = CameraRuntime(
        camera_id=1, site_id=site.pk, device_id=None, window=SequenceWindow(reorder_window=64)
    )
    async_to_sync(processor.prepare)(camera)
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "DJANGO_SETTINGS_MODULE": "server.config.settings.test",
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
    }
    subprocess.run(
        [sys.executable, "-c", _EDIT_IN_ANOTHER_PROCESS.format(zone_id=zone.pk, polygon=WIDE)],
        env=env,
        check=True,
        timeout=120,
    )
    async_to_sync(processor.refresh)()
    zones = _zones(processor, site.pk)
    assert set(zones) == {"Shelf", "Door"}
    assert zones["Shelf"].polygon_m[1] == (9.0, 0.0)
    assert len(loads) == 2
