"""``fintra rebuild``: regenerate every projection from the event log, then swap it in.

Each profile's events are replayed through the same fold the live flow runs, projected by
the same functions and written by the same writer into a fresh schema. One transaction then
replaces the live projection tables' rows with the rebuilt ones, so a reader sees either the
old projections or the new, never a mix. Running it twice gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg import sql

from fintra.migrate import migrate
from fintra.snapshots import read_streams
from flows.postgres import EventLogWriter
from operators.pipeline import ProfileDocument, projection
from operators.twin import replay

#: The projections a rebuild regenerates; the event log itself is never rewritten.
PROJECTION_TABLES: Final = (
    "view_unified_profile",
    "historical_balances",
    "historical_net_worth",
    "transaction_search",
)
_BATCH: Final = 200


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild read and wrote."""

    profiles: int
    events: int
    rows: dict[str, int]


Progress = Callable[[int, int], None]


def rebuild(database_url: str, schema: str, *, progress: Progress | None = None) -> RebuildReport:
    """Regenerate the projections of ``schema`` from its event log and swap them in."""
    fresh = f"{schema}_rebuild"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(fresh)))
    migrate(database_url, fresh)
    try:
        profiles, events = _project_all(database_url, schema, fresh, progress)
        rows = _swap(database_url, schema, fresh)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(fresh))
            conn.execute(drop)
    return RebuildReport(profiles, events, rows)


def _project_all(
    database_url: str, schema: str, fresh: str, progress: Progress | None
) -> tuple[int, int]:
    writer = EventLogWriter(database_url, fresh)
    profiles = events = 0
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            total = _profile_count(conn)
            for batch in _batches(_documents(conn), _BATCH):
                writer.write(list(batch))
                profiles += len(batch)
                events += sum(doc.version for doc in batch)
                if progress is not None:
                    progress(profiles, total)
    finally:
        writer.close()
    return profiles, events


def _documents(conn: psycopg.Connection[Any]) -> Iterator[ProfileDocument]:
    for stream_key, stream in read_streams(conn, None):
        yield projection(replay(stream_key, stream), stream)


def _batches(items: Iterator[ProfileDocument], size: int) -> Iterator[list[ProfileDocument]]:
    batch: list[ProfileDocument] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _profile_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM (SELECT DISTINCT tenant_id, profile_id FROM core_event_ids) profiles"
    ).fetchone()
    return int(row[0]) if row else 0


def _swap(database_url: str, schema: str, fresh: str) -> dict[str, int]:
    """Replace each live projection's rows with the rebuilt ones, in one transaction."""
    rows: dict[str, int] = {}
    with psycopg.connect(database_url) as conn, conn.transaction():
        for table in PROJECTION_TABLES:
            live = sql.Identifier(schema, table)
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(live))
        for table in PROJECTION_TABLES:
            columns = sql.SQL(", ").join(map(sql.Identifier, _stored_columns(conn, schema, table)))
            live, rebuilt = sql.Identifier(schema, table), sql.Identifier(fresh, table)
            conn.execute(sql.SQL("DELETE FROM {}").format(live))
            cursor = conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    live, columns, columns, rebuilt
                )
            )
            rows[table] = cursor.rowcount
    return rows


def _stored_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    """The columns a row is written with (generated ones are derived by the table)."""
    found = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
        " AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [row[0] for row in found]
