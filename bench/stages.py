"""The bench's batch stages: end to end, the naive per-row pipeline, rebuild, state, CPU.

Each stage returns a flat dict of what it measured; ``run.py`` gathers them into the results.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from harness import (
    PROCESSES,
    Bench,
    Namespace,
    Result,
    Timed,
    events_logged,
    outbox_left,
    say,
    transactions_logged,
)
from psycopg import sql

from fintra.samples import Sample
from fintra.settings import CONNECT_SYNC_TOPIC
from flows.postgres import EVENT_COLUMNS, event_row
from operators.decode import DecodeLimits
from operators.pipeline import process
from operators.twin import ProfileState
from schemas.events import Event
from schemas.records import RawRecord


@dataclass(frozen=True, slots=True)
class Plan:
    """Stage sizes and time caps, derived from ``BENCH_SCALE`` (see bench/README.md).

    At scale 1 the caps add up to about 19 minutes; ``budget_s`` is the hard stop of the
    whole run (a stage still running then is cut, later ones are skipped).
    """

    scale: float
    budget_s: float
    e2e_transactions: int
    e2e_profiles: int
    e2e_timeout_s: float
    naive_seconds: float
    rebuild_timeout_s: float
    state_profiles: int
    latency_rate_tx_per_s: int
    latency_seconds: float
    latency_drain_s: float
    cpu_transactions: int
    cpu_profiles: int
    cpu_timeout_s: float

    @classmethod
    def for_scale(cls, scale: float) -> Plan:
        return cls(
            scale=scale,
            budget_s=max(600.0, 1_140.0 * scale),
            e2e_transactions=max(1_000, int(200_000 * scale)),
            e2e_profiles=max(10, round(1_000 * scale)),
            e2e_timeout_s=30 + 300 * scale,
            naive_seconds=max(10.0, 60 * scale),
            rebuild_timeout_s=30 + 170 * scale,
            state_profiles=max(10, round(100 * scale)),
            latency_rate_tx_per_s=5_000,
            latency_seconds=max(10.0, 40 * scale),
            latency_drain_s=max(15.0, 45 * scale),
            cpu_transactions=max(5_000, int(30_000 * scale)),
            cpu_profiles=max(50, round(200 * scale)),
            cpu_timeout_s=30 + 60 * scale,
        )

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _cpu_per_transaction(run: Timed, idle: Timed, transactions: int) -> dict[str, float]:
    """CPU µs per transaction of the workers, PostgreSQL and the broker, net of idling.

    Whatever the three spend together on the machine's cores bounds the throughput: at
    ``total`` µs per transaction, ``cores × 10⁶ / total`` transactions a second at best.
    """
    if transactions <= 0:
        return {}
    used = {"workers": run.cpu_seconds - idle.cpu_seconds}
    for name, seconds in run.stack_cpu.items():
        used[name] = seconds - idle.stack_cpu.get(name, 0.0)
    per_tx = {name: max(0.0, seconds) * 1e6 / transactions for name, seconds in used.items()}
    per_tx["total"] = sum(per_tx.values())
    return per_tx


# ----------------------------------------------------------------------------- end to end


E2E: Final = Namespace("e2e")


def end_to_end(bench: Bench, plan: Plan, sample: Sample) -> Result:
    """Time ``fintra run --until-idle`` from Kafka to a committed log, projections and topic.

    The same command over an empty namespace, run first, times the fixed start-up and
    shut-down of the cluster; the throughput is reported net of it and gross.
    """
    idle = Namespace("e2e_idle")
    bench.prepare(idle)
    bench.prepare(E2E)
    published = bench.ingest(E2E, sample.envelopes)
    command = ["run", "--until-idle", "--processes", str(PROCESSES)]
    base = bench.timed(command, idle, "e2e_idle", plan.e2e_timeout_s)
    say(f"e2e: start-up and shut-down alone take {base.seconds:.1f}s")
    say(f"e2e: published {published:,} envelopes; running `fintra {' '.join(command)}`")
    run = bench.timed(command, E2E, "e2e_run", plan.e2e_timeout_s)
    with bench.connect(E2E) as conn:
        transactions = transactions_logged(conn)
        events = events_logged(conn)
        unpublished = outbox_left(conn)
    net = max(run.seconds - base.seconds, 1e-3)
    result: Result = {
        "e2e_tx_per_s": _rate(transactions, net),
        "e2e_tx_per_s_gross": _rate(transactions, run.seconds),
        "e2e_events_per_s": _rate(events, net),
        "e2e_transactions": transactions,
        "e2e_events": events,
        "e2e_profiles": len(sample.truth),
        "e2e_envelopes": published,
        "e2e_seconds": run.seconds,
        "e2e_startup_seconds": base.seconds,
        "e2e_complete": not run.timed_out and run.returncode == 0,
        "e2e_outbox_left": unpublished,
        "e2e_restarts": run.restarts,
        "e2e_processes": PROCESSES,
        "e2e_cpu_us_per_tx": _cpu_per_transaction(run, base, transactions),
    }
    say(
        f"e2e: {transactions:,} transactions ({events:,} events) in {run.seconds:.1f}s "
        f"= {result['e2e_tx_per_s']:,.0f} tx/s net of start-up "
        f"({result['e2e_tx_per_s_gross']:,.0f} gross)"
        + ("" if result["e2e_complete"] else " (CUT at the time cap)")
    )
    cpu = result["e2e_cpu_us_per_tx"]
    say("e2e: CPU per transaction: " + ", ".join(f"{k} {v:,.0f} µs" for k, v in cpu.items()))
    return result


# ----------------------------------------------------------------------------- naive


NAIVE: Final = Namespace("naive")

_NAIVE_TABLE: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
DROP TABLE IF EXISTS {schema}.events;
CREATE TABLE {schema}.events (
    event_id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    stream_version bigint NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    source jsonb NOT NULL,
    payload jsonb NOT NULL,
    payload_hash text NOT NULL,
    prev_hash text NOT NULL,
    UNIQUE (tenant_id, profile_id, stream_version)
);
"""


def naive(bench: Bench, plan: Plan, source: Namespace) -> Result:
    """A per-row pipeline over the same topic: fold each record, then INSERT+COMMIT per event.

    It reads the envelopes the end-to-end stage read, applies the same decode, normalise and
    fold (``operators.pipeline.process``, without projections), and writes each event with
    its own INSERT and COMMIT. It stops after ``naive_seconds`` or at the end of the topic.
    """
    with bench.connect(NAIVE) as conn:
        conn.execute(sql.SQL(_NAIVE_TABLE).format(schema=sql.Identifier(NAIVE.schema)))
    insert = sql.SQL("INSERT INTO events ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(EVENT_COLUMNS)),
    )
    topic = f"{source.prefix}{CONNECT_SYNC_TOPIC}"
    consumer = _from_beginning(bench.stack.kafka_brokers, topic)
    states: dict[str, ProfileState] = {}
    limits = DecodeLimits()
    records = transactions = events = 0
    conn = bench.connect(NAIVE, autocommit=False)
    started = time.perf_counter()
    deadline = started + plan.naive_seconds
    try:
        for record in _records(consumer, deadline):
            key = (record.key or b"").decode()
            states[key], outputs = process(states.get(key), key, record, limits, project=False)
            records += 1
            for output in outputs:
                if isinstance(output, Event):
                    conn.execute(insert, event_row(output))
                    conn.commit()
                    events += 1
                    transactions += output.type == "TransactionAdded"
    finally:
        elapsed = time.perf_counter() - started
        consumer.close()
        conn.close()
    result: Result = {
        "naive_tx_per_s": _rate(transactions, elapsed),
        "naive_events_per_s": _rate(events, elapsed),
        "naive_transactions": transactions,
        "naive_events": events,
        "naive_envelopes": records,
        "naive_seconds": elapsed,
    }
    say(
        f"naive: {transactions:,} transactions ({events:,} events, one INSERT+COMMIT each) "
        f"in {elapsed:.1f}s = {result['naive_tx_per_s']:,.0f} tx/s"
    )
    return result


def _from_beginning(brokers: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": "fintra-bench-naive",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
    return consumer


def _records(consumer: Consumer, deadline: float) -> Iterator[RawRecord]:
    """Yield one record at a time until every partition is at its end or the deadline."""
    partitions = len(consumer.assignment())
    at_end: set[int] = set()
    while len(at_end) < partitions and time.perf_counter() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition() or 0)
                continue
            msg = f"naive consumer: {error}"
            raise RuntimeError(msg)
        at_end.discard(message.partition() or 0)
        yield RawRecord(
            message.key(),
            message.value(),
            message.topic() or "",
            message.partition() or 0,
            message.offset() or 0,
        )


# ----------------------------------------------------------------------------- rebuild


def rebuild(bench: Bench, plan: Plan, source: Namespace) -> Result:
    """Time ``fintra rebuild`` over the end-to-end stage's event log."""
    with bench.connect(source) as conn:
        events = events_logged(conn)
    fresh = sql.Identifier(f"{source.schema}_rebuild")
    partial: dict[str, int] = {}

    def progress() -> None:
        # A cut rebuild drops its fresh schema on the way out: read its progress first.
        with bench.connect(source) as conn:
            row = conn.execute(
                sql.SQL("SELECT coalesce(sum(version), 0) FROM {}.view_unified_profile").format(
                    fresh
                )
            ).fetchone()
            partial["events"] = int(row[0]) if row else 0

    say(f"rebuild: `fintra rebuild` over {events:,} events")
    run = bench.timed(["rebuild"], source, "rebuild", plan.rebuild_timeout_s, progress)
    done = partial.get("events", events) if run.timed_out else events
    result: Result = {
        "rebuild_events_per_s": _rate(done, run.seconds),
        "rebuild_events": done,
        "rebuild_seconds": run.seconds,
        "rebuild_complete": not run.timed_out and run.returncode == 0,
    }
    say(
        f"rebuild: {done:,} events in {run.seconds:.1f}s = "
        f"{result['rebuild_events_per_s']:,.0f} events/s"
        + ("" if result["rebuild_complete"] else " (CUT)")
    )
    return result


# ----------------------------------------------------------------------------- state


def state_bytes(plan: Plan, sample: Sample) -> Result:
    """Pickled twin bytes (what a recovery snapshot stores) per retained transaction.

    The first ``state_profiles`` profiles of the end-to-end sample are folded in this
    process, each over its whole stream, by the same function the workers run.
    """
    chosen = {f"{t}:{p}" for t, p in sorted(sample.truth)[: plan.state_profiles]}
    states: dict[str, ProfileState] = {}
    limits = DecodeLimits()
    for offset, envelope in enumerate(sample.envelopes):
        key = f"{envelope['tenant_id']}:{envelope['profile_id']}"
        if key not in chosen:
            continue
        record = RawRecord(key.encode(), orjson.dumps(envelope), "syncs", 0, offset)
        states[key], _ = process(states.get(key), key, record, limits, project=False)
    size = sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in states.values())
    retained = sum(len(s.transactions) for s in states.values())
    result: Result = {
        "state_bytes_per_tx": size / retained if retained else None,
        "state_bytes": size,
        "state_retained_transactions": retained,
        "state_profiles": len(states),
    }
    say(
        f"state: {size:,} bytes for {retained:,} retained transactions over {len(states)} "
        f"profiles = {result['state_bytes_per_tx'] or 0:.0f} bytes/tx"
    )
    return result


# ----------------------------------------------------------------------------- CPU


def cpu_per_record(
    bench: Bench, plan: Plan, sample: Sample, processes: Sequence[int] = (1, 2, 3, 4)
) -> Result:
    """CPU µs per transaction of ``fintra run --until-idle --processes N``.

    Each N runs twice in fresh namespaces: over the sample, and over nothing (the start-up
    and shut-down cost of N workers); the difference, divided by the transactions logged,
    is the marginal CPU per record. The gross figure is reported beside it.
    """
    rows: list[Mapping[str, Any]] = []
    for count in processes:
        work, idle = Namespace(f"cpu{count}"), Namespace(f"idle{count}")
        bench.prepare(work)
        bench.prepare(idle)
        bench.ingest(work, sample.envelopes)
        args = ["run", "--until-idle", "--processes", str(count)]
        base = bench.timed(args, idle, f"cpu_idle_{count}", plan.cpu_timeout_s)
        run = bench.timed(args, work, f"cpu_run_{count}", plan.cpu_timeout_s)
        with bench.connect(work) as conn:
            transactions = transactions_logged(conn)
        rows.append(_cpu_row(count, run, base, transactions))
        row = rows[-1]
        say(
            f"cpu: {count} process(es): {transactions:,} transactions, {run.cpu_seconds:.1f} CPU s "
            f"in {run.seconds:.1f}s (idle: {base.cpu_seconds:.1f} CPU s in {base.seconds:.1f}s) "
            f"= {row['cpu_us_per_record'] or 0:.0f} µs/record net"
            + (f"; {row['restarts']} crash restarts" if row["restarts"] else "")
        )
    return {
        "cpu_us_per_record": [row["cpu_us_per_record"] for row in rows],
        "cpu_us_per_record_gross": [row["cpu_us_per_record_gross"] for row in rows],
        "cpu_runs": rows,
    }


def _cpu_row(count: int, run: Timed, base: Timed, transactions: int) -> dict[str, Any]:
    def per(cpu_seconds: float) -> float | None:
        return cpu_seconds / transactions * 1e6 if transactions else None

    return {
        "processes": count,
        "transactions": transactions,
        "cpu_seconds": run.cpu_seconds,
        "idle_cpu_seconds": base.cpu_seconds,
        "seconds": run.seconds,
        "tx_per_s": _rate(transactions, run.seconds),
        "cpu_us_per_record": per(run.cpu_seconds - base.cpu_seconds),
        "cpu_us_per_record_gross": per(run.cpu_seconds),
        "idle_seconds": base.seconds,
        "restarts": run.restarts + base.restarts,
        "complete": not run.timed_out and run.returncode == 0,
    }
