"""The worker's metrics of time and size, read back from the Prometheus registry.

Pure pieces first (the twin's gauges and receipts, the latency histogram), then the lag
against a real broker, then a real run of the flow on the session's broker and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg
import pytest
from bytewax.connectors.kafka import KafkaSourceMessage
from confluent_kafka import Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import REGISTRY, generate_latest
from psycopg import sql

from fintra import stack as fintra_stack
from fintra.embedded import StackInfo
from fintra.ingest import publish
from fintra.runner import run
from fintra.samples import SampleSpec, generate
from fintra.settings import CONNECT_SYNC_TOPIC, Settings
from fintra.topics import read_all
from flows.kafka import to_raw_record
from flows.metrics import (
    CONSUMED,
    RECEIPTS,
    LagMonitor,
    Receipts,
    observe_latency,
)
from flows.twin_step import TwinInput, TwinLogic
from operators.decode import DecodeLimits
from operators.pipeline import Output, ProfileDocument
from schemas.events import Event
from tests.support.envelopes import record


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def latency(stage: str, suffix: str = "count", le: str | None = None) -> float:
    labels = {"stage": stage} if le is None else {"stage": stage, "le": le}
    return sample(f"fintra_latency_seconds_{suffix}", labels)


def twin_gauges() -> tuple[float, float]:
    return sample("fintra_profiles"), sample("fintra_retained_transactions")


def profile_records(seed: int) -> list[TwinInput]:
    """The raw records of one generated profile, in the order a worker would read them."""
    envelopes = generate(SampleSpec(seed=seed, tenants=1, profiles_per_tenant=1, months=2))
    return [
        record(doc, key=f"{doc['tenant_id']}:{doc['profile_id']}".encode(), offset=offset)
        for offset, doc in enumerate(envelopes.envelopes)
    ]


def test_a_twin_counts_itself_and_the_transactions_it_retains() -> None:
    profiles, retained = twin_gauges()
    logic = TwinLogic(None, DecodeLimits())
    assert twin_gauges() == (profiles + 1, retained)

    logic.on_batch(profile_records(seed=21))
    state = logic.snapshot()
    assert len(state.transactions) > 0
    assert twin_gauges() == (profiles + 1, retained + len(state.transactions))

    # A twin resumed from its snapshot counts again, with everything it retains.
    TwinLogic(state, DecodeLimits())
    assert twin_gauges() == (profiles + 2, retained + 2 * len(state.transactions))


def test_a_twin_batch_leaves_one_receipt_naming_its_projection() -> None:
    logic = TwinLogic(None, DecodeLimits())
    before = time.monotonic()
    outputs: list[Output] = list(logic.on_batch(profile_records(seed=22))[0])
    after = time.monotonic()
    documents = [o for o in outputs if isinstance(o, ProfileDocument)]
    events = [o for o in outputs if isinstance(o, Event)]
    assert len(documents) == 1
    assert documents[0].version == events[-1].stream_version

    [(received, count)] = RECEIPTS.take(outputs)
    assert before <= received <= after
    assert count == len(events)
    assert RECEIPTS.take(outputs) == []


def test_receipts_never_outgrow_their_limit() -> None:
    receipts = Receipts(limit=3)
    documents = [ProfileDocument("t", f"p{n}", 1, None, {}) for n in range(5)]
    for document in documents:
        receipts.note(document, 1.0, 2)
    assert len(receipts) == 2
    assert receipts.take(documents) == [(1.0, 2), (1.0, 2)]


def test_latency_is_observed_once_per_event_in_the_right_bucket() -> None:
    count, total = latency("committed"), latency("committed", "sum")
    below, within = latency("committed", "bucket", "0.01"), latency("committed", "bucket", "0.025")
    observe_latency("committed", [(100.0, 3), (100.5, 0), (50.0, 1)], at=100.02)
    assert latency("committed") == count + 4
    assert latency("committed", "sum") == pytest.approx(total + 0.06 + 50.02)
    assert latency("committed", "bucket", "0.01") == below
    assert latency("committed", "bucket", "0.025") == within + 3
    assert latency("committed", "bucket", "+Inf") == count + 4
    # The exposition is an ordinary histogram, as Prometheus scrapes it.
    text = generate_latest(REGISTRY).decode()
    assert "# TYPE fintra_latency_seconds histogram" in text
    assert 'fintra_latency_seconds_bucket{le="30.0",stage="committed"}' in text


def source_message(message: Message) -> KafkaSourceMessage[bytes | None, bytes | None]:
    return KafkaSourceMessage(
        key=message.key(),
        value=message.value(),
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        timestamp=message.timestamp(),
    )


@pytest.mark.integration
def test_lag_is_what_the_broker_holds_beyond_what_was_read(
    stack: StackInfo, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("lag")
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": stack.kafka_brokers})
    for partition, count in ((0, 7), (1, 3)):
        for n in range(count):
            # One record per produce request: the embedded broker's watermark is the start of
            # the last record batch, exact only when batches hold one record.
            producer.produce(topic, value=b"%d" % n, partition=partition)
            producer.flush(10)
    messages = {(m.partition(), m.offset()): m for m in read_all(stack.kafka_brokers, topic)}
    assert len(messages) == 10

    # The input step reads four records of partition 0 and all of partition 1.
    for key in [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2)]:
        to_raw_record(source_message(messages[key]))
    positions = {key: offset for key, offset in CONSUMED.items() if key[0] == topic}
    assert positions == {(topic, 0): 3, (topic, 1): 2}

    lags = LagMonitor(stack.kafka_brokers, consumed=positions).update()
    assert lags == {(topic, 0): 3, (topic, 1): 0}
    assert sample("fintra_consumer_lag", {"topic": topic, "partition": "0"}) == 3
    assert sample("fintra_consumer_lag", {"topic": topic, "partition": "1"}) == 0


@pytest.mark.integration
def test_an_unknown_topic_leaves_the_other_partitions_lag_updated(
    stack: StackInfo, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("lag")
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    publish(stack.kafka_brokers, topic, [b"one"])
    missing = unique_name("gone")
    lags = LagMonitor(stack.kafka_brokers, consumed={(topic, 0): 0, (missing, 0): 4}).update()
    assert lags == {(topic, 0): 0}


@pytest.mark.integration
def test_a_run_times_every_committed_event_and_counts_its_twins(
    stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    settings = Settings(
        home=tmp_path,
        db_schema=unique_name("metrics"),
        topic_prefix=unique_name("it") + ".",
        epoch_interval_seconds=0.5,
    )
    fintra_stack.prepare(settings, stack)
    data = generate(SampleSpec(seed=13, tenants=1, profiles_per_tenant=3, months=2))
    syncs = settings.topic(CONNECT_SYNC_TOPIC)
    publish(stack.kafka_brokers, syncs, [orjson.dumps(e) for e in data.envelopes])
    committed, published = latency("committed"), latency("published")
    profiles, _ = twin_gauges()

    run(settings, stack, until_idle=True)

    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}, public").format(sql.Identifier(settings.db_schema))
        )
        row = conn.execute("SELECT count(*) FROM core_events").fetchone()
    assert row is not None
    logged = row[0]
    assert logged > 0
    # One observation per event, at commit and again once the topic acknowledged it.
    assert latency("committed") - committed == logged
    assert latency("published") - published == logged
    now_profiles, _ = twin_gauges()
    assert now_profiles - profiles == len(data.truth)

    # Everything was read: no partition of the sync topic lags behind.
    read = {key: offset for key, offset in CONSUMED.items() if key[0] == syncs}
    assert sum(offset + 1 for offset in read.values()) == len(data.envelopes)
    assert set(LagMonitor(stack.kafka_brokers, consumed=read).update().values()) == {0}
