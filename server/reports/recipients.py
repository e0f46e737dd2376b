"""Who a scheduled report may be mailed to. Admins: any address (an accountant, the board). Everyone else: the
addresses of the system's active users (themselves, colleagues), checked when the schedule is saved and again
at each send, so a non-admin cannot use the server's SMTP relay to mail the chain's figures anywhere, and a
colleague who left (deactivated, address changed) gets no more reports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

from server.accounts.roles import ADMIN


def may_mail_anyone(user: Any) -> bool:
    return bool(user.is_superuser) or user.groups.filter(name=ADMIN).exists()


def _user_addresses(addresses: Iterable[str]) -> set[str]:
    wanted = {address.strip().lower() for address in addresses}
    found = get_user_model().objects.filter(is_active=True).exclude(email="").values_list("email", flat=True)
    return {email.strip().lower() for email in found} & wanted


def refused_recipients(owner: Any, addresses: list[str]) -> list[str]:
    """The addresses `owner` may not mail a report to (none for an admin)."""
    if may_mail_anyone(owner):
        return []
    known = _user_addresses(addresses)
    return [address for address in addresses if address.strip().lower() not in known]
