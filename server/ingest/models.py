"""Durable per-camera ingest state: what has been stored, so that replays are stored once and acks are truthful."""

from __future__ import annotations

from django.db import models


class CameraStreamState(models.Model):
    camera = models.OneToOneField("inventory.Camera", on_delete=models.CASCADE, related_name="stream_state")
    highest_contiguous_sequence = models.PositiveBigIntegerField(default=0)
    # Sequences above highest_contiguous_sequence already stored (out-of-order arrivals within the reorder window).
    pending_sequences = models.JSONField(default=list, blank=True)
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
