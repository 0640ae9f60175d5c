"""Helpers to build Connect envelopes and raw records around vendor bodies."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from schemas.records import RawRecord

# Third-party fixtures live beside the repository, in shared/ (see its README for licences).
FIXTURES = Path(
    os.environ.get(
        "FINTRA_FIXTURES_DIR",
        Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "external",
    )
)
PLAID_FIXTURES = FIXTURES / "plaid-elixir-tests"


def plaid_fixture(name: str) -> dict[str, Any]:
    """Load a Plaid response body from the shared fixtures."""
    data: dict[str, Any] = json.loads((PLAID_FIXTURES / name).read_text())
    return data


def envelope(
    payload: dict[str, Any],
    *,
    kind: str = "transactions_sync",
    tenant_id: str = "t1",
    profile_id: str = "p1",
    sync_id: str = "sync-1",
    page: int = 0,
    received_at: str = "2026-01-02T00:00:00Z",
) -> dict[str, Any]:
    """Wrap a vendor body in a Connect envelope."""
    return {
        "tenant_id": tenant_id,
        "profile_id": profile_id,
        "provider": "plaid",
        "connection_id": "item-1",
        "sync_id": sync_id,
        "received_at": received_at,
        "kind": kind,
        "page": page,
        "payload": payload,
    }


def record(
    document: dict[str, Any] | bytes, *, key: bytes | None = b"t1:p1", offset: int = 0
) -> RawRecord:
    """Return the raw record a worker would read for ``document``."""
    value = document if isinstance(document, bytes) else orjson.dumps(document)
    return RawRecord(
        key=key, value=value, topic="connect.sync_completed.v1", partition=0, offset=offset
    )


def sync_page(
    added: list[dict[str, Any]] | None = None,
    modified: list[dict[str, Any]] | None = None,
    removed: list[dict[str, Any]] | None = None,
    *,
    has_more: bool = False,
) -> dict[str, Any]:
    """Return a ``/transactions/sync`` page body."""
    return {
        "added": added or [],
        "modified": modified or [],
        "removed": removed or [],
        "next_cursor": "c",
        "has_more": has_more,
    }


def plaid_txn(
    txn_id: str,
    amount: float | int,
    *,
    account_id: str = "acc-chk",
    pending: bool = False,
    pending_of: str | None = None,
    day: str = "2025-12-20",
    name: str = "TESCO STORES 3296",
    currency: str = "GBP",
) -> dict[str, Any]:
    """Return a Plaid transaction (positive amount = money out)."""
    return {
        "transaction_id": txn_id,
        "account_id": account_id,
        "amount": amount,
        "iso_currency_code": currency,
        "unofficial_currency_code": None,
        "date": day,
        "authorized_date": day,
        "name": name,
        "merchant_name": None,
        "payment_channel": "in store",
        "pending": pending,
        "pending_transaction_id": pending_of,
        "category": ["Shops"],
        "category_id": "19000000",
        "transaction_type": "place",
    }
