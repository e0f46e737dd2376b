from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from server.devices.models import EdgeDevice
from server.devices.selectors import device_connected_camera_ids, device_is_online
from server.devices.services import MAX_TOKEN_LIFETIME


class EdgeDeviceSerializer(serializers.ModelSerializer[EdgeDevice]):
    enrolled = serializers.SerializerMethodField()
    revoked = serializers.SerializerMethodField()
    token_pending = serializers.SerializerMethodField(
        help_text="An unused, unexpired enrollment token exists."
    )
    cameras: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    online = serializers.SerializerMethodField(
        help_text="Not revoked, and a heartbeat within the last 30 s (three heartbeat intervals)."
    )
    connected_cameras = serializers.SerializerMethodField(
        help_text="Cameras whose source delivers frames: the box is online and its last heartbeat says so."
    )

    class Meta:
        model = EdgeDevice
        fields = [
            "id",
            "site",
            "name",
            "enrolled",
            "enrolled_at",
            "revoked",
            "revoked_at",
            "token_pending",
            "enrollment_token_expires_at",
            "hostname",
            "software_version",
            "last_seen_at",
            "health",
            "config_revision",
            "cameras",
            "online",
            "connected_cameras",
            "created_at",
        ]
        read_only_fields = [
            "site",
            "enrolled_at",
            "revoked_at",
            "enrollment_token_expires_at",
            "hostname",
            "software_version",
            "last_seen_at",
            "health",
            "config_revision",
            "created_at",
        ]

    def get_enrolled(self, device: EdgeDevice) -> bool:
        return bool(device.secret_hash)

    def get_revoked(self, device: EdgeDevice) -> bool:
        return device.revoked_at is not None

    def get_online(self, device: EdgeDevice) -> bool:
        return device_is_online(device, now=timezone.now())

    def get_connected_cameras(self, device: EdgeDevice) -> list[int]:
        return device_connected_camera_ids(device, now=timezone.now())

    def get_token_pending(self, device: EdgeDevice) -> bool:
        expires_at = device.enrollment_token_expires_at
        return bool(device.enrollment_token_hash) and expires_at is not None and expires_at > timezone.now()


class EnrollmentTokenInputSerializer(serializers.Serializer[dict[str, float]]):
    lifetime_h = serializers.FloatField(
        required=False,
        default=24.0,
        min_value=0.01,
        max_value=MAX_TOKEN_LIFETIME.total_seconds() / 3600,
        help_text="Hours the one-time token stays valid.",
    )


class EdgeDeviceCreateSerializer(serializers.ModelSerializer[EdgeDevice]):
    lifetime_h = serializers.FloatField(
        required=False,
        default=24.0,
        min_value=0.01,
        max_value=MAX_TOKEN_LIFETIME.total_seconds() / 3600,
        write_only=True,
        help_text="Hours the one-time enrollment token stays valid.",
    )

    class Meta:
        model = EdgeDevice
        fields = ["site", "name", "lifetime_h"]


class EnrollmentTokenSerializer(serializers.Serializer[dict[str, object]]):
    """The one-time token: shown in this response only, never again (only its hash is stored)."""

    device_id = serializers.IntegerField()
    enrollment_token = serializers.CharField()
    enrollment_token_expires_at = serializers.DateTimeField()


class EdgeDeviceCreatedSerializer(EdgeDeviceSerializer):
    enrollment_token = serializers.CharField(
        read_only=True, help_text="Shown once; give it to the installer."
    )

    class Meta(EdgeDeviceSerializer.Meta):
        fields = [*EdgeDeviceSerializer.Meta.fields, "enrollment_token"]
