from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from server.accounts.services import user_unlock


class Command(BaseCommand):
    help = "Lift the lockout that too many failed logins put on a user (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        user = model._default_manager.filter(**{model.USERNAME_FIELD: options["username"]}).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        was_locked = user_unlock(actor=None, user=user)
        self.stdout.write(f"{user.get_username()}: {'unlocked' if was_locked else 'was not locked'}")
