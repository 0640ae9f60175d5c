"""Conversions between Kafka messages and the flow's records."""

from __future__ import annotations

import orjson
from bytewax.connectors.kafka import KafkaError, KafkaSinkMessage, KafkaSourceMessage

from flows.metrics import CONSUMED
from operators.decode import parse_key
from operators.exceptions import RejectedInput
from operators.instruments import Interest
from operators.market_input import interest_message
from operators.passport import ExportRequest
from operators.pipeline import Output, ProfileDocument
from operators.registry import AcceptedPlatformData
from schemas.events import Event
from schemas.records import REPLAY_HEADER, DeadLetter, RawRecord

SourceItem = KafkaSourceMessage[bytes | None, bytes | None] | KafkaError[bytes | None, bytes | None]
SinkMessage = KafkaSinkMessage[bytes | None, bytes | None]


def to_raw_record(message: SourceItem) -> RawRecord:
    """Keep a message's bytes and coordinates; nothing is parsed here.

    The source raises on consumer errors (they are not input), so only messages arrive.
    This is the step after the source, in the process that reads the partition, so it also
    notes the position read for the consumer lag (one dict store: no lock, no clock).
    """
    assert isinstance(message, KafkaSourceMessage)  # noqa: S101
    record = RawRecord(
        key=message.key,
        value=message.value,
        topic=message.topic or "",
        partition=message.partition if message.partition is not None else -1,
        offset=message.offset if message.offset is not None else -1,
        timestamp_ms=_timestamp_ms(message.timestamp),
        replay_of=_header(message.headers, REPLAY_HEADER),
    )
    CONSUMED[record.topic, record.partition] = record.offset
    return record


def _header(headers: list[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", errors="replace")
    return None


def _timestamp_ms(timestamp: tuple[int, int] | None) -> int | None:
    # librdkafka reports (type, ms); type 0 means the message carries no timestamp.
    if timestamp is None or timestamp[0] == 0:
        return None
    return timestamp[1]


def key_error(record: RawRecord) -> DeadLetter | None:
    """Return a dead letter when the record's key names no profile, else ``None``."""
    try:
        parse_key(record.key)
    except RejectedInput as exc:
        return DeadLetter(exc.reason, exc.field, exc.message, record)
    return None


def only_events(item: Output) -> Event | None:
    """Pass events through; drop everything else."""
    return item if isinstance(item, Event) else None


def only_accepted(item: AcceptedPlatformData | DeadLetter) -> AcceptedPlatformData | None:
    """Pass accepted platform data through; drop dead letters."""
    return item if isinstance(item, AcceptedPlatformData) else None


def tenant_of(record: RawRecord) -> str:
    """The tenant part of a record key checked to be ``tenant:something``."""
    return stream_key(record).partition(":")[0]


def only_dead_letters(item: object) -> DeadLetter | None:
    """Pass dead letters through; drop everything else."""
    return item if isinstance(item, DeadLetter) else None


def only_stored(item: Output) -> Event | ProfileDocument | None:
    """Pass what PostgreSQL stores (events and profile documents); drop the rest."""
    return item if isinstance(item, Event | ProfileDocument) else None


def only_export_requests(item: Output) -> ExportRequest | None:
    """Keep the history exports the twins asked for."""
    return item if isinstance(item, ExportRequest) else None


def export_request_message(request: ExportRequest) -> SinkMessage:
    """Publish an export request keyed by its link (one link, one partition, in order)."""
    return KafkaSinkMessage(key=request.link_id.encode(), value=orjson.dumps(request._asdict()))


def only_interests(item: Output) -> Interest | None:
    """Pass interest changes (for the instrument index) through; drop the rest."""
    return item if isinstance(item, Interest) else None


def interest_sink_message(interest: Interest) -> SinkMessage:
    """Publish an interest change keyed by its instrument."""
    key, value = interest_message(interest)
    return KafkaSinkMessage(key=key, value=value)


def stream_key(record: RawRecord) -> str:
    """The profile key of a record whose key was checked."""
    assert record.key is not None  # noqa: S101 - routed here only after key_error said None
    return record.key.decode()


def event_message(event: Event) -> SinkMessage:
    """Publish an event keyed by its profile stream."""
    return KafkaSinkMessage(
        key=f"{event.tenant_id}:{event.profile_id}".encode(),
        value=event.to_json(),
        headers=[
            ("event_id", event.event_id.encode()),
            ("type", event.type.encode()),
            ("tenant_id", event.tenant_id.encode()),
        ],
    )


def dead_letter_message(letter: DeadLetter) -> SinkMessage:
    """Publish a dead letter keyed by its origin, with the reason as a header.

    Keying by origin keeps every failure of one input, and the markers of its replays, in
    one partition and so in order.
    """
    return KafkaSinkMessage(
        key=letter.record.origin.encode(),
        value=orjson.dumps(letter.to_dict(), option=orjson.OPT_SORT_KEYS),
        headers=[("reason", letter.reason.value.encode())],
    )
