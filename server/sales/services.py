"""Writes: import point-of-sale transactions for a site, all or nothing, idempotent by key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from server.audit.services import Actor, audit_record
from server.errors import ApplicationError
from server.inventory.localtime import site_zone
from server.inventory.models import Site
from server.sales.models import PosTransaction
from server.sales.rows import MAX_ERRORS_LISTED, ParsedRows, SaleRow, parse_csv, parse_items

_BATCH = 2000


def _refuse_invalid(parsed: ParsedRows) -> None:
    if not parsed.errors:
        return
    count = len(parsed.errors)
    raise ApplicationError(
        f"{count} problem(s) in the transactions; nothing was imported. Fix them and import again "
        "(rows already imported are recognised and not added twice).",
        code="invalid_transactions",
        extra={
            "errors": [error.as_dict() for error in parsed.errors[:MAX_ERRORS_LISTED]],
            "error_count": count,
        },
    )


@transaction.atomic
def _store(*, actor: Actor, site: Site, rows: Iterable[SaleRow], source: str) -> dict[str, int]:
    # One import per site at a time: a concurrent identical import waits here, then finds these rows stored and
    # answers them as duplicates (without the lock both answered "created", the unique key kept one copy).
    Site.objects.select_for_update().filter(pk=site.pk).first()
    received = created = 0
    seen: set[str] = set()
    pending: list[SaleRow] = []

    def flush() -> int:
        keys = [row.key for row in pending]
        existing = set(PosTransaction.objects.filter(site=site, key__in=keys).values_list("key", flat=True))
        fresh = [
            PosTransaction(
                site=site,
                occurred_at=row.occurred_at,
                till=row.till,
                amount=row.amount,
                currency=row.currency,
                transaction_id=row.transaction_id,
                key=row.key,
            )
            for row in pending
            if row.key not in existing
        ]
        PosTransaction.objects.bulk_create(fresh, ignore_conflicts=True)
        pending.clear()
        return len(fresh)

    for row in rows:
        received += 1
        if row.key in seen:
            continue  # the same transaction twice in one import
        seen.add(row.key)
        pending.append(row)
        if len(pending) >= _BATCH:
            created += flush()
    if pending:
        created += flush()
    result = {"received": received, "created": created, "duplicates": received - created}
    audit_record(
        actor=actor, action="import_transactions", instance=site, changes={**result, "source": source}
    )
    return result


def transactions_import_csv(*, actor: Actor, site: Site, data: bytes) -> dict[str, int]:
    """Import a CSV file (format: server.sales.rows.parse_csv); {"received", "created", "duplicates"}."""
    parsed = parse_csv(data, zone=site_zone(site))
    _refuse_invalid(parsed)
    return _store(actor=actor, site=site, rows=parsed.rows, source="csv")


def transactions_import_items(*, actor: Actor, site: Site, items: list[Any]) -> dict[str, int]:
    """Import a JSON list of {"time", "till", "amount", "currency"?, "transaction_id"?}."""
    parsed = parse_items(items, zone=site_zone(site))
    _refuse_invalid(parsed)
    return _store(actor=actor, site=site, rows=parsed.rows, source="json")
