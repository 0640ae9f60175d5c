"""The API's side of Kafka: publishing commands and reading the tenant's events."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Final

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

# A stream cursor names the next offset of every partition: "0:1532,1:877".
_CURSOR: Final = re.compile(r"^\d{1,5}:\d{1,19}(,\d{1,5}:\d{1,19}){0,1023}$")


class BusError(RuntimeError):
    """The broker did not take a message or could not be read."""


class BadStreamCursor(ValueError):
    """A ``Last-Event-ID`` this API did not issue."""


def parse_cursor(text: str) -> dict[int, int]:
    """Read a stream cursor.

    Raises:
        BadStreamCursor: when ``text`` is not a list of ``partition:offset`` pairs.
    """
    if not _CURSOR.match(text):
        msg = "Last-Event-ID is not a cursor this API issued"
        raise BadStreamCursor(msg)
    positions: dict[int, int] = {}
    for pair in text.split(","):
        partition, offset = pair.split(":")
        positions[int(partition)] = int(offset)
    return positions


def format_cursor(positions: dict[int, int]) -> str:
    """Write a stream cursor: the next offset to read of each partition."""
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(positions.items()))


class CommandPublisher:
    """An idempotent producer; ``publish`` returns once the broker has the message."""

    def __init__(self, brokers: str, topic: str) -> None:
        self._topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": brokers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": 10000,
            }
        )
        self._lock = threading.Lock()

    def publish(self, key: bytes, value: bytes, timeout_s: float = 12.0) -> None:
        """Send one message and wait for its acknowledgement.

        Raises:
            BusError: when the broker refuses it or does not answer in time.
        """
        outcome: list[KafkaError | None] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            outcome.append(error)

        with self._lock:
            self._producer.produce(self._topic, key=key, value=value, on_delivery=delivered)
            self._producer.flush(timeout_s)
        if not outcome:
            msg = f"the broker did not acknowledge the command within {timeout_s:.0f}s"
            raise BusError(msg)
        if outcome[0] is not None:
            msg = f"the broker refused the command: {outcome[0].str()}"
            raise BusError(msg)

    def close(self) -> None:
        """Deliver anything in flight."""
        self._producer.flush(5.0)


@dataclass(slots=True)
class StreamMessage:
    """One event of the tenant, with the cursor that resumes right after it."""

    cursor: str
    event_type: str
    data: bytes


class EventReader:
    """Reads the events topic from exact positions, keeping only one tenant's events.

    The consumer is assigned partitions directly (no consumer group), holds little in its
    fetch queue and is read only as fast as the client takes events, so a slow client
    cannot make the server buffer without bound.
    """

    def __init__(self, brokers: str, topic: str, tenant_id: str) -> None:
        self._topic = topic
        self._tenant = tenant_id.encode()
        self._consumer = Consumer(
            {
                "bootstrap.servers": brokers,
                "group.id": "fintra-api-stream",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "queued.max.messages.kbytes": 1024,
                "fetch.max.bytes": 1024 * 1024,
                "max.partition.fetch.bytes": 256 * 1024,
            }
        )
        self.positions: dict[int, int] = {}

    def start(self, cursor: dict[int, int] | None, from_beginning: bool) -> None:
        """Assign every partition at the cursor; without one, at the start or the end.

        A partition the cursor does not name (the topic grew) is read from its start, so
        nothing published there is skipped.
        """
        metadata = self._consumer.list_topics(self._topic, timeout=5.0).topics.get(self._topic)
        if metadata is None or metadata.error is not None:
            msg = f"topic {self._topic} is not available"
            raise BusError(msg)
        for partition in sorted(metadata.partitions):
            if cursor is not None:
                self.positions[partition] = cursor.get(partition, 0)
            elif from_beginning:
                self.positions[partition] = 0
            else:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), timeout=5.0
                )
                self.positions[partition] = max(high, 0)
        self._consumer.assign(
            [
                TopicPartition(self._topic, p, offset if offset > 0 else OFFSET_BEGINNING)
                for p, offset in self.positions.items()
            ]
        )

    def cursor(self) -> str:
        """The position after everything read so far."""
        return format_cursor(self.positions)

    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        """The tenant's next events (possibly none), each with the cursor after it."""
        found: list[StreamMessage] = []
        for message in self._consumer.consume(max_messages, timeout_s):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001 - librdkafka code
                    continue
                msg = f"reading {self._topic} failed: {error.str()}"
                raise BusError(msg)
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None or offset < self.positions.get(partition, 0):
                continue
            self.positions[partition] = offset + 1
            if _header(message, "tenant_id") != self._tenant:
                continue
            value = message.value() or b""
            kind = (_header(message, "type") or b"event").decode(errors="replace")
            found.append(StreamMessage(self.cursor(), kind, value))
        return found

    def close(self) -> None:
        """Leave the broker."""
        self._consumer.close()


def _header(message: Message, name: str) -> bytes | None:
    for header in message.headers() or []:
        if header[0] == name:
            value = header[1]
            return value if isinstance(value, bytes) else None
    return None
