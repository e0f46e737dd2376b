from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from server.accounts.password_change import admin_password_change
from server.health.views import health

urlpatterns = [
    # Before the admin's own: its old-password check goes through the login limits (server.accounts).
    path("admin/password_change/", admin.site.admin_view(admin_password_change)),
    path("admin/", admin.site.urls),
    path("api/health", health, name="health"),
    path("api/", include("server.api.urls")),
    path("api/", include("server.insights.urls")),
    path("api/", include("server.sales.urls")),
    path("api/", include("server.reports.urls")),
    # With or without the trailing slash, like the API's other paths: Django's slash redirect was an HTML answer.
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL (no inline script under the CSP).
    re_path(r"^api/docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("server.web.urls")),
]

# Under /api/ Django's own error answers are the API's JSON shape too (server.api.middleware).
handler400 = "server.api.middleware.bad_request"
handler403 = "server.api.middleware.permission_denied"
handler404 = "server.api.middleware.page_not_found"
handler500 = "server.api.middleware.server_error"
