"""``fintra enrich --since VERSION``: enrich stored transactions again after a table change.

A new merchant dictionary, category table or tenant rule set applies to new transactions
at once. The ones already stored keep the enrichment they were given, with the versions of
the tables that produced it, until this command sends them back through their profile's
stream: it reads each profile's history from the event log, picks the live transactions
whose enrichment used a table that has since changed (and is now at ``VERSION`` or later)
and publishes them to ``core.enrich_requests.v1``. The twin enriches each again and records
a ``TransactionEnriched`` event where the result differs. The log itself is never changed,
and running the command twice adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql

from fintra.ingest import publish_keyed
from fintra.snapshots import read_streams
from operators.enrichment import VERSIONS
from operators.tenant_rules import version_key
from schemas.canonical import derived_id
from schemas.enrichment import MAX_TRANSACTIONS
from schemas.events import Event, EventType

Progress = Callable[[int], None]


class EnrichError(ValueError):
    """A ``--since`` version that cannot be compared."""


@dataclass(frozen=True, slots=True)
class EnrichReport:
    """What a run found and sent."""

    profiles: int
    transactions: int
    stale: int
    requests: int


def stale_documents(events: Iterable[Event], since: str) -> tuple[int, list[dict[str, Any]]]:
    """How many transactions one profile has live, and those whose enrichment is stale.

    A table counts as changed when the version in use now is at ``since`` or later and
    differs from the one a transaction was enriched with. The tenant's rules are a table
    too, at the version of the rule set the profile holds; a transaction enriched by rules
    since withdrawn is stale as well.
    """
    floor = version_key(since)
    live: dict[str, dict[str, Any]] = {}
    used: dict[str, Mapping[str, str]] = {}
    current = dict(VERSIONS)
    for event in events:
        payload = event.payload
        if event.type in (EventType.TRANSACTION_ADDED, EventType.TRANSACTION_UPDATED):
            if payload["replaces"] is not None:
                live.pop(payload["replaces"], None)
            live[payload["transaction"]["transaction_id"]] = payload["transaction"]
        elif event.type == EventType.TRANSACTION_REMOVED:
            live.pop(payload["transaction_id"], None)
        elif event.type == EventType.TRANSACTION_ENRICHED:
            used[payload["transaction_id"]] = payload["versions"]
        elif event.type == EventType.TENANT_RULES_APPLIED:
            current = dict(VERSIONS)
            if payload["rules"] is not None:
                current["rules"] = payload["rules"]["version"]
    changed = {t: v for t, v in current.items() if version_key(v) >= floor}

    def stale(txn_id: str) -> bool:
        versions = used.get(txn_id, {})
        withdrawn = "rules" in versions and "rules" not in current
        return withdrawn or any(versions.get(t) != v for t, v in changed.items())

    return len(live), [doc for txn_id, doc in sorted(live.items()) if stale(txn_id)]


def requests_for(
    stream_key: str, since: str, documents: list[dict[str, Any]]
) -> Iterator[tuple[bytes, bytes]]:
    """The ``(key, value)`` request messages for one profile, a few hundred documents each."""
    tenant_id, _, profile_id = stream_key.partition(":")
    for start in range(0, len(documents), MAX_TRANSACTIONS):
        chunk = documents[start : start + MAX_TRANSACTIONS]
        ids = ",".join(doc["transaction_id"] for doc in chunk)
        request = {
            "request_id": derived_id("enr", stream_key, since, ids),
            "tenant_id": tenant_id,
            "profile_id": profile_id,
            "since": since,
            "transactions": chunk,
        }
        yield stream_key.encode(), orjson.dumps(request)


def reenrich(  # noqa: PLR0913 - where to read, where to send, what and whose
    database_url: str,
    schema: str,
    brokers: str,
    topic: str,
    since: str,
    *,
    tenant_id: str | None = None,
    progress: Progress | None = None,
) -> EnrichReport:
    """Send every stale transaction of every profile (or one tenant's) to be enriched again.

    Raises:
        EnrichError: when ``since`` is not a version of the form ``YYYY.MM.N``.
    """
    if not _VERSION.fullmatch(since):
        msg = f"--since {since!r} is not a version of the form YYYY.MM.N"
        raise EnrichError(msg)
    counts = {"profiles": 0, "transactions": 0, "stale": 0}

    def messages(conn: psycopg.Connection[Any]) -> Iterator[tuple[bytes, bytes]]:
        for stream_key, events in read_streams(conn, tenant_id):
            live, documents = stale_documents(events, since)
            yield from requests_for(stream_key, since, documents)
            counts["profiles"] += 1
            counts["transactions"] += live
            counts["stale"] += len(documents)
            if progress is not None:
                progress(counts["profiles"])

    with psycopg.connect(database_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        with conn.transaction():
            sent = publish_keyed(brokers, topic, messages(conn))
    return EnrichReport(counts["profiles"], counts["transactions"], counts["stale"], sent)


_VERSION: Final = re.compile(r"[0-9]{4}\.[0-9]{2}\.[0-9]{1,9}")
