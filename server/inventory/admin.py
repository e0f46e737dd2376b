"""Django admin for the inventory: the same geometry validation as the API, and audited changes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django import forms
from django.contrib import admin
from django.http import HttpRequest

from retail_common.polygons import polygon_area
from server.analytics.floor_geometry import GeometryError, validate_polygon
from server.audit.admin_base import AuditedModelAdmin
from server.devices.services import device_bump_config_revision
from server.errors import FieldError
from server.inventory.models import (
    HIDDEN,
    LINE_KINDS,
    Camera,
    FloorPlan,
    Site,
    Zone,
    ZoneKind,
    secret_query_names,
    split_parameter_secrets,
    split_secret_query,
    split_source_credentials,
)
from server.inventory.services import (
    calibration_from_points,
    check_stored_login_stays_at_its_address,
    kept_secret_parameters,
    validate_polyline,
)


@admin.register(Site)
class SiteAdmin(AuditedModelAdmin[Site]):
    list_display = ("id", "name", "timezone", "created_at")
    search_fields = ("name",)


@admin.register(FloorPlan)
class FloorPlanAdmin(AuditedModelAdmin[FloorPlan]):
    list_display = ("id", "site", "width_m", "height_m", "metres_per_pixel")


class CameraAdminForm(forms.ModelForm[Camera]):
    """Calibration points in, homography out (computed, never typed in). The source's login is set through the
    API only (write-only there); a `user:password@` typed into the source URL is refused here."""

    class Meta:
        model = Camera
        exclude = [
            "homography",
            "reprojection_error_cm",
            "source_username",
            "source_password",
            "source_secret_query",
            "source_secret_parameters",
        ]

    def clean_source_uri(self) -> str:
        uri = str(self.cleaned_data.get("source_uri") or "")
        if split_source_credentials(uri)[1] is not None:
            raise forms.ValidationError(
                "Leave user:password@ out of the URL; set the login with source_username / source_password "
                "through the API (PATCH /api/cameras/{id})."
            )
        secret = split_secret_query(uri)[1]
        if secret:
            names = ", ".join(secret_query_names(secret))
            raise forms.ValidationError(
                f"Leave the credential query parameters ({names}) out of the URL; set them with "
                "source_secret_query through the API (PATCH /api/cameras/{id}) or the dashboard's camera form."
            )
        stored_uri, stored = "", []
        if self.instance.pk:
            stored_uri, stored = self.instance.source_uri, list(self.instance.source_secret_parameters or [])
        typed = split_parameter_secrets(uri)[1]
        uri, parameters = kept_secret_parameters(uri, stored_uri, stored)
        if any(value != HIDDEN for value in typed) or HIDDEN in parameters:
            raise forms.ValidationError(
                "Write the value of a credential-like ;-separated parameter as *** here, for a parameter that has "
                "one stored; set the URL with new values through the API (PATCH /api/cameras/{id}) or the "
                "dashboard's camera form."
            )
        if self.instance.pk:
            kept = ["*** parameters"] if parameters else []
            if self.instance.source_username or self.instance.source_password:
                kept.append("login")
            if self.instance.source_secret_query:
                kept.append("secret URL parameters")
            try:
                check_stored_login_stays_at_its_address(stored_uri, uri, kept)
            except FieldError as err:
                raise forms.ValidationError(
                    f"{err.message} (through the API: PATCH /api/cameras/{{id}})"
                ) from err
        self.instance.source_secret_parameters = parameters
        return uri

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        try:
            homography, error_cm = calibration_from_points(cleaned.get("calibration_points") or [])
            region = cleaned.get("floor_region") or []
            if region:
                cleaned["floor_region"] = validate_polygon(region, field="floor_region")
        except FieldError as err:  # GeometryError included
            raise forms.ValidationError({err.field: err.message}) from err
        self.instance.homography = homography
        self.instance.reprojection_error_cm = error_cm
        return cleaned


@admin.register(Camera)
class CameraAdmin(AuditedModelAdmin[Camera]):
    form = CameraAdminForm
    list_display = ("id", "name", "site", "device", "enabled", "reprojection_error_cm", "last_frame_at")
    list_filter = ("site", "enabled")
    search_fields = ("name", "source_uri")
    readonly_fields = ("homography", "reprojection_error_cm", "last_frame_at")

    def save_model(
        self, request: HttpRequest, obj: Camera, form: forms.ModelForm[Camera], change: bool
    ) -> None:
        old_device_id = Camera.objects.filter(pk=obj.pk).values_list("device_id", flat=True).first()
        super().save_model(request, obj, form, change)
        for device_id in {old_device_id, obj.device_id} - {None}:
            assert device_id is not None
            device_bump_config_revision(device_id=device_id)


NOT_APPLICABLE = "—"
# The "in" direction as drawn on the plan (x to the right, y down), by octant from +x (the dashboard's arrows).
_ARROWS = "→↘↓↙←↖↑↗"


def zone_size(kind: str, polygon: Any) -> str:
    """An area's size ("12.5 m²"); a counting line's length and the side people cross it to enter ("3.5 m, in
    ↓": left of its first-to-last direction, as server/analytics/doors.py counts it)."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if kind not in LINE_KINDS:
        return f"{abs(polygon_area(points)):.1f} m²" if len(points) >= 3 else NOT_APPLICABLE
    if len(points) < 2:
        return NOT_APPLICABLE
    length = float(np.hypot(*np.diff(points, axis=0).T).sum())
    dx, dy = points[-1] - points[0]
    if dx == 0 and dy == 0:
        return f"{length:.1f} m"
    octant = round(math.atan2(dx, -dy) / (math.pi / 4))  # the in direction (-dy, dx): atan2(dx, -dy)
    return f"{length:.1f} m, in {_ARROWS[octant % 8]}"


class ZoneAdminForm(forms.ModelForm[Zone]):
    class Meta:
        model = Zone
        fields = "__all__"

    def clean_polygon(self) -> list[list[float]]:
        try:
            if self.data.get("kind") in LINE_KINDS:
                return validate_polyline(self.cleaned_data.get("polygon"), field="polygon")
            return validate_polygon(self.cleaned_data.get("polygon"), field="polygon")
        except GeometryError as err:
            raise forms.ValidationError(err.message) from err


@admin.register(Zone)
class ZoneAdmin(AuditedModelAdmin[Zone]):
    form = ZoneAdminForm
    # A counting line (door, line) has no area, level nor warning distance: its row shows its length and "in"
    # direction instead of a meaningless 0 (zone_size), and "—" in the restricted areas' columns.
    list_display = ("id", "name", "site", "kind", "size", "level", "warning_distance")
    list_filter = ("site", "kind")
    search_fields = ("name",)

    @admin.display(description="size")
    def size(self, zone: Zone) -> str:
        return zone_size(zone.kind, zone.polygon)

    @admin.display(description="required level", ordering="required_level")
    def level(self, zone: Zone) -> str:
        return str(zone.required_level) if zone.kind == ZoneKind.RESTRICTED else NOT_APPLICABLE

    @admin.display(description="warning distance (m)", ordering="warning_distance_m")
    def warning_distance(self, zone: Zone) -> str:
        return f"{zone.warning_distance_m:g}" if zone.kind == ZoneKind.RESTRICTED else NOT_APPLICABLE
