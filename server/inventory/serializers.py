"""Input/output shapes of the inventory API. Types only: the services do the domain validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from server.inventory.models import (
    Camera,
    FloorPlan,
    Site,
    Zone,
    secret_query_names,
    split_secret_query,
    split_source_credentials,
)


def point_field(help_text: str | None = None) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, help_text=help_text
    )


class SiteSerializer(serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["id", "name", "timezone", "capacity", "closing_time", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"capacity": {"min_value": 1, "max_value": 1_000_000}}


class FloorPlanSerializer(serializers.ModelSerializer[FloorPlan]):
    width_m = serializers.FloatField(
        required=False,
        min_value=0.5,
        max_value=10_000.0,
        help_text="Defaults to image width x metres_per_pixel.",
    )
    height_m = serializers.FloatField(
        required=False,
        min_value=0.5,
        max_value=10_000.0,
        help_text="Defaults to image height x metres_per_pixel.",
    )

    class Meta:
        model = FloorPlan
        fields = [
            "id",
            "site",
            "image",
            "width_m",
            "height_m",
            "metres_per_pixel",
            "origin_x_m",
            "origin_y_m",
            "heatmap_cell_m",
        ]


class CalibrationPointSerializer(serializers.Serializer[dict[str, list[float]]]):
    image_px = point_field(help_text="[u, v] in the camera image, pixels.")
    floor_m = point_field(help_text="[x, y] on the floor plan, metres.")


class CameraSerializer(serializers.ModelSerializer[Camera]):
    calibration_points = CalibrationPointSerializer(
        many=True, required=False, help_text="≥ 4 non-collinear image ↔ floor point pairs; [] clears."
    )
    floor_region = serializers.ListField(
        child=point_field(),
        required=False,
        help_text="Polygon [[x_m, y_m], ...] the camera covers; [] = none.",
    )
    source_username = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Login of the source (write-only, never returned; '' clears).",
    )
    source_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        style={"input_type": "password"},
        help_text="Password of the source (write-only, never returned; '' clears).",
    )
    source_secret_query = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=1000,
        style={"input_type": "password"},
        help_text="The source URL's credential query parameters, e.g. `user=admin&pwd=x` (write-only, never "
        "returned; appended to the URL's query for the edge box; '' clears).",
    )
    source_has_credentials = serializers.BooleanField(
        read_only=True,
        help_text="Whether a source username, password, secret query or secret parameter is stored.",
    )
    source_secret_query_names = serializers.SerializerMethodField(
        help_text="Names of the stored secret query parameters (their values are never returned)."
    )
    homography = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        read_only=True,
        allow_null=True,
        help_text="3x3 image-pixel → floor-centimetre homography computed from the calibration points.",
    )
    last_frame_at = serializers.SerializerMethodField(
        help_text="Capture time of the newest frame the server stored for this camera (null: none yet)."
    )

    class Meta:
        model = Camera
        fields = [
            "id",
            "site",
            "device",
            "name",
            "source_uri",
            "source_username",
            "source_password",
            "source_secret_query",
            "source_has_credentials",
            "source_secret_query_names",
            "analysis_rate_hz",
            "enabled",
            "calibration_points",
            "homography",
            "reprojection_error_cm",
            "calibration_check",
            "floor_region",
            "snapshot",
            "snapshot_captured_at",
            "snapshot_requested_at",
            "snapshot_pending",
            "last_frame_at",
        ]
        read_only_fields = [
            "reprojection_error_cm",
            "calibration_check",
            "snapshot",
            "snapshot_captured_at",
            "snapshot_requested_at",
            "snapshot_pending",
        ]
        extra_kwargs = {
            "source_uri": {
                "help_text": "File path, rtsp:// URL or usb:N; a user:password@ in it is moved to "
                "source_username / source_password, credential-like query parameters (user, pwd, password, "
                "token, key, ...) to source_secret_query; neither is ever returned. A URL without them keeps "
                "the stored ones. The value of a credential-like parameter that must stay in place (a path "
                "parameter, /stream;password=x, or a ;-separated query, ?a=1;token=x) is kept apart too and "
                "returned as ***; saving *** back keeps the stored value."
            }
        }

    def to_representation(self, instance: Camera) -> dict[str, Any]:
        data = super().to_representation(instance)
        uri = split_source_credentials(str(data.get("source_uri") or ""))[0]
        data["source_uri"] = split_secret_query(uri)[0]
        return data

    def get_source_secret_query_names(self, camera: Camera) -> list[str]:
        return secret_query_names(camera.source_secret_query)

    def get_last_frame_at(self, camera: Camera) -> datetime | None:
        # The ingest's persisted stream state (select_related by camera_list), not a column written per frame.
        state = getattr(camera, "stream_state", None)
        if state is None or state.last_capture_time_us <= 0:
            return None
        return datetime.fromtimestamp(state.last_capture_time_us / 1e6, tz=UTC)


class ZoneSerializer(serializers.ModelSerializer[Zone]):
    polygon = serializers.ListField(
        child=point_field(),
        help_text="Polygon [[x_m, y_m], ...], ≥ 3 vertices; for kinds door and line a polyline of ≥ 2 points whose "
        "in side is the left of the first-to-last direction.",
    )

    class Meta:
        model = Zone
        fields = ["id", "site", "name", "kind", "polygon", "required_level", "warning_distance_m", "color"]
