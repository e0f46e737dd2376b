"""One DRF exception handler: every error body is `{"message", "code", "extra"}`; field errors go in
`extra["fields"]` as `{field: [message, ...]}`. The server's errors meant for the caller
(`server.errors.ApplicationError` and its subclasses) carry that body and their status; Django's and DRF's
exceptions are translated to it. Any other exception (an internal `server.errors.Error` included) ends as the
API's generic, logged 500."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from server import errors

logger = logging.getLogger(__name__)


def _first_code(detail: Any) -> str:
    if isinstance(detail, exceptions.ErrorDetail):
        return str(detail.code)
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return "invalid"


def _plain(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


def _body(message: str, code: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, "code": code, "extra": extra or {}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.ApplicationError):
        return Response(_body(exc.message, exc.code, exc.extra), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        logger.info("integrity error answered as 409: %s", exc)
        return Response(
            _body("The change conflicts with existing data.", "conflict"), status=status.HTTP_409_CONFLICT
        )

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = _body("Validation error", _first_code(fields), {"fields": _plain(fields)})
    elif isinstance(exc, exceptions.APIException):
        response.data = _body(
            str(exc.detail), str(exc.get_codes()) if isinstance(exc.get_codes(), str) else "error"
        )
    return response
