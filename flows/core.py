"""The ``core`` dataflow: Connect syncs in; events, dead letters and projections out.

Records are keyed by the Kafka message key before anything is parsed, so parsing and
validation happen in the worker that owns the profile, and only raw bytes cross the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from flows.kafka import (
    SinkMessage,
    SourceItem,
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
from flows.twin_step import count_dead_letter, twin_builder
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


@dataclass(frozen=True, slots=True)
class CoreIO:
    """The flow's ends: where records come from and where each kind of output goes."""

    source: Source[SourceItem]
    events: Sink[SinkMessage]
    dead_letters: Sink[SinkMessage]
    store: Sink[SinkItem]


def build_core_flow(config: CoreFlowConfig) -> Dataflow:
    """Build the core dataflow between Kafka and PostgreSQL."""
    brokers = [config.brokers]
    io = CoreIO(
        source=KafkaSource(brokers, list(config.input_topics), tail=not config.until_idle),
        events=KafkaSink(brokers, config.events_topic),
        dead_letters=KafkaSink(brokers, config.dlq_topic),
        store=PostgresSink(config.database_url, config.db_schema),
    )
    return wire_core_flow(io, config.limits)


def wire_core_flow(io: CoreIO, limits: DecodeLimits) -> Dataflow:
    """Wire the core dataflow between the given ends (tests pass in-memory ones)."""
    flow = Dataflow("core")
    messages = op.input("connect_in", flow, io.source)
    records = op.map("to_raw_record", messages, to_raw_record)

    checked = op.branch("check_key", records, lambda record: key_error(record) is None)
    bad_keys = op.map(
        "key_dead_letters",
        op.filter_map("key_errors", checked.falses, key_error),
        count_dead_letter,
    )
    keyed = op.key_on("key_by_profile", checked.trues, stream_key)
    twins = op.stateful("twin", keyed, twin_builder(limits))
    outputs = op.map("drop_key", twins, lambda pair: pair[1])

    events = op.filter_map("events", outputs, only_events)
    letters = op.merge(
        "all_dead_letters", op.filter_map("dead_letters", outputs, only_dead_letters), bad_keys
    )
    stored: Stream[SinkItem] = op.filter_map("to_store", outputs, only_stored)

    op.output("events_out", op.map("event_messages", events, event_message), io.events)
    op.output("dlq_out", op.map("dlq_messages", letters, dead_letter_message), io.dead_letters)
    op.output("postgres_out", stored, io.store)
    return flow
