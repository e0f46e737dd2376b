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
