"""The API's JSON parser: DRF's, bounded in size and nesting so that no body can turn into a 500.

A body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 `request_too_large`; JSON nested deeper than
`MAX_JSON_DEPTH` (or so deep that the decoder runs out of stack) answers 400 `parse_error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, parsers

MAX_JSON_DEPTH = 64


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def body_limit_bytes() -> int | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def too_large_message() -> str:
    limit = body_limit_bytes()
    return f"The request body is larger than {limit:,} bytes." if limit else "The request body is too large."


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = body_limit_bytes()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(too_large_message())
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_no_constant)
        except RecursionError as err:
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"
            ) from err
        except ValueError as err:
            raise exceptions.ParseError(f"JSON parse error - {err}") from err
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
