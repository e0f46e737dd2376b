"""Image files follow their rows: a camera's calibration snapshot and a floor plan's image are removed from the media
storage when the row is deleted (directly, or by the cascade of a deleted site), once the deletion is committed.

The snapshot is the only image that leaves an edge box (docs/privacy.md); it must not outlive the camera."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete
from django.dispatch import receiver

from server.inventory.models import Camera, FloorPlan

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
