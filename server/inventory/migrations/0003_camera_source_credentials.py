"""Camera source credentials apart from the URL: a `user:password@` in a stored source URL moves to the new
write-only fields, and is scrubbed from the cameras' audit entries."""

from typing import Any

from django.db import migrations, models

from server.inventory.models import split_source_credentials


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return split_source_credentials(value)[0]
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def move_userinfo_out_of_source_uris(apps: Any, schema_editor: Any) -> None:
    camera_model = apps.get_model("inventory", "Camera")
    for camera in camera_model.objects.filter(source_uri__contains="@"):
        clean, username, password = split_source_credentials(camera.source_uri)
        if username is None:
            continue
        camera.source_uri = clean
        camera.source_username = camera.source_username or username
        camera.source_password = camera.source_password or (password or "")
        camera.save(update_fields=["source_uri", "source_username", "source_password"])
    audit_model = apps.get_model("audit", "AuditLog")
    for entry in audit_model.objects.filter(object_type="inventory.camera", changes__has_key="source_uri"):
        cleaned = _clean(entry.changes["source_uri"])
        if cleaned != entry.changes["source_uri"]:
            entry.changes = {**entry.changes, "source_uri": cleaned}
            entry.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_alter_site_options_alter_camera_analysis_rate_hz_and_more"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="camera",
            name="source_password",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AddField(
            model_name="camera",
            name="source_username",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="camera",
            name="source_uri",
            field=models.CharField(
                blank=True,
                help_text="File path, rtsp:// URL (without user:password@) or usb:N.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(move_userinfo_out_of_source_uris, migrations.RunPython.noop),
    ]
