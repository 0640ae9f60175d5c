"""FintraOS Core benchmarks: ``make bench``, or ``.venv/bin/python bench/run.py``.

One embedded stack (``fintra up`` under a temporary ``FINTRA_HOME``) serves every stage, each
in its own topic prefix and schema: end to end, a naive per-row pipeline on the same input,
rebuild from the event log, twin state bytes, latency at a steady 5k transactions/s, and CPU
per record with 1 to 4 processes. ``BENCH_SCALE`` (default 1) scales every stage's size and
time cap; ``BENCH_KEEP=1`` keeps the temporary home. Writes ``bench/results.json`` and
``bench/RESULTS.md``; see ``bench/README.md``.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable

from harness import Bench, Result, describe_machine, sample_for, say
from latency import WARMUP_SHARE, latency
from report import RESULTS_JSON, RESULTS_MD, verdicts, write_json, write_markdown
from stages import E2E, Plan, cpu_per_record, end_to_end, naive, rebuild, state_bytes

#: Latency runs over this many profiles at every scale (the fan-out of a real tenant mix).
LATENCY_PROFILES = 1_000
#: A stage is not started with less of the budget left than this.
MIN_STAGE_S = 20.0


def main() -> int:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    if scale <= 0:
        print("BENCH_SCALE must be positive", file=sys.stderr)
        return 2
    plan = Plan.for_scale(scale)
    started = time.perf_counter()
    result: Result = {"scale": scale, "plan": plan.as_dict(), "errors": {}, "stage_seconds": {}}
    bench = Bench.create()
    bench.deadline = time.monotonic() + plan.budget_s
    say(f"bench at BENCH_SCALE={scale:g} under {bench.home}")
    try:
        bench.up()
        result["machine"] = describe_machine(bench)
        say(f"stack up: kafka {bench.stack.kafka_brokers}, database {bench.stack.database_url}")
        _run_stages(bench, plan, result)
    finally:
        bench.close(keep=os.environ.get("BENCH_KEEP") == "1")
    result["total_seconds"] = time.perf_counter() - started
    _derive(result)
    write_json(result)
    write_markdown(result)
    say(f"wrote {RESULTS_JSON} and {RESULTS_MD} in {result['total_seconds'] / 60:.1f} minutes")
    for key, verdict in result["goals"].items():
        say(f"  {key}: {verdict['value']} (goal {verdict['goal']}): met={verdict['met']}")
    return 1 if result["errors"] else 0


def _run_stages(bench: Bench, plan: Plan, result: Result) -> None:
    say(f"generating {plan.e2e_transactions:,}+ transactions over {plan.e2e_profiles} profiles")
    e2e_sample = sample_for(plan.e2e_transactions, plan.e2e_profiles)
    latency_tx = int(plan.latency_rate_tx_per_s * plan.latency_seconds * (1 + WARMUP_SHARE))
    stages: list[tuple[str, Callable[[], Result]]] = [
        ("e2e", lambda: end_to_end(bench, plan, e2e_sample)),
        ("naive", lambda: naive(bench, plan, E2E)),
        ("rebuild", lambda: rebuild(bench, plan, E2E)),
        ("state", lambda: state_bytes(plan, e2e_sample)),
        (
            "latency",
            lambda: latency(
                bench,
                plan.latency_rate_tx_per_s,
                plan.latency_seconds,
                plan.latency_drain_s,
                sample_for(latency_tx, LATENCY_PROFILES, seed=11),
            ),
        ),
        (
            "cpu",
            lambda: cpu_per_record(
                bench, plan, sample_for(plan.cpu_transactions, plan.cpu_profiles, seed=13)
            ),
        ),
    ]
    for name, stage in stages:
        left = bench.deadline - time.monotonic()
        if left < MIN_STAGE_S:
            result["errors"][name] = f"skipped: {plan.budget_s:.0f}s budget spent"
            say(f"== {name} SKIPPED: only {left:.0f}s of the budget left")
            continue
        say(f"== {name}")
        began = time.perf_counter()
        try:
            result.update(stage())
        except Exception as exc:  # noqa: BLE001 - one failed stage must not void the others
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(f"{name} FAILED:\n{traceback.format_exc()}")
        result["stage_seconds"][name] = time.perf_counter() - began


def _derive(result: Result) -> None:
    e2e, naive_rate = result.get("e2e_tx_per_s"), result.get("naive_tx_per_s")
    result["e2e_vs_naive"] = e2e / naive_rate if e2e and naive_rate else None
    result["goals"] = verdicts(result)


if __name__ == "__main__":
    sys.exit(main())
