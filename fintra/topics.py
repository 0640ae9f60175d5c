"""Create the topics declared in ``infra/redpanda/topics.yaml``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fintra.settings import INFRA_DIR

TOPICS_FILE = INFRA_DIR / "redpanda" / "topics.yaml"


class TopicError(RuntimeError):
    """A topic could not be created or inspected."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic's name, partition count and broker configuration."""

    name: str
    partitions: int
    config: dict[str, str]


def load_specs(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    """Read the topic declarations."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return [
        TopicSpec(
            name=entry["name"],
            partitions=int(entry["partitions"]),
            config={key: str(value) for key, value in (entry.get("config") or {}).items()},
        )
        for entry in document["topics"]
    ]


def ensure_topics(
    brokers: str, prefix: str = "", specs: list[TopicSpec] | None = None
) -> list[str]:
    """Create every declared topic that does not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": brokers})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [
        NewTopic(
            f"{prefix}{spec.name}",
            num_partitions=spec.partitions,
            replication_factor=1,
            config=spec.config,
        )
        for spec in (specs if specs is not None else load_specs())
        if f"{prefix}{spec.name}" not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, operation_timeout=10).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                msg = f"could not create topic {name}: {exc}"
                raise TopicError(msg) from exc
        created.append(name)
    return sorted(created)


def read_all(brokers: str, topic: str, timeout_s: float = 30.0) -> list[Message]:
    """Read every message of a topic from the beginning to its current end.

    The end is found by reading until each partition reports end-of-partition, not from
    watermarks: some Kafka-API brokers report the high watermark per record batch.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": "fintra-inspect",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        return _drain(consumer, len(partitions), timeout_s)
    finally:
        consumer.close()


def _drain(consumer: Consumer, partitions: int, timeout_s: float) -> list[Message]:
    messages: list[Message] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(at_end) < partitions:
        if time.monotonic() > deadline:
            msg = f"reading {partitions} partitions did not reach their end in {timeout_s}s"
            raise TopicError(msg)
        for message in consumer.consume(1000, timeout=0.5):
            error = message.error()
            if error is None:
                messages.append(message)
                at_end.discard(message.partition() or 0)
            elif error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition() or 0)
            else:
                msg = f"error reading {message.topic()}: {error}"
                raise TopicError(msg)
    return messages


def message_count(brokers: str, topic: str) -> int:
    """Return how many messages a topic holds."""
    return len(read_all(brokers, topic))
