"""The single-page dashboard: one HTML shell for every client-side route, with the CSRF cookie set."""

from __future__ import annotations

import logging
import posixpath

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.static import serve

from server.accounts.sites import allowed_site_ids, site_allowed
from server.inventory.models import Camera, FloorPlan
from server.web.manifest import ManifestError, load_entry_assets

logger = logging.getLogger(__name__)


@require_safe
@never_cache
@ensure_csrf_cookie
def dashboard(request: HttpRequest, path: str = "") -> HttpResponse:
    """Serve the dashboard shell; the Vue router takes `path` from the address bar."""
    try:
        assets = load_entry_assets()
    except ManifestError as err:
        logger.error("dashboard unavailable (%s): %s", err.code, err)
        return render(request, "web/not_built.html", {"message": str(err), "code": err.code}, status=503)
    return render(request, "web/index.html", {"assets": assets})


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the API docs, Django's admin): the
    dashboard's icon (the shell names it itself)."""
    return HttpResponsePermanentRedirect(static("web/favicon.svg"))


def media_site_id(path: str) -> int | None:
    """The site whose camera snapshot or floor-plan image `path` is (None: neither)."""
    for model, field in ((Camera, "snapshot"), (FloorPlan, "image")):
        site_id = model.objects.filter(**{field: path}).values_list("site_id", flat=True).first()
        if site_id is not None:
            return int(site_id)
    return None


@require_safe
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Uploaded files (floor plans, camera snapshots) for signed-in users only: snapshots show people."""
    if not request.user.is_authenticated:
        return HttpResponse("Sign in to see this file.", status=403, content_type="text/plain")
    # The path as the file server reads it (it normalises `a/./b`, `a//b`, `a/../a/b`): looked up raw, another
    # spelling of site B's snapshot got past the check.
    path = posixpath.normpath(path).lstrip("/")
    site_id = media_site_id(path)
    if site_id is None and allowed_site_ids(request.user) is not None:
        raise Http404("no such file")  # a user kept to some sites sees only files of those sites' rows
    if site_id is not None and not site_allowed(request.user, site_id):
        raise Http404("no such file")  # per-site permissions: another site's snapshot or floor plan
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    response["Cache-Control"] = "private, max-age=60"
    return response
