"""Small-count suppression of heat maps and the retention policy from the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from server.retention.policy import CLASS_NAMES, RetentionConfigError, RetentionPolicy
from server.retention.suppression import suppress_heatmap

CELLS = [[0, 0, 0.4, 0.0, 0.0], [1, 0, 2.99, 0.1, 0.0], [2, 0, 3.0, 0.0, 0.2], [3, 0, 120.0, 1.0, 1.0]]


@pytest.mark.parametrize(
    ("distinct", "k", "min_s", "kept_columns", "suppressed", "range_suppressed"),
    [
        (10, 3, 1.0, [2, 3], 2, False),  # cells under 3 person-seconds go
        (10, 3, 0.1, [0, 1, 2, 3], 0, False),
        (10, 5, 1.0, [3], 3, False),
        (2, 3, 1.0, [], 4, True),  # two visitors in the range: nothing shown
        (3, 3, 1.0, [2, 3], 2, False),  # exactly k visitors is enough
        (1, 1, 1.0, [0, 1, 2, 3], 0, False),  # k = 1 turns suppression off
    ],
)
def test_suppress_heatmap(distinct, k, min_s, kept_columns, suppressed, range_suppressed):
    heat = {"cells": CELLS, "total_person_s": 126.39, "columns": 4, "rows": 1}
    result = suppress_heatmap(heat, distinct_persons=distinct, min_persons=k, min_cell_person_s=min_s)
    assert [cell[0] for cell in result["cells"]] == kept_columns
    assert result["privacy"]["suppressed_cells"] == suppressed
    assert result["privacy"]["range_suppressed"] is range_suppressed
    assert result["total_person_s"] == (0.0 if range_suppressed else 126.39)
    assert heat["cells"] is CELLS
    assert len(CELLS) == 4


def test_frames_follow_the_cell_rule_and_the_range_rule():
    heat = {
        "cells": CELLS,
        "total_person_s": 1.0,
        "frames": [{"t": "x", "cells": CELLS, "total_person_s": 1.0}],
    }
    busy = suppress_heatmap(heat, distinct_persons=9, min_persons=3, min_cell_person_s=1.0)
    assert [c[0] for c in busy["frames"][0]["cells"]] == [2, 3]
    quiet = suppress_heatmap(heat, distinct_persons=1, min_persons=3, min_cell_person_s=1.0)
    assert quiet["frames"][0]["cells"] == []
    assert quiet["frames"][0]["total_person_s"] == 0.0


def test_policy_from_settings_and_cutoffs():
    settings = SimpleNamespace(RETENTION_POSITIONS_DAYS=7, RETENTION_AUDIT_DAYS=0)
    policy = RetentionPolicy.from_settings(settings)
    assert set(policy.days) == set(CLASS_NAMES)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert policy.cutoff("positions", now) == now - timedelta(days=7)
    assert policy.cutoff("audit", now) is None  # 0: kept for ever
    assert policy.cutoff("bindings", now) == now - timedelta(days=90)  # the default
    described = {row["data_class"]: row for row in policy.describe()}
    assert described["positions"]["setting"] == "RETENTION_POSITIONS_DAYS"
    assert described["positions"]["days"] == 7


def test_dashboard_periods_replace_the_settings_and_say_so():
    settings = SimpleNamespace(RETENTION_POSITIONS_DAYS=7)
    policy = RetentionPolicy.from_settings(settings, {"positions": 3, "audit": 0, "unknown": 9})
    assert policy.days["positions"] == 3
    assert policy.cutoff("audit", datetime(2026, 12, 1, tzinfo=UTC)) is None
    assert "unknown" not in policy.days
    described = {row["data_class"]: row for row in policy.describe()}
    assert (described["positions"]["source"], described["positions"]["environment_days"]) == ("dashboard", 7)
    assert (described["bindings"]["source"], described["bindings"]["days"]) == ("environment", 90)


def test_negative_period_is_refused():
    with pytest.raises(RetentionConfigError, match="RETENTION_ALERTS_DAYS"):
        RetentionPolicy.from_settings(SimpleNamespace(RETENTION_ALERTS_DAYS=-1))


def test_each_frame_follows_its_own_visitors():
    frames = [
        {"t": "a", "cells": CELLS, "total_person_s": 126.39},
        {"t": "b", "cells": CELLS, "total_person_s": 9.0},
    ]
    heat = {"cells": CELLS, "total_person_s": 135.39, "frames": frames}
    result = suppress_heatmap(
        heat, distinct_persons=20, min_persons=3, min_cell_person_s=1.0, frame_persons=[19, 1]
    )
    assert [c[0] for c in result["frames"][0]["cells"]] == [2, 3]
    assert result["frames"][1]["cells"] == []
    assert result["frames"][1]["suppressed"] is True
    assert result["frames"][1]["total_person_s"] == 0.0
    with pytest.raises(ValueError, match="frame visitor counts"):
        suppress_heatmap(heat, distinct_persons=20, min_persons=3, min_cell_person_s=1.0, frame_persons=[1])
