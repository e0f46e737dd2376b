"""Persisted results of the store analytics, queryable over any time range.

Person ids are the fusion's global ids (unique per server process lifetime and site; a visit's id is stable).
Heat maps are stored per site and hour as float32 arrays (one value per floor cell), so that a 30-day query reads
720 rows and sums them in NumPy; and per analytics bucket (a minute by default) as sparse arrays of the non-zero
cells only, for ranges that do not start or end on the hour and for sub-hour time series.

Deleting a zone keeps its history: dwell and flow records keep the zone's name as it was when they were recorded,
and their zone reference becomes null (docs/operations.md, "Durability").
"""

from __future__ import annotations

from django.db import models


class PersonVisit(models.Model):
    """One person's visit of the site: from first to last sighting (a site-level entry)."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="visits")
    person_id = models.BigIntegerField()
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    staff = models.BooleanField(
        default=False, help_text="Bound to an employee during the visit (not a visitor)."
    )

    class Meta:
        indexes = [models.Index(fields=["site", "started_at"]), models.Index(fields=["site", "person_id"])]


class ZoneDwell(models.Model):
    """One visit of a zone: entry time, exit time (last frame inside) and dwell."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="zone_dwells")
    zone = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="dwells"
    )
    zone_name = models.CharField(max_length=200, blank=True, default="")
    person_id = models.BigIntegerField()
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField()
    dwell_s = models.FloatField()
    staff = models.BooleanField(default=False, help_text="An employee's visit (left out of visitor KPIs).")

    class Meta:
        indexes = [
            models.Index(fields=["site", "entered_at"]),
            models.Index(fields=["zone", "entered_at"]),
            models.Index(fields=["site", "person_id"]),
        ]


class ZoneTransition(models.Model):
    """A person entering `to_zone`, coming from `from_zone` (their previous zone; null with an empty
    `from_zone_name` for their first)."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="zone_transitions")
    person_id = models.BigIntegerField()
    from_zone = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="transitions_out"
    )
    from_zone_name = models.CharField(max_length=200, blank=True, default="")
    to_zone = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="transitions_in"
    )
    to_zone_name = models.CharField(max_length=200, blank=True, default="")
    at = models.DateTimeField()
    staff = models.BooleanField(default=False, help_text="An employee's move (left out of visitor KPIs).")

    class Meta:
        indexes = [models.Index(fields=["site", "at"]), models.Index(fields=["site", "person_id"])]


class DistancingViolation(models.Model):
    """Two persons closer than D metres for at least T seconds."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="distancing_violations")
    person_a = models.BigIntegerField()
    person_b = models.BigIntegerField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    last_close_at = models.DateTimeField()
    min_distance_m = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["site", "started_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "person_a", "person_b", "started_at"], name="violation_unique_per_start"
            )
        ]


class HeatmapHour(models.Model):
    """Person-seconds and displacement per floor cell of one site over one hour (float32 little-endian arrays)."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="heatmap_hours")
    hour_start = models.DateTimeField()
    columns = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    cell_m = models.FloatField()
    person_s = models.BinaryField()
    displacement_x_m = models.BinaryField()
    displacement_y_m = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "hour_start"], name="heatmap_hour_unique")]


class HeatmapSlice(models.Model):
    """Person-seconds and displacement of the non-zero cells of one site over one analytics heat bucket (a minute
    by default): `cell_index` int32 and the values float32, little-endian, one entry per cell."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="heatmap_slices")
    start = models.DateTimeField()
    duration_s = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    cell_m = models.FloatField()
    cell_index = models.BinaryField()
    person_s = models.BinaryField()
    displacement_x_m = models.BinaryField()
    displacement_y_m = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["site", "start"])]


class LineCrossing(models.Model):
    """One person crossing a counting line (a zone of kind door or line), in or out, once per fused person
    (docs/kpis.md). Deleting the line keeps its crossings with its name."""

    class Direction(models.TextChoices):
        IN = "in", "In"
        OUT = "out", "Out"

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="line_crossings")
    line = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="crossings"
    )
    line_name = models.CharField(max_length=200, blank=True, default="")
    entrance = models.BooleanField(
        default=False, help_text="The line was an entrance (door): entries are visits."
    )
    person_id = models.BigIntegerField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    staff = models.BooleanField(default=False)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["site", "at"]),
            models.Index(fields=["line", "at"]),
            models.Index(fields=["site", "person_id"]),
        ]


class QueueWait(models.Model):
    """A person's wait in a queue zone (docs/kpis.md, "Queues"): joined, reached the service point (null:
    abandoned), left the queue zone. ``staff``: the person was bound to an employee later in their visit (the wait
    was recorded as a visitor's and re-marked, as their visit is); queue KPIs leave those out."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="queue_waits")
    zone = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="queue_waits"
    )
    zone_name = models.CharField(max_length=200, blank=True, default="")
    person_id = models.BigIntegerField()
    joined_at = models.DateTimeField()
    served_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField()
    wait_s = models.FloatField(null=True, blank=True, help_text="Join to service; null when abandoned.")
    staff = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["site", "joined_at"]),
            models.Index(fields=["zone", "joined_at"]),
            models.Index(fields=["site", "person_id"]),
        ]


class LineCount(models.Model):
    """In and out of one counting line over one 15-minute bucket (UTC-aligned, so that every site's hours and
    days are whole buckets), visitors and staff apart: what the door counts are read from (a 30-day query reads
    at most 2,880 rows per line). Kept exact with the crossings: a person found to be staff later has their
    crossings of the bucket moved from the visitors' counts to the staff's."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="line_counts")
    line = models.ForeignKey(
        "inventory.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="line_counts"
    )
    line_name = models.CharField(max_length=200, blank=True, default="")
    entrance = models.BooleanField(default=False)
    start = models.DateTimeField()
    in_count = models.IntegerField(default=0)
    out_count = models.IntegerField(default=0)
    staff_in = models.IntegerField(default=0)
    staff_out = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "start"])]
        constraints = [models.UniqueConstraint(fields=["site", "line", "start"], name="line_count_unique")]
