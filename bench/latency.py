"""Latency from produce to projection-visible, with envelopes produced at a steady rate.

A long-running ``fintra run`` consumes a fresh namespace. Envelopes are produced on a
schedule that adds transactions at the target rate; each envelope with transactions has a
marker, its last added transaction, and it counts as visible once that transaction's row is
committed in the ``transaction_search`` projection (one transaction commits an envelope's
events and projections together). A watcher thread polls PostgreSQL every 10 ms; the time of
the poll that first sees a marker is its visibility time. Only the oldest markers are asked
about in each poll, and polls slow down when they get costly, so the watcher's own load stays
small next to the flow's.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import psycopg
from confluent_kafka import KafkaError, Message, Producer
from harness import PROCESSES, Bench, Namespace, Result, added_count, say

from fintra.samples import Sample
from fintra.settings import CONNECT_SYNC_TOPIC
from operators import plaid

LAT: Final = Namespace("lat")
POLL_S: Final = 0.010
#: Markers asked about per poll, oldest first: the flow shows envelopes roughly in order,
#: and a bounded question keeps the watcher from taking the CPU the flow needs.
ASK_AT_MOST: Final = 256
STARTUP_TIMEOUT_S: Final = 120.0
#: Share of the scheduled transactions produced before timing starts (the flow warms up).
WARMUP_SHARE: Final = 0.01

_VISIBLE: Final = """
SELECT k.i FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) AS k(i, t, p, x)
JOIN transaction_search s
    ON s.tenant_id = k.t AND s.profile_id = k.p AND s.transaction_id = k.x
"""


@dataclass(slots=True)
class Marker:
    """One envelope's marker transaction and when it was produced and first seen."""

    tenant_id: str
    profile_id: str
    transaction_id: str
    transactions: int
    produced_at: float | None = None
    visible_at: float | None = None


class Watcher(threading.Thread):
    """Polls PostgreSQL for produced markers until stopped; stamps when each is seen."""

    def __init__(self, bench: Bench, markers: Sequence[Marker | None]) -> None:
        super().__init__(name="latency-watcher", daemon=True)
        self._bench = bench
        self._markers = markers
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._halt = threading.Event()
        self.polls = 0
        self.cpu_seconds = 0.0
        self.error: BaseException | None = None

    def produced(self, position: int) -> None:
        with self._lock:
            self._pending.add(position)

    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def finish(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        try:
            with self._bench.connect(LAT) as conn:
                pause = POLL_S
                while not self._halt.wait(pause):
                    began = time.perf_counter()
                    self._poll(conn)
                    # The watcher stays under a third of a core however slow a poll gets.
                    pause = max(POLL_S, 2 * (time.perf_counter() - began))
        except BaseException as exc:  # noqa: BLE001 - the stage raises it
            self.error = exc
        finally:
            self.cpu_seconds = time.thread_time()

    def _poll(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            pending = sorted(self._pending)[:ASK_AT_MOST]
        if not pending:
            return
        chosen = [self._markers[i] for i in pending]
        asked_at = time.perf_counter()
        rows = conn.execute(
            _VISIBLE,
            (
                pending,
                [m.tenant_id for m in chosen if m],
                [m.profile_id for m in chosen if m],
                [m.transaction_id for m in chosen if m],
            ),
        ).fetchall()
        self.polls += 1
        seen = {int(row[0]) for row in rows}
        for position in seen:
            marker = self._markers[position]
            assert marker is not None
            # What this poll sees was committed before its snapshot, taken as it started.
            marker.visible_at = asked_at
        with self._lock:
            self._pending -= seen


def markers_for(envelopes: Sequence[Mapping[str, Any]]) -> list[Marker | None]:
    """Each envelope's marker: its last added transaction that no earlier envelope added."""
    used: set[tuple[str, str, str]] = set()
    markers: list[Marker | None] = []
    for envelope in envelopes:
        added = envelope["payload"].get("added", ()) if added_count(envelope) else ()
        keys = [(envelope["tenant_id"], envelope["profile_id"], _core_id(item)) for item in added]
        fresh = [key for key in keys if key not in used]
        markers.append(Marker(*fresh[-1], transactions=len(keys)) if fresh else None)
        used.update(keys)
    return markers


def _core_id(item: Mapping[str, Any]) -> str:
    """The id Core gives a Plaid transaction (its projections are keyed by it)."""
    return plaid.transaction_id(item["account_id"], item["transaction_id"])


def latency(bench: Bench, rate: float, seconds: float, drain_s: float, sample: Sample) -> Result:
    """Produce ``sample`` at ``rate`` transactions/s for ``seconds``; measure visibility."""
    bench.prepare(LAT)
    run = LatencyRun(bench, sample.envelopes, rate)
    proc = bench.spawn(["run", "--processes", str(PROCESSES)], LAT, "latency_run")
    run.watcher.start()
    try:
        run.warm_up(int(rate * seconds * WARMUP_SHARE) + 1, lambda: proc.poll() is None)
        rows_before, started = _search_rows(bench), time.perf_counter()
        first, timed_tx, produced_s = run.produce(seconds, lambda: proc.poll() is None)
        ended = time.perf_counter()
        while run.watcher.outstanding() and time.perf_counter() - ended < drain_s:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        deadline = time.perf_counter()
        absorbed = (_search_rows(bench) - rows_before) / (deadline - started)
        if run.watcher.error is not None:
            raise run.watcher.error
    finally:
        run.watcher.finish()
        bench.stop(proc)
    timed = [m for m in run.markers[first : run.position] if m is not None]
    result = summary(timed, deadline, ended)
    result.update(
        latency_target_tx_per_s=rate,
        latency_produced_tx_per_s=timed_tx / produced_s if produced_s > 0 else 0.0,
        latency_produce_seconds=produced_s,
        latency_absorbed_tx_per_s=absorbed,
        latency_transactions=timed_tx,
        latency_delivery_failures=len(run.failures),
        latency_polls=run.watcher.polls,
        latency_watcher_cpu_s=run.watcher.cpu_seconds,
        latency_restarts=bench.restarts("latency_run"),
        latency_epoch_interval_s=float(os.environ.get("FINTRA_EPOCH_INTERVAL_SECONDS", "2.0")),
    )
    say(
        f"latency: {timed_tx:,} transactions at {result['latency_produced_tx_per_s']:,.0f}/s; "
        f"the flow absorbed {absorbed:,.0f}/s; "
        f"{result['latency_envelopes_visible']}/{len(timed)} envelopes visible; "
        f"p50 {_ms(result['latency_p50_ms'], result['latency_p50_is_lower_bound'])}, "
        f"p99 {_ms(result['latency_p99_ms'], result['latency_p99_is_lower_bound'])}"
    )
    return result


def _search_rows(bench: Bench) -> int:
    """Transactions the projection shows (a removed one keeps its row)."""
    with bench.connect(LAT) as conn:
        row = conn.execute("SELECT count(*) FROM transaction_search").fetchone()
    return int(row[0]) if row else 0


class LatencyRun:
    """The producing side: envelopes sent in order, each marker stamped as it goes."""

    def __init__(self, bench: Bench, envelopes: Sequence[Mapping[str, Any]], rate: float) -> None:
        self.bench = bench
        self.envelopes = envelopes
        self.rate = rate
        self.markers = markers_for(envelopes)
        self.watcher = Watcher(bench, self.markers)
        self.topic = f"{LAT.prefix}{CONNECT_SYNC_TOPIC}"
        self.position = 0
        self.failures: list[KafkaError] = []
        self.producer = Producer(
            {"bootstrap.servers": bench.stack.kafka_brokers, "acks": "all", "linger.ms": 0}
        )

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.failures.append(error)

    def send(self) -> int:
        """Produce the next envelope; return how many transactions it adds."""
        envelope = self.envelopes[self.position]
        marker = self.markers[self.position]
        key = f"{envelope['tenant_id']}:{envelope['profile_id']}".encode()
        if marker is not None:
            marker.produced_at = time.perf_counter()
        self.producer.produce(
            self.topic, key=key, value=orjson.dumps(envelope), on_delivery=self._delivered
        )
        self.producer.poll(0)
        if marker is not None:
            self.watcher.produced(self.position)
        self.position += 1
        return added_count(envelope)

    def warm_up(self, transactions: int, running: Callable[[], bool]) -> None:
        """Send the first envelopes and wait until the flow shows them (it is starting)."""
        sent = 0
        while self.position < len(self.envelopes) and sent < transactions:
            sent += self.send()
        self.producer.flush(30)
        started = time.perf_counter()
        while self.watcher.outstanding():
            if self.watcher.error is not None:
                raise self.watcher.error
            if not running() or time.perf_counter() - started > STARTUP_TIMEOUT_S:
                msg = f"the flow showed no warm-up envelope in {STARTUP_TIMEOUT_S:.0f}s; log:\n"
                raise RuntimeError(msg + self.bench.tail("latency_run"))
            time.sleep(POLL_S)
        say(f"latency: the flow showed the warm-up in {time.perf_counter() - started:.1f}s")

    def produce(self, seconds: float, running: Callable[[], bool]) -> tuple[int, int, float]:
        """Send envelopes on a schedule of ``rate`` transactions/s for ``seconds``.

        Returns the first timed position, the transactions sent, and the seconds it took.
        """
        first, sent = self.position, 0
        wanted = self.rate * seconds
        say(f"latency: producing {wanted:,.0f} transactions at {self.rate:,.0f}/s")
        t0 = time.perf_counter()
        while self.position < len(self.envelopes) and sent < wanted:
            delay = t0 + sent / self.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent += self.send()
            if not running():
                msg = f"`fintra run` exited while producing; log:\n{self.bench.tail('latency_run')}"
                raise RuntimeError(msg)
        produced_s = time.perf_counter() - t0
        if self.producer.flush(30):
            msg = "the broker did not acknowledge every envelope in 30s"
            raise RuntimeError(msg)
        return first, sent, produced_s


def summary(timed: Sequence[Marker], deadline: float, ended: float) -> Result:
    """Percentiles of the markers' latencies; one not seen by ``deadline`` is censored.

    A censored envelope waited at least until the deadline, so it enters the ranking with
    that lower bound; a percentile is exact only when every lower bound ranks above it.
    """
    seen = [m for m in timed if m.visible_at is not None and m.produced_at is not None]
    unseen = [m for m in timed if m.visible_at is None and m.produced_at is not None]
    exact = [(m.visible_at or 0.0) - (m.produced_at or 0.0) for m in seen]
    bounds = [deadline - (m.produced_at or 0.0) for m in unseen]
    ranked = sorted(x * 1e3 for x in exact + bounds)
    first_bound = min(bounds, default=math.inf) * 1e3

    def percentile(q: float) -> tuple[float | None, bool]:
        if not ranked:
            return None, False
        value = ranked[max(0, math.ceil(q * len(ranked)) - 1)]
        return value, first_bound <= value

    p50, p50_low = percentile(0.50)
    p99, p99_low = percentile(0.99)
    last_seen = max((m.visible_at or 0.0 for m in seen), default=ended)
    return {
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
        "latency_p50_is_lower_bound": p50_low,
        "latency_p99_is_lower_bound": p99_low,
        "latency_max_ms": ranked[-1] if ranked else None,
        "latency_envelopes_measured": len(timed),
        "latency_envelopes_visible": len(seen),
        "latency_drain_seconds": max(0.0, last_seen - ended) if not unseen else None,
    }


def _ms(value: float | None, lower_bound: bool) -> str:
    if value is None:
        return "n/a"
    return f"{'≥ ' if lower_bound else ''}{value:,.0f} ms"
