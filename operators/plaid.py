"""Plaid → FOS: accounts and ``/transactions/sync`` pages.

Plaid's conventions are owned here and nowhere else:

* a positive transaction ``amount`` is money leaving the account, the opposite of FOS;
* ``balances.current`` of credit and loan accounts is positive when owed, while FOS carries
  liabilities as negative balances;
* ``iso_currency_code`` names an ISO 4217 currency; ``unofficial_currency_code`` (crypto and
  the like) has no ISO minor unit, so such records are refused rather than guessed at;
* a posted transaction names the pending one it settles in ``pending_transaction_id``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Final

from operators.decode import DecodeLimits, validate_model
from operators.exceptions import RejectedInput, unsupported_kind
from operators.observations import (
    AccountsObserved,
    Observation,
    SyncContext,
    TransactionsObserved,
    TransactionUpsert,
)
from schemas.canonical import derived_id
from schemas.envelopes import ConnectEnvelope, SyncKind
from schemas.fos import (
    AccountBalances,
    AccountType,
    Channel,
    Enrichment,
    Merchant,
    TransactionDates,
    TransactionDetails,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedTransaction,
)
from schemas.money import MoneyError, parse_minor
from schemas.records import Reason
from schemas.vendors.plaid import (
    PlaidAccount,
    PlaidAccountsBody,
    PlaidTransaction,
    PlaidTransactionsSyncBody,
)

PROVIDER: Final = "plaid"

_ACCOUNT_TYPES: Final = {
    "depository": AccountType.DEPOSITORY,
    "credit": AccountType.CREDIT,
    "loan": AccountType.LOAN,
    "investment": AccountType.INVESTMENT,
    "brokerage": AccountType.INVESTMENT,
    "other": AccountType.OTHER,
}
_CHANNELS: Final = {"online": Channel.ONLINE, "in store": Channel.IN_STORE}
_TYPE_BY_CATEGORY: Final = {
    "Transfer": TransactionType.TRANSFER,
    "Bank Fees": TransactionType.FEE,
    "Interest": TransactionType.INTEREST,
}


def account_id(provider_account_id: str) -> str:
    """Return the FOS account id of a Plaid account."""
    return derived_id("acc", PROVIDER, provider_account_id)


def transaction_id(provider_account_id: str, provider_transaction_id: str) -> str:
    """Return the FOS transaction id of a Plaid transaction."""
    return derived_id("txn", PROVIDER, provider_account_id, provider_transaction_id)


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Normalise one Plaid envelope into FOS observations.

    Raises:
        RejectedInput: when any part of the body cannot be taken exactly (the whole envelope
            is refused so that a sync is never half applied), or for a kind Plaid does not
            send.
    """
    if envelope.kind is SyncKind.ACCOUNTS:
        return (_accounts(envelope),)
    if envelope.kind is SyncKind.TRANSACTIONS_SYNC:
        return (_transactions(envelope, limits),)
    raise unsupported_kind(envelope)


def _context(envelope: ConnectEnvelope, *, last_page: bool) -> SyncContext:
    return SyncContext(
        tenant_id=envelope.tenant_id,
        profile_id=envelope.profile_id,
        provider=PROVIDER,
        connection_id=envelope.connection_id,
        sync_id=envelope.sync_id,
        page=envelope.page,
        last_page=last_page,
        received_at=envelope.received_at,
    )


def _accounts(envelope: ConnectEnvelope) -> AccountsObserved:
    body = validate_model(PlaidAccountsBody, envelope.payload, prefix="payload")
    accounts = tuple(
        _account(raw, envelope.connection_id, f"payload.accounts[{index}]")
        for index, raw in enumerate(body.accounts)
    )
    return AccountsObserved(context=_context(envelope, last_page=True), accounts=accounts)


def _account(raw: PlaidAccount, connection_id: str, path: str) -> UnifiedAccount:
    kind = _ACCOUNT_TYPES.get(raw.type, AccountType.OTHER)
    currency = _currency(
        raw.balances.iso_currency_code, raw.balances.unofficial_currency_code, f"{path}.balances"
    )
    if raw.balances.current is None:
        raise RejectedInput(
            Reason.MISSING_FIELD, f"{path}.balances.current", f"{path}.balances.current is required"
        )
    current = _minor(raw.balances.current, currency, f"{path}.balances.current")
    return UnifiedAccount(
        account_id=account_id(raw.account_id),
        provider=PROVIDER,
        provider_account_id=raw.account_id,
        connection_id=connection_id,
        type=kind,
        subtype=raw.subtype.upper().replace(" ", "_") if raw.subtype else None,
        name=raw.name,
        official_name=raw.official_name,
        mask=raw.mask,
        currency=currency,
        balances=AccountBalances(
            # Plaid reports what is owed on a card or loan as a positive number.
            current_minor=-current if kind.is_liability else current,
            available_minor=_optional_minor(
                raw.balances.available, currency, f"{path}.balances.available"
            ),
            limit_minor=_optional_minor(raw.balances.limit, currency, f"{path}.balances.limit"),
        ),
    )


def _transactions(envelope: ConnectEnvelope, limits: DecodeLimits) -> TransactionsObserved:
    body = validate_model(PlaidTransactionsSyncBody, envelope.payload, prefix="payload")
    latest = envelope.received_at.date() + dt.timedelta(days=limits.future_tolerance_days)
    upserts = [
        TransactionUpsert(_transaction(raw, f"payload.added[{i}]", latest), modified=False)
        for i, raw in enumerate(body.added)
    ]
    upserts += [
        TransactionUpsert(_transaction(raw, f"payload.modified[{i}]", latest), modified=True)
        for i, raw in enumerate(body.modified)
    ]
    removed = tuple(transaction_id(r.account_id, r.transaction_id) for r in body.removed)
    return TransactionsObserved(
        context=_context(envelope, last_page=not body.has_more),
        upserts=tuple(upserts),
        removed=removed,
    )


def _transaction(raw: PlaidTransaction, path: str, latest: dt.date) -> UnifiedTransaction:
    currency = _currency(raw.iso_currency_code, raw.unofficial_currency_code, path)
    for name, day in (("date", raw.date), ("authorized_date", raw.authorized_date)):
        if day is not None and day > latest:
            msg = f"{path}.{name} {day.isoformat()} is later than {latest.isoformat()}"
            raise RejectedInput(Reason.FUTURE_DATE, f"{path}.{name}", msg)
    pending_of = (
        transaction_id(raw.account_id, raw.pending_transaction_id)
        if raw.pending_transaction_id
        else None
    )
    category = tuple(raw.category or ())
    return UnifiedTransaction(
        transaction_id=transaction_id(raw.account_id, raw.transaction_id),
        account_id=account_id(raw.account_id),
        provider=PROVIDER,
        provider_account_id=raw.account_id,
        provider_transaction_id=raw.transaction_id,
        # Plaid: positive is money out. FOS: negative is money out.
        amount_minor=-_minor(raw.amount, currency, f"{path}.amount"),
        currency=currency,
        status=TransactionStatus.PENDING if raw.pending else TransactionStatus.POSTED,
        dates=TransactionDates(
            posted=None if raw.pending else raw.date,
            authorised=raw.authorized_date or (raw.date if raw.pending else None),
        ),
        details=TransactionDetails(
            type=_TYPE_BY_CATEGORY.get(category[0], TransactionType.PAYMENT)
            if category
            else TransactionType.PAYMENT,
            channel=_CHANNELS.get(raw.payment_channel or "", Channel.OTHER),
        ),
        merchant=Merchant(
            raw_name=raw.name or raw.merchant_name or "", clean_name=raw.merchant_name
        ),
        enrichment=Enrichment(vendor_category=category),
        pending_transaction_id=pending_of,
    )


def _currency(iso: str | None, unofficial: str | None, path: str) -> str:
    if iso:
        return iso
    if unofficial:
        msg = f"{path} is in unofficial currency {unofficial!r}, which has no ISO 4217 minor unit"
        raise RejectedInput(Reason.UNKNOWN_CURRENCY, f"{path}.unofficial_currency_code", msg)
    msg = f"{path} names no currency (iso_currency_code and unofficial_currency_code are null)"
    raise RejectedInput(Reason.MISSING_FIELD, f"{path}.iso_currency_code", msg)


def _minor(value: int | float | Decimal, currency: str, path: str) -> int:
    try:
        return parse_minor(value, currency)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), path, f"{path}: {exc.message}") from exc


def _optional_minor(value: int | float | Decimal | None, currency: str, path: str) -> int | None:
    return None if value is None else _minor(value, currency, path)
