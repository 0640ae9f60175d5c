"""Per-test isolation on the shared broker and database: own topics, schema and recovery."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import sql

from fintra import stack as fintra_stack
from fintra.embedded import StackInfo
from fintra.ingest import publish
from fintra.runner import run
from fintra.settings import CONNECT_SYNC_TOPIC, DLQ_TOPIC, EVENTS_TOPIC, Settings
from fintra.topics import read_all


@dataclass
class Core:
    """A core deployment isolated by topic prefix and schema, on the session's stack."""

    settings: Settings
    info: StackInfo

    def ingest(self, documents: Iterable[dict[str, Any] | bytes]) -> int:
        lines = [d if isinstance(d, bytes) else orjson.dumps(d) for d in documents]
        return publish(self.info.kafka_brokers, self.settings.topic(CONNECT_SYNC_TOPIC), lines)

    def run_until_idle(self) -> None:
        run(self.settings, self.info, until_idle=True)

    def query(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.info.database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("SET search_path TO {}, public").format(
                    sql.Identifier(self.settings.db_schema)
                )
            )
            return conn.execute(text, params).fetchall()  # type: ignore[arg-type]

    def topic_messages(self, logical: str) -> list[Any]:
        return read_all(self.info.kafka_brokers, self.settings.topic(logical))

    def events_on_topic(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.value()) for m in self.topic_messages(EVENTS_TOPIC)]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.value()) for m in self.topic_messages(DLQ_TOPIC)]


@pytest.fixture
def core(stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]) -> Iterator[Core]:
    settings = Settings(
        home=tmp_path,
        db_schema=unique_name("core"),
        topic_prefix=unique_name("it") + ".",
        epoch_interval_seconds=0.5,
    )
    fintra_stack.prepare(settings, stack)
    yield Core(settings, stack)
