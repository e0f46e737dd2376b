"""Image files follow their rows: a camera's calibration snapshot and a floor plan's image are removed from the media
storage when the row is deleted (directly, or by the cascade of a deleted site), once the deletion is committed.

The snapshot is the only image that leaves an edge box (docs/privacy.md); it must not outlive the camera.

A site's analytics configuration has a revision: every save or delete of one of its zones, of its floor plan or of
the site itself bumps `Site.config_revision` in the same transaction, so that the change and its revision become
visible together, on commit, to every process (the ingest's, a site worker's). The analytics compare that integer
to reload the site's setup (server.insights.processor). Writes that send no model signals (`QuerySet.update`,
`bulk_create`, raw SQL) must bump it themselves (`bump_config_revision`)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from server.inventory.models import Camera, FloorPlan, Site, Zone

logger = logging.getLogger(__name__)


def _delete_after_commit(file: FieldFile) -> None:
    name = file.name
    if not file or not name:
        return
    storage = file.storage

    def delete() -> None:
        try:
            storage.delete(name)
        except (
            OSError
        ) as err:  # already gone, or the media volume is read-only: the row is deleted all the same
            logger.warning("could not delete media file %s: %s", name, err)

    transaction.on_commit(delete)


@receiver(post_delete, sender=Camera, dispatch_uid="inventory.camera_snapshot_file")
def delete_camera_snapshot(sender: type[Camera], instance: Camera, **kwargs: Any) -> None:
    _delete_after_commit(instance.snapshot)


@receiver(post_delete, sender=FloorPlan, dispatch_uid="inventory.floor_plan_image_file")
def delete_floor_plan_image(sender: type[FloorPlan], instance: FloorPlan, **kwargs: Any) -> None:
    _delete_after_commit(instance.image)


def bump_config_revision(site_id: int) -> None:
    """A new revision of the site's analytics configuration, written in the current transaction."""
    Site.objects.filter(pk=site_id).update(config_revision=F("config_revision") + 1)


@receiver(post_save, sender=Zone, dispatch_uid="inventory.zone_saved_revision")
@receiver(post_delete, sender=Zone, dispatch_uid="inventory.zone_deleted_revision")
@receiver(post_save, sender=FloorPlan, dispatch_uid="inventory.floor_plan_saved_revision")
@receiver(post_delete, sender=FloorPlan, dispatch_uid="inventory.floor_plan_deleted_revision")
def site_part_changed(sender: type[Zone | FloorPlan], instance: Zone | FloorPlan, **kwargs: Any) -> None:
    if not kwargs.get("raw", False):
        bump_config_revision(instance.site_id)


@receiver(post_save, sender=Site, dispatch_uid="inventory.site_saved_revision")
def site_saved(sender: type[Site], instance: Site, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not (raw or created):
        bump_config_revision(instance.pk)
