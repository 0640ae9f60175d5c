"""Publish Connect envelopes from JSON-lines files, keyed ``tenant:profile``.

Lines are published byte for byte: validating them is the flow's job, and a line that is not
a usable envelope must reach the dead-letter topic with its reason rather than vanish here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import KafkaError, Message, Producer

from schemas.market import MARKET_TICK, instrument_key

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class PublishError(RuntimeError):
    """The broker did not acknowledge every message."""


def envelope_key(line: bytes) -> bytes | None:
    """Return ``tenant_id:profile_id`` of an envelope line, or ``None`` if it names none."""
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    tenant, profile = document.get("tenant_id"), document.get("profile_id")
    if not isinstance(tenant, str) or not isinstance(profile, str):
        return None
    return f"{tenant}:{profile}".encode()


def tick_key(line: bytes) -> bytes | None:
    """Return the instrument key of a market tick line, or ``None`` if it is not a tick.

    A line that is not a valid tick is still published: the flow dead-letters it with the
    reason, rather than it vanishing here.
    """
    try:
        return instrument_key(MARKET_TICK.validate_json(line)).encode()
    except ValueError:
        return None


def read_lines(paths: Iterable[Path]) -> Iterator[bytes]:
    """Yield the non-blank lines of each file, without their line ends."""
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                stripped = line.rstrip(b"\r\n")
                if stripped.strip():
                    yield stripped


def publish(brokers: str, topic: str, lines: Iterable[bytes]) -> int:
    """Publish each line keyed by its envelope; return how many the broker acknowledged."""
    return publish_keyed(brokers, topic, ((envelope_key(line), line) for line in lines))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish; ``topic`` overrides the batch's default topic."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    topic: str | None = None


def publish_keyed(
    brokers: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]
) -> int:
    """Publish ``(key, value)`` pairs; return how many the broker acknowledged.

    A ``None`` value is a tombstone (on a compacted topic it removes the key).
    """
    return publish_messages(brokers, topic, (Outgoing(key, value) for key, value in messages))


def publish_messages(brokers: str, topic: str, messages: Iterable[Outgoing]) -> int:
    """Publish messages and wait for every acknowledgement; return how many were acknowledged.

    Raises:
        PublishError: when any message failed or stayed unconfirmed.
    """
    producer = Producer(
        {
            "bootstrap.servers": brokers,
            "acks": "all",
            "linger.ms": 20,
            "message.max.bytes": 64 * 1024 * 1024,
        }
    )
    failures: list[KafkaError] = []
    acknowledged = 0

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        nonlocal acknowledged
        if error is None:
            acknowledged += 1
        else:
            failures.append(error)

    for message in messages:
        _produce(producer, message.topic or topic, message, on_delivery)
    remaining = producer.flush(60)
    if failures or remaining:
        msg = f"{len(failures)} messages failed and {remaining} were unconfirmed: {failures[:3]}"
        raise PublishError(msg)
    return acknowledged


def _produce(
    producer: Producer, topic: str, message: Outgoing, on_delivery: DeliveryCallback
) -> None:
    while True:
        try:
            producer.produce(
                topic,
                key=message.key,
                value=message.value,
                headers=list(message.headers),
                on_delivery=on_delivery,
            )
            break
        except BufferError:
            # The local queue is full: let deliveries drain, then try the same message again.
            producer.poll(0.5)
    producer.poll(0)
