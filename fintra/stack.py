"""Find the broker and database to use, and make them ready (topics and migrations).

Set ``FINTRA_KAFKA_BROKERS`` and ``FINTRA_DATABASE_URL`` to use external services; leave
both unset to run the embedded stack under ``FINTRA_HOME``.
"""

from __future__ import annotations

import logging
import shutil
import time

import psycopg
from psycopg import sql

from fintra import embedded
from fintra.embedded import StackInfo
from fintra.migrate import migrate
from fintra.settings import Settings
from fintra.topics import ensure_topics

_log = logging.getLogger(__name__)


def current(settings: Settings) -> StackInfo | None:
    """Return the stack in use without starting anything, or ``None`` if none is running."""
    external = embedded.from_environment()
    if external is not None:
        return external
    return embedded.status(settings.home)


def up(settings: Settings) -> StackInfo:
    """Start the embedded stack if needed, then ensure topics and migrations."""
    external = embedded.from_environment()
    if external is not None:
        prepare(settings, external)
        return external
    before = embedded.status(settings.home)
    info = embedded.start(settings.home)
    if before is None or before.kafka_brokers != info.kafka_brokers:
        # The embedded broker keeps its log in memory: a new broker has an empty stream, so
        # projections and recovery state built from the old one no longer have a source.
        _reset_embedded_state(settings, info)
    prepare(settings, info)
    return info


def prepare(settings: Settings, info: StackInfo, *, wait_s: float = 0.0) -> None:
    """Create missing topics and apply pending migrations.

    With ``wait_s``, a database that is down (restarting, failing over) is retried with
    backoff for that long before the error is raised.
    """
    ensure_topics(info.kafka_brokers, settings.topic_prefix)
    deadline = time.monotonic() + wait_s
    delay = 0.2
    while True:
        try:
            migrate(info.database_url, settings.db_schema)
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise
            _log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _reset_embedded_state(settings: Settings, info: StackInfo) -> None:
    shutil.rmtree(settings.home / "recovery", ignore_errors=True)
    with psycopg.connect(info.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.db_schema))
        )
