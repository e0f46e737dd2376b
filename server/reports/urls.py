from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from server.reports import apis


class _Router(DefaultRouter):
    include_root_view = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = _Router()
router.register("report-schedules", apis.ReportScheduleViewSet, basename="report-schedule")

# With or without the trailing slash, as the router's paths.
urlpatterns = [
    re_path(r"^sites/(?P<site_id>[0-9]+)/reports/export/?$", apis.ExportApi.as_view(), name="reports-export"),
    re_path(r"^reports/chain/?$", apis.ChainOverviewApi.as_view(), name="reports-chain"),
    path("", include(router.urls)),
]
