from __future__ import annotations

from rest_framework import serializers

from server.inventory.models import Site
from server.people.models import Employee, IdentityBinding, SecurityLevel, ZonePermission


class SecurityLevelSerializer(serializers.ModelSerializer[SecurityLevel]):
    class Meta:
        model = SecurityLevel
        fields = ["id", "name", "rank", "description"]


class EmployeeSerializer(serializers.ModelSerializer[Employee]):
    level_rank = serializers.IntegerField(read_only=True, help_text="0 when the employee has no level.")

    class Meta:
        model = Employee
        fields = ["id", "name", "level", "level_rank", "badge_id", "active", "created_at"]
        read_only_fields = ["created_at"]


class ZonePermissionSerializer(serializers.ModelSerializer[ZonePermission]):
    class Meta:
        model = ZonePermission
        fields = ["id", "employee", "zone", "note", "granted_at"]
        read_only_fields = ["granted_at"]


class IdentityBindingSerializer(serializers.ModelSerializer[IdentityBinding]):
    employee_name = serializers.CharField(source="employee.name", read_only=True)
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = IdentityBinding
        fields = [
            "id",
            "site",
            "person_id",
            "employee",
            "employee_name",
            "source",
            "active",
            "bound_at",
            "unbound_at",
            "revoked",
            "bound_by",
            "unbound_by",
            "reader_x_m",
            "reader_y_m",
            "distance_m",
        ]
        read_only_fields = fields


class IdentityBindInputSerializer(serializers.Serializer[dict[str, object]]):
    """Bind by hand: staff pick a tracked person on the live map and an employee."""

    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all())
    person_id = serializers.IntegerField(min_value=0, help_text="Global person id on the live map.")
    employee = serializers.PrimaryKeyRelatedField(queryset=Employee.objects.all())


class BadgeEventSerializer(serializers.Serializer[dict[str, object]]):
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all())
    badge_id = serializers.CharField(max_length=64)
    reader_x_m = serializers.FloatField(min_value=-10_000.0, max_value=10_000.0)
    reader_y_m = serializers.FloatField(min_value=-10_000.0, max_value=10_000.0)
    time = serializers.DateTimeField(required=False, help_text="When the badge was read; default now.")


class BadgeBindingSerializer(serializers.Serializer[dict[str, object]]):
    binding = IdentityBindingSerializer()
    distance_m = serializers.FloatField()
    candidates = serializers.IntegerField(help_text="Tracked persons within the match radius.")
