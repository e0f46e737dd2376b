"""Credential-like parameters that stay in place in a camera source URL (a path parameter, `/stream;password=x`, or
a query separated by ";", `?a=1;token=x`): their values move to the new write-only `source_secret_parameters`,
the stored `source_uri` shows each as `***`, and they are scrubbed from the cameras' audit entries (as 0003 and
0006 did for `user:password@` and `?pwd=`)."""

from typing import Any

from django.db import migrations, models

from server.inventory.models import split_parameter_secrets


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return split_parameter_secrets(value)[0]
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def move_secret_parameters_out_of_source_uris(apps: Any, schema_editor: Any) -> None:
    camera_model = apps.get_model("inventory", "Camera")
    for camera in camera_model.objects.filter(source_uri__contains="="):
        clean, values = split_parameter_secrets(camera.source_uri)
        if not values:
            continue
        camera.source_uri = clean
        camera.source_secret_parameters = values
        camera.save(update_fields=["source_uri", "source_secret_parameters"])
    audit_model = apps.get_model("audit", "AuditLog")
    for entry in audit_model.objects.filter(object_type="inventory.camera", changes__has_key="source_uri"):
        cleaned = _clean(entry.changes["source_uri"])
        if cleaned != entry.changes["source_uri"]:
            entry.changes = {**entry.changes, "source_uri": cleaned}
            entry.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_site_config_revision"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="camera",
            name="source_secret_parameters",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="camera",
            name="source_uri",
            field=models.CharField(
                blank=True,
                help_text="File path, rtsp:// URL (without user:password@ or credential query parameters; the "
                "value of a credential-like ;-separated parameter as ***) or usb:N.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(move_secret_parameters_out_of_source_uris, migrations.RunPython.noop),
    ]
