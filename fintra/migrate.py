"""Apply the SQL migrations in ``infra/migrations`` to one schema, once each, in order.

A file named ``NNNN_name.common.sql`` always applies. Where TimescaleDB can be installed,
``NNNN_name.timescaledb.sql`` applies instead of ``NNNN_name.partitioned.sql``; otherwise the
partitioned variant does. Applied versions are recorded, so running again is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from fintra.settings import INFRA_DIR

MIGRATIONS_DIR = INFRA_DIR / "migrations"
_LOCK_ID = 0x46494E54  # one migrator at a time per database


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file and the version it records."""

    version: str
    variant: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """List the migration files, ordered by version."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        stem, variant = path.stem.rsplit(".", 1)
        found.append(Migration(version=stem, variant=variant, path=path))
    return found


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """Whether the server can create the TimescaleDB extension."""
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def migrate(database_url: str, schema: str) -> list[str]:
    """Bring ``schema`` up to date; return the versions applied by this call."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            return _apply_all(conn, schema)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _apply_all(conn: psycopg.Connection, schema: str) -> list[str]:
    timescale = timescaledb_available(conn)
    if timescale:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, variant text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    wanted = {"common", "timescaledb" if timescale else "partitioned"}
    applied = []
    for migration in discover():
        if migration.variant not in wanted or migration.version in done:
            continue
        with conn.transaction():
            conn.execute(migration.path.read_text())
            conn.execute(
                "INSERT INTO schema_migrations (version, variant) VALUES (%s, %s)",
                (migration.version, migration.variant),
            )
        applied.append(migration.version)
    return applied


def set_api_password(database_url: str, password: str) -> None:
    """Let the API log in as ``fintra_api`` with a password (deployments without trust)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE fintra_api PASSWORD {}").format(sql.Literal(password)))
