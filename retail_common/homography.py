"""Image↔floor homographies: fitting from point pairs, validation, orientation and projection (all vectorised).

A homography is defined up to scale *and sign*; projection needs the sign, because the floor side of the
camera's horizon is where ``w = h20 u + h21 v + h22 > 0``. Every homography is therefore oriented wherever it
comes in: fitted (``w > 0`` at every calibration point), received with a trusted floor region (``w > 0`` at the
pixels that see the region) or, without one, at the first analysed frame (``w > 0`` over most of the image: a
camera looks down at the floor). Its scale is then ``|h22| = 1`` (unit norm if ``h22`` is ~0). A ceiling camera
tilted ~35° whose top rows see above the horizon has ``w < 0`` at pixel (0, 0): dividing by ``h22`` alone flips
the sign and would send every floor point beyond the horizon.

The floor unit is the caller's (the edge and the wire use centimetres); nothing here converts units.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from retail_common.errors import GeometryError
from retail_common.polygons import points_in_polygon

FloatArray = NDArray[np.float64]

# Relative size of the smaller singular value of a centred point set below which its points lie on one line.
COLLINEAR_TOLERANCE = 1e-3
# Relative size of the DLT's second-smallest singular value below which the points fit many homographies.
_UNDETERMINED = 1e-6
_REGION_SAMPLES = 16  # per axis: the grid of floor points inside a region that orients a received homography


def as_points(points: ArrayLike, what: str) -> FloatArray:
    """``points`` as an (N, 2) array of finite floats; ``what`` names them in the error."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise GeometryError(f"{what} must be a list of (x, y) pairs, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GeometryError(f"{what} contain NaN or infinite values")
    return array


def _triangle_is_degenerate(points: FloatArray) -> bool:
    """True when three points are (nearly) collinear, relative to the size of the triangle's sides."""
    a, b, c = points
    cross = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    scale = max(float(np.max(np.ptp(points, axis=0))), 1e-12)
    return bool(cross <= COLLINEAR_TOLERANCE * scale * scale)


def check_general_position(points: FloatArray, what: str) -> None:
    """Raise unless the points spread over an area (not all on one line, not coinciding); of exactly four
    points, no three may lie on one line."""
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if singular[0] <= 1e-9 or singular[1] <= COLLINEAR_TOLERANCE * singular[0]:
        raise GeometryError(f"{what} are collinear: a homography needs points spread over an area")
    if len(points) == 4:
        for triple in itertools.combinations(range(4), 3):
            if _triangle_is_degenerate(points[list(triple)]):
                raise GeometryError(f"{what}: three of the four points {list(triple)} are collinear")


def _normalising_transform(points: FloatArray) -> FloatArray:
    centre = points.mean(axis=0)
    scale = np.sqrt(2) / max(float(np.mean(np.linalg.norm(points - centre, axis=1))), 1e-12)
    return np.array(
        [[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]], dtype=np.float64
    )


def fit_homography(image_points_px: ArrayLike, floor_points: ArrayLike) -> FloatArray:
    """The oriented 3x3 homography mapping image pixels to floor points (in the floor points' unit), by the
    normalised direct linear transform over all pairs (least squares for more than 4).

    Raises :class:`GeometryError` for fewer than 4 pairs, mismatched lengths, non-finite values, points not
    spread over an area on either side, pairs that fit more than one homography, a degenerate solution, or
    calibration points on both sides of the camera's horizon."""
    image = as_points(image_points_px, "image points")
    floor = as_points(floor_points, "floor points")
    if len(image) != len(floor):
        raise GeometryError(f"{len(image)} image points but {len(floor)} floor points: they must pair up")
    if len(image) < 4:
        raise GeometryError(f"a homography needs at least 4 point pairs, got {len(image)}")
    check_general_position(image, "image points")
    check_general_position(floor, "floor points")
    t_image, t_floor = _normalising_transform(image), _normalising_transform(floor)
    image_n = np.c_[image, np.ones(len(image))] @ t_image.T
    floor_n = np.c_[floor, np.ones(len(floor))] @ t_floor.T
    u, v, x, y = image_n[:, 0], image_n[:, 1], floor_n[:, 0], floor_n[:, 1]
    zero, one = np.zeros(len(image)), np.ones(len(image))
    rows = np.empty((2 * len(image), 9), dtype=np.float64)
    rows[0::2] = np.stack([-u, -v, -one, zero, zero, zero, x * u, x * v, x], axis=1)
    rows[1::2] = np.stack([zero, zero, zero, -u, -v, -one, y * u, y * v, y], axis=1)
    _, singular, vt = np.linalg.svd(rows)
    # One solution needs a 1-D null space: the second-smallest of the 9 singular values (8 rows: the 9th is 0)
    # must not vanish too. It does when four of five points (five of six, ...) lie on one line: a family of
    # homographies then fits exactly, with a zero error, and the one picked maps the rest of the floor anywhere.
    if np.r_[singular, np.zeros(9 - singular.size)][-2] < _UNDETERMINED * singular[0]:
        raise GeometryError(
            "the points do not determine the mapping: at least 4 of them, no three on one line, are needed"
        )
    normalised = vt[-1].reshape(3, 3)
    homography = np.linalg.inv(t_floor) @ normalised @ t_image
    # Degenerate exactly when the normalised solution is (the transforms are invertible); tested there, where it
    # is well conditioned: the final matrix of a view far from the plan's origin (200 m) has a translation that
    # dwarfs its other entries, and a bound relative to its norm refused it.
    if not np.all(np.isfinite(homography)) or abs(float(np.linalg.det(normalised))) < 1e-12 * float(
        np.linalg.norm(normalised) ** 3
    ):
        raise GeometryError("the point pairs do not determine a valid homography")
    return orient_homography(homography, image, require_all=True)


def reprojection_errors(
    homography: FloatArray, image_points_px: ArrayLike, floor_points: ArrayLike
) -> FloatArray:
    """Distance (in the floor unit) between each projected image point and its floor point."""
    projected = project_points(homography, np.asarray(image_points_px, dtype=np.float64))
    return np.asarray(np.linalg.norm(projected - np.asarray(floor_points, dtype=np.float64), axis=1))


def homography_from_values(values: ArrayLike) -> FloatArray:
    """Validate 9 row-major values (wire / config form) into a 3x3 matrix."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (9,):
        raise GeometryError(f"a homography has exactly 9 values, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise GeometryError("the homography contains NaN or infinite values")
    matrix = array.reshape(3, 3)
    if abs(float(np.linalg.det(matrix))) < 1e-15:
        raise GeometryError("the homography is singular")
    return matrix


def _scaled(homography: FloatArray, sign: float) -> FloatArray:
    corner = abs(float(homography[2, 2]))
    norm = float(np.linalg.norm(homography))
    scale = corner if corner > 1e-9 * norm else norm
    return np.asarray(homography * (sign / scale), dtype=np.float64)


def orient_homography(
    homography: ArrayLike, floor_pixels_px: ArrayLike, *, require_all: bool = False
) -> FloatArray:
    """The same homography with the sign that puts ``floor_pixels_px`` (pixels known to see the floor) on the
    floor side of the horizon (``w > 0``), scaled to ``|h22| = 1``.

    ``require_all``: every pixel must end up with ``w > 0`` (calibration points), else :class:`GeometryError`;
    otherwise the majority decides (pixels that merely may see the floor)."""
    matrix = np.asarray(homography, dtype=np.float64)
    pixels = np.asarray(floor_pixels_px, dtype=np.float64).reshape(-1, 2)
    w = np.c_[pixels, np.ones(len(pixels))] @ matrix[2]
    positive = int(np.count_nonzero(w > 0))
    negative = int(np.count_nonzero(w < 0))
    if require_all and positive and negative:
        raise GeometryError(
            "the calibration points lie on both sides of the camera's horizon: "
            "pick points on the floor, away from the horizon"
        )
    if require_all and not (positive or negative):
        raise GeometryError("the calibration points lie on the camera's horizon")
    return _scaled(matrix, 1.0 if positive >= negative else -1.0)


def orient_homography_to_floor(homography: ArrayLike, floor_points: ArrayLike) -> FloatArray:
    """Orient so that the pixels seeing ``floor_points`` (e.g. a trusted floor region) have ``w > 0``.

    For a floor point X, the pixel q = H⁻¹X (homogeneous) projects back to X / q₂, so its ``w`` has the sign of
    q₂; the majority of the points decides. With 3 or more points (a region) the points decide together with a
    grid of points inside it, so that its area does: a region drawn around a camera on a pillar has corners
    behind the camera (q₂ < 0) as often as in front, but most of its area in front."""
    matrix = np.asarray(homography, dtype=np.float64)
    floor = np.asarray(floor_points, dtype=np.float64).reshape(-1, 2)
    if len(floor) >= 3 and np.all(np.isfinite(floor)):
        low, high = floor.min(axis=0), floor.max(axis=0)
        steps = (np.arange(_REGION_SAMPLES) + 0.5) / _REGION_SAMPLES
        grid = np.stack(np.meshgrid(low[0] + steps * (high[0] - low[0]), low[1] + steps * (high[1] - low[1])))
        grid = grid.reshape(2, -1).T
        floor = np.r_[floor, grid[points_in_polygon(grid, floor)]]
    q2 = np.c_[floor, np.ones(len(floor))] @ np.linalg.inv(matrix)[2]
    return _scaled(matrix, 1.0 if np.count_nonzero(q2 > 0) >= np.count_nonzero(q2 < 0) else -1.0)


def frame_grid_px(width_px: int, height_px: int, steps: int = 9) -> FloatArray:
    """A steps x steps grid of pixels spread over a frame (cell centres)."""
    u = (np.arange(steps) + 0.5) * (width_px / steps)
    v = (np.arange(steps) + 0.5) * (height_px / steps)
    return np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2)


def project_points(homography: ArrayLike, points_px: ArrayLike) -> FloatArray:
    """Apply an oriented homography to (N, 2) pixels; pixels at or beyond the horizon (w ≤ 0) become NaN."""
    h = np.asarray(homography, dtype=np.float64)
    points = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    x = points[:, 0]
    y = points[:, 1]
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    valid = w > 1e-12
    safe_w = np.where(valid, w, 1.0)
    out = np.empty((len(points), 2), dtype=np.float64)
    out[:, 0] = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / safe_w
    out[:, 1] = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / safe_w
    out[~valid] = np.nan
    return out


# What the two constraints on a homography's focal length (see `vertical_vanishing_point`) may leave unexplained at
# their joint solution, as a fraction of the larger constraint, before the homography is taken for something other
# than a pinhole view of the floor with its principal point at the image centre.
_FOCAL_CONSISTENCY = 0.05


def vertical_vanishing_point(
    homography_px_to_floor: ArrayLike, width_px: int, height_px: int
) -> FloatArray | None:
    """The image point (homogeneous, 3 values) where the images of vertical lines meet, for the camera behind an
    image→floor homography: a pinhole with square pixels whose principal point is the image centre (what a CCTV
    camera is, a crop of one is not). Its focal length follows from the two constraints the floor's orthogonal
    unit axes put on the floor→image homography (``h1ᵀωh2 = 0``, ``h1ᵀωh1 = h2ᵀωh2`` with ``ω`` the image of the
    absolute conic), solved together; where they disagree (a crop, a lens left distorted, a homography of too few
    clicks) or give no real focal length, None: nothing is known of the vertical."""
    h = np.asarray(homography_px_to_floor, dtype=np.float64)
    try:
        floor_to_px = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return None
    centre = np.array([[1.0, 0.0, -width_px / 2], [0.0, 1.0, -height_px / 2], [0.0, 0.0, 1.0]])
    g = centre @ floor_to_px
    g = g / np.linalg.norm(g[:, :2])
    (a1, a2), (b1, b2), (z1, z2) = g[0, :2], g[1, :2], g[2, :2]
    # With ω ∝ diag(1, 1, f²) in centred pixels, each constraint reads p + q f² = 0.
    p = np.array([a1 * a2 + b1 * b2, a1 * a1 + b1 * b1 - a2 * a2 - b2 * b2])
    q = np.array([z1 * z2, z1 * z1 - z2 * z2])
    if float(q @ q) < 1e-18:
        return None  # the camera looks straight down (or along the floor): no perspective to read f from
    focal_sq = -float(p @ q) / float(q @ q)
    if not np.isfinite(focal_sq) or focal_sq <= 0.0:
        return None
    if float(np.max(np.abs(p + q * focal_sq))) > _FOCAL_CONSISTENCY * float(np.max(np.abs(p))):
        return None
    focal = np.sqrt(focal_sq)
    camera = np.diag([1.0 / focal, 1.0 / focal, 1.0]) @ g  # ∝ [r1 r2 t] in camera coordinates
    r1 = camera[:, 0] / np.linalg.norm(camera[:, 0])
    r2 = camera[:, 1] / np.linalg.norm(camera[:, 1])
    vertical = np.cross(r1, r2)
    intrinsics = np.array([[focal, 0.0, width_px / 2], [0.0, focal, height_px / 2], [0.0, 0.0, 1.0]])
    point: FloatArray = intrinsics @ vertical
    return point


def foot_points_px(xyxy_px: ArrayLike, vertical_vanishing: ArrayLike | None = None) -> FloatArray:
    """Where each standing person's box (x1, y1, x2, y2) touches the floor: on the person's own vertical axis, the
    line from the box centre to the vertical vanishing point, at the box's bottom edge (a tilted camera's people
    lean away from the image's centre column, and the bottom centre of a leaning box is beside the feet, away from
    the camera's axis: 0.2-0.9 m at 3 m / 35°); the bottom centre where the vertical is not known."""
    boxes = np.asarray(xyxy_px, dtype=np.float64).reshape(-1, 4)
    centre_x = (boxes[:, 0] + boxes[:, 2]) * 0.5
    bottom = boxes[:, 3]
    if vertical_vanishing is None or len(boxes) == 0:
        return np.stack((centre_x, bottom), axis=1)
    vx, vy, vw = np.asarray(vertical_vanishing, dtype=np.float64)
    centre_y = (boxes[:, 1] + boxes[:, 3]) * 0.5
    dx = (
        vx - centre_x * vw
    )  # ∝ the direction from the centre towards the vanishing point (also one at infinity)
    dy = vy - centre_y * vw
    steep = np.abs(dy) > 1e-9 * (np.abs(dx) + 1.0)
    t = np.where(steep, (bottom - centre_y) / np.where(steep, dy, 1.0), 0.0)
    foot_x = np.clip(centre_x + t * dx, boxes[:, 0], boxes[:, 2])
    return np.stack((foot_x, bottom), axis=1)


# Half the depth of a standing person's footprint (half a shoe's length): a box's bottom edge is the near edge of
# the feet, so the foot point on the person's axis lies this much short of where the person stands, towards the
# camera, whatever the distance (0.12 m in the simulator, whose footprints are 0.12 m in radius; a physical prior
# for real people, not fitted to real video).
FOOT_DEPTH_CM = 12.0


def camera_nadir(
    homography_px_to_floor: ArrayLike, vertical_vanishing: ArrayLike | None
) -> FloatArray | None:
    """The floor point straight below the camera (in the homography's floor unit): where vertical lines meet in
    the image, projected; None where the vertical is not known or the camera looks along the floor."""
    if vertical_vanishing is None:
        return None
    h = np.asarray(homography_px_to_floor, dtype=np.float64)
    point = h @ np.asarray(vertical_vanishing, dtype=np.float64)
    if abs(float(point[2])) <= 1e-12 * float(np.abs(point).max(initial=0.0)) or not np.all(
        np.isfinite(point)
    ):
        return None
    nadir: FloatArray = point[:2] / point[2]
    return nadir


def beyond_near_edge(floor: FloatArray, nadir: FloatArray | None, depth: float = FOOT_DEPTH_CM) -> FloatArray:
    """Foot points (N, 2) moved ``depth`` further from the point below the camera, onto where the person stands
    (``FOOT_DEPTH_CM``); unchanged without a nadir and within ``depth`` of it (right below the camera)."""
    if nadir is None or len(floor) == 0:
        return floor
    offset = floor - nadir
    distance = np.hypot(offset[:, 0], offset[:, 1])
    far = distance > depth  # NaN (beyond the horizon) compares False: stays NaN
    scale = np.where(far, depth / np.where(far, distance, 1.0), 0.0)
    moved: FloatArray = floor + offset * scale[:, None]
    return moved
