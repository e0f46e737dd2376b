"""Content-Security-Policy on every answer (Django 5.2 has no CSP of its own): `CONTENT_SECURITY_POLICY`, with
the Swagger UI's CDN (`API_DOCS_CDN`) added for `/api/docs/`. An empty policy sends no header."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

API_DOCS_PREFIX = "/api/docs/"


def _with_source(policy: str, directives: tuple[str, ...], source: str) -> str:
    parts = []
    for part in policy.split(";"):
        name = part.strip().split(" ", 1)[0]
        parts.append(f"{part.strip()} {source}" if name in directives else part.strip())
    return "; ".join(p for p in parts if p)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        policy = str(getattr(settings, "CONTENT_SECURITY_POLICY", ""))
        self.policy = policy
        cdn = str(getattr(settings, "API_DOCS_CDN", ""))
        self.docs_policy = (
            _with_source(policy, ("script-src", "style-src", "img-src"), cdn) if cdn else policy
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            docs = request.path == API_DOCS_PREFIX.rstrip("/") or request.path.startswith(API_DOCS_PREFIX)
            response["Content-Security-Policy"] = self.docs_policy if docs else self.policy
        return response
