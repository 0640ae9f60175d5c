"""A live API over the session's broker and PostgreSQL, with generated profiles in it.

The API runs in a thread under uvicorn and logs in as the ``fintra_api`` role; the data
got there the way a user's does: generated Plaid syncs through the real flow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import uvicorn
from psycopg import sql

from api.app import create_app
from api.auth import LocalKeys, mint_token
from fintra import api_server
from fintra import stack as fintra_stack
from fintra.embedded import ENV_DATABASE_URL, ENV_KAFKA_BROKERS, StackInfo
from fintra.ingest import publish
from fintra.runner import run
from fintra.samples import Sample, SampleSpec, generate
from fintra.settings import COMMANDS_TOPIC, CONNECT_SYNC_TOPIC, EVENTS_TOPIC, Settings
from fintra.topics import read_all

ALL_SCOPES = ("profile:read", "commands:write", "stream:read", "tenant:admin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveApi:
    """The API under test and the deployment behind it."""

    url: str
    settings: Settings
    info: StackInfo
    keys: LocalKeys
    sample: Sample

    def token(
        self, tenant: str, profile: str | None, scopes: Sequence[str] = ALL_SCOPES, **extra: Any
    ) -> str:
        return mint_token(
            self.keys.private_pem, tenant_id=tenant, profile_id=profile, scopes=scopes, **extra
        )

    def headers(
        self, tenant: str, profile: str | None, scopes: Sequence[str] = ALL_SCOPES
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, profile, scopes)}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20.0)

    def query(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.info.database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("SET search_path TO {}, public").format(
                    sql.Identifier(self.settings.db_schema)
                )
            )
            return conn.execute(text, params).fetchall()  # type: ignore[arg-type]

    def ingest(self, envelopes: list[dict[str, Any]]) -> int:
        lines = [orjson.dumps(envelope) for envelope in envelopes]
        return publish(self.info.kafka_brokers, self.settings.topic(CONNECT_SYNC_TOPIC), lines)

    def run_until_idle(self) -> None:
        run(self.settings, self.info, until_idle=True)

    def run_in_background(self) -> subprocess.Popen[bytes]:
        """``fintra run --until-idle`` as a separate process, as an operator starts it."""
        env = {
            **os.environ,
            "FINTRA_HOME": str(self.settings.home),
            "FINTRA_DB_SCHEMA": self.settings.db_schema,
            "FINTRA_TOPIC_PREFIX": self.settings.topic_prefix,
            "FINTRA_EPOCH_INTERVAL_SECONDS": "0.5",
            ENV_KAFKA_BROKERS: self.info.kafka_brokers,
            ENV_DATABASE_URL: self.info.database_url,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "fintra.cli", "run", "--until-idle"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def events_on_topic(self) -> list[Any]:
        return read_all(self.info.kafka_brokers, self.settings.topic(EVENTS_TOPIC))

    def commands_on_topic(self) -> list[Any]:
        return read_all(self.info.kafka_brokers, self.settings.topic(COMMANDS_TOPIC))


@pytest.fixture(scope="session")
def live_api(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    home = tmp_path_factory.mktemp("api-home")
    tag = uuid.uuid4().hex[:10]
    settings = Settings(
        home=home,
        db_schema=f"api_{tag}",
        topic_prefix=f"api_{tag}.",
        epoch_interval_seconds=0.5,
    )
    fintra_stack.prepare(settings, stack)
    sample = generate(SampleSpec(seed=5, tenants=2, profiles_per_tenant=2, months=4))
    lines = [orjson.dumps(envelope) for envelope in sample.envelopes]
    publish(stack.kafka_brokers, settings.topic(CONNECT_SYNC_TOPIC), lines)
    run(settings, stack, until_idle=True)
    keys = api_server.local_keys(settings)
    config = replace(api_server.api_config(settings, stack), keepalive_seconds=1.0)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield LiveApi(f"http://127.0.0.1:{port}", settings, stack, keys, sample)
    server.should_exit = True
    thread.join(timeout=10)
