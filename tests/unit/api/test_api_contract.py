"""Pure checks of the API plumbing: the permission each request needs, the error body, calibration input."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from rest_framework import exceptions
from rest_framework.test import APIRequestFactory

from server import errors
from server.analytics.errors import AnalyticsConfigError
from server.analytics.floor_geometry import GeometryError
from server.api.exception_handlers import api_exception_handler
from server.api.permissions import required_permissions
from server.devices.services import DeviceError, EnrollmentRejected
from server.errors import ApplicationError, ConflictError, FieldError, NotFoundError
from server.fusion.errors import FusionInputError
from server.ingest.validation import InvalidFrameError, Rejection
from server.inventory.models import Camera
from server.inventory.services import calibration_from_points
from server.timeseries.errors import TimeSeriesError

factory = APIRequestFactory()


def _view(action: str | None, declared: dict[str, tuple[str, ...]] | None = None, model: Any = Camera) -> Any:
    return SimpleNamespace(
        action=action,
        required_permissions=declared or {},
        queryset=None if model is None else SimpleNamespace(model=model),
    )


@pytest.mark.parametrize(
    ("method", "action", "declared", "expected"),
    [
        ("get", "list", None, ("inventory.view_camera",)),
        ("get", "retrieve", None, ("inventory.view_camera",)),
        ("post", "create", None, ("inventory.add_camera",)),
        ("put", "update", None, ("inventory.change_camera",)),
        ("patch", "partial_update", None, ("inventory.change_camera",)),
        ("delete", "destroy", None, ("inventory.delete_camera",)),
        ("options", "metadata", None, ("inventory.view_camera",)),
        ("post", "revoke", {"revoke": ("devices.change_edgedevice",)}, ("devices.change_edgedevice",)),
        ("post", "undeclared_action", None, None),
        ("get", None, None, ("inventory.view_camera",)),
        ("put", None, {"PUT": ("alerts.change_sirenstate",)}, ("alerts.change_sirenstate",)),
    ],
)
def test_required_permissions(
    method: str,
    action: str | None,
    declared: dict[str, tuple[str, ...]] | None,
    expected: tuple[str, ...] | None,
) -> None:
    request = getattr(factory, method)("/api/x")
    request.method = method.upper()
    assert required_permissions(request, _view(action, declared)) == expected


def test_a_view_without_model_or_declaration_requires_nothing_known() -> None:
    request = factory.get("/api/x")
    assert required_permissions(request, _view(None, None, model=None)) is None


@pytest.mark.parametrize(
    ("error", "status", "code", "fields"),
    [
        (
            GeometryError("polygon", "polygon has zero area"),
            400,
            "invalid_geometry",
            {"polygon": ["polygon has zero area"]},
        ),
        (
            FieldError("badge_id", "unknown", code="unknown_badge"),
            400,
            "unknown_badge",
            {"badge_id": ["unknown"]},
        ),
        (exceptions.ValidationError({"name": ["required"]}), 400, "invalid", {"name": ["required"]}),
        (exceptions.ValidationError(["bad"]), 400, "invalid", {"non_field_errors": ["bad"]}),
        (
            ApplicationError("gone", code="no_person_near_reader", status_code=404),
            404,
            "no_person_near_reader",
            None,
        ),
        (DeviceError("token lifetime must be positive"), 400, "device_error", None),
        (EnrollmentRejected("Unknown or already used enrollment token."), 400, "enrollment_rejected", None),
        (ApplicationError("later", code="unavailable", status_code=503), 503, "unavailable", None),
        (NotFoundError("no such badge"), 404, "not_found", None),
        (ConflictError("already bound", code="already_bound"), 409, "already_bound", None),
        (exceptions.NotAuthenticated(), 403, "not_authenticated", None),
        (exceptions.PermissionDenied(), 403, "permission_denied", None),
    ],
)
def test_error_body(error: Exception, status: int, code: str, fields: dict[str, list[str]] | None) -> None:
    request = factory.get("/api/x")
    response = api_exception_handler(error, {"request": request, "view": None})
    assert response is not None
    assert response.status_code in {status, 401}
    assert set(response.data) == {"message", "code", "extra"}
    assert response.data["code"] == code
    if fields is not None:
        assert response.data["extra"]["fields"] == fields


def test_unexpected_errors_are_left_to_django() -> None:
    assert api_exception_handler(RuntimeError("boom"), {"request": None, "view": None}) is None


@pytest.mark.parametrize(
    "error",
    [errors.Error("boom"), FusionInputError("NaN in xy"), TimeSeriesError("down", code="connection")],
)
def test_internal_errors_of_the_family_are_left_to_django(error: errors.Error) -> None:
    """A fault of the server (the pure cores' errors included) is the API's generic, logged 500, not shown."""
    assert api_exception_handler(error, {"request": None, "view": None}) is None


@pytest.mark.parametrize(
    "error_type",
    [
        ApplicationError,
        DeviceError,
        GeometryError,
        InvalidFrameError,
        FusionInputError,
        AnalyticsConfigError,
        TimeSeriesError,
    ],
)
def test_every_typed_error_is_of_the_one_family(error_type: type[Exception]) -> None:
    assert issubclass(error_type, errors.Error)


def test_each_error_carries_message_code_and_extra() -> None:
    geometry = GeometryError("polygon", "polygon has zero area")
    assert (geometry.message, geometry.code, geometry.extra, geometry.status_code) == (
        "polygon has zero area",
        "invalid_geometry",
        {"fields": {"polygon": ["polygon has zero area"]}},
        400,
    )
    assert isinstance(geometry, ValueError)  # callers that catch ValueError still do
    frame = InvalidFrameError(Rejection.OUT_OF_WINDOW, "capture time off the clock")
    assert (frame.message, frame.code, frame.extra) == (
        "capture time off the clock",
        "failed_precondition",
        {},
    )
    assert str(FusionInputError("NaN in xy")) == "[invalid_observations] NaN in xy"
    assert str(EnrollmentRejected("expired")) == "expired"  # what the device is told


def _pairs(image: list[list[float]], floor: list[list[float]]) -> list[dict[str, list[float]]]:
    return [{"image_px": i, "floor_m": f} for i, f in zip(image, floor, strict=True)]


SQUARE_IMAGE = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]]
SQUARE_FLOOR = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("points", "error"),
    [
        ([], None),
        (_pairs(SQUARE_IMAGE, SQUARE_FLOOR), None),
        (_pairs(SQUARE_IMAGE[:3], SQUARE_FLOOR[:3]), "at least 4"),
        (_pairs([[0, 0], [1, 1], [2, 2], [3, 3]], SQUARE_FLOOR), "collinear"),
        (_pairs(SQUARE_IMAGE, [[0, 0], [0, 0], [0, 0], [0, 0]]), "collinear"),
        ([{"image_px": [0, 0]}] * 4, "image_px"),
        ([{"image_px": ["a", 0], "floor_m": [0, 0]}] * 4, "image_px"),
    ],
)
def test_calibration_from_points(points: list[dict[str, Any]], error: str | None) -> None:
    if error is not None:
        with pytest.raises((GeometryError, FieldError), match=error) as raised:
            calibration_from_points(points)
        assert getattr(raised.value, "field", None) == "calibration_points"
        return
    homography, error_cm = calibration_from_points(points)
    if not points:
        assert homography is None
        assert error_cm is None
        return
    assert homography is not None
    assert error_cm is not None
    matrix = np.array(homography)
    projected = matrix @ np.array([50.0, 50.0, 1.0])
    np.testing.assert_allclose(projected[:2] / projected[2], [50.0, 50.0], atol=1e-6)  # centimetres
    assert error_cm < 1e-6


def test_committed_rest_typescript_matches_the_openapi_schema() -> None:
    from server.api import typescript

    committed = typescript.OUTPUT
    assert committed.exists(), "run `python -m server.api.typescript`"
    fresh = typescript.render(typescript.openapi_schema())
    assert committed.read_text(encoding="utf-8") == fresh, (
        "frontend/src/api/schema.generated.ts is stale, run `python -m server.api.typescript`"
    )


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}, "[number, number]"),
        ({"type": "array", "items": {"type": "integer", "nullable": True}}, "(number | null)[]"),
        ({"allOf": [{"$ref": "#/components/schemas/ZoneKindEnum"}], "nullable": True}, "ZoneKindEnum | null"),
        ({"enum": ["a", "b", None]}, '"a" | "b"'),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "Record<string, number>"),
        ({"type": "object", "properties": {"t": {"type": "string"}}, "required": ["t"]}, "{ t: string; }"),
        ({}, "unknown"),
    ],
)
def test_openapi_schemas_become_typescript(schema: dict[str, Any], expected: str) -> None:
    from server.api.typescript import ts_type

    assert ts_type(schema) == expected


def test_a_response_component_has_every_field_and_a_request_component_its_required_ones() -> None:
    from server.api.typescript import render

    zone = {"type": "object", "properties": {"name": {"type": "string"}, "color": {"type": "string"}}}
    ts = render({"components": {"schemas": {"Zone": zone, "ZoneRequest": {**zone, "required": ["name"]}}}})
    assert "export interface Zone {\n  name: string;\n  color: string;\n}" in ts
    assert "export interface ZoneRequest {\n  name: string;\n  color?: string;\n}" in ts
