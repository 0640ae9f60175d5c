"""FintraOS Open Standard (FOS) entities as they travel inside events.

Field names follow FOS §3. Inside events money is integer minor units (``*_minor``) beside a
currency; the ``{"value": "-12.50", "currency": "GBP"}`` shape is produced only by views.
Signs follow FOS: negative means money leaving the user, and liabilities carry negative
balances.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.money import format_minor


class AccountType(StrEnum):
    """The high-level account category that decides which engines run."""

    DEPOSITORY = "DEPOSITORY"
    CREDIT = "CREDIT"
    LOAN = "LOAN"
    INVESTMENT = "INVESTMENT"
    PROPERTY = "PROPERTY"
    OTHER = "OTHER"

    @property
    def is_liability(self) -> bool:
        """Whether balances of this type are amounts owed."""
        return self in {AccountType.CREDIT, AccountType.LOAN}


class TransactionStatus(StrEnum):
    """Settlement state: a pending hold may still change or vanish; posted is final."""

    PENDING = "PENDING"
    POSTED = "POSTED"


class TransactionType(StrEnum):
    """What kind of movement a transaction is (FOS ``details.type``)."""

    PAYMENT = "PAYMENT"
    TRANSFER = "TRANSFER"
    FEE = "FEE"
    INTEREST = "INTEREST"
    INCOME = "INCOME"
    REFUND = "REFUND"
    OTHER = "OTHER"


class Channel(StrEnum):
    """Where a transaction happened (FOS ``details.channel``)."""

    ONLINE = "ONLINE"
    IN_STORE = "IN_STORE"
    OTHER = "OTHER"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class AccountBalances(_Frozen):
    """Balances in minor units of the account currency, FOS sign."""

    current_minor: int
    available_minor: int | None = None
    limit_minor: int | None = None


class UnifiedAccount(_Frozen):
    """FOS ``UnifiedAccount``: a container of value, identified per provider account."""

    account_id: str
    provider: str
    provider_account_id: str
    connection_id: str
    type: AccountType
    subtype: str | None = None
    name: str
    official_name: str | None = None
    mask: str | None = None
    currency: str
    balances: AccountBalances
    apy: str | None = None
    apr: str | None = None

    def view(self) -> dict[str, Any]:
        """Return the API view: balances as ``{"value", "currency"}`` decimal strings."""
        doc = self.model_dump(mode="json", exclude={"balances"})
        doc["balances"] = {
            name.removesuffix("_minor"): _money_view(amount, self.currency)
            for name, amount in self.balances.model_dump().items()
        }
        return doc


class TransactionDates(_Frozen):
    """When the transaction settled (``posted``) and when it happened (``authorised``)."""

    posted: dt.date | None = None
    authorised: dt.date | None = None


class TransactionDetails(_Frozen):
    """Movement kind and channel."""

    type: TransactionType = TransactionType.PAYMENT
    channel: Channel = Channel.OTHER


class Merchant(_Frozen):
    """The counterparty as the bank printed it and, once enriched, cleaned."""

    raw_name: str
    clean_name: str | None = None
    category_code: str | None = None
    website: str | None = None
    logo_url: str | None = None


class Enrichment(_Frozen):
    """Derived intelligence attached to a transaction."""

    category: tuple[str, ...] = ()
    vendor_category: tuple[str, ...] = ()
    is_recurring: bool = False
    recurrence_group_id: str | None = None


class UnifiedTransaction(_Frozen):
    """FOS ``UnifiedTransaction``; ``amount_minor`` is negative when money leaves the user."""

    transaction_id: str
    account_id: str
    provider: str
    provider_account_id: str
    provider_transaction_id: str
    amount_minor: int
    currency: str
    status: TransactionStatus
    dates: TransactionDates
    details: TransactionDetails = Field(default_factory=TransactionDetails)
    merchant: Merchant
    enrichment: Enrichment = Field(default_factory=Enrichment)
    balance_after_minor: int | None = None
    pending_transaction_id: str | None = None

    def view(self) -> dict[str, Any]:
        """Return the API view with money as decimal strings."""
        doc = self.model_dump(mode="json", exclude={"amount_minor", "balance_after_minor"})
        doc["amount"] = _money_view(self.amount_minor, self.currency)
        doc["balance_after"] = _money_view(self.balance_after_minor, self.currency)
        return doc


def _money_view(amount_minor: int | None, currency: str) -> dict[str, str] | None:
    if amount_minor is None:
        return None
    return {"value": format_minor(amount_minor, currency), "currency": currency}
