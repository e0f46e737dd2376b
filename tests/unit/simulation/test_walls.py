"""The simulated store's front wall: people come in and leave through the door opening, not through the wall."""

from __future__ import annotations

import numpy as np
import pytest

from server.analytics import CrossingDirection
from simulation.layout import DOOR_OPENING_Y_M, FRONT_WALL_X_M, default_store, with_front_wall
from simulation.people import SimPerson
from simulation.scenarios_identity import FAMILIES, identity_scenario
from simulation.scenarios_retail import DOOR_FAMILIES, door_scenario, door_truth, queue_scenario
from simulation.walls import APPROACH_M, Wall, route, route_knots, wall_breaches

# The door as the retail scenarios draw it: the front wall at x = 2 m, its opening y 8..12 m.
WALL_X_M = 2.0
OPENING_Y_M = (8.0, 12.0)


def _front_wall_passages(person: SimPerson) -> list[float]:
    """Where (y) the person's exact path crosses the line x = 2 m (segment by segment of its knots)."""
    passages = []
    for a, b in zip(person.xy_m[:-1], person.xy_m[1:], strict=True):
        da, db = float(a[0]) - WALL_X_M, float(b[0]) - WALL_X_M
        if da * db < 0 or (da == 0.0) != (db == 0.0):
            passages.append(float(a[1] + (b[1] - a[1]) * da / (da - db)) if da != db else float(a[1]))
    return passages


def _retail_people() -> dict[str, list[SimPerson]]:
    # One seed each (frames are the cost); doorway runs long enough for its newcomers' edit (leavers before 90 s).
    people = {
        f"{family} 1": list(
            door_scenario(family, 1, duration_s=120.0 if family == "doorway" else 60.0).people
        )
        for family in DOOR_FAMILIES
    }
    result, _ = queue_scenario(1)
    people["queue 1"] = list(result.people)
    return people


@pytest.fixture(scope="module")
def retail_people() -> dict[str, list[SimPerson]]:
    return _retail_people()


def test_no_retail_path_crosses_the_front_wall_outside_the_door(
    retail_people: dict[str, list[SimPerson]],
) -> None:
    # On the wall-less simulator about 15 % of the passages were outside the opening (a visitor leaving from the
    # checkout walked straight through the wall at y ~ 6-7, round the door line's end at y 7).
    low, high = OPENING_Y_M
    for name, people in retail_people.items():
        passages = [(p.person_id, y) for p in people for y in _front_wall_passages(p)]
        # Everyone comes in and goes out (their planned paths go on past the run's end).
        assert len(passages) >= 2 * len(people), name
        outside = [(pid, round(y, 2)) for pid, y in passages if not low + 0.15 <= y <= high - 0.15]
        assert outside == [], f"{name}: passages outside the door opening (person, y): {outside}"


def test_retail_layouts_have_the_front_wall_and_the_paths_keep_to_its_opening(
    retail_people: dict[str, list[SimPerson]],
) -> None:
    (wall,) = with_front_wall(default_store(2)).walls
    assert wall.start_m[0] == wall.end_m[0] == WALL_X_M == FRONT_WALL_X_M
    assert wall.openings_m == (OPENING_Y_M,) == (DOOR_OPENING_Y_M,)
    for name, people in retail_people.items():
        assert all(wall_breaches(wall, p.xy_m, clearance_m=0.15) == [] for p in people), name


def test_groups_walk_through_the_door_side_by_side(retail_people: dict[str, list[SimPerson]]) -> None:
    # A group passes the door in its formation: each member where the first passes, offset by its own place.
    groups: dict[int, list[SimPerson]] = {}
    for person in retail_people["groups 1"]:
        if person.group_id is not None:
            groups.setdefault(person.group_id, []).append(person)
    assert len(groups) >= 5
    for members in groups.values():
        first = _front_wall_passages(members[0])
        for member in members[1:]:
            offset_y = float(np.median(member.xy_m[:, 1] - members[0].xy_m[:, 1]))
            np.testing.assert_allclose(_front_wall_passages(member), np.array(first) + offset_y, atol=0.4)


def test_back_and_forth_still_hesitates_and_turns_back_in_the_doorway(
    retail_people: dict[str, list[SimPerson]],
) -> None:
    patterns = {tuple(door_truth(p, 60.0)) for p in retail_people["back_forth 1"]}
    in_, out = CrossingDirection.IN, CrossingDirection.OUT
    assert (in_, out, in_) in patterns or (in_, out, in_, out) in patterns  # in 1.5 m, back out, in again


def test_a_walk_from_the_checkout_to_the_street_goes_through_the_door() -> None:
    wall = with_front_wall(default_store(2)).walls[0]
    checkout, street = np.array([5.0, 2.0]), np.array([0.4, 10.0])
    assert wall_breaches(wall, np.array([checkout, street])) != []  # straight: through the wall at y 7.2
    via = route(checkout, street, (wall,))
    np.testing.assert_allclose(via, [[WALL_X_M + APPROACH_M, 8.25], [WALL_X_M - APPROACH_M, 8.25]])
    assert wall_breaches(wall, np.array([checkout, *via, street]), clearance_m=0.25) == []
    # A group 0.8 m wide passes with its farthest member clear of the jamb too.
    assert route(checkout, street, (wall,), spread_m=0.8)[0][1] == pytest.approx(8.0 + 0.25 + 0.8)
    # A walk already through the opening, or not crossing the wall, is left straight.
    assert route(np.array([0.4, 10.0]), np.array([6.0, 11.0]), (wall,)) == []
    assert route(np.array([5.0, 2.0]), np.array([9.0, 15.0]), (wall,)) == []


def test_route_knots_keeps_each_knot_time_and_shares_a_leg_by_length() -> None:
    wall = Wall((2.0, 0.0), (2.0, 20.0), openings_m=((8.0, 12.0),))
    times = np.array([0.0, 10.0, 20.0])
    xy = np.array([[5.0, 2.0], [5.0, 2.0], [0.4, 10.0]])
    routed_t, routed_xy = route_knots(times, xy, (wall,))
    assert routed_xy.shape == (5, 2)
    np.testing.assert_allclose(routed_t[[0, 1, 4]], times)
    lengths = np.hypot(*np.diff(routed_xy[1:], axis=0).T)
    np.testing.assert_allclose(np.diff(routed_t[1:]), 10.0 * lengths / lengths.sum())
    same_t, same_xy = route_knots(times, xy, ())
    assert same_t is times
    assert same_xy is xy


def test_identity_families_have_no_walls_unless_asked() -> None:
    # Walls are the door scenarios' (front_wall=True); the identity benchmark's families keep their paths.
    assert identity_scenario("doorway", 1, duration_s=5.0).layout.walls == ()
    assert identity_scenario("doorway", 1, duration_s=5.0, front_wall=True).layout.walls != ()
    assert "doorway" in FAMILIES
