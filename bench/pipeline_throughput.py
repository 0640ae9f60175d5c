"""End-to-end throughput of ``fintra run --until-idle`` over generated Plaid syncs.

Usage: ``.venv/bin/python bench/pipeline_throughput.py [TRANSACTIONS]`` (default 100000).
Runs on its own embedded stack under a temporary home, publishes the syncs, then times the
``fintra run --until-idle`` command alone: from start to every event committed in PostgreSQL
and published to Kafka.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fintra import embedded
from fintra.samples import count_transactions, generate, spec_for_transactions, write_jsonl


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    home = Path(tempfile.mkdtemp(prefix="fintra-bench-"))
    env = {**os.environ, "FINTRA_HOME": str(home)}
    env.pop("FINTRA_KAFKA_BROKERS", None)
    env.pop("FINTRA_DATABASE_URL", None)
    fintra = [sys.executable, "-m", "fintra.cli"]
    try:
        sample = generate(spec_for_transactions(total))
        transactions = count_transactions(sample.envelopes)
        path = home / "syncs.jsonl"
        write_jsonl(path, sample.envelopes)
        subprocess.run([*fintra, "up"], env=env, check=True)
        subprocess.run([*fintra, "ingest", str(path)], env=env, check=True)
        started = time.perf_counter()
        subprocess.run([*fintra, "run", "--until-idle"], env=env, check=True)
        elapsed = time.perf_counter() - started
        print(
            f"{transactions} transactions in {len(sample.envelopes)} envelopes, "
            f"{len(sample.truth)} profiles: run --until-idle took {elapsed:.1f}s "
            f"= {transactions / elapsed:,.0f} transactions/s"
        )
    finally:
        embedded.stop(home)
    return 0


if __name__ == "__main__":
    sys.exit(main())
