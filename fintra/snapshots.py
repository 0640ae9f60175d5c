"""``fintra snapshots rebuild``: regenerate daily history rows from the event log.

Each profile's events are replayed through the same fold the live flow runs, and its daily
history is derived by the same function, so the rebuilt rows equal the live ones.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import set_json_loads

from flows.postgres import event_from_row
from operators.engines import daily_history
from operators.twin import ProfileState, replay
from schemas.events import Event


@dataclass(frozen=True, slots=True)
class RebuildCounts:
    """What a rebuild wrote."""

    profiles: int
    events: int
    balance_rows: int
    net_worth_rows: int


def read_streams(
    conn: psycopg.Connection[Any],
    tenant_id: str | None,
    profile_id: str | None = None,
    *,
    shard: tuple[int, int] | None = None,
) -> Iterator[tuple[str, list[Event]]]:
    """Yield each profile's events from the log (one tenant's, one profile's), in order.

    ``shard`` ``(i, n)`` keeps the profiles whose key hashes to ``i`` of ``n``: n readers
    with i = 0 .. n-1 see every profile once between them.
    """
    clauses: list[sql.Composable] = [
        sql.SQL("{} = %s").format(sql.Identifier(name))
        for name, value in (("tenant_id", tenant_id), ("profile_id", profile_id))
        if value
    ]
    params: tuple[object, ...] = tuple(value for value in (tenant_id, profile_id) if value)
    if shard is not None:
        clauses.append(sql.SQL("mod(abs(hashtext(tenant_id || ':' || profile_id)), %s) = %s"))
        params += (shard[1], shard[0])
    where = sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    query = sql.SQL(
        "SELECT event_id::text, type, schema_version, tenant_id, profile_id, stream_version,"
        " occurred_at, source, payload, payload_hash, prev_hash FROM core_events {}"
        " ORDER BY tenant_id, profile_id, stream_version"
    ).format(where)
    current: str | None = None
    events: list[Event] = []
    with conn.cursor(name="fintra_rebuild") as cur:
        # Large fetches, and payloads parsed by orjson: reading is most of a rebuild's time.
        cur.itersize = 5000
        set_json_loads(orjson.loads, cur)
        cur.execute(query, params)
        for row in cur:
            key = f"{row[3]}:{row[4]}"
            if key != current and current is not None:
                yield current, events
                events = []
            current = key
            events.append(event_from_row(row))
    if current is not None:
        yield current, events


def rebuild_history(
    database_url: str, schema: str, start: dt.date, end: dt.date, *, tenant_id: str | None = None
) -> RebuildCounts:
    """Replace the history rows between ``start`` and ``end`` (inclusive) from the log."""
    with psycopg.connect(database_url) as read, psycopg.connect(database_url) as write:
        for conn in (read, write):
            conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        profiles = events = balances = worth = 0
        with write.transaction(), write.cursor() as cur:
            for stream_key, stream in read_streams(read, tenant_id):
                state = replay(stream_key, stream)
                balances += _write_profile(cur, state, start, end)[0]
                worth += _write_profile(cur, state, start, end, net_worth=True)[1]
                profiles += 1
                events += len(stream)
                if profiles % 100 == 0:
                    print(f"  rebuilt {profiles} profiles ({events} events)", file=sys.stderr)
    return RebuildCounts(profiles, events, balances, worth)


def _write_profile(
    cur: psycopg.Cursor[Any],
    state: ProfileState,
    start: dt.date,
    end: dt.date,
    *,
    net_worth: bool = False,
) -> tuple[int, int]:
    history = daily_history(state)
    low, high = start.isoformat(), end.isoformat()
    key = (state.tenant_id, state.profile_id)
    if net_worth:
        cur.execute(
            "DELETE FROM historical_net_worth WHERE tenant_id = %s AND profile_id = %s"
            " AND day BETWEEN %s AND %s",
            (*key, low, high),
        )
        rows = [
            (*key, day, value, currency, state.version)
            for day, value, currency in history.net_worth
            if low <= day <= high
        ]
        cur.executemany("INSERT INTO historical_net_worth VALUES (%s, %s, %s, %s, %s, %s)", rows)
        return 0, len(rows)
    cur.execute(
        "DELETE FROM historical_balances WHERE tenant_id = %s AND profile_id = %s"
        " AND day BETWEEN %s AND %s",
        (*key, low, high),
    )
    rows_b = [
        (*key, account, day, value, currency, state.version)
        for account, day, value, currency in history.accounts
        if low <= day <= high
    ]
    cur.executemany("INSERT INTO historical_balances VALUES (%s, %s, %s, %s, %s, %s, %s)", rows_b)
    return len(rows_b), 0
