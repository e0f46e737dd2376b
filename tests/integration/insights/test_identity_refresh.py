"""A binding made through the API reaches the running analytics at once, not at the next periodic refresh."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from server.analytics import PersonIdentity
from server.ingest.pipeline import CameraRuntime
from server.ingest.sequencing import SequenceWindow
from server.inventory.models import Camera, FloorPlan, Site
from server.people.models import Employee
from server.people.services import identity_bind, identity_unbind
from server.runtime import build_runtime

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _store() -> tuple[Site, Camera, Employee]:
    site = Site.objects.create(name="Refresh store")
    FloorPlan.objects.create(site=site, width_m=10.0, height_m=10.0)
    camera = Camera.objects.create(site=site, name="cam")
    return site, camera, Employee.objects.create(name="Kim")


async def _wait_until(predicate: object, timeout_s: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_bind_and_unbind_reach_the_analytics_without_the_periodic_refresh() -> None:
    site, camera, kim = await sync_to_async(_store)()
    runtime = build_runtime()
    try:
        # No periodic refresh runs here (start_background is not called): only the signal can update it.
        await runtime.processor.prepare(
            CameraRuntime(
                camera_id=camera.pk, site_id=site.pk, device_id=None, window=SequenceWindow(reorder_window=64)
            )
        )
        assert runtime.processor.identities(site.pk) == {}
        binding = await sync_to_async(identity_bind)(actor=None, site=site, person_id=7, employee=kim)
        await _wait_until(lambda: 7 in runtime.processor.identities(site.pk), 5.0)
        assert runtime.processor.identities(site.pk)[7].display_name == "Kim"
        await sync_to_async(identity_unbind)(actor=None, binding=binding)
        # Unbound: a visitor again, whom the analytics stop treating as staff (docs/kpis.md, "Staff").
        await _wait_until(
            lambda: runtime.processor.identities(site.pk) == {7: PersonIdentity(revoked=True)}, 5.0
        )
    finally:
        await runtime.aclose()
    # A closed runtime no longer listens: a later binding reaches nobody and raises nothing.
    await sync_to_async(identity_bind)(actor=None, site=site, person_id=8, employee=kim)
    await asyncio.sleep(0.1)
    assert 8 not in runtime.processor.identities(site.pk)
    await sync_to_async(connections.close_all)()
