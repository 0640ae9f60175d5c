"""One worker process of the core flow, started by ``fintra run`` (the supervisor)."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from prometheus_client import start_http_server

from fintra import embedded
from fintra.runner import run
from fintra.settings import load


def main(argv: Sequence[str] | None = None) -> int:
    """Run this process's part of the cluster until idle or interrupted."""
    parser = argparse.ArgumentParser(prog="fintra.worker")
    parser.add_argument("--addresses", help="every process's host:port, comma-separated")
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    args = parser.parse_args(argv)
    settings = load()
    info = embedded.from_environment()
    if info is None:
        print("fintra.worker: the supervisor passes the broker and database", file=sys.stderr)
        return 2
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr=args.metrics_host)
    # Long-lived objects built at start-up never need collecting again.
    gc.freeze()
    addresses = args.addresses.split(",") if args.addresses else None
    run(settings, info, until_idle=args.until_idle, addresses=addresses, process_id=args.process_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
