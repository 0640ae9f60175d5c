"""Where the PostgreSQL sink's time goes, step by step: ``.venv/bin/python bench/sink_steps.py``.

Folds generated Plaid syncs in-process (``operators.pipeline.process``, a projection after
each envelope, as a worker does), then writes them through the sink's ``EventLogWriter`` in
batches of ``SINK_ENVELOPES`` envelopes on an embedded stack, and prints the time of each step
of a batch (``fintra_sink_statement_seconds``) per transaction. It is not part of
``make bench``; ``SINK_TRANSACTIONS`` (default 30,000) sets the size.
"""

from __future__ import annotations

import os
import time

import orjson
from harness import Bench, Namespace, sample_for, say

from flows.postgres import STATEMENT_SECONDS, EventLogWriter, SinkItem
from operators.decode import DecodeLimits
from operators.pipeline import process, projection
from operators.twin import ProfileState
from schemas.events import Event, EventType
from schemas.records import RawRecord

SINK: Namespace = Namespace("sink_steps")


def folded(transactions: int) -> tuple[list[list[SinkItem]], int]:
    """Each envelope's events and projection, and the number of transactions added."""
    sample = sample_for(transactions, max(10, transactions // 150))
    states: dict[str, ProfileState] = {}
    envelopes: list[list[SinkItem]] = []
    added = 0
    for offset, envelope in enumerate(sample.envelopes):
        key = f"{envelope['tenant_id']}:{envelope['profile_id']}"
        record = RawRecord(key.encode(), orjson.dumps(envelope), "syncs", 0, offset)
        states[key], outputs = process(states.get(key), key, record, DecodeLimits(), project=False)
        events = [output for output in outputs if isinstance(output, Event)]
        added += sum(1 for event in events if event.type == EventType.TRANSACTION_ADDED)
        envelopes.append([*events, projection(states[key], events)])
    return envelopes, added


def main() -> None:
    transactions = int(os.environ.get("SINK_TRANSACTIONS", "30000"))
    per_batch = int(os.environ.get("SINK_ENVELOPES", "40"))
    say(f"folding {transactions:,} transactions in-process")
    envelopes, added = folded(transactions)
    bench = Bench.create()
    try:
        bench.up()
        bench.prepare(SINK)
        writer = EventLogWriter(bench.stack.database_url, SINK.schema)
        say(f"writing {len(envelopes):,} envelopes in batches of {per_batch}")
        started = time.perf_counter()
        for first in range(0, len(envelopes), per_batch):
            writer.write([item for batch in envelopes[first : first + per_batch] for item in batch])
        elapsed = time.perf_counter() - started
        writer.close()
    finally:
        bench.close(keep=False)
    say(f"{added:,} transactions written in {elapsed:.1f}s = {elapsed / added * 1e6:,.0f} µs each")
    steps = {
        sample.labels["step"]: sample.value
        for metric in STATEMENT_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_sum")
    }
    for step, seconds in sorted(steps.items(), key=lambda item: -item[1]):
        say(f"  {seconds / added * 1e6:7.1f} µs per transaction  {step}")


if __name__ == "__main__":
    main()
