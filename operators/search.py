"""Transaction search rows: what a batch of events changed in the searchable transactions.

The twin keeps only a small tuple per transaction, so the search projection is fed by the
events themselves: a transaction's row is written from the event that added or updated it,
with the category the profile holds for it at the end of the batch. Rows carry the stream
version of the event they reflect; the writer applies a row only over an older one, so a
replayed batch never moves a transaction backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, NamedTuple

from operators.twin import ProfileState
from schemas.events import Event, EventType

RowKind = Literal["upsert", "category", "remove"]

USER_OVERRIDE: Final = "USER_OVERRIDE"
VENDOR: Final = "VENDOR"
ENRICHMENT: Final = "ENRICHMENT"


class SearchRow(NamedTuple):
    """One transaction's searchable fields, or a change to part of them.

    ``upsert`` rows carry every field; ``category`` rows only the category (a user's
    override of a transaction written by an earlier batch); ``remove`` rows only the id.
    """

    tenant_id: str
    profile_id: str
    transaction_id: str
    version: int
    kind: RowKind
    account_id: str | None = None
    day: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    status: str | None = None
    merchant: str | None = None
    clean_merchant: str | None = None
    category: tuple[str, ...] = ()
    category_source: str | None = None
    source_event_id: str | None = None


def derived_category(doc: Mapping[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """The category a transaction carries without any override, and which source gave it."""
    enrichment = doc.get("enrichment") or {}
    if enrichment.get("category"):
        return tuple(enrichment["category"]), ENRICHMENT
    if enrichment.get("vendor_category"):
        return tuple(enrichment["vendor_category"]), VENDOR
    return (), None


def search_rows(state: ProfileState, events: Iterable[Event]) -> tuple[SearchRow, ...]:
    """Coalesce a batch's events into one row per transaction they touched, in id order."""
    rows: dict[str, SearchRow] = {}
    for event in events:
        if event.type in (EventType.TRANSACTION_ADDED, EventType.TRANSACTION_UPDATED):
            doc = event.payload["transaction"]
            rows[doc["transaction_id"]] = _full_row(state, event, doc)
            replaces = event.payload["replaces"]
            if replaces is not None:
                rows[replaces] = _row(state, replaces, event, "remove")
        elif event.type == EventType.TRANSACTION_REMOVED:
            txn_id = event.payload["transaction_id"]
            rows[txn_id] = _row(state, txn_id, event, "remove")
        elif event.type == EventType.TRANSACTION_ENRICHED:
            txn_id = event.payload["transaction_id"]
            enriched = {
                "version": event.stream_version,
                "clean_merchant": event.payload["merchant"]["clean_name"],
                "category": tuple(event.payload["category"]),
                "category_source": event.payload["category_source"],
                "source_event_id": event.event_id,
            }
            held = rows.get(txn_id)
            base = held if held is not None and held.kind == "upsert" else None
            rows[txn_id] = (base or _row(state, txn_id, event, "category"))._replace(**enriched)
        elif event.type == EventType.TRANSACTION_CATEGORY_OVERRIDDEN:
            txn_id = event.payload["transaction_id"]
            category = tuple(event.payload["category"])
            held = rows.get(txn_id)
            if held is not None and held.kind == "upsert":
                rows[txn_id] = held._replace(
                    version=event.stream_version,
                    category=category,
                    category_source=USER_OVERRIDE,
                    source_event_id=event.event_id,
                )
            else:
                rows[txn_id] = _row(state, txn_id, event, "category")._replace(
                    category=category, category_source=USER_OVERRIDE
                )
    return tuple(rows[txn_id] for txn_id in sorted(rows))


def _row(state: ProfileState, txn_id: str, event: Event, kind: RowKind) -> SearchRow:
    return SearchRow(
        state.tenant_id,
        state.profile_id,
        txn_id,
        event.stream_version,
        kind,
        source_event_id=event.event_id,
    )


def _full_row(state: ProfileState, event: Event, doc: Mapping[str, Any]) -> SearchRow:
    override = state.category_overrides.get(doc["transaction_id"])
    category, source = (override, USER_OVERRIDE) if override else derived_category(doc)
    dates = doc["dates"]
    merchant = doc["merchant"]
    return _row(state, doc["transaction_id"], event, "upsert")._replace(
        account_id=doc["account_id"],
        day=dates["posted"] or dates["authorised"],
        amount_minor=doc["amount_minor"],
        currency=doc["currency"],
        status=doc["status"],
        merchant=merchant["raw_name"],
        clean_merchant=merchant.get("clean_name"),
        category=category,
        category_source=source,
    )
