"""`retail-server manage purge`: delete what is older than its retention period now (docs/privacy.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from server.retention import purge
from server.timeseries.factory import build_backend, config_from_settings


class Command(BaseCommand):
    help = "Delete the data older than its retention period (RETENTION_*_DAYS) and print what was deleted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-timeseries", action="store_true", help="leave the time series alone")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = None if options["no_timeseries"] else build_backend(config_from_settings())
        try:
            run = purge.purge(policy=purge.current_policy(), backend=backend, trigger="command")
        finally:
            if backend is not None:
                backend.close()
        self.stdout.write(json.dumps({"deleted": run.deleted, "errors": run.errors}, sort_keys=True))
        if run.errors:
            self.stderr.write("some data classes were not purged: " + ", ".join(sorted(run.errors)))
