"""Every answer under /api/ is the API's JSON error shape `{"message", "code", "extra"}`, also for the errors that
happen outside DRF's views: an unknown path (404), a CSRF failure (403), a body over the size limit (413), deeply
nested JSON and any server error (500, never Django's HTML or debug page, even with DEBUG on)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from redis.exceptions import RedisError

from server.api.parsers import MAX_JSON_DEPTH, too_large_message

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_GENERIC: dict[int, tuple[str, str]] = {
    400: ("Bad request.", "bad_request"),
    401: ("Authentication credentials were not provided.", "not_authenticated"),
    403: ("You do not have permission to perform this action.", "permission_denied"),
    404: ("Not found.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    413: ("The request body is too large.", "request_too_large"),
    429: ("Too many requests.", "throttled"),
    500: ("Internal server error.", "server_error"),
    503: ("The service is unavailable.", "unavailable"),
}


def error_response(status: int, message: str | None = None, code: str | None = None) -> JsonResponse:
    generic_message, generic_code = _GENERIC.get(status, _GENERIC[500] if status >= 500 else _GENERIC[400])
    return JsonResponse(
        {"message": message or generic_message, "code": code or generic_code, "extra": {}}, status=status
    )


def _is_json(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith("application/json")


def _kept_headers(response: HttpResponse) -> dict[str, str]:
    return {name: str(response[name]) for name in ("Retry-After", "Allow") if name in response}


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400 or _is_json(response):
            return response
        data = getattr(response, "data", None)  # a DRF error rendered by a view's non-JSON renderer (schema)
        if isinstance(data, dict) and {"message", "code", "extra"} <= data.keys():
            # Only the shape's keys: a template renderer adds its own (`status_code`) to the data.
            body = {key: data[key] for key in ("message", "code", "extra")}
            return JsonResponse(body, status=response.status_code, headers=_kept_headers(response))
        # A non-JSON error that slipped past the handlers below (a middleware's own answer): same shape.
        return error_response(response.status_code)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Exceptions that left a view (DRF answers its own exceptions before they get here)."""
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return error_response(413, too_large_message(), "request_too_large")
        if isinstance(exception, RecursionError):
            return error_response(
                400, f"The request is nested deeper than {MAX_JSON_DEPTH} levels.", "parse_error"
            )
        if isinstance(exception, RedisError):
            # The shared cache (login limits, throttles, lockouts) does not answer: refuse clearly, fail closed.
            logger.error("Redis unavailable on %s %s: %s", request.method, request.path, exception)
            return error_response(
                503, "A backing service (Redis) is unavailable; try again in a moment.", "service_unavailable"
            )
        if isinstance(exception, SuspiciousOperation):
            logger.warning("suspicious request to %s: %s", request.path, exception)
            return error_response(400)
        logger.error("server error on %s %s", request.method, request.path, exc_info=exception)
        return error_response(500)


# Django's error handlers (root URLconf `handler400` ... and CSRF_FAILURE_VIEW): JSON under /api/, Django's own
# pages elsewhere.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return defaults.bad_request(request, exception)  # type: ignore[arg-type]
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, too_large_message(), "request_too_large")
    return error_response(400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return defaults.permission_denied(request, exception)  # type: ignore[arg-type]
    return error_response(403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return defaults.page_not_found(request, exception)  # type: ignore[arg-type]
    return error_response(404, f"No API endpoint at {request.path}.")


def server_error(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return defaults.server_error(request)
    return error_response(500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return django_csrf_failure(request, reason)
    return error_response(
        403, f"CSRF verification failed ({reason}): send the X-CSRFToken header.", "csrf_failed"
    )
