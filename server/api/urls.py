"""The REST API under /api/: one router for the viewsets, plus the auth, badge-event and siren views."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from server.accounts.apis import CsrfApi, LoginApi, LogoutApi, MeApi, UserViewSet
from server.alerts.apis import AlertViewSet, QueueAlertSettingApi, SirenApi
from server.audit.apis import AuditLogViewSet
from server.devices.apis import EdgeDeviceViewSet
from server.inventory.apis import CameraViewSet, FloorPlanViewSet, SiteViewSet, ZoneViewSet
from server.notifications.apis import DeliveryViewSet, NotificationRuleViewSet
from server.people.apis import (
    BadgeEventApi,
    EmployeeViewSet,
    IdentityBindingViewSet,
    SecurityLevelViewSet,
    ZonePermissionViewSet,
)
from server.retention.apis import EmployeeEraseApi, EmployeeExportApi, RetentionApi


class ApiRouter(DefaultRouter):
    """Paths with or without a trailing slash (`/api/sites` and `/api/sites/`); no browsable root view."""

    include_root_view = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = ApiRouter()
router.register("sites", SiteViewSet, basename="site")
router.register("floor-plans", FloorPlanViewSet, basename="floor-plan")
router.register("cameras", CameraViewSet, basename="camera")
router.register("devices", EdgeDeviceViewSet, basename="device")
router.register("zones", ZoneViewSet, basename="zone")
router.register("security-levels", SecurityLevelViewSet, basename="security-level")
router.register("employees", EmployeeViewSet, basename="employee")
router.register("zone-permissions", ZonePermissionViewSet, basename="zone-permission")
router.register("identity-bindings", IdentityBindingViewSet, basename="identity-binding")
router.register("alerts", AlertViewSet, basename="alert")
router.register("audit-log", AuditLogViewSet, basename="audit-log")
router.register("users", UserViewSet, basename="user")
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")

urlpatterns = [
    path("auth/csrf", CsrfApi.as_view(), name="auth-csrf"),
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", MeApi.as_view(), name="auth-me"),
    path("badge-events", BadgeEventApi.as_view(), name="badge-events"),
    path("sites/<int:site_id>/siren", SirenApi.as_view(), name="site-siren"),
    path("zones/<int:zone_id>/queue-alert", QueueAlertSettingApi.as_view(), name="zone-queue-alert"),
    path("retention", RetentionApi.as_view(), name="retention"),
    path("employees/<int:employee_id>/export", EmployeeExportApi.as_view(), name="employee-export"),
    path("employees/<int:employee_id>/erase", EmployeeEraseApi.as_view(), name="employee-erase"),
    path("", include(router.urls)),
]
