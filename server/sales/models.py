"""Point-of-sale transactions imported per site (CSV upload or the bulk REST endpoint), for conversion.

Each row has an idempotency `key`, unique per site: the transaction id when the till system gives one, otherwise
`time|till|amount` (docs/admin-guide.md, "Point-of-sale import"). A re-import of the same rows adds nothing.
"""

from __future__ import annotations

from django.db import models


class PosTransaction(models.Model):
    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="pos_transactions")
    occurred_at = models.DateTimeField(help_text="When the till recorded the transaction.")
    till = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="Negative: a refund.")
    currency = models.CharField(max_length=3, blank=True, default="")
    transaction_id = models.CharField(max_length=128, blank=True, default="")
    key = models.CharField(max_length=200, help_text="Idempotency key: transaction id, or time|till|amount.")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="pos_transaction_unique_key")]
        indexes = [models.Index(fields=["site", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.till} {self.occurred_at:%Y-%m-%d %H:%M} {self.amount}"
