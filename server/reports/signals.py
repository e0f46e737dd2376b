"""A schedule whose chosen sites are all deleted stops: its empty site list would otherwise mean "every site the
owner is allowed on" (server.reports.runner.schedule_site_ids), a report nobody asked for."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from server.inventory.models import Site
from server.reports.models import ReportSchedule


@receiver(pre_delete, sender=Site, dispatch_uid="reports_site_deleted")
def disable_schedules_of_deleted_site(sender: type[Site], instance: Site, **kwargs: Any) -> None:
    chosen = list(ReportSchedule.objects.filter(sites=instance).values_list("pk", flat=True))
    orphaned = (  # counted apart from the filter above (whose join would count this site only)
        ReportSchedule.objects.filter(pk__in=chosen)
        .annotate(site_count=Count("sites"))
        .filter(site_count=1)
        .values_list("pk", flat=True)
    )
    ReportSchedule.objects.filter(pk__in=list(orphaned)).update(
        enabled=False, last_error=f"its site {instance.name!r} was deleted; choose sites and enable it again"
    )
