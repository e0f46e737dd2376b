"""OpenAPI postprocessing: every operation documents the error answers it can give, in the one error shape."""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer of the API. Invalid input: `extra.fields` maps each field to its messages.",
    "properties": {
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. `not_found`."},
        "extra": {
            "type": "object",
            "additionalProperties": True,
            "description": "Details; `fields`: {field: [message, ...]} for invalid input.",
        },
    },
    "required": ["message", "code", "extra"],
}
_DESCRIPTIONS = {
    "400": "Invalid input (`extra.fields` names the fields) or a malformed / too deeply nested JSON body.",
    "403": "Not logged in (`not_authenticated`), CSRF header missing (`csrf_failed`) or outside your role.",
    "404": "No such object.",
    "409": "The change conflicts with existing data.",
    "413": "The request body is larger than the limit (`request_too_large`).",
    "429": "Too many requests or failed logins (`throttled`, `account_locked`, `too_many_attempts`); "
    "see the Retry-After header.",
}
_WRITES = {"post", "put", "patch"}


def _error(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }


def document_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add 400/403/404/409/413/429 where they apply."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = ["403"]
            if method in _WRITES or operation.get("parameters"):
                statuses.append("400")
            if "{" in path:
                statuses.append("404")
            if method in _WRITES | {"delete"}:
                statuses.append("409")
            if method in _WRITES:
                statuses.append("413")
            if path.rstrip("/").endswith(("/auth/login", "/report-schedules/{id}/send")):
                statuses.append("429")
            for status in statuses:
                operation["responses"].setdefault(status, _error(status))
    return result
