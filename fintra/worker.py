"""One worker process of the core flow, started by ``fintra run`` (the supervisor)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import Final

from fintra import embedded
from fintra.runner import run
from fintra.settings import load
from flows.metrics import LagMonitor

#: A worker holds every twin it owns, millions of containers, and allocates briskly while it
#: folds. At Python's default thresholds (700, 10, 10) the cycle collector took 15% of a
#: worker's CPU in the end-to-end bench (23 of 159 s, most in 36 full collections over a
#: heap of gigabytes). Collecting the young generation every 50,000 allocations cuts that to
#: 6 s; full collections still run, every 100 collections of the middle generation.
GC_THRESHOLDS: Final = (50_000, 20, 100)


def main(argv: Sequence[str] | None = None) -> int:
    """Run this process's part of the cluster until idle or interrupted."""
    parser = argparse.ArgumentParser(prog="fintra.worker")
    parser.add_argument("--addresses", help="every process's host:port, comma-separated")
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--metrics-port", type=int)
    args = parser.parse_args(argv)
    settings = load()
    info = embedded.from_environment()
    if info is None:
        print("fintra.worker: the supervisor passes the broker and database", file=sys.stderr)
        return 2
    if args.metrics_port is not None:
        # Bytewax's own server: it serves this process's registry together with the
        # dataflow's metrics (step durations, recovery snapshot writes), on every interface.
        os.environ["BYTEWAX_DATAFLOW_API_ENABLED"] = "true"
        os.environ["BYTEWAX_DATAFLOW_API_PORT"] = str(args.metrics_port)
        # It also writes the dataflow's description, which belongs with the rest of our files.
        settings.home.mkdir(parents=True, exist_ok=True)
        os.environ["BYTEWAX_DATAFLOW_API_CACHE_PATH"] = str(settings.home)
        # Beside the flow, not in it: the input step only notes positions; this thread asks
        # the broker for watermarks every few seconds.
        LagMonitor(info.kafka_brokers).start()
    # Long-lived objects built at start-up never need collecting again.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    addresses = args.addresses.split(",") if args.addresses else None
    run(settings, info, until_idle=args.until_idle, addresses=addresses, process_id=args.process_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
