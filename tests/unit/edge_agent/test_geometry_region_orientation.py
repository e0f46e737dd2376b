"""Attack: a floor region drawn around a ceiling camera, reaching behind it, orients the homography.

A pinhole camera sees only the floor in front of its principal plane; a floor point behind it maps back to a
pixel with w < 0. The region's vertices alone decided the sign: a rectangle around a camera on a pillar has two
corners behind it and two in front, the tie kept a negatively signed matrix, and the box dropped every person as
"beyond the horizon"."""

from __future__ import annotations

import numpy as np

from edge_agent.geometry import FloorProjector
from tests.unit.edge_agent.test_geometry_ceiling import FEET_CM, ceiling_camera, to_pixels

# The camera stands at (0, 0), 3 m up, looking along +y, tilted 35°: its principal plane meets the floor at
# y = -210 cm. The region reaches 3 m behind the pillar.
AROUND_THE_PILLAR_CM = np.array([[-500.0, -300.0], [500.0, -300.0], [500.0, 1200.0], [-500.0, 1200.0]])


def test_a_region_reaching_behind_the_camera_orients_a_negatively_signed_homography() -> None:
    floor_to_image = ceiling_camera()
    received = -np.linalg.inv(
        floor_to_image
    )  # the same mapping, the other sign (e.g. another tool's scaling)
    projector = FloorProjector(homography_px_to_cm=received, floor_region_cm=AROUND_THE_PILLAR_CM)
    pixels = to_pixels(floor_to_image, FEET_CM)
    boxes = np.c_[pixels[:, 0] - 20, pixels[:, 1] - 100, pixels[:, 0] + 20, pixels[:, 1]]
    floor, outside = projector.project(boxes)
    np.testing.assert_allclose(floor, FEET_CM, atol=0.5)
    assert not outside.any()
