"""Setting the retention periods from the dashboard (audited): a period per data class replaces its
RETENTION_<CLASS>_DAYS setting until it is reset (None), which deletes the dashboard's row.

The audit log's period can be lengthened here (or made "for ever", 0), never shortened below the server's
setting: nobody can delete audit entries through the API (docs/privacy.md), and a short period and "Purge now"
would."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction

from server.audit.services import Actor, audited_create, audited_delete, audited_update
from server.errors import FieldError
from server.retention.models import MAX_DAYS, RetentionSetting
from server.retention.policy import CLASS_NAMES, RetentionPolicy

ATTEMPTS = 3  # of a request that raced another one creating the same class's row


def _checked(name: str, days: object) -> int | None:
    field = f"days.{name}"
    if name not in CLASS_NAMES:
        raise FieldError(
            field, f"unknown data class (one of: {', '.join(CLASS_NAMES)})", code="unknown_data_class"
        )
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise FieldError(field, "a whole number of days (0 keeps the class for ever), or null to reset it")
    if not 0 <= days <= MAX_DAYS:
        raise FieldError(field, f"between 0 (keep for ever) and {MAX_DAYS} days", code="out_of_range")
    if name == "audit":
        floor = RetentionPolicy.from_settings(settings).environment_days["audit"]
        if days != 0 and (floor == 0 or days < floor):
            kept = "for ever (0)" if floor == 0 else f"0 (for ever) or at least {floor} days"
            raise FieldError(
                field,
                f"the audit log's period can only be lengthened here: {kept} (RETENTION_AUDIT_DAYS)",
                code="audit_period_shortened",
            )
    return days


def retention_set(*, actor: Actor, days: Mapping[str, object]) -> None:
    """Set (an int) or reset (None) the period of each named class; all or nothing. Each change is audited.
    Requests at the same time apply one after the other: one that lost a race to create a class's row (no row to
    lock yet) runs again, and then sees and locks it."""
    wanted = {name: _checked(name, value) for name, value in days.items()}
    for attempt in range(ATTEMPTS):
        try:
            _apply(actor=actor, wanted=wanted)
            return
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise


@transaction.atomic
def _apply(*, actor: Actor, wanted: Mapping[str, int | None]) -> None:
    current = {row.data_class: row for row in RetentionSetting.objects.select_for_update()}
    for name, value in wanted.items():
        row = current.get(name)
        if value is None:
            if row is not None:
                audited_delete(actor=actor, instance=row)
        elif row is None:
            audited_create(actor=actor, instance=RetentionSetting(data_class=name, days=value))
        elif row.days != value:
            audited_update(actor=actor, instance=row, data={"days": value})
