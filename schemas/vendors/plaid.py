"""Plaid response bodies, as far as Core reads them.

Only the fields Core uses are declared; Plaid adds fields over time and those are ignored.
Amounts stay as the number the JSON carried (``Decimal`` from the exact parser, or ``int``);
the normaliser turns them into minor units once, knowing the currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _number_only(value: Any) -> Any:
    # Plaid sends amounts as JSON numbers. A string or a boolean in their place is a producer
    # bug, and coercing it would hide the bug.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        msg = f"expected a JSON number, got {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError as a field error
    return value


Number = Annotated[int | float | Decimal, BeforeValidator(_number_only)]


class _Vendor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PlaidBalances(_Vendor):
    """``balances`` of a Plaid account; credit and loan ``current`` is positive when owed."""

    current: Number | None = None
    available: Number | None = None
    limit: Number | None = None
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None


class PlaidAccount(_Vendor):
    """One account of an ``/accounts/get`` body."""

    account_id: str
    balances: PlaidBalances
    mask: str | None = None
    name: str
    official_name: str | None = None
    type: str
    subtype: str | None = None


class PlaidItem(_Vendor):
    """The Item (connection) an accounts body belongs to."""

    item_id: str | None = None
    institution_id: str | None = None


class PlaidAccountsBody(_Vendor):
    """An ``/accounts/get`` (or ``/accounts/balance/get``) response body."""

    accounts: list[PlaidAccount]
    item: PlaidItem | None = None


class PlaidTransaction(_Vendor):
    """A transaction of ``/transactions/sync``; positive ``amount`` is money out."""

    transaction_id: str
    account_id: str
    amount: Number
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None
    date: dt.date
    authorized_date: dt.date | None = None
    name: str | None = None
    merchant_name: str | None = None
    payment_channel: str | None = None
    pending: bool
    pending_transaction_id: str | None = None
    category: list[str] | None = None
    category_id: str | None = None
    transaction_type: str | None = None
    transaction_code: str | None = None


class PlaidRemovedTransaction(_Vendor):
    """An entry of ``removed`` in ``/transactions/sync``."""

    transaction_id: str
    account_id: str


class PlaidTransactionsSyncBody(_Vendor):
    """One page of a ``/transactions/sync`` response."""

    added: list[PlaidTransaction] = []
    modified: list[PlaidTransaction] = []
    removed: list[PlaidRemovedTransaction] = []
    next_cursor: str | None = None
    has_more: bool = False
