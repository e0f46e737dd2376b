"""Re-fit every stored homography from its calibration points so that it is oriented (w > 0 at the points).

Homographies stored before were scaled by h22 alone; for a ceiling camera whose top-left pixel sees above
the horizon that flipped the sign and the edge dropped every floor point. A camera whose points no longer
fit (they straddle the horizon) keeps its stored matrix; the edge orients it by its floor region or frame.
"""

from typing import Any

from django.db import migrations


def orient(apps: Any, schema_editor: Any) -> None:
    from server.analytics.floor_geometry import GeometryError, homography_from_points

    Camera = apps.get_model("inventory", "Camera")
    for camera in Camera.objects.exclude(homography=None).iterator():
        points = camera.calibration_points or []
        try:
            homography, _ = homography_from_points(
                [p["image_px"] for p in points], [p["floor_m"] for p in points]
            )
        except (GeometryError, KeyError, TypeError, ValueError):
            continue
        camera.homography = [[float(v) for v in row] for row in homography]
        camera.save(update_fields=["homography"])


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_camera_snapshot_request_and_capture_time")]

    operations = [migrations.RunPython(orient, migrations.RunPython.noop)]
