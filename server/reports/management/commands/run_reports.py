"""`manage.py run_reports`: send the scheduled reports that are due now (for cron, or a process without the
runtime); `--loop` keeps checking every REPORTS_CHECK_INTERVAL_S seconds."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from server.reports.runner import run_due_reports


class Command(BaseCommand):
    help = "Send the scheduled reports that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep checking until stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            sent = run_due_reports()
            self.stdout.write(f"sent {len(sent)} report(s)")
            if not options["loop"]:
                return
            time.sleep(float(settings.REPORTS_CHECK_INTERVAL_S))
