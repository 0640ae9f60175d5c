"""The ``core`` dataflow: Connect syncs in; events, dead letters and projections out.

Records are keyed by the Kafka message key before anything is parsed, so parsing and
validation happen in the worker that owns the profile, and only raw bytes cross the exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSource
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream
from bytewax.outputs import Sink

from flows.kafka import (
    SinkMessage,
    SourceItem,
    dead_letter_message,
    event_message,
    export_request_message,
    interest_sink_message,
    key_error,
    only_dead_letters,
    only_events,
    only_export_requests,
    only_interests,
    only_stored,
    stream_key,
    tenant_of,
    to_raw_record,
)
from flows.postgres import PostgresSink, SinkItem, StreamHistory, no_history
from flows.registry_step import (
    RegistryInput,
    RegistryOutput,
    TenantInputKind,
    registry_builder,
)
from flows.twin_step import TwinInput, count_dead_letter, count_market, twin_builder
from operators.decode import DecodeLimits
from operators.market_input import MarketItem, index_step, parse_market, routed
from operators.pipeline import (
    CommandRecord,
    EnrichRecord,
    LinkRecord,
    PassportRecord,
    TickDelivery,
)
from operators.registry import AcceptedPlatformData, DayClosed, TenantDefaults
from schemas.events import Event
from schemas.records import DeadLetter, RawRecord

#: A dead letter carries its input's bytes (base64), so it can be a third larger than the
#: largest input the input topics accept; topics.yaml sizes the topics to match.
PRODUCER_CONFIG: Final = {"message.max.bytes": str(32 * 1024 * 1024), "linger.ms": "5"}


@dataclass(frozen=True, slots=True)
class InputTopics:
    """Physical names of the input topics (a prefix may isolate a deployment)."""

    syncs: str
    platform_data: str
    registry: str
    tenants: str
    market: str
    interests: str
    commands: str
    links: str = ""
    passport: str = ""
    enrichment: str = ""

    def all(self) -> list[str]:
        """Every input topic, in a stable order."""
        topics = [
            self.syncs,
            self.platform_data,
            self.registry,
            self.tenants,
            self.market,
            self.interests,
            self.commands,
        ]
        return topics + [t for t in (self.links, self.passport, self.enrichment) if t]

    def tenant_input(self, record: RawRecord) -> RegistryInput:
        """Tag a record bound for the tenant step with what it brings."""
        kind = {
            self.registry: TenantInputKind.DEFINITION,
            self.tenants: TenantInputKind.SETTINGS,
        }.get(record.topic, TenantInputKind.DATA)
        return RegistryInput(record, kind)


@dataclass(frozen=True, slots=True)
class CoreFlowConfig:
    """Everything the flow connects to; topic names are physical (prefix applied)."""

    brokers: str
    database_url: str
    db_schema: str
    inputs: InputTopics
    events_topic: str
    dlq_topic: str
    limits: DecodeLimits
    interests_topic: str = ""
    passport_requests_topic: str = ""
    until_idle: bool = False


@dataclass(frozen=True, slots=True)
class CoreIO:
    """The flow's ends: where records come from and where each kind of output goes."""

    source: Source[SourceItem]
    #: ``None`` when the store publishes events itself (through its outbox).
    events: Sink[SinkMessage] | None
    dead_letters: Sink[SinkMessage]
    store: Sink[SinkItem]
    interests: Sink[SinkMessage]
    passport_requests: Sink[SinkMessage]
    #: A profile's events in the log, for a twin with no recovery state to resume from.
    history: Callable[[str], list[Event]] = no_history


#: librdkafka's statistics would be parsed as JSON every second for every partition read:
#: a tenth of a worker's time. Lag comes from ``flows.metrics.LagMonitor`` instead.
CONSUMER_CONFIG: Final = {"statistics.interval.ms": "0"}


def build_core_flow(config: CoreFlowConfig) -> Dataflow:
    """Build the core dataflow between Kafka and PostgreSQL."""
    brokers = [config.brokers]
    io = CoreIO(
        source=KafkaSource(
            brokers,
            config.inputs.all(),
            tail=not config.until_idle,
            add_config=CONSUMER_CONFIG,
        ),
        events=None,
        dead_letters=KafkaSink(brokers, config.dlq_topic, add_config=PRODUCER_CONFIG),
        store=PostgresSink(
            config.database_url, config.db_schema, config.brokers, config.events_topic
        ),
        interests=KafkaSink(
            brokers, config.interests_topic or config.inputs.interests, add_config=PRODUCER_CONFIG
        ),
        passport_requests=KafkaSink(
            brokers, config.passport_requests_topic, add_config=PRODUCER_CONFIG
        ),
        history=StreamHistory(config.database_url, config.db_schema),
    )
    return wire_core_flow(io, config.inputs, config.limits)


def _market_path(
    records: Stream[RawRecord], topics: InputTopics, limits: DecodeLimits
) -> tuple[Stream[TickDelivery], Stream[DeadLetter]]:
    """Ticks and interests meet in the worker that owns the instrument; ticks go on to holders."""
    parsed = op.map(
        "parse_market",
        records,
        lambda r: (
            r,
            count_market(
                r, parse_market(r, is_interest=r.topic == topics.interests, limits=limits)
            ),
        ),
    )
    letters = op.filter_map(
        "market_dead_letters", parsed, lambda p: p[1] if isinstance(p[1], DeadLetter) else None
    )
    good = op.filter_map("market_items", parsed, market_item)
    keyed: KeyedStream[tuple[RawRecord, MarketItem]] = op.flat_map("route_market", good, routed)
    indexed = op.stateful_flat_map("instrument_index", keyed, index_step)
    ticks = op.map(
        "to_deliveries", indexed, lambda kv: TickDelivery(kv[1][0], kv[1][1].holder, kv[1][1].tick)
    )
    return ticks, letters


def market_item(
    pair: tuple[RawRecord, MarketItem | DeadLetter],
) -> tuple[RawRecord, MarketItem] | None:
    """Pass parsed market items on; drop dead letters (routed separately)."""
    record, item = pair
    return None if isinstance(item, DeadLetter) else (record, item)


def to_twin_record(
    topics: InputTopics,
) -> Callable[[RawRecord], CommandRecord | LinkRecord | PassportRecord | EnrichRecord]:
    """Wrap a record bound straight for its profile's twin by what its topic carries."""

    def wrap(record: RawRecord) -> CommandRecord | LinkRecord | PassportRecord | EnrichRecord:
        if record.topic == topics.links:
            return LinkRecord(record)
        if record.topic == topics.passport:
            return PassportRecord(record)
        if record.topic == topics.enrichment:
            return EnrichRecord(record)
        return CommandRecord(record)

    return wrap


def profile_seen(record: RawRecord) -> RegistryInput:
    """A marker telling the tenant step a profile exists (its bytes stay behind)."""
    marker = RawRecord(record.key, None, record.topic, record.partition, record.offset)
    return RegistryInput(marker, TenantInputKind.PROFILE_SEEN)


def for_twin(item: RegistryOutput) -> AcceptedPlatformData | TenantDefaults | DayClosed | None:
    """Pass on what the tenant step addresses to a profile; drop dead letters."""
    return None if isinstance(item, DeadLetter) else item


def wire_core_flow(io: CoreIO, topics: InputTopics, limits: DecodeLimits) -> Dataflow:
    """Wire the core dataflow between the given ends (tests pass in-memory ones)."""
    flow = Dataflow("core")
    records = op.map("to_raw_record", op.input("inputs_in", flow, io.source), to_raw_record)
    by_topic = op.branch(
        "split_market", records, lambda r: r.topic in {topics.market, topics.interests}
    )
    ticks, market_letters = _market_path(by_topic.trues, topics, limits)
    checked = op.branch("check_key", by_topic.falses, lambda record: key_error(record) is None)
    bad_keys = op.map(
        "key_dead_letters",
        op.filter_map("key_errors", checked.falses, key_error),
        count_dead_letter,
    )
    by_kind = op.branch(
        "split_commands",
        checked.trues,
        lambda r: r.topic in {topics.commands, topics.links, topics.passport, topics.enrichment},
    )
    commands = op.map("to_commands", by_kind.trues, to_twin_record(topics))
    syncs = op.branch("split_syncs", by_kind.falses, lambda r: r.topic == topics.syncs)

    # Platform data, metric definitions and tenant defaults meet in the worker that owns the
    # tenant; it also learns the tenant's profiles from the keys of their syncs.
    to_tenant = op.merge(
        "tenant_inputs",
        op.map("tag_for_tenant", syncs.falses, topics.tenant_input),
        op.map("profile_seen", syncs.trues, profile_seen),
    )
    by_tenant = op.key_on("key_by_tenant", to_tenant, lambda item: tenant_of(item.record))
    checked_data = op.map(
        "drop_tenant_key",
        op.stateful("registry", by_tenant, registry_builder(limits)),
        lambda pair: pair[1],
    )
    accepted: Stream[AcceptedPlatformData | TenantDefaults | DayClosed] = op.filter_map(
        "accepted_data", checked_data, for_twin
    )
    data_letters = op.filter_map("data_dead_letters", checked_data, only_dead_letters)

    keyed: KeyedStream[TwinInput] = op.merge(
        "twin_inputs",
        op.key_on("key_by_profile", syncs.trues, stream_key),
        op.key_on("key_data_by_profile", accepted, lambda item: item.stream_key),
        op.key_on("key_ticks_by_profile", ticks, lambda item: item.stream_key),
        op.key_on("key_commands_by_profile", commands, lambda item: stream_key(item.record)),
    )
    twins = op.stateful_batch("twin", keyed, twin_builder(limits, io.history))
    outputs = op.map("drop_key", twins, lambda pair: pair[1])

    events = op.filter_map("events", outputs, only_events)
    letters = op.merge(
        "all_dead_letters",
        op.filter_map("dead_letters", outputs, only_dead_letters),
        bad_keys,
        data_letters,
        market_letters,
    )
    stored: Stream[SinkItem] = op.filter_map("to_store", outputs, only_stored)

    if io.events is not None:
        op.output("events_out", op.map("event_messages", events, event_message), io.events)
    op.output("dlq_out", op.map("dlq_messages", letters, dead_letter_message), io.dead_letters)
    op.output("postgres_out", stored, io.store)
    interests = op.filter_map("interests", outputs, only_interests)
    op.output(
        "interests_out", op.map("interest_messages", interests, interest_sink_message), io.interests
    )
    requests = op.filter_map("export_requests", outputs, only_export_requests)
    op.output(
        "passport_requests_out",
        op.map("export_request_messages", requests, export_request_message),
        io.passport_requests,
    )
    return flow
