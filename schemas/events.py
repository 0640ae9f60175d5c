"""The event envelope the twin emits, and the event types of the profile stream.

An event is immutable. ``event_id`` is a UUIDv5 of the event's natural key (its position in
the profile stream, its type and its payload hash), so a deterministic re-run yields the same
ids and idempotent sinks drop the repeats. ``prev_hash`` chains every event of a profile to
the one before it, which makes tampering with the stored log evident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from schemas.canonical import GENESIS_HASH, canonical_json, event_uuid, sha256_hex

#: Bumped when an event's payload shape changes; readers upcast older versions.
EVENT_SCHEMA_VERSION: Final = 1

# The first key after ``payload`` in an envelope's canonical JSON (keys before it: event_id
# and occurred_at, whose values cannot contain it).
_PAYLOAD_HASH_KEY: Final = b'"payload_hash":'


class EventType(StrEnum):
    """Event types of the profile stream, named in the past tense."""

    ACCOUNT_CREATED = "AccountCreated"
    ACCOUNT_UPDATED = "AccountUpdated"
    BALANCE_UPDATED = "BalanceUpdated"
    TRANSACTION_ADDED = "TransactionAdded"
    TRANSACTION_UPDATED = "TransactionUpdated"
    TRANSACTION_REMOVED = "TransactionRemoved"
    TRANSACTIONS_IMPORTED = "TransactionsImported"
    PLATFORM_DATA_RECORDED = "PlatformDataRecorded"
    HOLDINGS_UPDATED = "HoldingsUpdated"
    INVESTMENT_TRANSACTION_ADDED = "InvestmentTransactionAdded"
    LIABILITY_UPDATED = "LiabilityUpdated"
    TENANT_DEFAULTS_APPLIED = "TenantDefaultsApplied"
    MARKET_TICK_APPLIED = "MarketTickApplied"
    HOLDING_REVALUED = "HoldingRevalued"
    WEALTH_UPDATED = "WealthUpdated"
    DAY_CLOSED = "DayClosed"
    RECONCILIATION_MISMATCH = "ReconciliationMismatch"
    BASE_CURRENCY_SET = "BaseCurrencySet"
    COMMAND_REJECTED = "CommandRejected"
    TRANSACTION_CATEGORY_OVERRIDDEN = "TransactionCategoryOverridden"
    TRANSACTION_ENRICHED = "TransactionEnriched"
    PROFILE_LINK_STARTED = "ProfileLinkStarted"
    PROFILE_LINKED = "ProfileLinked"
    TENANT_RULES_APPLIED = "TenantRulesApplied"
    METRIC_DEFINITIONS_APPLIED = "MetricDefinitionsApplied"
    METRIC_EVALUATED = "MetricEvaluated"


@dataclass(frozen=True, slots=True)
class EventSource:
    """Where the input that caused an event was read: its coordinates and its sync."""

    topic: str
    partition: int
    offset: int
    provider: str | None = None
    connection_id: str | None = None
    sync_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the source as a plain JSON-ready mapping."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "provider": self.provider,
            "connection_id": self.connection_id,
            "sync_id": self.sync_id,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a profile stream, ready to publish and to store."""

    event_id: str
    type: str
    tenant_id: str
    profile_id: str
    stream_version: int
    occurred_at: str
    source: dict[str, Any]
    payload: dict[str, Any]
    payload_hash: str
    prev_hash: str
    schema_version: int = EVENT_SCHEMA_VERSION
    #: The canonical JSON of the payload and of the header, kept from hashing them: the
    #: log's row and the topic's message are made of the same bytes.
    payload_json: bytes = field(default=b"", compare=False, repr=False)
    header_json: bytes = field(default=b"", compare=False, repr=False)
    _hash: str = field(default="", compare=False, repr=False)

    @classmethod
    def create(  # noqa: PLR0913 - the envelope has this many parts
        cls,
        *,
        event_type: str,
        tenant_id: str,
        profile_id: str,
        stream_version: int,
        occurred_at: str,
        source: dict[str, Any],
        payload: dict[str, Any],
        prev_hash: str,
    ) -> Event:
        """Build an event, deriving its payload hash, its id and its chain hash."""
        payload_json = canonical_json(payload)
        payload_hash = sha256_hex(payload_json)
        name = f"{tenant_id}:{profile_id}:{stream_version}:{event_type}:{payload_hash}"
        event = cls(
            event_id=event_uuid(name),
            type=event_type,
            tenant_id=tenant_id,
            profile_id=profile_id,
            stream_version=stream_version,
            occurred_at=occurred_at,
            source=source,
            payload=payload,
            payload_hash=payload_hash,
            prev_hash=prev_hash,
            payload_json=payload_json,
        )
        event._seal()
        return event

    def _seal(self) -> None:
        """Derive the chain hash, keeping the canonical header it is taken over."""
        header_json = canonical_json(self.header())
        object.__setattr__(self, "header_json", header_json)
        object.__setattr__(self, "_hash", sha256_hex(header_json))

    @property
    def hash(self) -> str:
        """The hash the next event of the profile names as its ``prev_hash``.

        Derived when first asked for: an event read back from the log to replay a profile
        needs it only if it is the profile's last.
        """
        if not self._hash:
            self._seal()
        return self._hash

    def header(self) -> dict[str, Any]:
        """Return every envelope field but the payload itself (covered by its hash)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "tenant_id": self.tenant_id,
            "profile_id": self.profile_id,
            "stream_version": self.stream_version,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "payload_hash": self.payload_hash,
            "prev_hash": self.prev_hash,
        }

    def chain_hash(self) -> str:
        """Return the hash the next event of the profile names as its ``prev_hash``."""
        return sha256_hex(canonical_json(self.header()))

    def to_dict(self) -> dict[str, Any]:
        """Return the full envelope as a JSON-ready mapping."""
        return {**self.header(), "payload": self.payload}

    def canonical_payload(self) -> bytes:
        """Return the payload as canonical JSON bytes."""
        return self.payload_json or canonical_json(self.payload)

    def to_json(self) -> bytes:
        """Return the envelope as canonical JSON bytes.

        The same bytes as ``canonical_json(self.to_dict())``: with sorted keys, ``payload``
        sits just before ``payload_hash``, so it is spliced into the canonical header there.
        """
        header = self.header_json or canonical_json(self.header())
        cut = header.index(_PAYLOAD_HASH_KEY)
        return b"".join((header[:cut], b'"payload":', self.canonical_payload(), b",", header[cut:]))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Event:
        """Rebuild an event read back from Kafka or the event log."""
        return cls(
            event_id=doc["event_id"],
            type=doc["type"],
            tenant_id=doc["tenant_id"],
            profile_id=doc["profile_id"],
            stream_version=doc["stream_version"],
            occurred_at=doc["occurred_at"],
            source=doc["source"],
            payload=doc["payload"],
            payload_hash=doc["payload_hash"],
            prev_hash=doc["prev_hash"],
            schema_version=doc.get("schema_version", EVENT_SCHEMA_VERSION),
        )


__all__ = ["GENESIS_HASH", "EVENT_SCHEMA_VERSION", "Event", "EventSource", "EventType"]
