"""Integration checks of the embedded broker and PostgreSQL."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg import sql

from fintra import embedded

pytestmark = pytest.mark.integration


@pytest.fixture
def embedded_stack(stack: embedded.StackInfo) -> embedded.StackInfo:
    if not stack.embedded:
        pytest.skip("the stack comes from the environment, not the embedded one")
    return stack


def test_broker_topic_produce_consume_round_trip(
    stack: embedded.StackInfo, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("roundtrip")
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=10)
    assert topic in admin.list_topics(timeout=10).topics

    producer = Producer({"bootstrap.servers": stack.kafka_brokers})
    producer.produce(topic, key=b"k1", value=b"hello")
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": stack.kafka_brokers,
            "group.id": unique_name("group"),
            "enable.auto.commit": False,
        }
    )
    try:
        # Manual assignment, as the dataflows' Kafka source does; a group subscription would
        # wait for the broker's rebalance.
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        received = None
        for _ in range(30):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                received = msg
                break
    finally:
        consumer.close()
    assert received is not None
    assert (received.key(), received.value()) == (b"k1", b"hello")


def test_postgres_is_version_16(stack: embedded.StackInfo) -> None:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        version = conn.execute("SELECT version()").fetchone()
    assert row is not None
    assert version is not None
    assert int(row[0]) // 10000 == 16
    assert "PostgreSQL 16" in version[0]


def test_start_is_idempotent(embedded_stack: embedded.StackInfo, stack_home: Path) -> None:
    state_before = (stack_home / "stack.json").read_text()
    again = embedded.start(stack_home)
    assert again == embedded_stack
    assert (stack_home / "stack.json").read_text() == state_before
    assert embedded.status(stack_home) == embedded_stack


def test_committed_data_survives_immediate_restart(
    embedded_stack: embedded.StackInfo, stack_home: Path, unique_name: Callable[[str], str]
) -> None:
    schema = sql.Identifier(unique_name("restart"))
    with psycopg.connect(embedded_stack.database_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(sql.SQL("CREATE TABLE {}.kept (id int PRIMARY KEY)").format(schema))
        conn.execute(sql.SQL("INSERT INTO {}.kept VALUES (1), (2), (3)").format(schema))

    embedded.restart_postgres(stack_home, "immediate")

    with psycopg.connect(embedded_stack.database_url) as conn:
        rows = conn.execute(sql.SQL("SELECT id FROM {}.kept ORDER BY id").format(schema))
        assert [r[0] for r in rows.fetchall()] == [1, 2, 3]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))
    assert embedded.status(stack_home) == embedded_stack


def test_restart_postgres_rejects_unknown_mode_and_missing_server(
    stack_home: Path, tmp_path: Path
) -> None:
    with pytest.raises(embedded.EmbeddedStackError, match="shutdown mode"):
        embedded.restart_postgres(stack_home, "sudden")
    with pytest.raises(embedded.EmbeddedStackError, match="not running"):
        embedded.restart_postgres(tmp_path / "nothing-here")


def test_throwaway_stack_recovers_dead_broker_and_stops(tmp_path: Path) -> None:
    home = tmp_path / "throwaway"
    info = embedded.start(home)
    try:
        assert embedded.status(home) == info
        state = embedded._read_state(embedded._paths(home))
        os.kill(state["broker_pid"], signal.SIGKILL)
        # A kill is delivered asynchronously: give the socket a moment to close.
        deadline = time.monotonic() + 5
        while embedded.status(home) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert embedded.status(home) is None

        # Only the dead broker is restarted; PostgreSQL keeps running untouched.
        revived = embedded.start(home)
        new_state = embedded._read_state(embedded._paths(home))
        assert new_state["broker_pid"] != state["broker_pid"]
        assert new_state["postgres_pid"] == state["postgres_pid"]
        assert revived.database_url == info.database_url
        admin = AdminClient({"bootstrap.servers": revived.kafka_brokers})
        admin.list_topics(timeout=10)
    finally:
        embedded.stop(home)
    assert embedded.status(home) is None
    embedded.stop(home)  # stopping twice is harmless


def test_from_environment_requires_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(embedded.ENV_KAFKA_BROKERS, "127.0.0.1:1")
    monkeypatch.delenv(embedded.ENV_DATABASE_URL, raising=False)
    with pytest.raises(embedded.EmbeddedStackError, match="both"):
        embedded.from_environment()

    monkeypatch.setenv(embedded.ENV_DATABASE_URL, "postgresql://u@h:1/db")
    info = embedded.from_environment()
    assert info == embedded.StackInfo("127.0.0.1:1", "postgresql://u@h:1/db", embedded=False)

    monkeypatch.delenv(embedded.ENV_KAFKA_BROKERS)
    monkeypatch.delenv(embedded.ENV_DATABASE_URL)
    assert embedded.from_environment() is None
