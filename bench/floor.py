"""The least CPU the design's storage asks per transaction: ``.venv/bin/python bench/floor.py``.

The throughput goals leave a budget of CPU per transaction (35,000 tx/s on this machine's
cores) and per event (a rebuild at 100,000 events/s). This measures what the event log alone
costs against those budgets, with nothing else running:

- **write**: a transaction's log rows (its events, as the fold emits them) copied straight
  into ``core_events`` in batches of 20,000 rows: no staging table, no event-id ledger, no
  outbox, no projections. Once as the migrations create the log (JSONB ``source`` and
  ``payload``, the two unique indexes DESIGN.md requires), then with each of those removed,
  to show what each costs;
- **read**: the log read back in stream order and its payloads parsed, as a rebuild starts;
- **fold**: the fold in-process (``operators.pipeline.process``, no projection, no I/O).

PostgreSQL's CPU is read from ``/proc`` for the backend that does the work; the client's is
this process's; each write and read is the least of ``RUNS`` runs. It is not part of
``make bench``; ``FLOOR_TRANSACTIONS`` (default 20,000) sets the size.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson
import psycopg
from harness import Bench, Namespace, sample_for, say
from psycopg import sql
from psycopg.types.json import set_json_loads

from fintra.migrate import migrate
from fintra.worker import GC_THRESHOLDS
from flows.postgres import EVENT_COLUMNS, event_row
from operators.decode import DecodeLimits
from operators.pipeline import process
from operators.twin import ProfileState
from schemas.events import Event, EventType
from schemas.records import RawRecord

FLOOR: Final = Namespace("floor")
_TICKS: Final = os.sysconf("SC_CLK_TCK")
_BATCH: Final = 20_000
#: Each measure is the least of this many runs: the machine's timing varies.
RUNS: Final = 3
_TEXT: Final = (
    "ALTER TABLE core_events ALTER COLUMN payload TYPE text, ALTER COLUMN source TYPE text"
)
_NO_STREAM_INDEX: Final = "DROP INDEX core_events_stream"
_NO_PRIMARY_KEY: Final = "ALTER TABLE core_events DROP CONSTRAINT core_events_pkey"
#: Each variant of the log, as DDL applied to the migrated one.
VARIANTS: Final = {
    "as migrated (JSONB, both unique indexes)": (),
    "payload and source as text": (_TEXT,),
    "as text, without the stream index": (_TEXT, _NO_STREAM_INDEX),
    "as text, without any index": (_TEXT, _NO_STREAM_INDEX, _NO_PRIMARY_KEY),
}


def backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend has used."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def measured(conn: psycopg.Connection[Any], work: Callable[[], object]) -> tuple[float, float]:
    """PostgreSQL's and this process's CPU seconds for ``work``."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    pid = int(row[0])
    server, client = backend_cpu(pid), time.process_time()
    work()
    return backend_cpu(pid) - server, time.process_time() - client


def folded(transactions: int) -> tuple[list[Event], int, float]:
    """The events of a generated sample, the transactions added, and the fold's CPU seconds."""
    sample = sample_for(transactions, max(10, transactions // 150))
    records = [
        (key, RawRecord(key.encode(), orjson.dumps(envelope), "syncs", 0, offset))
        for offset, envelope in enumerate(sample.envelopes)
        for key in [f"{envelope['tenant_id']}:{envelope['profile_id']}"]
    ]
    states: dict[str, ProfileState] = {}
    events: list[Event] = []
    started = time.process_time()
    for key, record in records:
        states[key], outputs = process(states.get(key), key, record, DecodeLimits(), project=False)
        events += [output for output in outputs if isinstance(output, Event)]
    fold = time.process_time() - started
    added = sum(1 for event in events if event.type == EventType.TRANSACTION_ADDED)
    return events, added, fold


def fresh_log(url: str, ddl: Sequence[str], events: Sequence[Event]) -> None:
    """Recreate the namespace's schema, with its log changed by ``ddl``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(FLOOR.schema))
        )
    migrate(url, FLOOR.schema)
    with psycopg.connect(url) as conn:
        use_schema(conn)
        months = sorted({event.occurred_at[:7] for event in events})
        for month in months:
            conn.execute("SELECT core_ensure_event_partition(%s::timestamptz)", (f"{month}-01",))
        for statement in ddl:
            conn.execute(statement)


def use_schema(conn: psycopg.Connection[Any]) -> None:
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(FLOOR.schema)))


def write(conn: psycopg.Connection[Any], rows: Sequence[tuple[object, ...]]) -> None:
    """Copy the rows into the log, one transaction per batch."""
    columns = sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
    statement = sql.SQL("COPY core_events ({}) FROM STDIN").format(columns)
    for first in range(0, len(rows), _BATCH):
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows[first : first + _BATCH]:
                copy.write_row(row)
        conn.commit()


def read(conn: psycopg.Connection[Any]) -> int:
    """Read the log in stream order, payloads parsed, as a rebuild does; return the rows."""
    count = 0
    with conn.cursor(name="floor_read") as cur:
        cur.itersize = 5000
        set_json_loads(orjson.loads, cur)
        cur.execute(
            "SELECT event_id::text, type, schema_version, tenant_id, profile_id, stream_version,"
            " occurred_at, source, payload, payload_hash, prev_hash FROM core_events"
            " ORDER BY tenant_id, profile_id, stream_version"
        )
        for _ in cur:
            count += 1
    conn.commit()
    return count


def main() -> None:
    transactions = int(os.environ.get("FLOOR_TRANSACTIONS", "20000"))
    cores = os.cpu_count() or 1
    say(f"folding {transactions:,} transactions in-process")
    gc.set_threshold(*GC_THRESHOLDS)  # as a worker runs
    events, added, fold = folded(transactions)
    rows = [event_row(event) for event in events]
    per_tx = len(events) / added
    budget_tx = cores / 35_000 * 1e6
    budget_event = cores / 100_000 * 1e6
    say(f"{len(events):,} events for {added:,} transactions ({per_tx:.2f} per transaction)")
    say(f"budget on {cores} cores: {budget_tx:.0f} µs per transaction at 35,000 tx/s,")
    say(f"  {budget_event:.0f} µs per event for a rebuild at 100,000 events/s")
    say(f"fold, in-process: {fold / added * 1e6:,.0f} µs per transaction")
    bench = Bench.create()
    try:
        bench.up()
        url = bench.stack.database_url
        for name, ddl in VARIANTS.items():
            runs = []
            for _ in range(RUNS):
                fresh_log(url, ddl, events)
                with psycopg.connect(url) as conn:
                    use_schema(conn)
                    runs.append(measured(conn, functools.partial(write, conn, rows)))
            server, client = min(runs, key=sum)
            total = (server + client) / added * 1e6
            say(
                f"write, {name}: PostgreSQL {server / added * 1e6:.0f} + client"
                f" {client / added * 1e6:.0f} = {total:.0f} µs per transaction"
            )
        fresh_log(url, (), events)
        with psycopg.connect(url) as conn:
            use_schema(conn)
            write(conn, rows)
            conn.execute("ANALYZE core_events")
            conn.commit()
            server, client = min(
                (measured(conn, functools.partial(read, conn)) for _ in range(RUNS)), key=sum
            )
        say(
            f"read, as migrated, in stream order: PostgreSQL {server / len(events) * 1e6:.1f} +"
            f" client {client / len(events) * 1e6:.1f} ="
            f" {(server + client) / len(events) * 1e6:.1f} µs per event"
        )
    finally:
        bench.close(keep=False)


if __name__ == "__main__":
    main()
