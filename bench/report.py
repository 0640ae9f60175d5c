"""Goals, and the two outputs of a run: ``bench/results.json`` and ``bench/RESULTS.md``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from harness import Result

HERE: Final = Path(__file__).resolve().parent
RESULTS_JSON: Final = HERE / "results.json"
RESULTS_MD: Final = HERE / "RESULTS.md"

#: CPU per record is "flat" when no process count costs more than this times one process.
FLAT_CPU_RATIO: Final = 1.2
#: The latency goal holds at the target rate: the producer must have kept at least this share.
RATE_KEPT: Final = 0.95


@dataclass(frozen=True, slots=True)
class Goal:
    """One measure, how to show it, and whether it meets its goal."""

    measure: str
    key: str
    goal: str
    shown: Callable[[Result], str]
    met: Callable[[Result], bool]


def _num(value: Any, unit: str, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f} {unit}".strip()


def _e2e(result: Result) -> str:
    net, gross = result.get("e2e_tx_per_s"), result.get("e2e_tx_per_s_gross")
    if net is None:
        return "n/a"
    startup = result.get("e2e_startup_seconds") or 0.0
    cut = "" if result.get("e2e_complete") else " (cut at its time cap)"
    return (
        f"{_num(net, 'tx/s')} net of start-up{cut}; "
        f"{_num(gross, 'tx/s')} counting the {startup:.1f}s start-up"
    )


def _latency(result: Result, which: str) -> str:
    value = result.get(f"latency_{which}_ms")
    bound = "≥ " if result.get(f"latency_{which}_is_lower_bound") else ""
    rate = result.get("latency_produced_tx_per_s")
    at = f" at {rate:,.0f} tx/s produced" if rate is not None else ""
    return f"{bound}{_num(value, 'ms')}{at}" if value is not None else "n/a"


def _latency_met(result: Result) -> bool:
    p99, rate = result.get("latency_p99_ms"), result.get("latency_produced_tx_per_s") or 0.0
    target = result.get("latency_target_tx_per_s") or 5_000
    return (
        p99 is not None
        and not result.get("latency_p99_is_lower_bound")
        and p99 <= 250
        and rate >= RATE_KEPT * target
    )


def _cpu(result: Result) -> str:
    values = result.get("cpu_us_per_record") or []
    shown = [_num(v, "", 0) for v in values]
    return " / ".join(shown) + " µs (1/2/3/4 processes)" if values else "n/a"


def cpu_flat(result: Result) -> bool:
    values: list[float | None] = result.get("cpu_us_per_record") or []
    known = [v for v in values if v is not None and v > 0]
    if len(values) < 4 or len(known) < len(values):
        return False
    return max(known) <= FLAT_CPU_RATIO * known[0]


def _ge(key: str, bound: float) -> Callable[[Result], bool]:
    return lambda r: r.get(key) is not None and r[key] >= bound


def _le(key: str, bound: float) -> Callable[[Result], bool]:
    return lambda r: r.get(key) is not None and r[key] <= bound


GOALS: Final[Sequence[Goal]] = (
    Goal(
        "End to end: Kafka → committed event log, projections and events topic",
        "e2e_tx_per_s",
        "≥ 35,000 tx/s",
        _e2e,
        _ge("e2e_tx_per_s", 35_000),
    ),
    Goal(
        "Naive per-row pipeline (INSERT + COMMIT per event), same input",
        "naive_tx_per_s",
        "(reference)",
        lambda r: _num(r.get("naive_tx_per_s"), "tx/s"),
        lambda r: True,
    ),
    Goal(
        "End to end ÷ naive",
        "e2e_vs_naive",
        "≥ 10×",
        lambda r: _num(r.get("e2e_vs_naive"), "×", 1),
        _ge("e2e_vs_naive", 10),
    ),
    Goal(
        "Latency p50, produce → projection visible, at 5k tx/s",
        "latency_p50_ms",
        "(reference)",
        lambda r: _latency(r, "p50"),
        lambda r: True,
    ),
    Goal(
        "Latency p99, produce → projection visible, at 5k tx/s",
        "latency_p99_ms",
        "≤ 250 ms at 5k tx/s",
        lambda r: _latency(r, "p99"),
        _latency_met,
    ),
    Goal(
        "Rebuild projections from the event log",
        "rebuild_events_per_s",
        "≥ 100,000 events/s",
        lambda r: _num(r.get("rebuild_events_per_s"), "events/s"),
        _ge("rebuild_events_per_s", 100_000),
    ),
    Goal(
        "Twin state per retained transaction (pickled)",
        "state_bytes_per_tx",
        "≤ 300 bytes",
        lambda r: _num(r.get("state_bytes_per_tx"), "bytes"),
        _le("state_bytes_per_tx", 300),
    ),
    Goal(
        "CPU per record (transaction), worker tree, net of start-up",
        "cpu_us_per_record",
        f"flat 1→4 processes (max ≤ {FLAT_CPU_RATIO}× one process)",
        _cpu,
        cpu_flat,
    ),
)


def verdicts(result: Result) -> dict[str, dict[str, Any]]:
    """Each goal's value, goal text and verdict, for results.json."""
    return {
        goal.key: {"value": result.get(goal.key), "goal": goal.goal, "met": goal.met(result)}
        for goal in GOALS
        if goal.goal != "(reference)"
    }


def write_json(result: Result) -> None:
    RESULTS_JSON.write_text(json.dumps(result, indent=2, default=str) + "\n")


def write_markdown(result: Result) -> None:
    RESULTS_MD.write_text(render(result))


def render(result: Result) -> str:
    """The RESULTS.md page: machine, results against goals, then how each was measured."""
    lines = [
        "# FintraOS Core benchmarks",
        "",
        f"Written by `make bench` (`bench/run.py`) at BENCH_SCALE={result['scale']:g}, "
        f"in {result['total_seconds'] / 60:.1f} minutes. Raw numbers: `bench/results.json`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in result["machine"].items()),
        "",
        "## Results",
        "",
        "| Measure | Result | Goal | Met? |",
        "|---|---|---|---|",
    ]
    for goal in GOALS:
        verdict = "" if goal.goal == "(reference)" else ("yes" if goal.met(result) else "**no**")
        lines.append(f"| {goal.measure} | {goal.shown(result)} | {goal.goal} | {verdict} |")
    if result.get("errors"):
        lines += ["", "## Stages that failed", ""]
        lines += [f"- **{name}**: `{error}`" for name, error in result["errors"].items()]
    lines += ["", *_details(result), ""]
    return "\n".join(lines)


def _details(r: Result) -> list[str]:
    plan: Mapping[str, Any] = r["plan"]
    seconds: Mapping[str, float] = r["stage_seconds"]
    out = ["## How each number was measured", ""]
    out += [
        f"1. **End to end** ({seconds.get('e2e', 0):.0f}s): "
        f"{_count(r, 'e2e_transactions')} transactions ({_count(r, 'e2e_events')} events) of "
        f"generated Plaid syncs over {_count(r, 'e2e_profiles')} profiles, published to the "
        f"sync topic first, then `fintra run --until-idle --processes {r.get('e2e_processes', 1)}` "
        "timed from start to exit: every "
        "event committed in PostgreSQL with its projections and acknowledged by the events "
        f"topic (outbox left: {_count(r, 'e2e_outbox_left')}), in "
        f"{r.get('e2e_seconds', 0):.1f}s. Net of start-up subtracts the "
        f"{r.get('e2e_startup_seconds', 0):.1f}s the same command takes over an empty topic "
        "(process start, imports, connections, idle detection, shut-down). Transactions are "
        "counted from "
        "the log (`TransactionAdded`, one per Plaid `added` item: a pending item that posts "
        f"counts twice). Complete: {_yes(r.get('e2e_complete'))}; crash restarts: "
        f"{_count(r, 'e2e_restarts')}; "
        f"cap {plan['e2e_timeout_s']:.0f}s. {_cpu_budget(r)}",
        f"2. **Naive** ({seconds.get('naive', 0):.0f}s): one Python consumer reads the same "
        "sync topic one message at a time, decodes, normalises and folds each envelope with "
        "the same `operators.pipeline.process` (projections off), then writes each event with "
        "its own `INSERT` and `COMMIT` (one table with the event log's keys). Time-boxed to "
        f"{plan['naive_seconds']:.0f}s or the end of the topic: "
        f"{_count(r, 'naive_transactions')} transactions, {_count(r, 'naive_events')} events in "
        f"{r.get('naive_seconds', 0):.1f}s. It writes no projections, so the ratio flatters it.",
        f"3. **Latency** ({seconds.get('latency', 0):.0f}s): `fintra run --processes "
        f"{r.get('e2e_processes', 1)}` (long-running, "
        f"epoch {r.get('latency_epoch_interval_s', 2.0):g}s) on a fresh namespace of 1,000 "
        f"profiles; envelopes produced on a schedule of {plan['latency_rate_tx_per_s']:,} "
        f"transactions/s for {plan['latency_seconds']:.0f}s after a 1% warm-up "
        f"({_count(r, 'latency_transactions')} transactions in "
        f"{_count(r, 'latency_envelopes_measured')} envelopes, produced at "
        f"{_num(r.get('latency_produced_tx_per_s'), 'tx/s')}). Visible = the envelope's last "
        "added transaction has its `transaction_search` row (committed with its events); a "
        "watcher polls every 10 ms (or less often when a poll gets slow), asking about the "
        "oldest 256 markers not yet seen. Envelopes not visible within "
        f"{plan['latency_drain_s']:.0f}s after the last produce are ranked with that lower "
        f"bound (≥): {_count(r, 'latency_envelopes_visible')} of "
        f"{_count(r, 'latency_envelopes_measured')} were seen. The flow absorbed "
        f"{_num(r.get('latency_absorbed_tx_per_s'), 'tx/s')} over the window (rows added to "
        f"`transaction_search`); the watcher itself used "
        f"{_num(r.get('latency_watcher_cpu_s'), 'CPU s', 1)} in {_count(r, 'latency_polls')} "
        f"polls. Max {_num(r.get('latency_max_ms'), 'ms')}; crash restarts: "
        f"{_count(r, 'latency_restarts')}.",
        f"4. **Rebuild** ({seconds.get('rebuild', 0):.0f}s): `fintra rebuild` over the end-to-end "
        f"log, {_count(r, 'rebuild_events')} events in {r.get('rebuild_seconds', 0):.1f}s "
        f"(complete: {_yes(r.get('rebuild_complete'))}; a cut run counts the events of the "
        "profiles it finished).",
        f"5. **State** ({seconds.get('state', 0):.0f}s): the first {_count(r, 'state_profiles')} "
        "profiles of the end-to-end sample folded in-process over their whole streams; "
        f"{_count(r, 'state_bytes')} pickled bytes (what a snapshot stores) for "
        f"{_count(r, 'state_retained_transactions')} retained transactions.",
        f"6. **CPU** ({seconds.get('cpu', 0):.0f}s): `fintra run --until-idle --processes N` "
        f"over a sample generated for {plan['cpu_transactions']:,} transactions "
        f"({plan['cpu_profiles']} profiles), in a fresh namespace per N; CPU = user + system "
        "of the supervisor and its workers (`RUSAGE_CHILDREN`; PostgreSQL and the broker "
        "excluded), minus the same command over an empty input (start-up and shut-down), "
        "per transaction logged. A crash restart of the cluster (the supervisor's) inflates "
        "its row; the table counts them.",
        "",
        *_cpu_table(r),
    ]
    return out


def _cpu_table(r: Result) -> list[str]:
    runs = r.get("cpu_runs") or []
    if not runs:
        return []
    rows = [
        "| Processes | Transactions | Wall s | tx/s | CPU s | Idle CPU s | µs/record net | gross "
        "| Crash restarts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rows.append(
            f"| {run['processes']} | {run['transactions']:,} | {run['seconds']:.1f} | "
            f"{run['tx_per_s']:,.0f} | {run['cpu_seconds']:.1f} | {run['idle_cpu_seconds']:.1f} | "
            f"{_num(run['cpu_us_per_record'], '')} | {_num(run['cpu_us_per_record_gross'], '')} | "
            f"{run['restarts']} |"
        )
    return rows


def _cpu_budget(r: Result) -> str:
    """Where the run's CPU went, per transaction, and the throughput that bounds."""
    cpu: Mapping[str, float] = r.get("e2e_cpu_us_per_tx") or {}
    if not cpu.get("total"):
        return ""
    parts = ", ".join(f"{name} {cpu[name]:,.0f} µs" for name in cpu if name != "total")
    cores = os.cpu_count() or 1
    return (
        f"CPU per transaction, net of the idle run: {parts}; {cpu['total']:,.0f} µs in all, "
        f"so {cores} cores carry at most {cores * 1e6 / cpu['total']:,.0f} tx/s."
    )


def _count(r: Result, key: str) -> str:
    value = r.get(key)
    return f"{value:,}" if isinstance(value, int) else "n/a"


def _yes(value: object) -> str:
    return "n/a" if value is None else ("yes" if value else "**no**")
