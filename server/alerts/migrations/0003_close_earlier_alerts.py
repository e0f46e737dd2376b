# The data step of 0002 in its own migration: PostgreSQL refuses 0002's deferred CREATE INDEX in a transaction
# whose UPDATEs left foreign-key trigger events pending.

from django.db import migrations
from django.db.models import F


def close_earlier_alerts(apps, schema_editor):
    """Alerts from before incidents were one-off events: closed when raised, named after their employee."""
    Alert = apps.get_model("alerts", "Alert")
    Alert.objects.filter(closed_at__isnull=True).update(closed_at=F("raised_at"), updated_at=F("raised_at"))
    Alert.objects.filter(kind="alarm", escalated_at__isnull=True).update(escalated_at=F("raised_at"))
    for alert in Alert.objects.filter(employee__isnull=False).select_related("employee").iterator():
        alert.person_name = alert.employee.name[:200]
        alert.save(update_fields=["person_name"])


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0002_alert_incidents'),
        ('people', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(close_earlier_alerts, migrations.RunPython.noop),
    ]
