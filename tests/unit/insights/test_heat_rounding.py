"""The heat map's values rounded to 0.01 on whole arrays are Python's round(value, 2), to the bit, including the
values whose scaled product NumPy alone would round the other way."""

from __future__ import annotations

import numpy as np
import pytest

from server.insights.heat_cells import rounded_cents


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, 0.0),
        (-0.0, -0.0),
        (2.675, 2.67),  # 2.67499999... in binary: Python rounds down
        (1.005, 1.0),  # 1.00499999...
        (0.125, 0.12),  # an exact half: to even
        (0.375, 0.38),
        (-2.675, -2.67),
        (-0.001, -0.0),
        (1234567.125, 1234567.12),
        (19.999, 20.0),
    ],
)
def test_round_cents_as_python(value: float, expected: float) -> None:
    (rounded,) = rounded_cents(np.array([value])).tolist()
    assert rounded == round(value, 2) == expected
    assert repr(rounded) == repr(round(value, 2))  # -0.0 stays -0.0


def test_round_cents_on_many_values() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.gamma(0.3, 20.0, 200_000),
            rng.normal(0.0, 3.0, 200_000),
            (rng.integers(-100_000, 100_000, 200_000) + 0.5) / 100,  # half cents, the undecided ones
            rng.gamma(0.3, 20.0, 200_000).astype(np.float32).astype(np.float64).cumsum() / 1000,
        ]
    )
    rounded = rounded_cents(values).tolist()
    expected = [round(float(v), 2) for v in values]
    assert [repr(v) for v in rounded] == [repr(v) for v in expected]
