from typing import Any

from django.core.management.base import BaseCommand

from server.accounts.roles import ensure_roles


class Command(BaseCommand):
    help = (
        "Create the admin / installer / staff groups and give them their permissions (also done by migrate)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in ensure_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
