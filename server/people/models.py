"""People and access: security levels, employees, zone permissions and identity bindings.

A tracked person (a fusion global id, per site) is a visitor at level 0 unless an active IdentityBinding ties
them to an employee; then they have the employee's level rank plus the zones explicitly granted by
ZonePermission.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class SecurityLevel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    rank = models.PositiveSmallIntegerField(
        unique=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Higher ranks may enter more zones; visitors are rank 0.",
    )
    description = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rank})"


class Employee(models.Model):
    name = models.CharField(max_length=200)
    level = models.ForeignKey(
        SecurityLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="employees"
    )
    badge_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Access-control badge number."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["badge_id"], condition=~Q(badge_id=""), name="employee_unique_badge_id"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def level_rank(self) -> int:
        return self.level.rank if self.level is not None else 0


class ZonePermission(models.Model):
    """An explicit grant of a zone to an employee, beyond what their level allows."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="zone_permissions")
    zone = models.ForeignKey("inventory.Zone", on_delete=models.CASCADE, related_name="permissions")
    note = models.CharField(max_length=200, blank=True, default="")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["employee", "zone"], name="zone_permission_unique")]

    def __str__(self) -> str:
        return f"{self.employee} → {self.zone}"


class BindingSource(models.TextChoices):
    BADGE = "badge", "Badge / access-control event"
    MANUAL = "manual", "Bound by hand"


class IdentityBinding(models.Model):
    """Employee ↔ tracked person of a site. Active while `unbound_at` is null; at most one active binding per
    person and per employee."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="identity_bindings")
    person_id = models.PositiveBigIntegerField(help_text="Global person id from the site's fusion.")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="bindings")
    source = models.CharField(max_length=8, choices=BindingSource.choices)
    bound_at = models.DateTimeField()
    unbound_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(
        default=False,
        help_text="Ended by an unbind (a wrong or withdrawn binding), not superseded by a newer one: what it "
        "marked as staff's is a visitor's again.",
    )
    bound_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    unbound_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reader_x_m = models.FloatField(
        null=True, blank=True, help_text="Badge events: reader position on the floor."
    )
    reader_y_m = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(
        null=True, blank=True, help_text="Badge events: person's distance to the reader."
    )

    class Meta:
        ordering = ["-bound_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "person_id"],
                condition=Q(unbound_at__isnull=True),
                name="binding_one_active_per_person",
            ),
            models.UniqueConstraint(
                fields=["employee"],
                condition=Q(unbound_at__isnull=True),
                name="binding_one_active_per_employee",
            ),
        ]
        indexes = [models.Index(fields=["site", "unbound_at"], name="binding_site_active_idx")]

    def __str__(self) -> str:
        return f"{self.employee} = person {self.person_id} @ {self.site_id}"

    @property
    def active(self) -> bool:
        return self.unbound_at is None
