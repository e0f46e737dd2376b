"""The WebSocket event contract is written once (server.realtime.events): the committed TypeScript types are what
the generator makes of it, and the consumer forwards exactly the events producers send."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NotRequired, TypedDict, get_args

import pytest

from server.realtime import events, typescript
from server.realtime.consumers import SiteConsumer, without_identities


def test_committed_typescript_matches_the_python_events(tmp_path: Path) -> None:
    fresh = tmp_path / "events.generated.ts"
    typescript.main(["--out", str(fresh)])
    committed = typescript.OUTPUT
    assert committed.exists(), "run `python -m server.realtime.typescript`"
    assert committed.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
        f"{committed.relative_to(typescript.REPO_ROOT)} is stale, run `python -m server.realtime.typescript`"
    )


def test_the_generated_types_follow_the_python_fields() -> None:
    ts = typescript.render()
    assert 'type: "live.positions";' in ts
    assert "  counters?: LiveCounters;\n" in ts  # NotRequired -> optional
    assert "  employee_id?: number | null;\n" in ts
    assert "export type Contact = [PersonId, PersonId, number];" in ts
    assert "counters.changed" not in ts


def test_a_field_the_generator_cannot_write_fails_loudly() -> None:
    class Odd(TypedDict):
        when: NotRequired[set[int]]

    with pytest.raises(typescript.UnsupportedTypeError, match="set"):
        list(typescript._interface(Odd, {}))


def _type_of(event_class: Any) -> str:
    (name,) = get_args(event_class.__annotations__["type"])
    return str(name)


def test_the_consumer_forwards_every_group_event_and_nothing_else() -> None:
    sent = {_type_of(cls).replace(".", "_") for cls in get_args(events.GroupEvent)}
    assert sent == {
        "live_positions",
        "alert_changed",
        "alerts_acknowledged",
        "siren_changed",
        "health_changed",
    }
    for handler in sent:
        assert callable(getattr(SiteConsumer, handler)), handler
    # A handler for an event no producer sends is dead code on both sides (`counters.changed` was).
    assert not hasattr(SiteConsumer, "counters_changed")


def test_without_identities_drops_names_and_employee_ids_only() -> None:
    event = events.live_positions_event(
        site_id=1,
        time_us=5,
        persons=[{"id": 1, "x_m": 1.0, "y_m": 2.0, "name": "Ann", "employee_id": 7, "zone_ids": [3]}],
        counters={"site_occupancy": 1, "zone_occupancy": {"3": 1}},
    )
    stripped = without_identities(event)
    assert stripped["persons"] == [{"id": 1, "x_m": 1.0, "y_m": 2.0, "zone_ids": [3]}]
    assert stripped["counters"] == {"site_occupancy": 1, "zone_occupancy": {"3": 1}}
    assert event["persons"][0]["name"] == "Ann"  # the shared event is not changed for the other sockets
