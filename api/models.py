"""Request and response bodies of the API, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr
from typing_extensions import TypeAliasType

from schemas.commands import CommandName


def _encodable(text: str) -> str:
    """Refuse text PostgreSQL cannot store: a lone surrogate or a NUL, sent as escapes."""
    text.encode("utf-8")
    if "\x00" in text:
        msg = "text cannot hold a NUL character"
        raise ValueError(msg)
    return text


# JSON without fractional numbers: money and rates travel as decimal strings, so a float in a
# command is refused by validation, and the OpenAPI document says so.
JsonText = TypeAliasType(
    "JsonText",
    Annotated[StrictStr, Field(pattern=r"^[^\x00]*$"), AfterValidator(_encodable)],
)
# JSON Schema counts 3.0 as an integer, so an integral number is taken; 1.5 is refused.
# Integers stay within what every JSON client reads exactly (2**53 - 1).
JsonInt = TypeAliasType("JsonInt", Annotated[int, Field(ge=-(2**53 - 1), le=2**53 - 1)])
JsonValue = TypeAliasType(
    "JsonValue",
    "JsonText | JsonInt | StrictBool | None | list[JsonValue] | dict[JsonText, JsonValue]",
)


class Money(BaseModel):
    """An exact amount as a decimal string in a currency: ``{"value": "-12.50", ...}``."""

    value: str = Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Problem(BaseModel):
    """Why a request failed; ``reason`` is a stable code to branch on."""

    detail: str
    reason: str


class NetWorthPoint(BaseModel):
    """Net worth at the end of one UTC day."""

    day: str
    net_worth: Money


class NetWorthHistory(BaseModel):
    """Net worth per day, oldest first, in the profile's base currency."""

    currency: str | None
    points: list[NetWorthPoint]


class MerchantView(BaseModel):
    """The counterparty as printed and, when known, cleaned."""

    raw_name: str | None
    clean_name: str | None


class TransactionView(BaseModel):
    """A searchable transaction; ``category_source`` says which rule decided its category."""

    transaction_id: str
    account_id: str | None
    date: str | None
    amount: Money
    status: str | None
    merchant: MerchantView
    category: list[str]
    category_source: str | None
    source_event_id: str | None
    version: int


class SearchPage(BaseModel):
    """One page of results, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[TransactionView]
    next_cursor: str | None


class CommandRequest(BaseModel):
    """A command for the caller's profile (seed 000 §5.1); the profile comes from the token."""

    model_config = ConfigDict(extra="forbid")

    command: CommandName
    payload: dict[str, JsonValue]
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class CommandAccepted(BaseModel):
    """The command is on the bus; its outcome is at ``/v1/core/commands/{command_id}``."""

    command_id: str
    command: str
    profile_id: str
    idempotency_key: str
    status: Literal["accepted"]


class CommandStatus(BaseModel):
    """Where a command stands: on the bus, applied as an event, or rejected with a reason."""

    command_id: str
    profile_id: str
    status: Literal["pending", "applied", "rejected"]
    event_id: str | None = None
    event_type: str | None = None
    stream_version: int | None = None
    reason: str | None = None
    message: str | None = None


class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether the broker and the database are reachable."""

    status: Literal["ready", "unavailable"]
    database: str
    broker: str
