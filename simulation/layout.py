"""The simulated store: floor plan, zones and cameras.

``default_store``: the original cameras, mounted 5-9 m high behind the store's walls and looking at its
centre, each trusted for a rectangle of the floor, with floor noise growing with the distance (the
"overhead" family). ``ceiling_store``: pinhole cameras as real stores mount them (2.5-4 m, tilted 20-60°,
optionally with lens distortion left uncorrected), placed in rows so that their views tile the floor; what
they see and report follows from the camera model (:mod:`simulation.cameras`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from server.analytics.geometry import FloatArray
from server.analytics.types import FloorGrid, Zone, ZoneKind
from simulation.cameras import PinholeCamera
from simulation.walls import Wall

IMAGE_WIDTH_PX = 1280
IMAGE_HEIGHT_PX = 720
PERSON_HEIGHT_M = 1.7
PERSON_RADIUS_M = 0.25


@dataclass(frozen=True)
class VirtualCamera:
    """A pinhole camera above the floor; ``floor_region_m`` (x0, y0, x1, y1) is the floor it sees.

    With ``pinhole`` set, that model decides what the camera sees and reports (``floor_region_m`` is then
    only where false positives may appear); ``position_m``, ``look_at_m`` and ``focal_px`` are ignored."""

    camera_id: int
    position_m: tuple[float, float, float]
    look_at_m: tuple[float, float]
    floor_region_m: tuple[float, float, float, float]
    focal_px: float = 900.0
    pinhole: PinholeCamera | None = None

    def projection(self) -> FloatArray:
        """3x4 matrix P = K [R | t] mapping floor-frame points (x, y, z up) to image pixels."""
        eye = np.array(self.position_m, dtype=np.float64)
        target = np.array([self.look_at_m[0], self.look_at_m[1], 0.0])
        forward = target - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])
        translation = -rotation @ eye
        intrinsics = np.array(
            [
                [self.focal_px, 0.0, IMAGE_WIDTH_PX / 2],
                [0.0, self.focal_px, IMAGE_HEIGHT_PX / 2],
                [0.0, 0.0, 1.0],
            ]
        )
        result: FloatArray = intrinsics @ np.hstack([rotation, translation[:, None]])
        return result

    def homography_floor_to_image(self) -> FloatArray:
        """3x3 homography from floor metres (z = 0) to image pixels."""
        p = self.projection()
        matrix: FloatArray = p[:, [0, 1, 3]]
        result: FloatArray = matrix / matrix[2, 2]
        return result

    def homography_image_to_floor(self) -> FloatArray:
        """3x3 homography from image pixels to floor metres (what the installer's calibration computes)."""
        inverse = np.asarray(np.linalg.inv(self.homography_floor_to_image()), dtype=np.float64)
        result: FloatArray = inverse / inverse[2, 2]
        return result

    def sees(self, xy_m: FloatArray) -> np.ndarray:  # type: ignore[type-arg]
        """Boolean mask: the floor points lie in this camera's floor region (pinhole: the detector finds a
        person standing there)."""
        if self.pinhole is not None:
            return self.pinhole.detectable(xy_m)
        x0, y0, x1, y1 = self.floor_region_m
        return (xy_m[:, 0] >= x0) & (xy_m[:, 0] <= x1) & (xy_m[:, 1] >= y0) & (xy_m[:, 1] <= y1)

    def person_boxes_px(self, xy_m: FloatArray) -> FloatArray:
        """(N, 4) boxes x, y, w, h in pixels: projections of an upright person cylinder at each point."""
        if self.pinhole is not None:
            return self.pinhole.person_boxes_px(xy_m)
        n = xy_m.shape[0]
        if n == 0:
            return np.zeros((0, 4))
        angles = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * PERSON_RADIUS_M
        points = xy_m[:, None, :] + ring[None, :, :]
        heights = np.array([0.0, PERSON_HEIGHT_M])
        xyz = np.concatenate(
            [np.concatenate([points, np.full((n, 8, 1), h)], axis=2) for h in heights], axis=1
        )  # (N, 16, 3)
        homogeneous = np.concatenate([xyz, np.ones((n, 16, 1))], axis=2) @ self.projection().T
        pixels = homogeneous[..., :2] / np.maximum(homogeneous[..., 2:3], 1e-6)
        low = pixels.min(axis=1)
        high = pixels.max(axis=1)
        return np.concatenate([low, np.maximum(high - low, 1.0)], axis=1)


@dataclass(frozen=True)
class StoreLayout:
    """Floor rectangle, zones, cameras and the entrance point where people appear and leave; ``walls``: walls
    that people pass only through their openings (none: people walk straight across the floor)."""

    width_m: float
    height_m: float
    zones: tuple[Zone, ...]
    cameras: tuple[VirtualCamera, ...]
    entrance_xy_m: tuple[float, float]
    walls: tuple[Wall, ...] = ()

    def grid(self, cell_m: float = 0.5) -> FloorGrid:
        """The heat-map grid covering the whole floor."""
        return FloorGrid(0.0, 0.0, self.width_m, self.height_m, cell_m)

    def zone(self, zone_id: int) -> Zone:
        """Zone by id."""
        return next(z for z in self.zones if z.zone_id == zone_id)


def _rect(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


ENTRANCE_ZONE_ID = 1
CHECKOUT_ZONE_ID = 2
STOCK_ROOM_ZONE_ID = 9
STOCK_ROOM_LEVEL = 2


def default_store(camera_count: int = 2) -> StoreLayout:
    """A 30 x 20 m store with an entrance, a checkout queue, five areas of interest and a stock room.

    ``camera_count`` 2: two cameras covering x 0..17 and 13..30 (4 m overlap). 4: four quadrant cameras with
    4 m overlaps in both directions. 1: one camera sees everything.
    """
    zones = (
        Zone(ENTRANCE_ZONE_ID, "Entrance", ZoneKind.ENTRANCE, _rect(0.0, 8.0, 2.0, 12.0)),
        Zone(CHECKOUT_ZONE_ID, "Checkout", ZoneKind.QUEUE, _rect(3.0, 0.5, 9.0, 3.5)),
        Zone(3, "Electronics", ZoneKind.INTEREST, _rect(5.0, 14.0, 11.0, 18.0)),
        Zone(4, "Clothing", ZoneKind.INTEREST, _rect(13.0, 14.0, 19.0, 18.0)),
        Zone(5, "Groceries", ZoneKind.INTEREST, _rect(13.0, 3.0, 19.0, 7.0)),
        Zone(6, "Promotions", ZoneKind.INTEREST, _rect(21.0, 2.0, 27.0, 7.0)),
        Zone(7, "Books", ZoneKind.INTEREST, _rect(20.0, 9.5, 24.0, 12.5)),
        Zone(
            STOCK_ROOM_ZONE_ID,
            "Stock room",
            ZoneKind.RESTRICTED,
            _rect(26.0, 14.0, 30.0, 20.0),
            required_level=STOCK_ROOM_LEVEL,
            warning_distance_m=1.5,
        ),
    )
    cameras: list[VirtualCamera]
    if camera_count == 1:
        cameras = [VirtualCamera(1, (15.0, -6.0, 9.0), (15.0, 10.0), (0.0, 0.0, 30.0, 20.0), focal_px=600.0)]
    elif camera_count == 2:
        cameras = [
            VirtualCamera(1, (8.5, -4.0, 6.0), (8.5, 10.0), (0.0, 0.0, 17.0, 20.0)),
            VirtualCamera(2, (21.5, 24.0, 6.0), (21.5, 10.0), (13.0, 0.0, 30.0, 20.0)),
        ]
    elif camera_count == 4:
        cameras = [
            VirtualCamera(1, (8.5, -4.0, 5.0), (8.5, 6.0), (0.0, 0.0, 17.0, 12.0)),
            VirtualCamera(2, (21.5, -4.0, 5.0), (21.5, 6.0), (13.0, 0.0, 30.0, 12.0)),
            VirtualCamera(3, (8.5, 24.0, 5.0), (8.5, 14.0), (0.0, 8.0, 17.0, 20.0)),
            VirtualCamera(4, (21.5, 24.0, 5.0), (21.5, 14.0), (13.0, 8.0, 30.0, 20.0)),
        ]
    else:
        raise ValueError(f"camera_count must be 1, 2 or 4, got {camera_count}")
    return StoreLayout(30.0, 20.0, zones, tuple(cameras), entrance_xy_m=(0.4, 10.0))


# The store's front wall (x = 2 m, the inner edge of the entrance zone) and its door opening: the entrance
# zone's 4 m (y 8..12), inside the door line (y 7..13 of simulation.scenarios_retail.DOOR, which reaches 1 m past
# each jamb as an installer draws it). The entrance point (0.4, 10) is 1.6 m outside it.
FRONT_WALL_X_M = 2.0
DOOR_OPENING_Y_M = (8.0, 12.0)


def with_front_wall(layout: StoreLayout) -> StoreLayout:
    """``layout`` with its front wall: people come in and leave through the door opening, not through the wall
    beside it (without it, a visitor leaving from the checkout walks straight through the wall at y ~ 6-7)."""
    wall = Wall((FRONT_WALL_X_M, 0.0), (FRONT_WALL_X_M, layout.height_m), openings_m=(DOOR_OPENING_Y_M,))
    return dataclasses.replace(layout, walls=(*layout.walls, wall))


def ceiling_store(
    *,
    height_m: float = 3.0,
    tilt_deg: float = 35.0,
    hfov_deg: float = 90.0,
    image_px: tuple[int, int] = (1280, 720),
    k1: float = 0.0,
    k2: float = 0.0,
    distortion_corrected: bool = True,
) -> StoreLayout:
    """The store of ``default_store`` watched by ceiling pinhole cameras.

    Rows of cameras hang at ``height_m`` looking along +y, the first on the front wall and each next one
    where the previous row's view (nearest to farthest floor distance at which a person's box is at least
    40 px tall) is 80 % used, plus one row on the back wall looking along -y (it covers the front row's
    blind band under the cameras). Columns are spaced so that neighbouring views overlap by ~15 % a quarter
    of the way into them."""
    base = default_store(2)
    width_px, height_px = image_px

    def camera_at(x: float, y: float, yaw: float) -> PinholeCamera:
        return PinholeCamera(
            (x, y, height_m),
            tilt_deg=tilt_deg,
            yaw_deg=yaw,
            hfov_deg=hfov_deg,
            width_px=width_px,
            height_px=height_px,
            k1=k1,
            k2=k2,
            distortion_corrected=distortion_corrected,
        )

    near, far = camera_at(0.0, 0.0, 90.0).view_depth_m()
    near = max(near, 0.0)
    tilt = np.radians(tilt_deg)
    quarter = near + 0.25 * (far - near)
    depth = quarter * np.cos(tilt) + height_m * np.sin(tilt)
    spacing = 2.0 * 0.85 * depth * np.tan(np.radians(hfov_deg) / 2)
    columns = max(1, int(np.ceil(base.width_m / spacing)))
    xs = [(j + 0.5) * base.width_m / columns for j in range(columns)]
    rows = [0.2]
    while rows[-1] + far < base.height_m:
        rows.append(rows[-1] + 0.8 * (far - near))
    pinholes = [camera_at(x, y, 90.0) for y in rows for x in xs]
    pinholes += [camera_at(x, base.height_m - 0.2, 270.0) for x in xs]
    cameras = tuple(
        VirtualCamera(
            camera_id=index + 1,
            position_m=pinhole.position_m,
            look_at_m=(pinhole.position_m[0], pinhole.position_m[1]),
            floor_region_m=(0.0, 0.0, base.width_m, base.height_m),
            pinhole=pinhole,
        )
        for index, pinhole in enumerate(pinholes)
    )
    return StoreLayout(base.width_m, base.height_m, base.zones, cameras, base.entrance_xy_m)
