"""Line protocol encoding and point validation (tables of input → expected line or error)."""

from __future__ import annotations

import math

import pytest

from server.timeseries.lineprotocol import LineProtocolEncoder, format_field_value
from server.timeseries.types import FieldValue, Point
from server.timeseries.validation import point_problem

T = 1_700_000_000_123_456_789


@pytest.mark.parametrize(
    ("point", "line"),
    [
        (Point("cpu", {}, {"v": 1.5}, T), f"cpu v=1.5 {T}"),
        (Point("cpu", {"b": "2", "a": "1"}, {"v": 1}, T), f"cpu,a=1,b=2 v=1i {T}"),
        (Point("my meas,x", {}, {"v": True}, 0), "my\\ meas\\,x v=true 0"),
        (Point("m", {"k k": "v,v=v"}, {"f f": False}, -5), "m,k\\ k=v\\,v\\=v f\\ f=false -5"),
        (
            Point("m", {"site": "Zürich 東京"}, {"s": 'say "hi" \\o/'}, T),
            f'm,site=Zürich\\ 東京 s="say \\"hi\\" \\\\o/" {T}',
        ),
        (Point("m", {"empty": "", "z": "1"}, {"v": 2.0}, T), f"m,z=1 v=2.0 {T}"),
        (Point("m", {"q": 'a"b'}, {"a=b": 1e-7}, T), f'm,q=a"b a\\=b=1e-07 {T}'),
    ],
)
def test_line(point: Point, line: str) -> None:
    assert point_problem(point) is None
    encoded = LineProtocolEncoder().encode([point])
    assert encoded.body.decode() == line
    assert encoded.line_count == 1
    assert encoded.bad == ()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0i"),
        (-(2**63), "-9223372036854775808i"),
        (0.1, "0.1"),
        ("", '""'),
    ],
)
def test_field_value(value: FieldValue, text: str) -> None:
    assert format_field_value(value) == text


@pytest.mark.parametrize(
    ("point", "problem"),
    [
        (Point("", {}, {"v": 1}, T), "empty measurement"),
        (Point("#m", {}, {"v": 1}, T), "starts with '#'"),
        (Point("m\n", {}, {"v": 1}, T), "line break"),
        (Point("m", {}, {}, T), "no fields"),
        (Point("m", {}, {"v": math.nan}, T), "not finite"),
        (Point("m", {}, {"v": math.inf}, T), "not finite"),
        (Point("m", {}, {"v": 2**63}, T), "int64"),
        (Point("m", {"t": "a\\"}, {"v": 1}, T), "ends with a backslash"),
        (Point("m", {"t": "a\nb"}, {"v": 1}, T), "line break"),
        (Point("m", {"": "x"}, {"v": 1}, T), "empty tag key"),
        (Point("m", {"time": "x"}, {"v": 1}, T), "reserved"),
        (Point("m", {}, {"time": 1}, T), "reserved"),
        (Point("m", {}, {"v": [1]}, T), "unsupported type"),  # type: ignore[dict-item]
        (Point("m", {}, {"v": "x" * 70_000}, T), "longer than"),
        (Point("m", {}, {"v": 1}, 1.5), "not an integer"),  # type: ignore[arg-type]
        (Point("m", {}, {"v": 1}, 2**63), "int64"),
        (Point("m", {"t": 3}, {"v": 1}, T), "not a string"),  # type: ignore[dict-item]
    ],
)
def test_invalid_points_are_reported_by_position(point: Point, problem: str) -> None:
    reason = point_problem(point)
    assert reason is not None
    assert problem in reason
    good = Point("m", {}, {"v": 1}, T)
    encoded = LineProtocolEncoder().encode([good, point, good])
    assert [index for index, _ in encoded.bad] == [1]
    assert encoded.line_count == 2
    assert encoded.body.decode() == f"m v=1i {T}\nm v=1i {T}"


def test_series_prefix_cache_gives_same_result_for_reordered_tags() -> None:
    encoder = LineProtocolEncoder()
    first = encoder.line(Point("m", {"a": "1", "b": "2"}, {"v": 1}, 1))
    second = encoder.line(Point("m", {"b": "2", "a": "1"}, {"v": 1}, 1))
    assert first == second == "m,a=1,b=2 v=1i 1"
