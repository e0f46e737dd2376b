"""The Django bootstrap the database benchmarks share: local settings, a temporary data directory, the schema
migrated and the roles created, on the DATABASE_URL the caller chose (PostgreSQL for figures worth quoting)."""

from __future__ import annotations

import os
import tempfile


def setup_django(data_dir_prefix: str) -> None:
    """Set Django up for a benchmark process: call before importing any model."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
    os.environ.setdefault("RETAIL_DATA_DIR", tempfile.mkdtemp(prefix=data_dir_prefix))
    import django

    django.setup()
    from django.core.management import call_command

    from server.accounts.roles import ensure_roles

    call_command("migrate", interactive=False, verbosity=0)
    ensure_roles()


def analyze(*tables: str) -> None:
    """Bring the planner's statistics up to date after a bulk fill, as autovacuum does for a table in steady use
    (the CI PostgreSQL runs with autovacuum off): on never-analysed tables the planner guesses a handful of rows
    and sorts tens of thousands of them on disk where it would hash them."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}"
            )


_REFERENCE_SERVER = r"""
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.config.settings.local")
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient
client = APIClient(SERVER_NAME="localhost")
client.force_authenticate(get_user_model().objects.get(username=sys.argv[1]))
out = os.fdopen(int(sys.argv[2]), "w")  # replies; stdout is left to what the code prints
out.write("ready\n")
out.flush()
for line in sys.stdin:
    call = json.loads(line)
    with override_settings(**call["settings"]):
        started = time.perf_counter()
        response = client.get(call["url"], call["params"])
        elapsed_ms = (time.perf_counter() - started) * 1000
    out.write(json.dumps({"ms": elapsed_ms, "status": response.status_code, "body": response.content.decode()}) + "\n")
    out.flush()
"""


class ReferenceClient:
    """The same GET requests answered by another version of the code: a child process running a checkout of
    `revision` (a git revision of this repository, extracted with `git archive`, or a directory holding a
    checkout) on the same database and data directory, authenticated as `username`. Call it alternately with
    the code under test to time both in one run (`get` returns the reference's own in-process time, as the
    caller measures its own)."""

    def __init__(self, revision: str, username: str) -> None:
        import subprocess
        from pathlib import Path

        repo_root = Path(__file__).resolve().parent.parent
        if Path(revision).is_dir():
            tree = Path(revision).resolve()
            self.label = str(tree)
        else:
            tree = Path(tempfile.mkdtemp(prefix="retail-reference-"))
            archive = subprocess.run(
                ["git", "-C", str(repo_root), "archive", revision], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            commit = subprocess.run(
                ["git", "-C", str(repo_root), "rev-parse", "--short", revision],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            self.label = f"{revision} ({commit})"
        import sys

        read_fd, write_fd = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _REFERENCE_SERVER, username, str(write_fd)],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._replies = os.fdopen(read_fd)
        if self._replies.readline().strip() != "ready":
            raise RuntimeError(f"the reference process ({self.label}) did not start")

    def get(
        self, url: str, params: dict[str, str], settings: dict[str, object] | None = None
    ) -> tuple[float, int, str]:
        """(milliseconds, status, body) of the reference's answer."""
        import json

        assert self._process.stdin is not None
        self._process.stdin.write(
            json.dumps({"url": url, "params": params, "settings": settings or {}}) + "\n"
        )
        self._process.stdin.flush()
        line = self._replies.readline()
        if not line:
            raise RuntimeError(f"the reference process ({self.label}) ended")
        reply = json.loads(line)
        return float(reply["ms"]), int(reply["status"]), str(reply["body"])

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._replies.close()
