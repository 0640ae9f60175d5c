"""``fintra rebuild``: regenerate every projection from the event log, then swap it in.

Each profile's events are replayed through the same fold the live flow runs, projected by
the same functions and written by the same writer into a fresh schema. One transaction then
replaces the live projection tables' rows with the rebuilt ones, so a reader sees either the
old projections or the new, never a mix. Running it twice gives the same bytes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
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
_MAX_SHARDS: Final = 8


class RebuildError(RuntimeError):
    """A rebuild that could not finish; the live projections are left as they were."""


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
    """Project every profile, sharded over one process per core; return profiles and events.

    Profiles are independent, so each process replays and writes its own share; what they
    write together does not depend on how many there are.
    """
    with psycopg.connect(database_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        total = _profile_count(conn)
    shards = max(1, min(os.cpu_count() or 1, _MAX_SHARDS))
    context = multiprocessing.get_context("spawn")
    reports: multiprocessing.Queue[tuple[str, int, int, str]] = context.Queue()
    workers = [
        context.Process(
            target=_project_shard,
            args=(database_url, schema, fresh, (index, shards), reports),
            daemon=True,
        )
        for index in range(shards)
    ]
    for worker in workers:
        worker.start()
    profiles = events = finished = 0
    try:
        while finished < shards:
            try:
                kind, count, replayed, error = reports.get(timeout=1.0)
            except queue.Empty:
                if any(w.exitcode not in (None, 0) for w in workers):
                    msg = "a rebuild process stopped without reporting"
                    raise RebuildError(msg) from None
                continue
            if kind == "error":
                raise RebuildError(error)
            if kind == "done":
                finished += 1
                continue
            profiles, events = profiles + count, events + replayed
            if progress is not None:
                progress(profiles, total)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
    return profiles, events


def _project_shard(
    database_url: str,
    schema: str,
    fresh: str,
    shard: tuple[int, int],
    reports: multiprocessing.Queue[tuple[str, int, int, str]],
) -> None:
    """Replay, project and write one shard of the profiles, reporting each batch."""
    writer = EventLogWriter(database_url, fresh)
    try:
        with psycopg.connect(database_url) as conn:
            conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            for batch in _batches(_documents(conn, shard), _BATCH):
                writer.write(list(batch))
                reports.put(("batch", len(batch), sum(doc.version for doc in batch), ""))
        reports.put(("done", 0, 0, ""))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        reports.put(("error", 0, 0, f"{type(exc).__name__}: {exc}"))
    finally:
        writer.close()


def _documents(conn: psycopg.Connection[Any], shard: tuple[int, int]) -> Iterator[ProfileDocument]:
    with conn.transaction():
        for stream_key, stream in read_streams(conn, None, shard=shard):
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
