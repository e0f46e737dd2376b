"""Rows of a Django `values_list` query read fast: on PostgreSQL in the binary protocol."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet


def fetch_rows(rows: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a `values_list` query (datetimes aware, in UTC). On PostgreSQL in the binary protocol,
    without Django's conversions: bytea arrives as its bytes instead of hex text that psycopg decodes (a 30-day
    heat query reads 21 MB of arrays: 210 ms as text, 50 ms binary on the 2-core VM), timestamps as integers
    instead of ISO text to parse. Django's cursors bind parameters client-side, which returns text only, so
    this runs on a server-binding cursor of the same connection (same transaction)."""
    if connection.vendor != "postgresql":
        return [tuple(row) for row in rows]
    import psycopg  # the PostgreSQL driver: imported where it is the database

    sql, params = rows.query.sql_with_params()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()
