"""Reads and writes of the API, each in a transaction that sees one tenant's rows only.

Every statement also names the tenant in its ``WHERE`` clause; row-level security is the
guarantee behind it, so a query that forgot the clause would still see one tenant.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from schemas.money import format_minor

_SEARCH_COLUMNS: Final = (
    "transaction_id, account_id, coalesce(day, DATE '0001-01-01') AS day, amount_minor, "
    "currency, status, merchant, clean_merchant, category, category_source, "
    "source_event_id::text AS source_event_id, version"
)


class StoreError(RuntimeError):
    """The database could not answer (unreachable, or refused the statement)."""


class BadCursor(ValueError):
    """A search cursor that this API did not issue."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Filters of a transaction search; money bounds are exact decimals in the row currency."""

    text: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    category: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class StoredCommand:
    """A command the API accepted under an idempotency key."""

    request_hash: str
    command_id: str
    profile_id: str
    response: dict[str, Any]


def encode_cursor(day: dt.date, transaction_id: str) -> str:
    """An opaque position after which the next page starts."""
    raw = orjson.dumps([day.isoformat(), transaction_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.date, str]:
    """Read a cursor back.

    Raises:
        BadCursor: for anything ``encode_cursor`` did not produce.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        day, transaction_id = orjson.loads(raw)
        if not isinstance(day, str) or not isinstance(transaction_id, str):
            raise TypeError(day)
        return dt.date.fromisoformat(day), transaction_id
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        msg = "cursor is not one this API issued"
        raise BadCursor(msg) from exc


class Store:
    """A connection pool whose every transaction is scoped to one tenant."""

    def __init__(self, database_url: str, schema: str, size: int = 8) -> None:
        self._schema = schema
        self._pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=size,
            open=False,
            configure=self._configure,
            # A connection broken by a database restart is replaced, not handed out.
            check=ConnectionPool.check_connection,
            timeout=10.0,
        )

    def open(self) -> None:
        """Open the pool without waiting: the API starts even while the database is down."""
        self._pool.open(wait=False)

    def close(self) -> None:
        """Close every connection."""
        self._pool.close()

    def _configure(self, conn: psycopg.Connection) -> None:
        search_path = sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self._schema))
        conn.execute(search_path)
        conn.commit()

    @contextmanager
    def tenant(self, tenant_id: str) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor in a transaction that sees ``tenant_id``'s rows and no others."""
        try:
            with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
                yield cur
        except (psycopg.OperationalError, psycopg.errors.InsufficientPrivilege) as exc:
            msg = f"database unavailable: {exc.__class__.__name__}"
            raise StoreError(msg) from exc
        except Exception as exc:
            if isinstance(exc, psycopg.Error):
                msg = f"database error: {exc.__class__.__name__}"
                raise StoreError(msg) from exc
            raise

    def ping(self) -> None:
        """Check that a connection answers; raise ``StoreError`` otherwise."""
        try:
            with self._pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            msg = f"database unreachable: {exc.__class__.__name__}"
            raise StoreError(msg) from exc

    # ------------------------------------------------------------------ reads

    def profile(self, tenant_id: str, profile_id: str) -> dict[str, Any] | None:
        """The profile's dashboard document, or ``None``."""
        with self.tenant(tenant_id) as cur:
            cur.execute(
                "SELECT doc FROM view_unified_profile WHERE tenant_id = %s AND profile_id = %s",
                (tenant_id, profile_id),
            )
            row = cur.fetchone()
        return None if row is None else dict(row["doc"])

    def net_worth_history(
        self, tenant_id: str, profile_id: str, since: dt.date | None, until: dt.date | None
    ) -> list[tuple[dt.date, int, str]] | None:
        """Net worth per day in the base currency, or ``None`` for an unknown profile."""
        with self.tenant(tenant_id) as cur:
            cur.execute(
                "SELECT 1 FROM view_unified_profile WHERE tenant_id = %s AND profile_id = %s",
                (tenant_id, profile_id),
            )
            if cur.fetchone() is None:
                return None
            cur.execute(
                "SELECT day, net_worth_minor, currency FROM historical_net_worth"
                " WHERE tenant_id = %s AND profile_id = %s"
                " AND (%s::date IS NULL OR day >= %s::date)"
                " AND (%s::date IS NULL OR day <= %s::date) ORDER BY day",
                (tenant_id, profile_id, since, since, until, until),
            )
            return [(r["day"], r["net_worth_minor"], r["currency"]) for r in cur.fetchall()]

    def search(
        self, tenant_id: str, profile_id: str, query: SearchQuery
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of matching transactions, newest first, and the cursor of the next."""
        where, params = _search_filters(query)
        statement = (
            f"SELECT {_SEARCH_COLUMNS} FROM transaction_search"  # noqa: S608 - fixed text
            " WHERE tenant_id = %s AND profile_id = %s AND NOT removed"
            f"{where} ORDER BY coalesce(day, DATE '0001-01-01') DESC, transaction_id DESC"
            " LIMIT %s"
        )
        with self.tenant(tenant_id) as cur:
            cur.execute(statement, (tenant_id, profile_id, *params, query.limit + 1))
            rows = cur.fetchall()
        page = rows[: query.limit]
        more = len(rows) > query.limit
        cursor = encode_cursor(page[-1]["day"], page[-1]["transaction_id"]) if more else None
        return [_transaction_view(row) for row in page], cursor

    def command_status(
        self, tenant_id: str, command_id: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The profile a command was sent for (if the API took it) and its outcome."""
        with self.tenant(tenant_id) as cur:
            cur.execute(
                "SELECT profile_id FROM api_idempotency WHERE tenant_id = %s AND command_id = %s",
                (tenant_id, command_id),
            )
            accepted = cur.fetchone()
            cur.execute(
                "SELECT profile_id, event_id::text AS event_id, event_type, stream_version,"
                " reason, message FROM command_outcomes WHERE tenant_id = %s AND command_id = %s",
                (tenant_id, command_id),
            )
            outcome = cur.fetchone()
        return (None if accepted is None else accepted["profile_id"]), outcome

    # ------------------------------------------------------------------ commands

    def claim_key(
        self, cur: psycopg.Cursor[dict[str, Any]], tenant_id: str, key: str, stored: StoredCommand
    ) -> StoredCommand | None:
        """Record ``stored`` under the key, or return what the key already holds.

        A concurrent request with the same key waits here until the first one commits or
        rolls back, so exactly one request publishes.
        """
        cur.execute(
            "INSERT INTO api_idempotency (tenant_id, idempotency_key, request_hash, command_id,"
            " profile_id, response) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING command_id",
            (
                tenant_id,
                key,
                stored.request_hash,
                stored.command_id,
                stored.profile_id,
                orjson.dumps(stored.response).decode(),
            ),
        )
        if cur.fetchone() is not None:
            return None
        cur.execute(
            "SELECT request_hash, command_id, profile_id, response FROM api_idempotency"
            " WHERE tenant_id = %s AND idempotency_key = %s",
            (tenant_id, key),
        )
        row = cur.fetchone()
        assert row is not None  # noqa: S101 - the conflicting row is committed and visible
        return StoredCommand(
            row["request_hash"], row["command_id"], row["profile_id"], dict(row["response"])
        )


def _search_filters(query: SearchQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.text:
        clauses.append("search @@ websearch_to_tsquery('english', %s)")
        params.append(query.text)
    if query.since is not None:
        clauses.append("day >= %s")
        params.append(query.since)
    if query.until is not None:
        clauses.append("day <= %s")
        params.append(query.until)
    if query.category:
        clauses.append("EXISTS (SELECT 1 FROM unnest(category) c WHERE lower(c) = lower(%s))")
        params.append(query.category)
    if query.min_amount is not None:
        clauses.append("amount >= %s")
        params.append(query.min_amount)
    if query.max_amount is not None:
        clauses.append("amount <= %s")
        params.append(query.max_amount)
    if query.cursor is not None:
        day, transaction_id = decode_cursor(query.cursor)
        clauses.append("(coalesce(day, DATE '0001-01-01'), transaction_id) < (%s, %s)")
        params += [day, transaction_id]
    return "".join(f" AND {clause}" for clause in clauses), params


def _transaction_view(row: dict[str, Any]) -> dict[str, Any]:
    currency = row["currency"]
    day = row["day"]
    return {
        "transaction_id": row["transaction_id"],
        "account_id": row["account_id"],
        "date": None if day == dt.date(1, 1, 1) else day.isoformat(),
        "amount": {"value": format_minor(row["amount_minor"], currency), "currency": currency},
        "status": row["status"],
        "merchant": {"raw_name": row["merchant"], "clean_name": row["clean_merchant"]},
        "category": list(row["category"]),
        "category_source": row["category_source"],
        "source_event_id": row["source_event_id"],
        "version": row["version"],
    }
