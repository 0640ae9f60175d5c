"""The Passport exporter: sends each requested history from the event log to its target.

A source twin that accepted a link asks (``core.passport_requests.v1``) for its events up
to a version. The exporter waits until the event log holds them, reads them, and publishes
the merge to ``core.passport.v1``: the anonymised history to the target, then ``unlock`` to
the source. Each link is exported once; the row in ``passport_exports`` says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql

from fintra import embedded
from fintra.ingest import Outgoing, publish_messages
from fintra.settings import PASSPORT_REQUESTS_TOPIC, PASSPORT_TOPIC, Settings, load
from fintra.snapshots import read_streams
from fintra.topics import read_all
from operators.passport import ExportRequest, export_messages
from schemas.events import Event
from schemas.passport import PassportKind

_POLL_SECONDS: Final = 0.5


class ExportError(RuntimeError):
    """A history did not reach the event log in time."""


def export_pending(settings: Settings, info: embedded.StackInfo, wait_s: float = 120.0) -> int:
    """Export every requested history not exported yet; return how many links were sent."""
    requests = [
        ExportRequest(**orjson.loads(message.value() or b"{}"))
        for message in read_all(info.kafka_brokers, settings.topic(PASSPORT_REQUESTS_TOPIC))
    ]
    if not requests:
        return 0
    sent = 0
    with psycopg.connect(info.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}, public").format(sql.Identifier(settings.db_schema))
        )
        done = {
            (row[0], row[1])
            for row in conn.execute("SELECT tenant_id, link_id FROM passport_exports")
        }
        for request in requests:
            tenant_id, profile_id = request.source_key.split(":", 1)
            if (tenant_id, request.link_id) in done:
                continue
            events = _history(conn, tenant_id, profile_id, request.up_to_version, wait_s)
            messages = export_messages(request, events)
            exported = sum(1 for _, message in messages if message.kind == PassportKind.EVENT)
            outgoing = [
                Outgoing(key.encode(), message.model_dump_json().encode())
                for key, message in messages
            ]
            publish_messages(info.kafka_brokers, settings.topic(PASSPORT_TOPIC), outgoing)
            conn.execute(
                "INSERT INTO passport_exports (tenant_id, link_id, source_profile_id, target_key,"
                " exported_events) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant_id, request.link_id, profile_id, request.target_key, exported),
            )
            done.add((tenant_id, request.link_id))
            sent += 1
    return sent


def _history(
    conn: psycopg.Connection[Any], tenant_id: str, profile_id: str, up_to: int, wait_s: float
) -> list[Event]:
    """The source's events 1..``up_to``, once the event log holds all of them."""
    deadline = time.monotonic() + wait_s
    while True:
        row = conn.execute(
            "SELECT count(*) FROM core_event_ids WHERE tenant_id = %s AND profile_id = %s"
            " AND stream_version <= %s",
            (tenant_id, profile_id, up_to),
        ).fetchone()
        if row is not None and row[0] >= up_to:
            break
        if time.monotonic() > deadline:
            msg = f"{tenant_id}:{profile_id} has {row[0] if row else 0} of {up_to} events"
            raise ExportError(msg)
        time.sleep(_POLL_SECONDS)
    with conn.transaction():
        for _, events in read_streams(conn, tenant_id, profile_id):
            return [event for event in events if event.stream_version <= up_to]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Export pending histories, once or (``--follow``) until interrupted."""
    parser = argparse.ArgumentParser(prog="fintra.passport")
    parser.add_argument("--follow", action="store_true", help="keep exporting new requests")
    args = parser.parse_args(argv)
    settings = load()
    info = embedded.from_environment()
    if info is None:
        print("fintra.passport: the supervisor passes the broker and database", file=sys.stderr)
        return 2
    try:
        while True:
            export_pending(settings, info)
            if not args.follow:
                return 0
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
