"""The single-page dashboard: one HTML shell for every client-side route, with the CSRF cookie set."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

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
