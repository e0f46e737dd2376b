"""Sites, floor plans, cameras and zones: the physical description of a store.

Floor coordinates are metres in the floor plan's frame: x to the right, y down the plan image, origin at
the plan's `origin_x_m`/`origin_y_m` offset of the image's top-left corner. Polygons are lists of
[x_m, y_m] pairs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Value

# The login rules of source URLs are shared with the edge agent (one implementation, retail_common.redaction).
from retail_common.redaction import HIDDEN as HIDDEN
from retail_common.redaction import fill_parameter_secrets, redact_text, split_userinfo
from retail_common.redaction import is_secret_query_name as is_secret_query_name
from retail_common.redaction import parameter_secret_names as parameter_secret_names
from retail_common.redaction import split_parameter_secrets as split_parameter_secrets

# Free text (an edge box's error message) with every source login hidden; the ingest and the API use this name.
redact_source_credentials = redact_text


def split_source_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """`rtsp://user:pass@host/...` → (`rtsp://host/...`, "user", "pass"); (uri, None, None) without userinfo.
    File paths and `usb:N` come back unchanged."""
    clean, userinfo = split_userinfo(uri)
    if userinfo is None:
        return uri, None, None
    username, has_password, password = userinfo.partition(":")
    return clean, unquote(username), unquote(password) if has_password else ""


def split_secret_query(uri: str) -> tuple[str, str]:
    """`http://cam/snap.cgi?res=hd&user=admin&pwd=x` → (`http://cam/snap.cgi?res=hd`, `user=admin&pwd=x`): the
    credential-like query parameters (`is_secret_query_name`) apart, as they were written (encoding kept);
    (uri, "") without any. File paths and `usb:N` come back unchanged."""
    if "://" not in uri:
        return uri, ""
    parts = urlsplit(uri)
    if not parts.query:
        return uri, ""
    kept: list[str] = []
    secret: list[str] = []
    for item in parts.query.split("&"):
        (secret if is_secret_query_name(item.partition("=")[0]) else kept).append(item)
    if not secret:
        return uri, ""
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))
    return clean, "&".join(secret)


def secret_query_names(secret_query: str) -> list[str]:
    """The parameter names of a stored secret query (the names are not secret, their values are)."""
    return [unquote_plus(item.partition("=")[0]) for item in secret_query.split("&") if item]


def normalize_secret_query(text: str) -> str:
    """A secret query as typed (`?user=a&pwd=b`, `&user=a`): without the leading `?` and empty items."""
    return "&".join(item for item in text.strip().lstrip("?").split("&") if item)


def join_source_credentials(uri: str, username: str, password: str, secret_query: str = "") -> str:
    """The URL the edge box opens: `uri` with the (percent-encoded) username and password as userinfo and the
    secret query parameters appended to its query."""
    if not (username or password or secret_query) or "://" not in uri:
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc
    if username or password:
        userinfo = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "")
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(q for q in (parts.query, secret_query) if q)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Site(models.Model):
    name = models.CharField(max_length=200, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    capacity = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Occupancy above which the site is over capacity (an alert); empty: none.",
    )
    closing_time = models.TimeField(
        null=True,
        blank=True,
        help_text="Local time the site's day ends: the occupancy counted at the doors is reset to 0 then.",
    )
    # Bumped in the transaction of every save or delete of the site's zones, floor plan or the site itself
    # (server.inventory.signals), so it becomes visible with the change, on commit, to every process: the analytics
    # compare it to reload the site's setup when it changed (server.insights.processor).
    config_revision = models.PositiveBigIntegerField(
        default=0, db_default=0, editable=False, help_text="Revision of the site's analytics configuration."
    )

    class Meta:
        ordering = ["id"]
        permissions = [("view_live", "Can watch the live state, analytics and alerts feed of a site")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving a loaded site writes every field but its configuration revision: the value the instance was
        loaded with may be stale (a zone edited since), and writing it back would undo that bump. The revision
        is only ever incremented in the database (server.inventory.signals), so an instance's copy may lag; read
        it with `server.insights.selectors.site_config_revision`."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "config_revision"
            ]
        super().save(*args, **kwargs)


class FloorPlan(models.Model):
    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="floor_plan")
    image = models.ImageField(upload_to="floorplans/", blank=True)
    width_m = models.FloatField(
        validators=[MinValueValidator(0.5), MaxValueValidator(10_000.0)],
        help_text="Width of the floor area the plan covers, metres.",
    )
    height_m = models.FloatField(
        validators=[MinValueValidator(0.5), MaxValueValidator(10_000.0)],
        help_text="Height of the floor area the plan covers, metres.",
    )
    metres_per_pixel = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(1e-4), MaxValueValidator(10.0)],
        help_text="Scale of the plan image.",
    )
    origin_x_m = models.FloatField(
        default=0.0, help_text="Floor x (metres) of the plan image's top-left corner."
    )
    origin_y_m = models.FloatField(
        default=0.0, help_text="Floor y (metres) of the plan image's top-left corner."
    )
    heatmap_cell_m = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.1), MaxValueValidator(10.0)]
    )

    def __str__(self) -> str:
        return f"Floor plan of {self.site}"


class Camera(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="cameras")
    device = models.ForeignKey(
        "devices.EdgeDevice", on_delete=models.SET_NULL, null=True, blank=True, related_name="cameras"
    )
    name = models.CharField(max_length=200)
    source_uri = models.CharField(
        max_length=1000,
        blank=True,
        help_text="File path, rtsp:// URL (without user:password@ or credential query parameters; the value of a "
        "credential-like ;-separated parameter as ***) or usb:N.",
    )
    # The source's login, apart from the URL: written through the API, never returned, audited or logged; only
    # the edge box's configuration carries it (`source_uri_for_device`).
    source_username = models.CharField(max_length=200, blank=True, default="")
    source_password = models.CharField(max_length=200, blank=True, default="")
    # Credential-like query parameters of the source URL (`user=admin&pwd=x`), kept like the login above.
    source_secret_query = models.CharField(max_length=1000, blank=True, default="")
    # The values of the credential-like parameters that stay in place in `source_uri` (a path parameter,
    # `/stream;password=x`, or one of a query separated by ";", `?a=1;token=x`), in order: `source_uri` holds each
    # as `***` (`split_parameter_secrets`), as logs show it. Kept like the login above.
    source_secret_parameters = models.JSONField(default=list, blank=True)
    analysis_rate_hz = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(120.0)],
        help_text="0 = as fast as the detector can.",
    )
    homography = models.JSONField(
        null=True, blank=True, help_text="3x3 row-major image-pixel → floor-centimetre homography."
    )
    calibration_points = models.JSONField(
        default=list,
        blank=True,
        help_text="[{image_px: [u, v], floor_m: [x, y]}, ...] used for the homography.",
    )
    reprojection_error_cm = models.FloatField(null=True, blank=True)
    # Written by the site's fusion (server.fusion.agreement), at most once a minute: how far apart this camera and
    # each other camera of the site place the people both see. {"measured_at": ISO time, "pairs": [{"other_camera":
    # id, "median_m", "p90_m", "offset_m": [dx, dy] (the other camera's placement relative to this one's),
    # "samples", "suspect"}]}; {} until two cameras have seen people together.
    calibration_check = models.JSONField(
        default=dict,
        # Also in the database: processes of the release before (a rolling upgrade) insert cameras without it.
        db_default=Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="How far apart this camera and each other camera of the site place the people both see.",
    )
    floor_region = models.JSONField(default=list, blank=True, help_text="Polygon [[x_m, y_m], ...].")
    enabled = models.BooleanField(default=True)
    snapshot = models.ImageField(
        upload_to="snapshots/", blank=True, help_text="The newest JPEG still the edge box sent (calibration)."
    )
    snapshot_captured_at = models.DateTimeField(
        null=True, blank=True, help_text="When the camera captured the stored snapshot (edge box clock)."
    )
    snapshot_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When a user last asked the edge box for a snapshot."
    )
    snapshot_pending = models.BooleanField(
        default=False, help_text="A snapshot was asked for and the command has not been sent to the box yet."
    )
    last_frame_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="camera_unique_name_per_site")]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"

    @property
    def source_has_credentials(self) -> bool:
        return bool(
            self.source_username
            or self.source_password
            or self.source_secret_query
            or self.source_secret_parameters
        )

    def source_uri_for_device(self) -> str:
        """The source URL with its login, secret query and secret parameters, for the edge box that opens it
        (nothing else may see it)."""
        uri = fill_parameter_secrets(self.source_uri, list(self.source_secret_parameters or []))
        return join_source_credentials(
            uri, self.source_username, self.source_password, self.source_secret_query
        )


class ZoneKind(models.TextChoices):
    INTEREST = "interest", "Area of interest"
    RESTRICTED = "restricted", "Restricted area"
    ENTRANCE = "entrance", "Entrance / exit"
    QUEUE = "queue", "Queue"
    SERVICE = "service", "Service point (till)"
    # Counting lines: `polygon` holds a polyline (≥ 2 points) whose "in" side is the left of its first-to-last
    # direction. A door is an entrance line (its entries are the site's visits); a line only counts.
    DOOR = "door", "Entrance line (door)"
    LINE = "line", "Counting line"


LINE_KINDS = frozenset({ZoneKind.DOOR, ZoneKind.LINE})


class Zone(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ZoneKind.choices, default=ZoneKind.INTEREST)
    polygon = models.JSONField(
        help_text="Polygon [[x_m, y_m], ...] on the floor plan, ≥ 3 vertices; for a counting line (kinds door and "
        "line) a polyline of ≥ 2 points, its in side on the left of the first-to-last direction."
    )
    required_level = models.PositiveIntegerField(
        default=0, help_text="Restricted zones: minimum security level rank allowed inside."
    )
    warning_distance_m = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="Restricted zones: warn within this distance.",
    )
    color = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="zone_unique_name_per_site")]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"
