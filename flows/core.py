"""The ``core`` dataflow: Connect syncs in; events, dead letters and projections out.

Records are keyed by the Kafka message key before anything is parsed, so parsing and
validation happen in the worker that owns the profile, and only raw bytes cross the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.dataflow import Dataflow, Stream
from bytewax.outputs import Sink

from flows.kafka import (
    dead_letter_message,
    event_message,
    key_error,
    only_dead_letters,
    only_events,
    only_stored,
    stream_key,
    to_raw_record,
)
from flows.postgres import PostgresSink, SinkItem
from flows.twin_step import twin_builder
from operators.decode import DecodeLimits


@dataclass(frozen=True, slots=True)
class CoreFlowConfig:
    """Everything the flow connects to; topic names are physical (prefix applied)."""

    brokers: str
    database_url: str
    db_schema: str
    input_topics: tuple[str, ...]
    events_topic: str
    dlq_topic: str
    limits: DecodeLimits
    until_idle: bool = False


def build_core_flow(config: CoreFlowConfig) -> Dataflow:
    """Wire the core dataflow."""
    brokers = [config.brokers]
    flow = Dataflow("core")
    source = KafkaSource(brokers, list(config.input_topics), tail=not config.until_idle)
    messages = op.input("connect_in", flow, source)
    records = op.map("to_raw_record", messages, to_raw_record)

    checked = op.branch("check_key", records, lambda record: key_error(record) is None)
    bad_keys = op.filter_map("key_dead_letters", checked.falses, key_error)
    keyed = op.key_on("key_by_profile", checked.trues, stream_key)
    outputs = op.map(
        "drop_key", op.stateful("twin", keyed, twin_builder(config.limits)), lambda pair: pair[1]
    )

    events = op.filter_map("events", outputs, only_events)
    letters = op.filter_map("dead_letters", outputs, only_dead_letters)
    stored: Stream[SinkItem] = op.filter_map("to_store", outputs, only_stored)

    op.output(
        "events_out",
        op.map("event_messages", events, event_message),
        KafkaSink(brokers, config.events_topic),
    )
    all_letters = op.merge("all_dead_letters", letters, bad_keys)
    op.output(
        "dlq_out",
        op.map("dlq_messages", all_letters, dead_letter_message),
        KafkaSink(brokers, config.dlq_topic),
    )
    store: Sink[SinkItem] = PostgresSink(config.database_url, config.db_schema)
    op.output("postgres_out", stored, store)
    return flow
