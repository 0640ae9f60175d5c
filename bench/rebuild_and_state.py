"""Rebuild speed from the event log, and twin state bytes per retained transaction.

Usage: ``.venv/bin/python bench/rebuild_and_state.py [TRANSACTIONS]`` (default 50000).
Generates Plaid syncs, folds them into twins in this process (the same fold the workers
run), measures the pickled size of every twin (what a recovery snapshot stores) per retained
transaction, then runs the flow on an embedded stack and times ``fintra rebuild`` over the
event log it wrote.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psycopg

from fintra import embedded
from fintra.samples import count_transactions, generate, spec_for_transactions, write_jsonl
from operators.decode import DecodeLimits
from operators.pipeline import process
from operators.twin import ProfileState
from schemas.records import RawRecord


def state_bytes(envelopes: list[dict[str, object]]) -> tuple[int, int]:
    """Total pickled bytes of every twin, and how many transactions they retain."""
    states: dict[str, ProfileState] = {}
    for offset, envelope in enumerate(envelopes):
        key = f"{envelope['tenant_id']}:{envelope['profile_id']}"
        record = RawRecord(key.encode(), orjson.dumps(envelope), "syncs", 0, offset)
        states[key], _ = process(states.get(key), key, record, DecodeLimits(), project=False)
    size = sum(
        len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)) for state in states.values()
    )
    retained = sum(len(state.transactions) for state in states.values())
    return size, retained


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    sample = generate(spec_for_transactions(total))
    size, retained = state_bytes(sample.envelopes)
    print(
        f"state: {size:,} bytes for {retained:,} retained transactions "
        f"= {size / retained:.0f} bytes per transaction (pickled, as snapshots store it)"
    )
    home = Path(tempfile.mkdtemp(prefix="fintra-bench-"))
    env = {**os.environ, "FINTRA_HOME": str(home)}
    env.pop("FINTRA_KAFKA_BROKERS", None)
    env.pop("FINTRA_DATABASE_URL", None)
    fintra = [sys.executable, "-m", "fintra.cli"]
    try:
        path = home / "syncs.jsonl"
        write_jsonl(path, sample.envelopes)
        subprocess.run([*fintra, "up"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*fintra, "ingest", str(path)], env=env, check=True)
        subprocess.run([*fintra, "run", "--until-idle"], env=env, check=True)
        info = embedded.status(home)
        assert info is not None
        with psycopg.connect(info.database_url) as conn:
            events = conn.execute("SELECT count(*) FROM fintra.core_events").fetchone()[0]
        started = time.perf_counter()
        subprocess.run([*fintra, "rebuild"], env=env, check=True)
        elapsed = time.perf_counter() - started
        print(
            f"rebuild: {events:,} events ({count_transactions(sample.envelopes):,} transactions) "
            f"in {elapsed:.1f}s = {events / elapsed:,.0f} events/s"
        )
    finally:
        embedded.stop(home)
    return 0


if __name__ == "__main__":
    sys.exit(main())
