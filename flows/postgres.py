"""The PostgreSQL sink: the event log and the profile projection, one transaction per batch.

Rows go in by COPY into session-local staging tables, then ``INSERT … SELECT … ON CONFLICT
DO NOTHING`` against the event-id ledger, so a batch Bytewax replays after a crash adds
nothing. Profile documents are coalesced per profile and upserted only when their version
grows. Events and the projections they explain commit together or not at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

import orjson
import psycopg
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Message, Producer
from prometheus_client import Counter, Histogram
from psycopg import sql
from psycopg.types.json import set_json_loads

from flows.exceptions import StoreError
from flows.metrics import RECEIPTS, observe_latency
from operators.pipeline import ProfileDocument
from operators.search import SearchRow
from schemas.envelopes import utc_iso
from schemas.events import Event
from schemas.money import format_minor

SinkItem = Event | ProfileDocument

_log = logging.getLogger(__name__)
T = TypeVar("T")

EVENT_COLUMNS: Final = (
    "event_id",
    "tenant_id",
    "profile_id",
    "stream_version",
    "type",
    "schema_version",
    "occurred_at",
    "source",
    "payload",
    "payload_hash",
    "prev_hash",
)

_SETUP: Final = """
CREATE TEMP TABLE IF NOT EXISTS stage_events
    (LIKE core_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_profiles
    (LIKE view_unified_profile INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_balances
    (LIKE historical_balances INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_net_worth
    (LIKE historical_net_worth INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_search (
    tenant_id text, profile_id text, transaction_id text, version bigint, kind text,
    account_id text, day date, amount_minor bigint, amount numeric, currency text,
    status text, merchant text, clean_merchant text, category text[], category_source text,
    source_event_id uuid
) ON COMMIT DELETE ROWS;
"""

SEARCH_COLUMNS: Final = (
    "tenant_id",
    "profile_id",
    "transaction_id",
    "version",
    "kind",
    "account_id",
    "day",
    "amount_minor",
    "amount",
    "currency",
    "status",
    "merchant",
    "clean_merchant",
    "category",
    "category_source",
    "source_event_id",
)

# Search rows of one sink batch may come from several projections of a profile: each kind
# is applied newest first, and only over an older row, so the order of batches never matters.
_APPLY_SEARCH: Final = """
INSERT INTO transaction_search AS t (tenant_id, profile_id, transaction_id, version, removed,
    account_id, day, amount_minor, amount, currency, status, merchant, clean_merchant,
    category, category_text, category_source, source_event_id)
SELECT DISTINCT ON (tenant_id, profile_id, transaction_id) tenant_id, profile_id,
    transaction_id, version, false, account_id, day, amount_minor, amount, currency, status,
    merchant, clean_merchant, category, array_to_string(category, ' '), category_source,
    source_event_id
FROM stage_search WHERE kind = 'upsert'
ORDER BY tenant_id, profile_id, transaction_id, version DESC
ON CONFLICT (tenant_id, profile_id, transaction_id) DO UPDATE SET
    version = EXCLUDED.version, removed = false, account_id = EXCLUDED.account_id,
    day = EXCLUDED.day, amount_minor = EXCLUDED.amount_minor, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, status = EXCLUDED.status, merchant = EXCLUDED.merchant,
    clean_merchant = EXCLUDED.clean_merchant, category = EXCLUDED.category,
    category_text = EXCLUDED.category_text, category_source = EXCLUDED.category_source,
    source_event_id = EXCLUDED.source_event_id
WHERE t.version < EXCLUDED.version;

INSERT INTO transaction_search AS t
    (tenant_id, profile_id, transaction_id, version, removed, source_event_id)
SELECT DISTINCT ON (tenant_id, profile_id, transaction_id) tenant_id, profile_id,
    transaction_id, version, true, source_event_id
FROM stage_search WHERE kind = 'remove'
ORDER BY tenant_id, profile_id, transaction_id, version DESC
ON CONFLICT (tenant_id, profile_id, transaction_id) DO UPDATE SET
    version = EXCLUDED.version, removed = true, account_id = NULL, day = NULL,
    amount_minor = NULL, amount = NULL, currency = NULL, status = NULL, merchant = NULL,
    clean_merchant = NULL, category = '{}', category_text = '', category_source = NULL,
    source_event_id = EXCLUDED.source_event_id
WHERE t.version < EXCLUDED.version;

UPDATE transaction_search t SET version = s.version, category = s.category,
    clean_merchant = coalesce(s.clean_merchant, t.clean_merchant),
    category_text = array_to_string(s.category, ' '), category_source = s.category_source,
    source_event_id = s.source_event_id
FROM (SELECT DISTINCT ON (tenant_id, profile_id, transaction_id) * FROM stage_search
      WHERE kind = 'category' ORDER BY tenant_id, profile_id, transaction_id, version DESC) s
WHERE t.tenant_id = s.tenant_id AND t.profile_id = s.profile_id
    AND t.transaction_id = s.transaction_id AND t.version < s.version;
"""

# Each command's outcome is the event its command id caused (the applied event or
# CommandRejected); a replayed batch finds it already recorded.
_RECORD_COMMAND_OUTCOMES: Final = """
INSERT INTO command_outcomes (tenant_id, profile_id, command_id, event_id, event_type,
    stream_version, reason, message, occurred_at)
SELECT tenant_id, profile_id, payload->>'command_id', event_id, type, stream_version,
    payload->>'reason', payload->>'message', occurred_at
FROM stage_events
WHERE source->>'provider' = 'command' AND payload ? 'command_id'
ON CONFLICT (tenant_id, command_id) DO NOTHING
"""

_REPLACE_HISTORY: Final = """
DELETE FROM historical_balances h USING (SELECT DISTINCT tenant_id, profile_id
    FROM stage_balances) s WHERE h.tenant_id = s.tenant_id AND h.profile_id = s.profile_id;
INSERT INTO historical_balances SELECT * FROM stage_balances;
DELETE FROM historical_net_worth h USING (SELECT DISTINCT tenant_id, profile_id
    FROM stage_net_worth) s WHERE h.tenant_id = s.tenant_id AND h.profile_id = s.profile_id;
INSERT INTO historical_net_worth SELECT * FROM stage_net_worth;
"""

_COPY_PROFILES: Final = (
    "COPY stage_profiles (tenant_id, profile_id, version, source_event_id, doc) FROM STDIN"
)

_ENSURE_PARTITIONS: Final = """
SELECT core_ensure_event_partition(month)
FROM (SELECT DISTINCT date_trunc('month', occurred_at) AS month FROM stage_events) months
"""

# Only events new to the log are appended, and only they enter the outbox: an event a
# replayed batch repeats is dropped here and never published twice. The ids returned are
# those the writer is to publish.
_INSERT_EVENTS: Final = """
WITH fresh AS (
    INSERT INTO core_event_ids (event_id, tenant_id, profile_id, stream_version, occurred_at)
    SELECT DISTINCT ON (event_id) event_id, tenant_id, profile_id, stream_version, occurred_at
    FROM stage_events
    ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), logged AS (
    INSERT INTO core_events
    SELECT DISTINCT ON (s.event_id) s.* FROM stage_events s JOIN fresh USING (event_id)
    ORDER BY s.event_id
    RETURNING event_id, tenant_id, profile_id, stream_version, type
)
"""
_LOGGED: Final = "SELECT event_id FROM logged"
_QUEUE_LOGGED: Final = """
INSERT INTO core_event_outbox (event_id, tenant_id, profile_id, stream_version, type)
SELECT event_id, tenant_id, profile_id, stream_version, type FROM logged
RETURNING event_id
"""

# The writer's own events, just committed: those no other writer's drain has claimed. The
# locking select is an InitPlan, run once. As a semi-join the planner, which usually sees an
# outbox of a few rows, may rescan the outbox for each claimed id: with a large outbox (a
# crash's leftovers, or one large batch) that is quadratic, minutes per claim.
CLAIM_OWN: Final = """
DELETE FROM core_event_outbox WHERE event_id = ANY(ARRAY(
    SELECT event_id FROM core_event_outbox WHERE event_id = ANY(%s::uuid[])
    FOR UPDATE SKIP LOCKED))
RETURNING event_id
"""

# What a crash left between commit and acknowledgement, read back from the log.
_CLAIM_LEFT: Final = """
SELECT e.event_id, e.type, e.schema_version, e.tenant_id, e.profile_id, e.stream_version,
    e.occurred_at, e.source, e.payload, e.payload_hash, e.prev_hash
FROM core_event_outbox o JOIN core_events e ON e.tenant_id = o.tenant_id
    AND e.profile_id = o.profile_id AND e.stream_version = o.stream_version
ORDER BY o.tenant_id, o.profile_id, o.stream_version
LIMIT %s FOR UPDATE OF o SKIP LOCKED
"""

_UPSERT_PROFILES: Final = """
INSERT INTO view_unified_profile AS v (tenant_id, profile_id, version, source_event_id, doc)
SELECT tenant_id, profile_id, version, source_event_id, doc FROM stage_profiles
ON CONFLICT (tenant_id, profile_id) DO UPDATE
SET version = EXCLUDED.version, source_event_id = EXCLUDED.source_event_id, doc = EXCLUDED.doc
WHERE v.version < EXCLUDED.version
RETURNING tenant_id, profile_id
"""

EVENTS_WRITTEN = Counter(
    "fintra_event_log_rows_total", "Events offered to the event log, by outcome", ["outcome"]
)
BATCH_SECONDS = Histogram(
    "fintra_sink_batch_duration_seconds", "Time to commit one sink batch", ["sink"]
)
STATEMENT_SECONDS = Histogram(
    "fintra_sink_statement_seconds",
    "Time of each step of a sink batch (COPY, statement or publish), by step",
    ["step"],
)
BATCH_SIZE = Histogram(
    "fintra_sink_batch_size",
    "Items per sink batch",
    ["sink"],
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000),
)


def _timed(step: str) -> AbstractContextManager[object]:
    """Time one step of a batch into ``fintra_sink_statement_seconds``."""
    return STATEMENT_SECONDS.labels(step).time()


def coalesce_profiles(items: Iterable[ProfileDocument]) -> list[ProfileDocument]:
    """Keep only the newest document of each profile in a batch."""
    newest: dict[tuple[str, str], ProfileDocument] = {}
    for item in items:
        key = (item.tenant_id, item.profile_id)
        held = newest.get(key)
        if held is None or held.version < item.version:
            newest[key] = item
    return [newest[key] for key in sorted(newest)]


def event_row(event: Event) -> tuple[object, ...]:
    """Return the COPY row of an event, in ``EVENT_COLUMNS`` order."""
    return (
        event.event_id,
        event.tenant_id,
        event.profile_id,
        event.stream_version,
        event.type,
        event.schema_version,
        event.occurred_at,
        orjson.dumps(event.source).decode(),
        event.canonical_payload().decode(),
        event.payload_hash,
        event.prev_hash,
    )


def profile_row(doc: ProfileDocument) -> tuple[object, ...]:
    """Return the COPY row of a profile document."""
    body = orjson.dumps(doc.doc, option=orjson.OPT_SORT_KEYS).decode()
    return (doc.tenant_id, doc.profile_id, doc.version, doc.source_event_id, body)


def write_history(cur: psycopg.Cursor[Any], profiles: list[ProfileDocument]) -> None:
    """Replace the daily history of each profile whose projection was just applied."""
    with_history = [p for p in profiles if p.history is not None]
    if not with_history:
        return
    with _timed("copy_history"), cur.copy("COPY stage_balances FROM STDIN") as copy:
        for doc in with_history:
            assert doc.history is not None  # noqa: S101 - filtered above
            for account_id, day, balance, currency in doc.history.accounts:
                copy.write_row(
                    (doc.tenant_id, doc.profile_id, account_id, day, balance, currency, doc.version)
                )
    with _timed("copy_history"), cur.copy("COPY stage_net_worth FROM STDIN") as copy:
        for doc in with_history:
            assert doc.history is not None  # noqa: S101 - filtered above
            for day, value, currency in doc.history.net_worth:
                copy.write_row((doc.tenant_id, doc.profile_id, day, value, currency, doc.version))
    with _timed("replace_history"):
        cur.execute(_REPLACE_HISTORY)


def search_row(row: SearchRow) -> tuple[object, ...]:
    """Return the COPY row of a search row, in ``SEARCH_COLUMNS`` order."""
    amount = (
        None
        if row.amount_minor is None or row.currency is None
        else format_minor(row.amount_minor, row.currency)
    )
    return (
        row.tenant_id,
        row.profile_id,
        row.transaction_id,
        row.version,
        row.kind,
        row.account_id,
        row.day,
        row.amount_minor,
        amount,
        row.currency,
        row.status,
        row.merchant,
        row.clean_merchant,
        list(row.category),
        row.category_source,
        row.source_event_id,
    )


def write_search(cur: psycopg.Cursor[Any], rows: list[SearchRow]) -> None:
    """Apply a batch's search rows: upserts, then removals, then category overrides."""
    columns = sql.SQL(", ").join(map(sql.Identifier, SEARCH_COLUMNS))
    copy_sql = sql.SQL("COPY stage_search ({}) FROM STDIN").format(columns)
    with _timed("copy_search"), cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(search_row(row))
    with _timed("apply_search"):
        cur.execute(_APPLY_SEARCH)


class EventPublisher:
    """Publishes outbox rows to the events topic and waits for every acknowledgement."""

    def __init__(self, brokers: str, topic: str) -> None:
        self._topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": brokers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.max.bytes": 32 * 1024 * 1024,
            }
        )

    def publish(self, events: Iterable[Event]) -> None:
        """Send events keyed by profile and wait until the broker has acknowledged them all.

        Raises:
            StoreError: when the broker refuses any of them or does not answer in time.
        """
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        for event in events:
            self._producer.produce(
                self._topic,
                key=f"{event.tenant_id}:{event.profile_id}".encode(),
                value=event.to_json(),
                headers=[
                    ("event_id", event.event_id.encode()),
                    ("type", event.type.encode()),
                    ("tenant_id", event.tenant_id.encode()),
                ],
                on_delivery=delivered,
            )
            self._producer.poll(0)
        left = self._producer.flush(30)
        if failures or left:
            msg = f"events topic refused {len(failures)} and left {left} unacknowledged"
            raise StoreError(msg)


class EventLogWriter:
    """Writes batches of events and profile documents to one schema, retrying outages."""

    def __init__(
        self,
        database_url: str,
        schema: str,
        *,
        attempts: int = 8,
        publisher: EventPublisher | None = None,
    ) -> None:
        self._url = database_url
        self._schema = schema
        self._attempts = attempts
        self._publisher = publisher
        self._conn: psycopg.Connection | None = None
        # Whether the outbox may hold events nobody is publishing: at start, and after a
        # lost connection, when a commit may have landed without its ids coming back.
        self._left_behind = True
        #: When the last batch committed (``time.monotonic``), for the latency metric.
        self.committed_at = 0.0

    @property
    def publishes(self) -> bool:
        """Whether each write also publishes the events new to the log."""
        return self._publisher is not None

    def write(self, items: Sequence[SinkItem]) -> int:
        """Commit one batch; return how many events were new to the log.

        A lost connection is retried with backoff: the batch is idempotent, so writing it
        again after an unknown outcome is safe.
        """
        events = [item for item in items if isinstance(item, Event)]
        documents = [item for item in items if isinstance(item, ProfileDocument)]
        profiles = coalesce_profiles(documents)
        search = [row for doc in documents for row in doc.transactions]

        def commit() -> int:
            fresh = self._write_once(events, profiles, search)
            self.committed_at = time.monotonic()
            self._publish_own([event for event in events if event.event_id in fresh])
            return len(fresh)

        inserted = self._retrying(commit)
        if self._left_behind:
            self.drain_outbox()
        return inserted

    def drain_outbox(self) -> int:
        """Publish what is committed but unpublished, retrying a lost connection."""
        published = self._retrying(self._drain_once)
        self._left_behind = False
        return published

    def _retrying(self, work: Callable[[], int]) -> int:
        """Run ``work``; a lost connection is retried with backoff, then is a ``StoreError``."""
        return _with_retries(work, self._attempts, self.close, "write")

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = _open(self._url, self._schema)
            conn.execute(_SETUP)
            conn.autocommit = False
            self._conn = conn
        return self._conn

    def _publish_own(self, events: list[Event]) -> None:
        """Publish events this writer has just committed, from memory.

        Their outbox rows are claimed with ``SKIP LOCKED`` (a starting writer's drain may hold
        some: it publishes those), and deleted in the transaction that waits for the topic's
        acknowledgements, so a crash in between leaves them to publish again.
        """
        if self._publisher is None or not events:
            return
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            with _timed("claim_outbox"):
                cur.execute(CLAIM_OWN, ([event.event_id for event in events],))
                claimed = {str(row[0]) for row in cur.fetchall()}
            with _timed("publish"):
                self._publisher.publish(e for e in events if e.event_id in claimed)

    def _drain_once(self, claim: int = 5000) -> int:
        """Publish the events committed but not yet acknowledged by the topic; return how many.

        Rows are claimed with ``SKIP LOCKED``, published from the log, and deleted once
        acknowledged, in one transaction: a crash in between leaves them to publish again.
        """
        if self._publisher is None:
            return 0
        conn = self._connection()
        published = 0
        while True:
            with conn.transaction(), conn.cursor() as cur:
                set_json_loads(orjson.loads, cur)
                events = [event_from_row(row) for row in cur.execute(_CLAIM_LEFT, (claim,))]
                if not events:
                    return published
                self._publisher.publish(events)
                cur.execute(
                    "DELETE FROM core_event_outbox WHERE event_id = ANY(%s)",
                    ([event.event_id for event in events],),
                )
            published += len(events)

    def _write_once(
        self, events: list[Event], profiles: list[ProfileDocument], search: list[SearchRow]
    ) -> set[str]:
        """Commit one batch; return the ids of the events new to the log."""
        conn = self._connection()
        fresh: set[str] = set()
        with conn.transaction(), conn.cursor() as cur:
            if events:
                columns = sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
                copy_sql = sql.SQL("COPY stage_events ({}) FROM STDIN").format(columns)
                with _timed("copy_events"), cur.copy(copy_sql) as copy:
                    for event in events:
                        copy.write_row(event_row(event))
                with _timed("insert_events"):
                    cur.execute(_ENSURE_PARTITIONS)
                    tail = _LOGGED if self._publisher is None else _QUEUE_LOGGED
                    cur.execute(_INSERT_EVENTS + tail)
                    fresh = {str(row[0]) for row in cur.fetchall()}
                with _timed("command_outcomes"):
                    cur.execute(_RECORD_COMMAND_OUTCOMES)
            if profiles:
                with _timed("copy_profiles"), cur.copy(_COPY_PROFILES) as copy:
                    for doc in profiles:
                        copy.write_row(profile_row(doc))
                with _timed("upsert_profiles"):
                    cur.execute(_UPSERT_PROFILES)
                    applied = {(row[0], row[1]) for row in cur.fetchall()}
                write_history(cur, [p for p in profiles if (p.tenant_id, p.profile_id) in applied])
            if search:
                write_search(cur, search)
        EVENTS_WRITTEN.labels("inserted").inc(len(fresh))
        EVENTS_WRITTEN.labels("duplicate").inc(len(events) - len(fresh))
        return fresh

    def close(self) -> None:
        """Close the connection; the next write reconnects."""
        self._left_behind = True
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class _PostgresPartition(StatelessSinkPartition[SinkItem]):
    def __init__(self, writer: EventLogWriter) -> None:
        self._writer = writer

    def write_batch(self, items: list[SinkItem]) -> None:
        """Commit the batch, then time its events from their receipt to commit and publish."""
        BATCH_SIZE.labels("postgres").observe(len(items))
        receipts = RECEIPTS.take(items)
        with BATCH_SECONDS.labels("postgres").time():
            self._writer.write(items)
        observe_latency("committed", receipts, self._writer.committed_at)
        if self._writer.publishes:
            # The outbox is drained before ``write`` returns: every event of the batch has
            # been acknowledged by the topic, or is being published by another worker's drain.
            observe_latency("published", receipts, time.monotonic())

    def close(self) -> None:
        self._writer.close()


class PostgresSink(DynamicSink[SinkItem]):
    """Each worker writes its own events and profile documents (keys never overlap).

    With ``events_topic``, the writer also publishes each event new to the log, through the
    outbox, so the topic carries every event once whatever the flow replays.
    """

    def __init__(
        self, database_url: str, schema: str, brokers: str = "", events_topic: str = ""
    ) -> None:
        self._url = database_url
        self._schema = schema
        self._brokers = brokers
        self._events_topic = events_topic

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PostgresPartition:
        """Open one writer per worker; publish what an earlier run left in the outbox."""
        publisher = (
            EventPublisher(self._brokers, self._events_topic) if self._events_topic else None
        )
        writer = EventLogWriter(self._url, self._schema, publisher=publisher)
        writer.drain_outbox()
        return _PostgresPartition(writer)


def _open(url: str, schema: str) -> psycopg.Connection:
    """An autocommit connection that finds the deployment's tables first."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    return conn


def _with_retries(work: Callable[[], T], attempts: int, reset: Callable[[], None], what: str) -> T:
    """Run ``work``; a lost connection is reset and retried with backoff, then raised."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except psycopg.OperationalError as exc:
            reset()
            if attempt == attempts:
                msg = f"PostgreSQL unreachable after {attempt} attempts: {exc}"
                raise StoreError(msg) from exc
            delay = min(0.2 * 2**attempt, 10.0)
            _log.warning("PostgreSQL %s failed (%s); retrying in %.1fs", what, exc, delay)
            time.sleep(delay)
    raise AssertionError  # pragma: no cover - the loop returns or raises


_READ_STREAM: Final = (
    "SELECT event_id::text, type, schema_version, tenant_id, profile_id, stream_version,"
    " occurred_at, source, payload, payload_hash, prev_hash FROM core_events"
    " WHERE tenant_id = %s AND profile_id = %s ORDER BY stream_version"
)


def event_from_row(row: tuple[Any, ...]) -> Event:
    """Return the event of a ``core_events`` row (columns as ``_READ_STREAM`` selects them)."""
    return Event.from_dict(
        {
            "event_id": str(row[0]),
            "type": row[1],
            "schema_version": row[2],
            "tenant_id": row[3],
            "profile_id": row[4],
            "stream_version": row[5],
            "occurred_at": utc_iso(row[6]),
            "source": row[7],
            "payload": row[8],
            "payload_hash": row[9],
            "prev_hash": row[10],
        }
    )


class StreamHistory:
    """Reads one profile's events from the log, for a twin that has no recovery state.

    A twin starts empty only when no snapshot of it exists: a new profile (its log is empty
    too), or after the recovery state was dropped for a replay from the first offset. In the
    second case the twin resumes from the log it wrote before, so every input read again is
    recognised as one it has applied, and the replay writes nothing twice, whatever order the
    topics' inputs now interleave in.
    """

    def __init__(self, database_url: str, schema: str, attempts: int = 8) -> None:
        self._url = database_url
        self._schema = schema
        self._attempts = attempts
        self._conn: psycopg.Connection | None = None

    def __call__(self, stream_key: str) -> list[Event]:
        """Return the profile's events in stream order (none for a new profile)."""
        tenant_id, _, profile_id = stream_key.partition(":")

        def read() -> list[Event]:
            rows = self._connection().execute(_READ_STREAM, (tenant_id, profile_id))
            return [event_from_row(row) for row in rows.fetchall()]

        return _with_retries(read, self._attempts, self.close, "read")

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = _open(self._url, self._schema)
            set_json_loads(orjson.loads, conn)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the connection, if open."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def no_history(stream_key: str) -> list[Event]:
    """The history of every profile in a flow without a log to resume from."""
    del stream_key
    return []
