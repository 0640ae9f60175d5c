"""The worker's metrics of time and size: latency, consumer lag, state size and snapshots.

Each is taken at an edge of the flow (the input step, the twin step's logic, the PostgreSQL
sink) or by a thread beside it, never inside a fold. The clock readings here stay out of
band: they never enter a record, an event or a twin's state, so replays stay byte-identical.
The hot path reads the clock once per batch, never per record; per record it pays one dict
store (the consumed position, see ``CONSUMED``), and no lock.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import threading
from collections.abc import Iterable
from typing import Final

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from operators.pipeline import ProfileDocument
from operators.twin import ProfileState

_log = logging.getLogger(__name__)

#: From 1 ms (a batch committed in the activation it was read) to 30 s (a stalled sink).
LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class BatchHistogram:
    """A histogram fed a batch at a time, each observation with a weight.

    ``prometheus_client``'s ``Histogram`` takes one observation per call, with two locks
    each; the sink would pay that for every event. Here a sink batch is tallied locally and
    added under one lock, and the registry reads it back as an ordinary histogram.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        label: str,
        values: tuple[str, ...],
        buckets: tuple[float, ...],
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._label = label
        self._bounds = (*buckets, math.inf)
        self._lock = threading.Lock()
        # Per label value: how many observations fell in each bucket (not cumulative), and
        # their sum.
        self._counts = {value: [0] * len(self._bounds) for value in values}
        self._sums = dict.fromkeys(values, 0.0)
        registry.register(self)

    def observe(self, value: str, samples: Iterable[tuple[float, int]]) -> None:
        """Add ``weight`` observations of ``amount`` for each ``(amount, weight)``."""
        counts = [0] * len(self._bounds)
        total = 0.0
        for amount, weight in samples:
            counts[bisect.bisect_left(self._bounds, amount)] += weight
            total += amount * weight
        with self._lock:
            held = self._counts[value]
            for index, count in enumerate(counts):
                held[index] += count
            self._sums[value] += total

    def describe(self) -> list[Metric]:
        """Name the family without reading it (the registry checks names on register)."""
        return [HistogramMetricFamily(self._name, self._documentation, labels=[self._label])]

    def collect(self) -> list[Metric]:
        """Return the family with cumulative buckets, as Prometheus expects them."""
        family = HistogramMetricFamily(self._name, self._documentation, labels=[self._label])
        with self._lock:
            series = [(v, list(c), self._sums[v]) for v, c in sorted(self._counts.items())]
        for value, counts, total in series:
            buckets = [
                (floatToGoString(bound), float(cumulative))  # type: ignore[no-untyped-call]
                for bound, cumulative in zip(
                    self._bounds, itertools.accumulate(counts), strict=True
                )
            ]
            family.add_metric([value], buckets, total)
        return [family]


LATENCY = BatchHistogram(
    "fintra_latency_seconds",
    "Seconds from the twin receiving an input to its events being committed to PostgreSQL "
    "(stage=committed) and acknowledged by the events topic (stage=published); one "
    "observation per event",
    label="stage",
    values=("committed", "published"),
    buckets=LATENCY_BUCKETS,
)

CONSUMER_LAG = Gauge(
    "fintra_consumer_lag",
    "Messages on the broker not yet read by this worker process: high watermark minus next "
    "offset, per input partition it reads",
    ["topic", "partition"],
)
PROFILES = Gauge("fintra_profiles", "Profile twins held by this worker process")
RETAINED_TRANSACTIONS = Gauge(
    "fintra_retained_transactions", "Transactions retained in the twins of this worker process"
)
#: Metrics the dataflow itself exports beside this registry, on the same endpoint: the
#: recovery snapshot's duration (pickling each step's state and writing the recovery
#: store) and each stateful batch's.
BYTEWAX_METRICS: Final = frozenset(
    {
        "bytewax_snapshot_duration_seconds",
        "bytewax_partd_write_duration_seconds",
        "bytewax_stateful_batch_on_batch_duration_seconds",
        "bytewax_out_part_write_batch_duration_seconds",
        "bytewax_item_inp_count_total",
    }
)

#: Offset of the last record the input step passed on, per ``(topic, partition)`` this
#: process reads. Written once per record by ``flows.kafka.to_raw_record`` (a dict store: no
#: lock, no clock), read every few seconds by ``LagMonitor``.
CONSUMED: dict[tuple[str, int], int] = {}


class Receipts:
    """When the twin received the inputs behind each projection not yet committed.

    The stamp is a monotonic clock reading taken when a twin batch starts, once per batch.
    It is taken in the twin step, not when the message left the broker, for two reasons.
    First, the twin step is the first one that runs in the worker that also commits the
    profile's events (keys route a profile to one worker; the sink writes what that worker
    holds, with no exchange between), so the stamp and the commit are read from one clock
    and never cross a process. Second, nothing has to travel with the data: a stamp in the
    record would be pickled across the key exchange, and one in an event or a state would
    break deterministic replays. The Kafka timestamp would travel, but it measures from the
    producer's clock and, on a backfill, the age of the data rather than the worker's delay.
    What the stamp leaves out is the step before it: reading, key check and the exchange;
    the consumer lag shows how long input waits for that.

    A twin batch that emits events ends with exactly one projection, so the projection's
    ``(tenant, profile, version)`` names the batch when it reaches the sink.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._pending: dict[tuple[str, str, int], tuple[float, int]] = {}

    def note(self, document: ProfileDocument, received: float, events: int) -> None:
        """Remember that ``events`` events, received at ``received``, end in ``document``."""
        if len(self._pending) >= self._limit:
            # Only projections no PostgreSQL sink takes (an in-memory test sink) pile up: a
            # worker's sink takes each one in the activation that made it.
            self._pending.clear()
        key = (document.tenant_id, document.profile_id, document.version)
        self._pending[key] = (received, events)

    def take(self, items: Iterable[object]) -> list[tuple[float, int]]:
        """Forget and return ``(received, events)`` of each noted projection among ``items``."""
        taken: list[tuple[float, int]] = []
        for item in items:
            if isinstance(item, ProfileDocument):
                key = (item.tenant_id, item.profile_id, item.version)
                receipt = self._pending.pop(key, None)
                if receipt is not None:
                    taken.append(receipt)
        return taken

    def __len__(self) -> int:
        return len(self._pending)


RECEIPTS: Final = Receipts()


def observe_latency(stage: str, receipts: list[tuple[float, int]], at: float) -> None:
    """Observe, once per event, the seconds from each receipt to ``at`` (monotonic)."""
    if receipts:
        LATENCY.observe(stage, [(max(at - received, 0.0), events) for received, events in receipts])


def twin_built(state: ProfileState | None) -> int:
    """Count a twin built (new or resumed) in this process; return its retained transactions.

    Bytewax keeps a twin's logic for as long as the dataflow runs (it never discards one),
    so a twin is counted once and never uncounted.
    """
    retained = len(state.transactions) if state is not None else 0
    PROFILES.inc()
    if retained:
        RETAINED_TRANSACTIONS.inc(retained)
    return retained


def twin_retained(state: ProfileState | None, before: int) -> int:
    """Move the retained-transactions gauge by a twin's change; return its new count."""
    retained = len(state.transactions) if state is not None else 0
    if retained != before:
        RETAINED_TRANSACTIONS.inc(retained - before)
    return retained


class LagMonitor:
    """Sets ``fintra_consumer_lag`` every few seconds, from a daemon thread beside the flow.

    The lag of a partition is its high watermark minus the next offset this process will
    read. Bytewax keeps its input offsets in its recovery store, not in a consumer group, so
    the broker knows of no group offset to compare with; the next offset is the one after the
    last record the input step passed on (``CONSUMED``). High watermarks come from the broker
    in one ``ListOffsets`` request for every partition. Only partitions this process has read
    from are reported, so each partition's series comes from the one process that reads it.

    A broker that reports the watermark of the last record batch rather than of the last
    record (the embedded Tansu does) makes the lag look smaller; it is never shown below zero.
    """

    def __init__(
        self,
        brokers: str,
        *,
        consumed: dict[tuple[str, int], int] | None = None,
        interval_seconds: float = 5.0,
    ) -> None:
        self._admin = AdminClient({"bootstrap.servers": brokers})
        self._consumed = CONSUMED if consumed is None else consumed
        self._interval = interval_seconds
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self) -> dict[tuple[str, int], int]:
        """Read the watermarks once and set the gauge; return the lag of each partition.

        A partition the broker does not answer for (a topic deleted under the flow) keeps its
        last value and is left out of the result; the others are still updated.

        Raises:
            KafkaException: when the request as a whole fails.
        """
        # A copy of a dict of str/int keys is one step under the GIL: the input step may
        # keep writing meanwhile.
        positions = {key: offset for key, offset in self._consumed.copy().items() if key[1] >= 0}
        if not positions:
            return {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        futures = self._admin.list_offsets(
            {TopicPartition(topic, partition): latest for topic, partition in positions},
            request_timeout=self._interval,
        )
        lags: dict[tuple[str, int], int] = {}
        for tp, future in futures.items():
            try:
                high: int = future.result().offset
            except KafkaException as exc:
                _log.debug("no watermark for %s [%d]: %s", tp.topic, tp.partition, exc)
                continue
            key = (tp.topic, tp.partition)
            lags[key] = max(high - (positions[key] + 1), 0)
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lags[key])
        return lags

    def start(self) -> None:
        """Update the gauge every interval until ``stop``, on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="fintra-lag", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        failing = False
        while not self._stopped.wait(self._interval):
            try:
                self.update()
            except KafkaException as exc:
                # The gauge keeps its last values; the flow itself reports a lost broker.
                if not failing:
                    _log.warning("consumer lag not updated: %s", exc)
                failing = True
            else:
                failing = False
