from django.contrib import admin

from server.inventory.models import Camera, FloorPlan, Site, Zone


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ("id", "name", "timezone", "created_at")
    search_fields = ("name",)


@admin.register(FloorPlan)
class FloorPlanAdmin(admin.ModelAdmin[FloorPlan]):
    list_display = ("id", "site", "width_m", "height_m", "metres_per_pixel")


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin[Camera]):
    list_display = ("id", "name", "site", "device", "enabled", "reprojection_error_cm", "last_frame_at")
    list_filter = ("site", "enabled")
    search_fields = ("name", "source_uri")
    readonly_fields = ("homography", "reprojection_error_cm", "last_frame_at")


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin[Zone]):
    list_display = ("id", "name", "site", "kind", "required_level", "warning_distance_m")
    list_filter = ("site", "kind")
    search_fields = ("name",)
