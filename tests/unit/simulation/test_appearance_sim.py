"""The simulator's appearance cue: descriptors as an edge sends them, without touching the rest of a run."""

from __future__ import annotations

import numpy as np

from server.fusion.appearance import similarity, unpack
from simulation import SimulationConfig, simulate
from simulation.appearance import CameraAppearance, dress
from simulation.simulator import STATE_LOST


def test_descriptors_change_nothing_else_and_are_sent_on_first_sighting_and_change_only() -> None:
    config = SimulationConfig(seed=3, people=12, duration_s=30.0)
    plain = simulate(SimulationConfig(seed=3, people=12, duration_s=30.0, appearance=False))
    coloured = simulate(config)
    assert len(plain.frames) == len(coloured.frames)
    for a, b in zip(plain.frames, coloured.frames, strict=True):
        assert np.array_equal(a.local_ids, b.local_ids)
        assert np.array_equal(a.floor_xy_cm, b.floor_xy_cm)
        assert a.appearance_rows.size == 0
    sent = sum(frame.appearance_rows.size for frame in coloured.frames)
    detected = sum(int((frame.states != STATE_LOST).sum()) for frame in coloured.frames)
    assert 0 < sent < detected / 4  # on change, not per frame
    first: dict[tuple[int, int], int] = {}
    described: set[tuple[int, int]] = set()
    for frame in sorted(coloured.frames, key=lambda f: (f.camera_id, f.sequence)):
        for row in frame.appearance_rows.tolist():
            described.add((frame.camera_id, int(frame.local_ids[row])))
            assert frame.states[row] != STATE_LOST
        for local in frame.local_ids.tolist():
            first.setdefault((frame.camera_id, local), frame.sequence)
    assert len(described) >= 0.9 * len(first)


def test_uniforms_make_look_alikes_and_cameras_cast_colours() -> None:
    from server.analytics.types import PersonIdentity
    from simulation.people import SimPerson

    people = [
        SimPerson(
            i,
            PersonIdentity(1000 + i, "e", 1) if i <= 3 else PersonIdentity(),
            None,
            np.zeros(2),
            np.zeros((2, 2)),
        )
        for i in range(1, 21)
    ]
    clothing = dress(people, seed=5, uniform_fraction=0.15)
    staff = [clothing[i] for i in (1, 2, 3)]
    assert min(float(np.minimum(staff[0], s).sum(axis=1).mean()) for s in staff[1:]) > 0.85
    boxes = np.array([[100, 100, 60, 200]], dtype=np.int64)
    one, two = CameraAppearance(1, 5), CameraAppearance(2, 5)
    a = one.measure(clothing[5][None], boxes)
    b = two.measure(clothing[5][None], boxes)
    same = similarity(a[0].astype(np.float32), b[0].astype(np.float32))
    assert same is not None
    assert 0.3 < same < 0.99  # the same clothes, seen through two casts and noise
    small = one.measure(clothing[5][None], np.array([[100, 100, 20, 45]], dtype=np.int64))
    assert not small.any()  # too small to measure
    rows, packed = one.send([7], a, 0.0, [])
    assert rows == [0]
    assert unpack(packed).shape == (1, 2, 16)
    assert one.send([7], a, 0.1, [])[0] == []  # unchanged: nothing sent
