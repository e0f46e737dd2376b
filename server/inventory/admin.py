"""Django admin for the inventory: the same geometry validation as the API, and audited changes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from server.analytics.floor_geometry import GeometryError, validate_polygon
from server.audit.admin_base import AuditedModelAdmin
from server.devices.services import device_bump_config_revision
from server.errors import FieldError
from server.inventory.models import (
    LINE_KINDS,
    Camera,
    FloorPlan,
    Site,
    Zone,
    secret_query_names,
    split_secret_query,
    split_source_credentials,
)
from server.inventory.services import calibration_from_points, validate_polyline


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
    list_display = ("id", "name", "site", "kind", "required_level", "warning_distance_m")
    list_filter = ("site", "kind")
    search_fields = ("name",)
