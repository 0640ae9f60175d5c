"""Read projections back from PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def _connect(database_url: str, schema: str) -> psycopg.Connection:
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    return conn


def load_profile(
    database_url: str, schema: str, tenant_id: str, profile_id: str
) -> dict[str, Any] | None:
    """Return a profile's projection document, or ``None`` if the profile is unknown."""
    with _connect(database_url, schema) as conn:
        row = conn.execute(
            "SELECT doc FROM view_unified_profile WHERE tenant_id = %s AND profile_id = %s",
            (tenant_id, profile_id),
        ).fetchone()
    return None if row is None else dict(row[0])


def list_profiles(database_url: str, schema: str) -> list[dict[str, Any]]:
    """Return every profile document, ordered by tenant and profile."""
    with _connect(database_url, schema) as conn:
        rows = conn.execute(
            "SELECT doc FROM view_unified_profile ORDER BY tenant_id, profile_id"
        ).fetchall()
    return [dict(row[0]) for row in rows]


def event_counts(database_url: str, schema: str) -> dict[str, int]:
    """Return how many events of each type the log holds."""
    with _connect(database_url, schema) as conn:
        rows = conn.execute("SELECT type, count(*) FROM core_events GROUP BY type").fetchall()
    return {row[0]: int(row[1]) for row in rows}


def event_total(database_url: str, schema: str) -> int:
    """Return how many events the log holds."""
    with _connect(database_url, schema) as conn:
        row = conn.execute("SELECT count(*) FROM core_event_ids").fetchone()
    return int(row[0]) if row else 0
