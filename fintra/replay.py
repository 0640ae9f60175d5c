"""``fintra replay``: input again, from the beginning or from a position, without doubling.

From the beginning: the recovery state is set aside and every input is read again from
offset 0; twins rebuilt that way emit the same events, which the idempotent sinks drop.

From ``TOPIC:PARTITION:OFFSET`` or from a time: the input messages from there on are
published again to their topic (the only feedback path), marked with the coordinates they
replay. The running twins apply what they had not (say, records a fixed normaliser once
refused) and count the rest as repeats.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from fintra.embedded import StackInfo
from fintra.ingest import Outgoing, publish_messages
from fintra.runner import recovery_dir
from fintra.settings import (
    COMMANDS_TOPIC,
    CONNECT_SYNC_TOPIC,
    MARKET_TOPIC,
    PLATFORM_DATA_TOPIC,
    Settings,
)
from schemas.records import REPLAY_HEADER

#: The data inputs a time-based replay covers (configuration topics are compacted state).
DATA_TOPICS: Final = (CONNECT_SYNC_TOPIC, PLATFORM_DATA_TOPIC, MARKET_TOPIC, COMMANDS_TOPIC)
_POSITION: Final = re.compile(r"^(?P<topic>[A-Za-z0-9._-]+):(?P<partition>\d+):(?P<offset>\d+)$")


class ReplayError(ValueError):
    """A replay position that names nothing replayable."""


@dataclass(frozen=True, slots=True)
class Start:
    """Where a replay starts: one partition at an offset, or every data partition at a time."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    time: dt.datetime | None = None


def parse_start(text: str) -> Start | None:
    """``beginning`` (``None``), ``TOPIC:PARTITION:OFFSET`` or an ISO 8601 time.

    Raises:
        ReplayError: for anything else, or a time without a timezone.
    """
    if text == "beginning":
        return None
    match = _POSITION.match(text)
    if match:
        return Start(match["topic"], int(match["partition"]), int(match["offset"]))
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"{text!r} is not 'beginning', TOPIC:PARTITION:OFFSET or an ISO 8601 time"
        raise ReplayError(msg) from exc
    if moment.tzinfo is None:
        msg = f"{text!r} has no timezone; add Z or an offset"
        raise ReplayError(msg)
    return Start(time=moment)


def reset_recovery(settings: Settings, info: StackInfo) -> None:
    """Set the recovery state aside so the next run reads every input from offset 0."""
    shutil.rmtree(recovery_dir(settings, info), ignore_errors=True)


Progress = Callable[[int, int], None]


def republish(
    settings: Settings, info: StackInfo, start: Start, progress: Progress | None = None
) -> int:
    """Publish the input messages from ``start`` on again; return how many."""
    consumer = Consumer(
        {
            "bootstrap.servers": info.kafka_brokers,
            "group.id": "fintra-replay",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        positions = _positions(consumer, settings, start)
        ends = {
            tp: consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10)[1]
            for tp in positions
        }
        total = sum(max(0, ends[tp] - offset) for tp, offset in positions.items())
        todo = {tp: offset for tp, offset in positions.items() if ends[tp] > offset}
        if not todo:
            return 0
        consumer.assign([TopicPartition(tp[0], tp[1], offset) for tp, offset in todo.items()])
        return _copy(consumer, info, todo, ends, total, progress=progress)
    finally:
        consumer.close()


def _positions(consumer: Consumer, settings: Settings, start: Start) -> dict[tuple[str, int], int]:
    if start.topic is not None:
        topic = (
            settings.topic(start.topic)
            if not start.topic.startswith(settings.topic_prefix)
            else start.topic
        )
        partitions = _partitions(consumer, topic)
        if start.partition not in partitions:
            msg = f"{topic} has no partition {start.partition} (it has {len(partitions)})"
            raise ReplayError(msg)
        return {(topic, start.partition): start.offset or 0}
    assert start.time is not None  # noqa: S101 - parse_start gives a topic or a time
    millis = int(start.time.timestamp() * 1000)
    asked = [
        TopicPartition(settings.topic(name), partition, millis)
        for name in DATA_TOPICS
        for partition in _partitions(consumer, settings.topic(name))
    ]
    found = consumer.offsets_for_times(asked, timeout=10)
    return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        msg = f"topic {topic} does not exist"
        raise ReplayError(msg)
    return sorted(metadata.partitions)


def _copy(  # noqa: PLR0913 - the copy loop's whole context
    consumer: Consumer,
    info: StackInfo,
    todo: dict[tuple[str, int], int],
    ends: dict[tuple[str, int], int],
    total: int,
    *,
    progress: Progress | None,
) -> int:
    copied = 0
    open_partitions = set(todo)
    while open_partitions:
        batch: list[Outgoing] = []
        for message in consumer.consume(500, 5.0):
            key = (str(message.topic()), int(message.partition() or 0))
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001
                open_partitions.discard(key)
                continue
            if error is not None:
                msg = f"reading {key[0]} failed: {error.str()}"
                raise ReplayError(msg)
            offset = int(message.offset() or 0)
            if offset >= ends[key]:
                open_partitions.discard(key)
                continue
            batch.append(_again(message))
            if offset + 1 >= ends[key]:
                open_partitions.discard(key)
        copied += publish_messages(info.kafka_brokers, "", batch) if batch else 0
        if progress is not None:
            progress(copied, total)
    return copied


def _again(message: Message) -> Outgoing:
    """The message as a replay: same key, bytes and headers, and the coordinates it repeats."""
    headers: list[tuple[str, bytes]] = []
    origin = f"{message.topic()}:{message.partition()}:{message.offset()}".encode()
    for header in message.headers() or []:
        name, value = str(header[0]), header[1]
        data = value.encode() if isinstance(value, str) else bytes(value or b"")
        if name == REPLAY_HEADER:
            origin = data
        else:
            headers.append((name, data))
    return Outgoing(
        key=message.key(),
        value=message.value(),
        headers=(*headers, (REPLAY_HEADER, origin)),
        topic=message.topic(),
    )
