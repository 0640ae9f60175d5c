"""Commands (seed 000 §5.1): requests to change a profile, applied in its stream.

A command either produces the event it asks for or a ``CommandRejected`` event with a
reason; either way its outcome is in the profile's stream, under its ``command_id``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.envelopes import ID_PATTERN
from schemas.types import IsoDateTime


class CommandName(StrEnum):
    """Commands the twin understands, named in the imperative."""

    SET_BASE_CURRENCY = "SetBaseCurrency"
    UPDATE_TRANSACTION_CATEGORY = "UpdateTransactionCategory"


class Command(BaseModel):
    """A command for one profile (``core.commands.v1``, keyed ``tenant:profile``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str = Field(pattern=ID_PATTERN)
    tenant_id: str = Field(pattern=ID_PATTERN)
    profile_id: str = Field(pattern=ID_PATTERN)
    command: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    issued_at: IsoDateTime
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("issued_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            msg = "issued_at must carry a timezone"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)


class SetBaseCurrency(BaseModel):
    """Payload of ``SetBaseCurrency``: the profile's own base currency (over the tenant's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_currency: str = Field(pattern=r"^[A-Z]{3}$")
