"""Users and groups are Django's. `SiteAccess` says on which sites a user is allowed (per-site permissions); the
module also makes migrate send this app a post_migrate signal (which creates the role groups)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SiteAccess(models.Model):
    """The sites a user may see and act on. No row, or `all_sites`: every site (a chain user, the demo users);
    admins and superusers are always on every site (server.accounts.sites)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_access"
    )
    all_sites = models.BooleanField(default=True, help_text="Allowed on every site, present and future.")
    sites = models.ManyToManyField(
        "inventory.Site", blank=True, related_name="+", help_text="The sites allowed when not all_sites."
    )

    class Meta:
        verbose_name = "site access"
        verbose_name_plural = "site access"

    def __str__(self) -> str:
        return f"site access of user {self.user_id}"
