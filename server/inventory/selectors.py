"""Reads of the store inventory."""

from __future__ import annotations

from django.db.models import QuerySet

from server.inventory.models import Camera, FloorPlan, Site, Zone


def site_list() -> QuerySet[Site]:
    return Site.objects.all()


def floor_plan_list() -> QuerySet[FloorPlan]:
    return FloorPlan.objects.select_related("site").order_by("id")


def camera_list() -> QuerySet[Camera]:
    return Camera.objects.select_related("site", "device", "stream_state")


def zone_list() -> QuerySet[Zone]:
    return Zone.objects.select_related("site")
