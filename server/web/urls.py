"""Client-side routes of the dashboard, and uploaded media for signed-in users. Included last in the root URLconf;
never shadows /admin/, /api/, /ws/, /static/ or /metrics: only the dashboard's own route prefixes (and
/favicon.ico) are matched."""

from django.urls import path, re_path

from server.web.views import dashboard, favicon, media

app_name = "web"

DASHBOARD_ROUTES = (
    "login",
    "live",
    "heatmap",
    "flow",
    "distancing",
    "security",
    "reports",
    "chain",
    "forbidden",
)

urlpatterns = [
    path("", dashboard, name="dashboard"),
    *[path(route, dashboard, name=f"dashboard-{route}") for route in DASHBOARD_ROUTES],
    re_path(r"^(?P<path>admin-ui(?:/[\w\-/]*)?)$", dashboard, name="dashboard-admin"),
    path("favicon.ico", favicon, name="favicon"),
    re_path(r"^media/(?P<path>.+)$", media, name="media"),
]
