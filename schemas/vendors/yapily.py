"""Yapily response bodies, as far as Core reads them, and the Connect payloads that carry them.

Only the fields Core uses are declared; Yapily adds fields over time and those are ignored.
Python names are snake case and read Yapily's camel-case keys through aliases, so a rejection
names the key as it appeared on the wire (``payload.data[0].accountBalances[1].balanceAmount``).
Amounts stay as the number the JSON carried (``Decimal`` from the exact parser, or ``int``);
the normaliser turns them into minor units once, knowing the currency. Timestamps must arrive
as ISO 8601 text: a number in their place is a producer bug, not a Unix time to guess at.

Yapily's ``GET /accounts/{id}/balances`` and ``GET /accounts/{id}/transactions`` bodies do
not say which account they describe, so Connect wraps them (see ``YapilyBalancesPayload`` and
``YapilyTransactionsPayload``). The ``GET /accounts`` body travels unwrapped.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _number_only(value: Any) -> Any:
    # Yapily sends amounts as JSON numbers. A string or a boolean in their place is a producer
    # bug, and coercing it would hide the bug.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        msg = f"expected a JSON number, got {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError as a field error
    return value


def _text_only(value: Any) -> Any:
    # Pydantic would read an integer as seconds since the epoch; Yapily never sends one.
    if not isinstance(value, str | dt.datetime):
        msg = f"expected an ISO 8601 date-time string, got {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError as a field error
    return value


Number = Annotated[int | float | Decimal, BeforeValidator(_number_only)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_text_only)]


class _Vendor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel)


class YapilyAmount(_Vendor):
    """An ``Amount``: a signed number and its ISO 4217 currency, both mandatory."""

    amount: Number
    currency: str


class YapilyCreditLine(_Vendor):
    """A credit line of a balance: ``CREDIT`` (a card's limit), ``PRE_AGREED`` (overdraft) …."""

    type: str | None = None
    credit_line_amount: YapilyAmount | None = None


class YapilyBalance(_Vendor):
    """An ``AccountBalance``: one typed balance, e.g. ``INTERIM_BOOKED`` or ``EXPECTED``."""

    type: str | None = None
    date_time: Timestamp | None = None
    balance_amount: YapilyAmount | None = None
    credit_line_included: bool | None = None
    credit_lines: list[YapilyCreditLine] | None = None


class YapilyAccountName(_Vendor):
    """A name on the account: its holder, as the bank records it."""

    name: str | None = None


class YapilyAccountIdentification(_Vendor):
    """An identifier of the account, e.g. ``SORT_CODE``, ``ACCOUNT_NUMBER``, ``IBAN``."""

    type: str | None = None
    identification: str | None = None


class YapilyAccount(_Vendor):
    """One account of a ``GET /accounts`` body.

    ``balance`` is Yapily's headline balance, which it recommends only as a fallback to the
    typed ``accountBalances``.
    """

    id: str | None = None
    type: str | None = None
    description: str | None = None
    balance: Number | None = None
    currency: str | None = None
    usage_type: str | None = None
    account_type: str | None = None
    nickname: str | None = None
    details: str | None = None
    account_names: list[YapilyAccountName] | None = None
    account_identifications: list[YapilyAccountIdentification] | None = None
    account_balances: list[YapilyBalance] | None = None


class YapilyNext(_Vendor):
    """Where the next page starts; present only when there is one."""

    cursor: str | None = None
    limit: int | None = None


class YapilyPagination(_Vendor):
    """``meta.pagination`` of a list response."""

    total_count: int | None = None
    next: YapilyNext | None = None


class YapilyListMeta(_Vendor):
    """``meta`` of a list response."""

    count: int | None = None
    pagination: YapilyPagination | None = None


class YapilyAccountsBody(_Vendor):
    """A ``GET /accounts`` response body."""

    meta: YapilyListMeta | None = None
    data: list[YapilyAccount]


class YapilyBalancesData(_Vendor):
    """``data`` of a ``GET /accounts/{id}/balances`` response."""

    main_balance_amount: YapilyAmount | None = None
    balances: list[YapilyBalance] | None = None


class YapilyBalancesBody(_Vendor):
    """A ``GET /accounts/{id}/balances`` response body."""

    data: YapilyBalancesData


class YapilyMerchant(_Vendor):
    """The merchant of a card transaction, as the bank reports it."""

    merchant_name: str | None = None
    merchant_category_code: str | None = None


class YapilyTransactionHash(_Vendor):
    """Yapily's stable hash of a transaction that the bank gave no id."""

    hash: str | None = None


class YapilyCategorisation(_Vendor):
    """Yapily's categories of a transaction."""

    categories: list[str] | None = None
    source: str | None = None


class YapilyEnrichment(_Vendor):
    """What Yapily derived from a transaction."""

    categorisation: YapilyCategorisation | None = None
    transaction_hash: YapilyTransactionHash | None = None


class YapilyIsoCode(_Vendor):
    """One level of an ISO 20022 bank transaction code."""

    code: str | None = None


class YapilyIsoBankTransactionCode(_Vendor):
    """An ISO 20022 bank transaction code: domain, family and sub-family."""

    domain_code: YapilyIsoCode | None = None
    family_code: YapilyIsoCode | None = None
    sub_family_code: YapilyIsoCode | None = None


class YapilyTransactionBalance(_Vendor):
    """The account balance the bank reports after a transaction."""

    type: str | None = None
    balance_amount: YapilyAmount | None = None


class YapilyTransaction(_Vendor):
    """A transaction of ``GET /accounts/{id}/transactions``; a negative amount is money out.

    ``amount`` and ``currency`` are deprecated by Yapily in favour of ``transactionAmount``.
    ``transactionHash`` has moved under ``enrichment``; the top-level place is still read.
    """

    id: str | None = None
    date: Timestamp | None = None
    booking_date_time: Timestamp | None = None
    value_date_time: Timestamp | None = None
    status: Literal["BOOKED", "PENDING"]
    amount: Number | None = None
    currency: str | None = None
    transaction_amount: YapilyAmount | None = None
    reference: str | None = None
    description: str | None = None
    transaction_information: list[str] | None = None
    iso_bank_transaction_code: YapilyIsoBankTransactionCode | None = None
    merchant: YapilyMerchant | None = None
    balance: YapilyTransactionBalance | None = None
    enrichment: YapilyEnrichment | None = None
    transaction_hash: YapilyTransactionHash | None = None


class YapilyTransactionsBody(_Vendor):
    """One page of a ``GET /accounts/{id}/transactions`` response."""

    meta: YapilyListMeta | None = None
    data: list[YapilyTransaction]
    links: dict[str, str | None] | None = None


class _Payload(BaseModel):
    # Connect's own wrapper: an unknown key is a contract mismatch, so it is refused.
    model_config = ConfigDict(frozen=True, extra="forbid")


class YapilyBalancesPayload(_Payload):
    """The payload of a ``yapily_balances`` envelope.

    Attributes:
        account: The account as ``GET /accounts`` last listed it; it names the account and
            gives the type, name and currency that a balances body lacks.
        body: The ``GET /accounts/{account.id}/balances`` response body.
    """

    account: YapilyAccount
    body: YapilyBalancesBody


class YapilyTransactionsPayload(_Payload):
    """The payload of a ``yapily_transactions`` envelope.

    Attributes:
        account_id: The Yapily id of the account the page belongs to.
        body: One page of the ``GET /accounts/{account_id}/transactions`` response.
    """

    account_id: str = Field(min_length=1)
    body: YapilyTransactionsBody
