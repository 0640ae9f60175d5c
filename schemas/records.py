"""Records that cross the boundary of the flow: raw input as read, and dead letters.

A dead letter keeps the original bytes and the source coordinates, so a record can be
inspected, fixed upstream and replayed without guessing what was received.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why an input was dead-lettered; stable codes that programs can branch on."""

    MISSING_KEY = "missing_key"
    INVALID_KEY = "invalid_key"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_ENCODING = "invalid_encoding"
    MALFORMED_JSON = "malformed_json"
    DUPLICATE_KEY = "duplicate_key"
    NON_FINITE_NUMBER = "non_finite_number"
    MISSING_FIELD = "missing_field"
    MISSING_ID = "missing_id"
    WRONG_TYPE = "wrong_type"
    UNSUPPORTED_KIND = "unsupported_kind"
    UNKNOWN_CURRENCY = "unknown_currency"
    EXCESS_PRECISION = "excess_precision"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_DATE = "invalid_date"
    FUTURE_DATE = "future_date"
    INVALID_PLAN = "invalid_plan"
    UNPARSEABLE_FILE = "unparseable_file"
    PROVIDER_ERROR = "provider_error"
    TENANT_MISMATCH = "tenant_mismatch"
    PROFILE_MISMATCH = "profile_mismatch"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    UNKNOWN_METRIC = "unknown_metric"
    INVALID_DEFINITION = "invalid_definition"
    INVALID_RULES = "invalid_rules"


#: Header naming, on a replayed message, the coordinates of the input it repeats.
REPLAY_HEADER = "fintra-replay-of"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A message exactly as the broker delivered it, with its coordinates."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    replay_of: str | None = None

    @property
    def coordinates(self) -> str:
        """``topic:partition:offset`` of this record."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def origin(self) -> str:
        """Coordinates of the input first received: a replay names the record it repeats."""
        return self.replay_of or self.coordinates


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be accepted, with the reason and the original bytes."""

    reason: Reason
    field: str | None
    message: str
    record: RawRecord
    tenant_id: str | None = None
    problems: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document published on the dead-letter topic."""
        return {
            "reason": self.reason.value,
            "field": self.field,
            "message": self.message,
            "problems": list(self.problems),
            "tenant_id": self.tenant_id,
            "source": {
                "topic": self.record.topic,
                "partition": self.record.partition,
                "offset": self.record.offset,
            },
            "origin": self.record.origin,
            "key_b64": _b64(self.record.key),
            "value_b64": _b64(self.record.value),
        }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
