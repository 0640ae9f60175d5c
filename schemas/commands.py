"""Commands (seed 000 §5.1): requests to change a profile, applied in its stream.

A command either produces the event it asks for or a ``CommandRejected`` event with a
reason; either way its outcome is in the profile's stream, under its ``command_id``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.envelopes import ID_PATTERN
from schemas.types import IsoDateTime

MAX_CATEGORY_LEVELS: Final = 5
MAX_CATEGORY_NAME: Final = 64


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


class UpdateTransactionCategory(BaseModel):
    """Payload of ``UpdateTransactionCategory``: the user's own category for a transaction.

    ``new_category`` is one name (``"Business Expense"``) or a path from the most general
    level down (``["Food and Drink", "Coffee"]``). The override wins over every derived
    category and survives re-syncs and the pending to posted transition.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    transaction_id: str = Field(pattern=ID_PATTERN)
    new_category: str | list[str]

    @field_validator("new_category")
    @classmethod
    def _levels(cls, value: str | list[str]) -> str | list[str]:
        levels = [value] if isinstance(value, str) else value
        if not 1 <= len(levels) <= MAX_CATEGORY_LEVELS:
            msg = f"a category has 1 to {MAX_CATEGORY_LEVELS} levels"
            raise ValueError(msg)
        for level in levels:
            if not level.strip() or len(level) > MAX_CATEGORY_NAME or level != level.strip():
                msg = f"category level {level!r} must be 1 to {MAX_CATEGORY_NAME} characters"
                raise ValueError(msg + " without surrounding spaces")
        return value

    def category(self) -> tuple[str, ...]:
        """The category path, most general level first."""
        return (
            (self.new_category,) if isinstance(self.new_category, str) else tuple(self.new_category)
        )


class SetBaseCurrency(BaseModel):
    """Payload of ``SetBaseCurrency``: the profile's own base currency (over the tenant's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_currency: str = Field(pattern=r"^[A-Z]{3}$")
