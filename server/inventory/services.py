"""Writes to the store inventory. Keyword-only arguments, one transaction each, every change audited.

Camera changes that the edge box must know about (source, rate, calibration, region, device) bump the owning
device's `config_revision`, so the ingest pushes the new configuration on the open stream.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from server.analytics.floor_geometry import (
    MAX_COORDINATE_M,
    GeometryError,
    area_inside_rect,
    homography_from_points,
    validate_polygon,
)
from server.audit.services import Actor, audit_record, audited_create, audited_delete, audited_update
from server.devices.models import EdgeDevice
from server.devices.services import device_bump_config_revision
from server.errors import FieldError
from server.fusion.agreement import CameraPairAgreement
from server.inventory.models import (
    HIDDEN,
    LINE_KINDS,
    Camera,
    FloorPlan,
    Site,
    Zone,
    ZoneKind,
    normalize_secret_query,
    parameter_secret_names,
    split_parameter_secrets,
    split_secret_query,
    split_source_credentials,
)

logger = logging.getLogger(__name__)

# Fields of a camera that are part of the configuration sent to its edge box.
CAMERA_CONFIG_FIELDS = frozenset(
    {
        "device",
        "source_uri",
        "source_username",
        "source_password",
        "source_secret_query",
        "source_secret_parameters",
        "analysis_rate_hz",
        "calibration_points",
        "floor_region",
        "enabled",
        "name",
    }
)
CAMERA_CREDENTIAL_FIELDS = (
    "source_username",
    "source_password",
    "source_secret_query",
    "source_secret_parameters",
)
MAX_FLOOR_PLAN_IMAGE_BYTES = 20 * 1024 * 1024


# --- sites ---


def _check_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as err:  # OSError: "America", a directory
        raise FieldError("timezone", f"unknown time zone {name!r}") from err


@transaction.atomic
def site_create(
    *,
    actor: Actor,
    name: str,
    timezone: str = "UTC",
    capacity: int | None = None,
    closing_time: time | None = None,
) -> Site:
    _check_timezone(timezone)
    return audited_create(
        actor=actor, instance=Site(name=name, timezone=timezone, capacity=capacity, closing_time=closing_time)
    )


@transaction.atomic
def site_update(*, actor: Actor, site: Site, data: Mapping[str, Any]) -> Site:
    if "timezone" in data:
        _check_timezone(str(data["timezone"]))
    return audited_update(actor=actor, instance=site, data=data)


@transaction.atomic
def site_delete(*, actor: Actor, site: Site) -> None:
    audited_delete(actor=actor, instance=site)


# --- floor plans ---


def _image_size_px(image: Any) -> tuple[int, int]:
    if int(getattr(image, "size", 0) or 0) > MAX_FLOOR_PLAN_IMAGE_BYTES:
        raise FieldError(
            "image", f"the image is larger than {MAX_FLOOR_PLAN_IMAGE_BYTES // (1024 * 1024)} MiB"
        )
    try:
        image.seek(0)
        with Image.open(image) as opened:
            size: tuple[int, int] = opened.size
        image.seek(0)
    except (UnidentifiedImageError, OSError) as err:
        raise FieldError("image", "the file is not an image Pillow can read") from err
    return size


def _floor_plan_extent(
    *, image: Any, metres_per_pixel: float, width_m: float | None, height_m: float | None
) -> tuple[float, float]:
    """Width and height in metres: as given, else the image's size times the scale."""
    if width_m is not None and height_m is not None:
        return width_m, height_m
    if not image:
        field = "width_m" if width_m is None else "height_m"
        raise FieldError(field, "give the floor's width and height in metres, or upload a plan image")
    width_px, height_px = _image_size_px(image)
    return (
        width_m if width_m is not None else width_px * metres_per_pixel,
        height_m if height_m is not None else height_px * metres_per_pixel,
    )


@transaction.atomic
def floor_plan_create(
    *,
    actor: Actor,
    site: Site,
    image: Any = None,
    width_m: float | None = None,
    height_m: float | None = None,
    metres_per_pixel: float = 0.05,
    origin_x_m: float = 0.0,
    origin_y_m: float = 0.0,
    heatmap_cell_m: float = 0.5,
) -> FloorPlan:
    if image:
        _image_size_px(image)
    width_m, height_m = _floor_plan_extent(
        image=image, metres_per_pixel=metres_per_pixel, width_m=width_m, height_m=height_m
    )
    plan = FloorPlan(
        site=site,
        width_m=width_m,
        height_m=height_m,
        metres_per_pixel=metres_per_pixel,
        origin_x_m=origin_x_m,
        origin_y_m=origin_y_m,
        heatmap_cell_m=heatmap_cell_m,
    )
    if image:
        plan.image = image
    return audited_create(actor=actor, instance=plan)


@transaction.atomic
def floor_plan_update(*, actor: Actor, floor_plan: FloorPlan, data: Mapping[str, Any]) -> FloorPlan:
    values = dict(data)
    if values.get("image"):
        _image_size_px(values["image"])
    return audited_update(actor=actor, instance=floor_plan, data=values)


@transaction.atomic
def floor_plan_delete(*, actor: Actor, floor_plan: FloorPlan) -> None:
    audited_delete(actor=actor, instance=floor_plan)


# --- cameras ---


def calibration_from_points(
    points: Sequence[Mapping[str, Any]],
) -> tuple[list[list[float]] | None, float | None]:
    """The 3x3 image-pixel → floor-centimetre homography and its RMS reprojection error (cm), or (None, None)
    when no points are given. Raises GeometryError (field `calibration_points`) for <4 or collinear points."""
    if not points:
        return None, None
    try:
        image_px = [[float(v) for v in point["image_px"]] for point in points]
        floor_m = [[float(v) for v in point["floor_m"]] for point in points]
    except (KeyError, TypeError, ValueError) as err:
        raise FieldError(
            "calibration_points", "each point needs image_px [u, v] and floor_m [x, y] numbers"
        ) from err
    homography, error_cm = homography_from_points(image_px, floor_m)
    return [[float(v) for v in row] for row in homography], round(error_cm, 3)


def _check_camera_device(*, site: Site, device: EdgeDevice | None) -> None:
    if device is not None and device.site_id != site.pk:
        raise FieldError("device", f"device {device.pk} belongs to another site")


def _take_source_credentials(
    values: dict[str, Any], stored_uri: str = "", stored: Sequence[str] = ()
) -> bool:
    """A `user:password@` in `source_uri` moves to the login fields, its credential-like query parameters
    (`?user=…&pwd=…`) to `source_secret_query` (fields given explicitly win). A URL without them leaves the stored
    ones as they are, so a form that saves back the (redacted) URL it was shown keeps the secrets. The value of a
    credential-like parameter that has to stay in place (`/stream;password=x`, `?a=1;token=x`) moves to
    `source_secret_parameters` and shows as `***` in `source_uri`; a `***` saved back keeps the value stored for
    that parameter (`stored_uri` and `stored`, the camera's); a `***` with no stored value is refused. Returns
    whether a `***` kept a stored value."""
    if "source_secret_query" in values:
        values["source_secret_query"] = normalize_secret_query(str(values["source_secret_query"] or ""))
    if "source_uri" not in values:
        return False
    values["source_uri"], username, password = split_source_credentials(str(values["source_uri"] or ""))
    if username is not None:
        values.setdefault("source_username", username)
        values.setdefault("source_password", password or "")
    values["source_uri"], secret_query = split_secret_query(values["source_uri"])
    if secret_query:
        values.setdefault("source_secret_query", secret_query)
    typed = split_parameter_secrets(values["source_uri"])[1]
    values["source_uri"], values["source_secret_parameters"] = kept_secret_parameters(
        values["source_uri"], stored_uri, stored
    )
    unknown = [
        name
        for name, value in zip(
            parameter_secret_names(values["source_uri"]), values["source_secret_parameters"], strict=True
        )
        if value == HIDDEN
    ]
    if unknown:
        # It was stored as the literal password "***", and the camera silently got a wrong login.
        raise FieldError(
            "source_uri",
            f"*** stands for a value stored for that parameter, and {', '.join(sorted(set(unknown)))} has none: "
            "write its value",
            code="no_stored_value",
        )
    return any(t == HIDDEN for t in typed)


#: The port a scheme's source uses when its URL names none.
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def _source_address(uri: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port of a network source; None for a file or a USB device (no login goes anywhere)."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def check_stored_login_stays_at_its_address(old_uri: str, new_uri: str, kept: Sequence[str]) -> None:
    """A stored login (`kept`: which ones a change keeps without their being given again) is only ever sent to the
    address it was entered for: a new scheme, host or port must come with the login again (or without one).
    Otherwise a user who may edit cameras but never read their logins could point the camera at a host of their
    own and have the edge box send it the stored password."""
    if not kept or _source_address(old_uri) == _source_address(new_uri):
        return
    raise FieldError(
        "source_uri",
        f"the camera's address changed, and its stored {', '.join(kept)} would go to the new one: a stored login "
        "is only sent to the address it was entered for; give it again with the new address, or clear it",
        code="login_needs_reentry",
    )


def kept_secret_parameters(uri: str, stored_uri: str, stored: Sequence[str]) -> tuple[str, list[str]]:
    """`uri` with its hidden parameters as `***` (`split_parameter_secrets`) and their values: a `***` takes the
    stored value of the parameter of the same name (its k-th of that name in the stored URL for the k-th here),
    so a URL edited around them keeps each with its own parameter; one without a stored value stays `***`."""
    names = parameter_secret_names(uri)
    uri, values = split_parameter_secrets(uri)
    kept: dict[str, list[str]] = {}
    for name, value in zip(parameter_secret_names(stored_uri), stored, strict=False):
        kept.setdefault(name, []).append(value)
    result = []
    seen: dict[str, int] = {}
    for name, value in zip(names, values, strict=True):
        index = seen[name] = seen.get(name, -1) + 1
        same = kept.get(name, [])
        result.append(same[index] if value == HIDDEN and index < len(same) else value)
    return uri, result


def _audit_credentials(*, actor: Actor, camera: Camera) -> None:
    """The credentials never enter the audit log (SECRET_FIELDS); that they changed does."""
    audit_record(
        actor=actor,
        action="set_source_credentials",
        instance=camera,
        changes={"source_has_credentials": camera.source_has_credentials},
    )


def _bump(device_ids: set[int | None]) -> None:
    for device_id in sorted(d for d in device_ids if d is not None):
        device_bump_config_revision(device_id=device_id)


@transaction.atomic
def camera_create(
    *,
    actor: Actor,
    site: Site,
    name: str,
    device: EdgeDevice | None = None,
    source_uri: str = "",
    source_username: str | None = None,
    source_password: str | None = None,
    source_secret_query: str | None = None,
    analysis_rate_hz: float = 0.0,
    calibration_points: Sequence[Mapping[str, Any]] = (),
    floor_region: Sequence[Sequence[float]] = (),
    enabled: bool = True,
) -> Camera:
    _check_camera_device(site=site, device=device)
    source: dict[str, Any] = {"source_uri": source_uri}
    # (Not `name`: the loop variable would overwrite the camera's name, as it once did.)
    for field, value in (
        ("source_username", source_username),
        ("source_password", source_password),
        ("source_secret_query", source_secret_query),
    ):
        if value is not None:
            source[field] = value
    _take_source_credentials(source)
    homography, error_cm = calibration_from_points(calibration_points)
    region = validate_polygon(floor_region, field="floor_region") if floor_region else []
    camera = audited_create(
        actor=actor,
        instance=Camera(
            site=site,
            name=name,
            device=device,
            source_uri=source["source_uri"],
            source_username=source.get("source_username", ""),
            source_password=source.get("source_password", ""),
            source_secret_query=source.get("source_secret_query", ""),
            source_secret_parameters=source["source_secret_parameters"],
            analysis_rate_hz=analysis_rate_hz,
            calibration_points=[dict(point) for point in calibration_points],
            homography=homography,
            reprojection_error_cm=error_cm,
            floor_region=region,
            enabled=enabled,
        ),
    )
    if camera.source_has_credentials:
        _audit_credentials(actor=actor, camera=camera)
    _bump({camera.device_id})
    return camera


@transaction.atomic
def camera_update(*, actor: Actor, camera: Camera, data: Mapping[str, Any]) -> Camera:
    values = dict(data)
    parameters_kept = _take_source_credentials(
        values, camera.source_uri, list(camera.source_secret_parameters or [])
    )
    if "source_uri" in values:
        kept = []
        if (camera.source_username or camera.source_password) and not (
            {"source_username", "source_password"} & values.keys()
        ):
            kept.append("login")
        if camera.source_secret_query and "source_secret_query" not in values:
            kept.append("secret URL parameters")
        if parameters_kept:
            kept.append("*** parameters")
        check_stored_login_stays_at_its_address(camera.source_uri, values["source_uri"], kept)
    credentials_before = tuple(getattr(camera, name) for name in CAMERA_CREDENTIAL_FIELDS)
    site: Site = values.get("site", camera.site)
    device: EdgeDevice | None = values.get("device", camera.device)
    _check_camera_device(site=site, device=device)
    if "calibration_points" in values:
        points = values["calibration_points"] or []
        values["homography"], values["reprojection_error_cm"] = calibration_from_points(points)
        values["calibration_points"] = [dict(point) for point in points]
    if values.get("floor_region"):
        values["floor_region"] = validate_polygon(values["floor_region"], field="floor_region")
    old_device_id = camera.device_id
    camera = audited_update(actor=actor, instance=camera, data=values)
    if tuple(getattr(camera, name) for name in CAMERA_CREDENTIAL_FIELDS) != credentials_before:
        _audit_credentials(actor=actor, camera=camera)
    if CAMERA_CONFIG_FIELDS & values.keys():
        _bump({old_device_id, camera.device_id})
    return camera


@transaction.atomic
def camera_delete(*, actor: Actor, camera: Camera) -> None:
    device_id = camera.device_id
    audited_delete(actor=actor, instance=camera)
    _bump({device_id})


def camera_request_snapshot(*, actor: Actor, camera: Camera) -> Camera:
    """Ask the camera's edge box for one JPEG still. The request is a flag on the camera row: the ingest process
    that holds the box's stream (any process, see `camera_claim_snapshot_requests`) sends the command within its
    re-check interval; the box answers with a CameraSnapshot that `camera_store_snapshot` keeps."""
    if camera.device_id is None:
        raise FieldError("device", "the camera is not assigned to an edge box, so nobody can take a snapshot")
    if not camera.enabled:
        raise FieldError("enabled", "the camera is disabled: its edge box does not read it")
    now = timezone.now()
    Camera.objects.filter(pk=camera.pk).update(snapshot_requested_at=now, snapshot_pending=True)
    camera.snapshot_requested_at, camera.snapshot_pending = now, True
    logger.info("snapshot of camera %d requested by %s", camera.pk, getattr(actor, "username", actor))
    return camera


@transaction.atomic
def camera_claim_snapshot_requests(*, camera_ids: Iterable[int]) -> list[int]:
    """The cameras among `camera_ids` with an unsent snapshot request; marks them sent (each request is
    claimed once, by whichever process holds the box's stream)."""
    ids = list(
        Camera.objects.select_for_update()
        .filter(pk__in=list(camera_ids), snapshot_pending=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        Camera.objects.filter(pk__in=ids).update(snapshot_pending=False)
    return ids


def camera_store_snapshot(*, camera_id: int, jpeg: bytes, capture_time_us: int = 0) -> None:
    """Keep the newest still of a camera (used by the installer for point-pair calibration) and when it was
    captured (the box's clock; the server's receive time when the box sent none)."""
    camera = Camera.objects.get(pk=camera_id)
    captured_at = (
        datetime.fromtimestamp(capture_time_us / 1e6, tz=UTC) if capture_time_us > 0 else timezone.now()
    )
    name = f"camera-{camera_id}-{captured_at:%Y%m%dT%H%M%S}.jpg"
    if camera.snapshot:
        camera.snapshot.delete(save=False)
    camera.snapshot.save(name, ContentFile(jpeg), save=False)
    camera.snapshot_captured_at = captured_at
    camera.save(update_fields=["snapshot", "snapshot_captured_at"])


def camera_calibration_check_record(
    *, site_id: int, pairs: Sequence[CameraPairAgreement], measured_at: datetime | None = None
) -> int:
    """Store the site fusion's calibration check (``SiteFusion.camera_agreement``) on each camera of the site it
    speaks of: the pairs it is part of, seen from it (the other camera's placement relative to its own). Cameras
    of other sites or deleted since are skipped. Returns the number of cameras written."""
    when = (measured_at or timezone.now()).isoformat()
    per_camera: dict[int, list[dict[str, Any]]] = {}
    for pair in pairs:
        for mine, other, sign in (
            (pair.camera_id, pair.other_camera_id, 1.0),
            (pair.other_camera_id, pair.camera_id, -1.0),
        ):
            per_camera.setdefault(mine, []).append(
                {
                    "other_camera": other,
                    "median_m": round(pair.median_distance_m, 3),
                    "p90_m": round(pair.p90_distance_m, 3),
                    "offset_m": [round(sign * pair.offset_m[0], 3), round(sign * pair.offset_m[1], 3)],
                    "samples": round(pair.samples, 1),
                    "suspect": pair.suspect,
                }
            )
    written = 0
    for camera in Camera.objects.filter(site_id=site_id, pk__in=list(per_camera)).only("pk"):
        check = {"measured_at": when, "pairs": per_camera[camera.pk]}
        written += Camera.objects.filter(pk=camera.pk).update(calibration_check=check)
    return written


# --- zones ---


def _check_zone_on_plan(*, site: Site, polygon: list[list[float]]) -> None:
    """A zone must cover some of the floor plan: one drawn entirely off it (wrong units, a typo) can never hold
    anybody. Sites without a floor plan accept any zone."""
    plan = FloorPlan.objects.filter(site=site).first()
    if plan is None:
        return
    x0, y0 = plan.origin_x_m, plan.origin_y_m
    rect = (x0, y0, x0 + plan.width_m, y0 + plan.height_m)
    if area_inside_rect(polygon, rect) < 1e-6:
        raise FieldError(
            "polygon",
            f"the zone lies entirely outside the floor plan (x {rect[0]:g}..{rect[2]:g} m, "
            f"y {rect[1]:g}..{rect[3]:g} m): draw it on the plan, in metres",
        )


# Counting lines: at most this many points; consecutive points at least this far apart.
MAX_LINE_POINTS = 64
MIN_LINE_SEGMENT_M = 0.05


def validate_polyline(points: object, field: str = "polygon") -> list[list[float]]:
    """A counting line: ≥ 2 finite [x, y] points, consecutive ones ≥ 5 cm apart, segments not crossing."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GeometryError(field, "a counting line must be a list of [x, y] points") from err
    if array.ndim != 2 or array.shape[1] != 2:
        raise GeometryError(field, "a counting line must be a list of [x, y] points")
    if not 2 <= array.shape[0] <= MAX_LINE_POINTS:
        raise GeometryError(
            field, f"a counting line has 2 to {MAX_LINE_POINTS} points, this one has {array.shape[0]}"
        )
    if not np.all(np.isfinite(array)) or np.max(np.abs(array)) > MAX_COORDINATE_M:
        raise GeometryError(field, f"line points must be finite and within ±{MAX_COORDINATE_M:g} m")
    lengths = np.hypot(*np.diff(array, axis=0).T)
    short = np.flatnonzero(lengths < MIN_LINE_SEGMENT_M)
    if short.size:
        raise GeometryError(
            field,
            f"points {int(short[0])} and {int(short[0]) + 1} of the line are closer than 5 cm (a double click?)",
        )
    for i in range(array.shape[0] - 1):
        for j in range(i + 2, array.shape[0] - 1):
            if _segments_cross(array[i], array[i + 1], array[j], array[j + 1]):
                raise GeometryError(field, f"segments {i} and {j} of the line cross each other")
    return [[float(x), float(y)] for x, y in array]


def _segments_cross(a: Any, b: Any, c: Any, d: Any) -> bool:
    def orient(p: Any, q: Any, r: Any) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    return orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0


def _check_line_on_plan(*, site: Site, points: list[list[float]]) -> None:
    """A counting line must touch the floor plan (one drawn off it can never be crossed by anybody tracked)."""
    plan = FloorPlan.objects.filter(site=site).first()
    if plan is None:
        return
    x0, y0 = plan.origin_x_m, plan.origin_y_m
    x1, y1 = x0 + plan.width_m, y0 + plan.height_m
    if not any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points):
        raise FieldError(
            "polygon",
            f"the counting line lies entirely outside the floor plan (x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} m)",
        )


def _zone_geometry(*, site: Site, kind: str, polygon: Any) -> list[list[float]]:
    """The validated geometry of a zone of `kind`: a polyline for counting lines, else a polygon."""
    if kind in LINE_KINDS:
        points = validate_polyline(polygon, field="polygon")
        _check_line_on_plan(site=site, points=points)
        return points
    vertices = validate_polygon(polygon, field="polygon")
    _check_zone_on_plan(site=site, polygon=vertices)
    return vertices


def _check_zone(*, kind: str, required_level: int) -> None:
    if kind == ZoneKind.RESTRICTED and required_level < 1:
        raise FieldError(
            "required_level", "a restricted zone needs a required security level rank of at least 1"
        )


@transaction.atomic
def zone_create(
    *,
    actor: Actor,
    site: Site,
    name: str,
    polygon: Any,
    kind: str = ZoneKind.INTEREST,
    required_level: int = 0,
    warning_distance_m: float = 1.0,
    color: str = "",
) -> Zone:
    vertices = _zone_geometry(site=site, kind=kind, polygon=polygon)
    _check_zone(kind=kind, required_level=required_level)
    return audited_create(
        actor=actor,
        instance=Zone(
            site=site,
            name=name,
            kind=kind,
            polygon=vertices,
            required_level=required_level,
            warning_distance_m=warning_distance_m,
            color=color,
        ),
    )


@transaction.atomic
def zone_update(*, actor: Actor, zone: Zone, data: Mapping[str, Any]) -> Zone:
    values = dict(data)
    kind = str(values.get("kind", zone.kind))
    if "polygon" in values or (kind in LINE_KINDS) != (zone.kind in LINE_KINDS):
        # A zone turned into a line (or back) has its geometry checked as its new kind needs.
        values["polygon"] = _zone_geometry(
            site=values.get("site", zone.site), kind=kind, polygon=values.get("polygon", zone.polygon)
        )
    _check_zone(
        kind=str(values.get("kind", zone.kind)),
        required_level=int(values.get("required_level", zone.required_level)),
    )
    return audited_update(actor=actor, instance=zone, data=values)


@transaction.atomic
def zone_delete(*, actor: Actor, zone: Zone) -> None:
    audited_delete(actor=actor, instance=zone)
