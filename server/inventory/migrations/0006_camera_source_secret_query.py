"""Credential-like query parameters of a camera source (`snapshot.cgi?user=admin&pwd=x`) apart from the URL: those
in a stored source URL move to the new write-only `source_secret_query`, and are scrubbed from the cameras' audit
entries (as 0003 did for `user:password@`)."""

from typing import Any

from django.db import migrations, models

from server.inventory.models import split_secret_query


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return split_secret_query(value)[0]
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def move_secret_query_out_of_source_uris(apps: Any, schema_editor: Any) -> None:
    camera_model = apps.get_model("inventory", "Camera")
    for camera in camera_model.objects.filter(source_uri__contains="?"):
        clean, secret = split_secret_query(camera.source_uri)
        if not secret:
            continue
        camera.source_uri = clean
        camera.source_secret_query = camera.source_secret_query or secret
        camera.save(update_fields=["source_uri", "source_secret_query"])
    audit_model = apps.get_model("audit", "AuditLog")
    for entry in audit_model.objects.filter(object_type="inventory.camera", changes__has_key="source_uri"):
        cleaned = _clean(entry.changes["source_uri"])
        if cleaned != entry.changes["source_uri"]:
            entry.changes = {**entry.changes, "source_uri": cleaned}
            entry.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_orient_stored_homographies"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="camera",
            name="source_secret_query",
            field=models.CharField(blank=True, default="", max_length=1000),
        ),
        migrations.AlterField(
            model_name="camera",
            name="source_uri",
            field=models.CharField(
                blank=True,
                help_text="File path, rtsp:// URL (without user:password@ or credential query parameters) or "
                "usb:N.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(move_secret_query_out_of_source_uris, migrations.RunPython.noop),
    ]
