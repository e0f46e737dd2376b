"""Durable per-camera ingest state: what has been stored, so that replays are stored once and acks are truthful."""

from __future__ import annotations

from django.db import models


class CameraStreamState(models.Model):
    """The sequence window of the camera's current sequence epoch (columns), the windows of up to a few earlier
    epochs (`earlier_epochs`) and counters summed over every epoch."""

    camera = models.OneToOneField("inventory.Camera", on_delete=models.CASCADE, related_name="stream_state")
    sequence_epoch = models.PositiveBigIntegerField(
        default=0, help_text="Sequence epoch (spool) of the window below; 0 = legacy agents."
    )
    highest_contiguous_sequence = models.PositiveBigIntegerField(default=0)
    # Sequences above highest_contiguous_sequence already stored (out-of-order arrivals within the reorder window).
    pending_sequences = models.JSONField(default=list, blank=True)
    # Gaps given up on, [[first, last], ...]: a frame of one arriving late is stored, not taken for a replay.
    skipped_ranges = models.JSONField(default=list, blank=True)
    # Latest capture time of the window: the clock a large jump ahead must be consistent with.
    reference_time_us = models.BigIntegerField(default=0)
    # Windows of earlier epochs (a replaced box, a wiped spool), oldest first: [{"epoch", "highest_contiguous",
    # "pending", "skipped", "skipped_ranges", "reference_time_us"}, ...].
    earlier_epochs = models.JSONField(default=list, blank=True)
    forgotten_epochs_below = models.PositiveBigIntegerField(
        default=0, help_text="Epochs below this were tracked once and forgotten; their frames are refused."
    )
    epochs_started = models.PositiveBigIntegerField(
        default=0, help_text="Sequence epochs begun after the first: replaced boxes and wiped spools."
    )
    frames_stored = models.PositiveBigIntegerField(default=0)
    frames_rejected = models.PositiveBigIntegerField(default=0)
    duplicates_dropped = models.PositiveBigIntegerField(default=0)
    sequences_skipped = models.PositiveBigIntegerField(
        default=0,
        help_text="Gaps larger than the reorder window given up on (evicted from the edge's spool).",
    )
    track_updates_stored = models.PositiveBigIntegerField(default=0)
    last_capture_time_us = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"stream state of camera {self.camera_id}"


class SiteFrameProgress(models.Model):
    """Scale-out mode: which of a site's bus messages (JetStream stream sequences) a site worker has applied, saved
    in the transaction of the analytics records they produced. A worker that takes the site over skips what is
    recorded here, so no frame's effect is counted twice; `revision` fences a worker that lost the site."""

    site = models.OneToOneField("inventory.Site", on_delete=models.CASCADE, related_name="frame_progress")
    # Every message of the site up to this stream sequence is applied; those in `applied_after` beyond it too
    # (messages after one the fusion still held in its reorder buffer).
    applied_through = models.PositiveBigIntegerField(default=0)
    applied_after = models.JSONField(default=list, blank=True)
    # Per camera and sequence epoch ("camera:epoch"): the camera sequence after the highest one applied (those
    # below it are applied or were given up), so that a worker taking the site over knows where each camera's
    # sequences stood and holds newer frames stored before older ones (server.worker.ordering).
    camera_next = models.JSONField(default=dict, blank=True)
    # Changes with every save: a worker whose last save is not what it finds has lost the site to another one.
    revision = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"frame progress of site {self.site_id}"
