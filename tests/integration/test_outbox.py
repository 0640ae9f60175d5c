"""The events topic through the outbox: what a writer commits is published once, same bytes.

A writer publishes the events it has just committed from memory; what a crash leaves
between the commit and the broker's acknowledgement is published by the next writer's
drain, read back from the log. Both paths must put the same bytes on the topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import sql

from fintra.samples import SampleSpec, generate
from fintra.settings import EVENTS_TOPIC
from flows.exceptions import StoreError
from flows.postgres import CLAIM_OWN, EventLogWriter, EventPublisher
from operators.decode import DecodeLimits
from operators.pipeline import process
from operators.twin import ProfileState
from schemas.canonical import canonical_json
from schemas.events import Event
from schemas.records import RawRecord
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration


class CrashBeforePublish(EventPublisher):
    """A publisher whose process dies after the commit, before anything reaches the broker."""

    def publish(self, events: Iterable[Event]) -> None:
        del events
        msg = "the worker died before publishing"
        raise StoreError(msg)


def sample_events() -> list[list[Event]]:
    """The events of a small generated sample, one list per envelope, in stream order."""
    sample = generate(SampleSpec(seed=11, tenants=1, profiles_per_tenant=2, months=2))
    states: dict[str, ProfileState] = {}
    batches = []
    for offset, envelope in enumerate(sample.envelopes):
        key = f"{envelope['tenant_id']}:{envelope['profile_id']}"
        record = RawRecord(key.encode(), orjson.dumps(envelope), "syncs", 0, offset)
        states[key], outputs = process(states.get(key), key, record, DecodeLimits(), project=False)
        batches.append([output for output in outputs if isinstance(output, Event)])
    return [batch for batch in batches if batch]


def published(core: Core) -> dict[bytes, list[tuple[str, bytes]]]:
    """Each profile's messages on the events topic, in the order of its partition."""
    by_profile: dict[bytes, list[tuple[str, bytes]]] = {}
    for message in core.topic_messages(EVENTS_TOPIC):
        event_id = dict(message.headers())["event_id"].decode()
        by_profile.setdefault(message.key(), []).append((event_id, message.value()))
    return by_profile


def test_events_left_by_a_crash_are_published_once_with_the_bytes_of_the_live_path(
    core: Core,
) -> None:
    batches = sample_events()
    crashed, live = batches[: len(batches) // 2], batches[len(batches) // 2 :]
    url, schema = core.info.database_url, core.settings.db_schema
    topic = core.settings.topic(EVENTS_TOPIC)
    brokers = core.info.kafka_brokers

    dying = EventLogWriter(url, schema, publisher=CrashBeforePublish(brokers, topic))
    dying.drain_outbox()
    with pytest.raises(StoreError):
        dying.write(crashed[0])
    dying.close()
    # Committed, not published: the outbox names every one of them.
    assert core.query("SELECT count(*) FROM core_event_outbox")[0][0] == len(crashed[0])
    assert published(core) == {}

    writer = EventLogWriter(url, schema, publisher=EventPublisher(brokers, topic))
    assert writer.drain_outbox() == len(crashed[0])
    for batch in [*crashed, *live]:
        writer.write(batch)
    # A batch written again (a replay after a crash) publishes nothing new.
    assert writer.write(live[0]) == 0
    writer.close()

    everything = [event for batch in batches for event in batch]
    expected: dict[bytes, list[tuple[str, bytes]]] = {}
    for event in everything:
        key = f"{event.tenant_id}:{event.profile_id}".encode()
        expected.setdefault(key, []).append((event.event_id, canonical_json(event.to_dict())))
    assert published(core) == expected
    assert core.query("SELECT count(*) FROM core_event_outbox") == [(0,)]
    assert core.query("SELECT count(*) FROM core_events")[0][0] == len(everything)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan node and every node below it, InitPlans included."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_a_writer_claims_its_events_in_one_pass_over_a_large_outbox(core: Core) -> None:
    # A crash can leave many rows in the outbox, which the planner usually sees nearly empty
    # and joins by nested loops: the claim must not rescan the outbox for each claimed id.
    ids = [str(uuid.uuid4()) for _ in range(400)]
    with psycopg.connect(core.info.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(core.settings.db_schema))
        )
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY core_event_outbox (event_id, tenant_id, profile_id, stream_version, type)"
                " FROM STDIN"
            ) as copy,
        ):
            for version, event_id in enumerate(ids):
                copy.write_row((event_id, "t1", "p1", version, "TransactionAdded"))
        for setting in ("hashjoin", "mergejoin", "material", "indexscan", "bitmapscan"):
            conn.execute(sql.SQL("SET {} = off").format(sql.Identifier(f"enable_{setting}")))
        explained = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + sql.SQL(CLAIM_OWN),
            (ids[:100],),
        ).fetchone()
    assert explained is not None
    nodes = list(plan_nodes(explained[0][0]["Plan"]))
    scans = [n for n in nodes if n.get("Relation Name") == "core_event_outbox"]
    assert scans, "the claim reads the outbox"
    assert [n["Actual Loops"] for n in scans] == [1] * len(scans)
    assert nodes[0]["Actual Rows"] == 100
    assert core.query("SELECT count(*) FROM core_event_outbox") == [(300,)]
