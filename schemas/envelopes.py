"""Inbound envelopes: what Connect publishes on ``connect.sync_completed.v1``.

The envelope wraps a vendor's response body untouched. It is keyed on the topic by
``"{tenant_id}:{profile_id}"``; the body must agree with the key.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.types import IsoDateTime

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class Provider(StrEnum):
    """Data providers whose payloads Core normalises."""

    PLAID = "plaid"
    YAPILY = "yapily"
    CSV = "csv"
    OFX = "ofx"


class SyncKind(StrEnum):
    """Which vendor endpoint (or which kind of file) a payload came from.

    File kinds carry ``{"filename", "content_b64", ...}``: the raw bytes, base64-encoded, so
    that encodings and line ends reach the parser untouched.
    """

    ACCOUNTS = "accounts"
    TRANSACTIONS_SYNC = "transactions_sync"
    INVESTMENTS_HOLDINGS = "investments_holdings"
    INVESTMENTS_TRANSACTIONS = "investments_transactions"
    LIABILITIES = "liabilities"
    YAPILY_ACCOUNTS = "yapily_accounts"
    YAPILY_BALANCES = "yapily_balances"
    YAPILY_TRANSACTIONS = "yapily_transactions"
    CSV_FILE = "csv_file"
    OFX_FILE = "ofx_file"


class ConnectEnvelope(BaseModel):
    """A Connect sync result: who it belongs to, where it came from, and the raw body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    profile_id: str = Field(pattern=ID_PATTERN)
    provider: Provider
    connection_id: str = Field(min_length=1, max_length=256)
    sync_id: str = Field(min_length=1, max_length=256)
    received_at: IsoDateTime
    kind: SyncKind
    page: int = Field(default=0, ge=0)
    payload: dict[str, Any]

    @field_validator("received_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        # Event time must be unambiguous: a timestamp without a zone would be read differently
        # by every consumer.
        if value.tzinfo is None:
            msg = "received_at must carry a timezone (ISO 8601 with Z or an offset)"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)

    @property
    def stream_key(self) -> str:
        """The profile stream key, ``tenant:profile``."""
        return f"{self.tenant_id}:{self.profile_id}"


def utc_iso(value: dt.datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a ``Z`` suffix, to the microsecond."""
    value = value.astimezone(dt.UTC)
    if value.year >= 1000:  # noqa: PLR2004 - below it, isoformat pads the year and strftime not
        # Microseconds only when there are some, as below; "+00:00" becomes "Z".
        return value.isoformat()[:-6] + "Z"
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"
