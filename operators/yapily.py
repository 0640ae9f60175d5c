"""Yapily → FOS: accounts, one account's balances, and pages of one account's transactions.

Yapily's conventions are owned here and nowhere else.

**Sign.** Yapily signs every amount as Open Banking's credit/debit indicator does: a debit is
negative. A transaction that takes money out is negative, and so is a debit balance: an
overdrawn current account, and the amount owed on a credit card, loan or mortgage. That is the
FOS convention (liabilities carry negative balances), so amounts and balances pass through
unchanged for every account type. Credit lines are magnitudes and stay positive.

**Payloads.** ``yapily_accounts`` carries the ``GET /accounts`` body as it is.
``yapily_balances`` carries ``{"account": <one account of GET /accounts>, "body": <GET
/accounts/{id}/balances>}``: a balances body names neither the account nor its type, name or
currency, and the twin only takes whole accounts. The account object supplies everything but
the balances, which come from the body alone, so the twin sees the same account with new
balances. ``yapily_transactions`` carries ``{"account_id": ..., "body": <one page of GET
/accounts/{id}/transactions>}``.

**Balances.** Yapily reports a list of typed balances. FOS ``current`` is the first present of
``INTERIM_BOOKED`` (booked, intraday, so the newest), ``CLOSING_BOOKED``, ``OPENING_BOOKED``;
then Yapily's headline balance (``balance`` of an account, ``mainBalanceAmount`` of a balances
body); then ``EXPECTED``, ``INTERIM_AVAILABLE``, ``CLOSING_AVAILABLE``, so an account whose bank
reports only what is spendable still has a balance. FOS ``available`` is the first present of
``INTERIM_AVAILABLE``, ``CLOSING_AVAILABLE``, ``EXPECTED``, else none. When one type appears
twice, the entry that does not include the credit line wins: FOS carries the limit apart.
FOS ``limit`` is the first ``CREDIT`` credit line of any balance (a card's limit), else the
first ``PRE_AGREED`` one (an arranged overdraft); other credit lines (``AVAILABLE``,
``TEMPORARY``, ``EMERGENCY``) are not a standing limit. The account's currency is its
``currency``, else that of its current balance, and every balance taken must be in it.

**Transactions.** ``BOOKED`` is posted on the UTC date of ``bookingDateTime`` (else ``date``),
and its ``valueDateTime``, when not later, is taken as when it happened (``authorised``).
``PENDING`` has no posted date; it happened on ``date`` (else ``bookingDateTime``, else
``valueDateTime``). A timestamp without a zone is read as UTC. The amount is
``transactionAmount``; the deprecated ``amount`` and ``currency`` are the fallback, and when
both are given they must agree. Yapily reports no removals, and re-lists a transaction with
its current content (a pending one may book under the same id), so every row is an upsert
marked ``modified``: a changed row becomes an update, not a conflict.

**Ids.** A transaction is identified by Yapily's ``id``; else by ``enrichment.transactionHash``
(or the older top-level ``transactionHash``); else by a content id: the SHA-256 of the row's
day (posted, else when it happened), amount, currency and counterparty text (as
``merchant.raw_name`` is taken), and how many identical rows came before it in the same page.
Identical rows therefore get distinct ids, a re-run of the same page gets the same ids, and
status is left out so that a pending row that books on the same day keeps its id. Identical
rows split across two pages would share an id; Yapily pages are date-ordered, so such a split
is rare, and it costs one row, never a wrong amount.

**Pages.** A page is the last of its sync unless ``meta.pagination.next`` or ``links.next``
says where to continue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
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
from schemas.canonical import content_hash, derived_id
from schemas.envelopes import ConnectEnvelope, SyncKind
from schemas.fos import (
    AccountBalances,
    AccountType,
    Enrichment,
    Merchant,
    TransactionDates,
    TransactionDetails,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedTransaction,
)
from schemas.money import MoneyError, currency_exponent, parse_minor
from schemas.records import Reason
from schemas.vendors.yapily import (
    YapilyAccount,
    YapilyAccountsBody,
    YapilyAmount,
    YapilyBalance,
    YapilyBalancesPayload,
    YapilyTransaction,
    YapilyTransactionsBody,
    YapilyTransactionsPayload,
)

PROVIDER: Final = "yapily"

_CURRENT_BEFORE_HEADLINE: Final = ("INTERIM_BOOKED", "CLOSING_BOOKED", "OPENING_BOOKED")
_CURRENT_AFTER_HEADLINE: Final = ("EXPECTED", "INTERIM_AVAILABLE", "CLOSING_AVAILABLE")
_AVAILABLE: Final = ("INTERIM_AVAILABLE", "CLOSING_AVAILABLE", "EXPECTED")
_LIMIT_CREDIT_LINES: Final = ("CREDIT", "PRE_AGREED")
# A full PAN is never kept: only its last four digits become the mask.
_MASK_SOURCES: Final = ("ACCOUNT_NUMBER", "IBAN", "BBAN", "MASKED_PAN", "PAN")
_MASK_DIGITS: Final = 4

_ACCOUNT_TYPES: Final = {
    "CURRENT": AccountType.DEPOSITORY,
    "SAVINGS": AccountType.DEPOSITORY,
    "LIMITED_LIQUIDITY_SAVINGS_ACCOUNT": AccountType.DEPOSITORY,
    "SALARY": AccountType.DEPOSITORY,
    "E_MONEY": AccountType.DEPOSITORY,
    "PREPAID_CARD": AccountType.DEPOSITORY,
    "OVERNIGHT_DEPOSIT": AccountType.DEPOSITORY,
    "MONEY_MARKET": AccountType.DEPOSITORY,
    "CASH_PAYMENT": AccountType.DEPOSITORY,
    "CASH_INCOME": AccountType.DEPOSITORY,
    "CREDIT_CARD": AccountType.CREDIT,
    "CHARGE_CARD": AccountType.CREDIT,
    "OVERDRAFT": AccountType.CREDIT,
    "LOAN": AccountType.LOAN,
    "MORTGAGE": AccountType.LOAN,
    "MARGINAL_LENDING": AccountType.LOAN,
}
# ISO 20022 bank transaction sub-family codes that name the movement unambiguously.
_TYPE_BY_SUB_FAMILY: Final = {
    "CHRG": TransactionType.FEE,
    "FEES": TransactionType.FEE,
    "COMM": TransactionType.FEE,
    "INTR": TransactionType.INTEREST,
}


@dataclass(frozen=True, slots=True)
class _Located:
    """An amount as the body carried it, with the paths that name it in a rejection."""

    amount: int | float | Decimal
    currency: str | None
    path: str
    currency_path: str


def _located(value: YapilyAmount, path: str) -> _Located:
    return _Located(value.amount, value.currency, f"{path}.amount", f"{path}.currency")


def account_id(provider_account_id: str) -> str:
    """Return the FOS account id of a Yapily account."""
    return derived_id("acc", PROVIDER, provider_account_id)


def transaction_id(provider_account_id: str, provider_transaction_id: str) -> str:
    """Return the FOS transaction id of a Yapily transaction."""
    return derived_id("txn", PROVIDER, provider_account_id, provider_transaction_id)


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Normalise one Yapily envelope into FOS observations.

    Raises:
        RejectedInput: when any part of the body cannot be taken exactly (the whole envelope
            is refused so that a sync is never half applied), or for a kind Yapily does not
            send.
    """
    if envelope.kind is SyncKind.YAPILY_ACCOUNTS:
        return (_accounts(envelope),)
    if envelope.kind is SyncKind.YAPILY_BALANCES:
        return (_balances(envelope),)
    if envelope.kind is SyncKind.YAPILY_TRANSACTIONS:
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


# --- accounts and balances --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Report:
    """The balances one response gives for an account, and where they sit in the payload.

    Attributes:
        balances: Yapily's typed balances.
        path: The field path of the list, e.g. ``payload.data[0].accountBalances``.
        headline: Yapily's untyped headline balance, if given.
    """

    balances: Sequence[YapilyBalance]
    path: str
    headline: _Located | None


def _accounts(envelope: ConnectEnvelope) -> AccountsObserved:
    body = validate_model(YapilyAccountsBody, envelope.payload, prefix="payload")
    accounts = []
    for index, raw in enumerate(body.data):
        path = f"payload.data[{index}]"
        headline = (
            None
            if raw.balance is None
            else _Located(raw.balance, raw.currency, f"{path}.balance", f"{path}.currency")
        )
        report = _Report(raw.account_balances or [], f"{path}.accountBalances", headline)
        accounts.append(_account(raw, path, envelope.connection_id, report))
    return AccountsObserved(context=_context(envelope, last_page=True), accounts=tuple(accounts))


def _balances(envelope: ConnectEnvelope) -> AccountsObserved:
    payload = validate_model(YapilyBalancesPayload, envelope.payload, prefix="payload")
    data = payload.body.data
    path = "payload.body.data"
    headline = (
        None
        if data.main_balance_amount is None
        else _located(data.main_balance_amount, f"{path}.mainBalanceAmount")
    )
    # The account's own accountBalances are as old as its listing; the body is the report.
    report = _Report(data.balances or [], f"{path}.balances", headline)
    account = _account(payload.account, "payload.account", envelope.connection_id, report)
    return AccountsObserved(context=_context(envelope, last_page=True), accounts=(account,))


def _account(raw: YapilyAccount, path: str, connection_id: str, report: _Report) -> UnifiedAccount:
    """Build one FOS account from its listing and the balances ``report`` gives for it."""
    if not raw.id:
        raise RejectedInput(Reason.MISSING_ID, f"{path}.id", f"{path}.id is required")
    current = _current(report)
    currency = _currency(raw.currency or current.currency, f"{path}.currency")
    available = _pick(report, _AVAILABLE)
    limit = _limit(report)
    subtype = _subtype(raw)
    return UnifiedAccount(
        account_id=account_id(raw.id),
        provider=PROVIDER,
        provider_account_id=raw.id,
        connection_id=connection_id,
        type=_ACCOUNT_TYPES.get(subtype or "", AccountType.OTHER),
        subtype=subtype,
        name=raw.nickname or raw.description or raw.type or subtype or raw.id,
        official_name=raw.description,
        mask=_mask(raw),
        currency=currency,
        balances=AccountBalances(
            current_minor=_minor(current, currency),
            available_minor=None if available is None else _minor(available, currency),
            limit_minor=None if limit is None else _minor(limit, currency),
        ),
    )


def _current(report: _Report) -> _Located:
    current = _pick(report, _CURRENT_BEFORE_HEADLINE) or report.headline
    current = current or _pick(report, _CURRENT_AFTER_HEADLINE)
    if current is None:
        msg = f"{report.path} holds no booked, headline or available balance"
        raise RejectedInput(Reason.MISSING_FIELD, report.path, msg)
    return current


def _pick(report: _Report, types: Sequence[str]) -> _Located | None:
    """Return the balance of the earliest type in ``types``, or None if none is present.

    Among entries of one type, one that excludes the credit line wins over one that includes
    it, and otherwise the first listed.
    """
    best: tuple[tuple[int, bool, int], YapilyAmount] | None = None
    for index, balance in enumerate(report.balances):
        if balance.type not in types or balance.balance_amount is None:
            continue
        rank = (types.index(balance.type), balance.credit_line_included is True, index)
        if best is None or rank < best[0]:
            best = (rank, balance.balance_amount)
    if best is None:
        return None
    (_, _, index), amount = best
    return _located(amount, f"{report.path}[{index}].balanceAmount")


def _limit(report: _Report) -> _Located | None:
    for wanted in _LIMIT_CREDIT_LINES:
        for index, balance in enumerate(report.balances):
            for line_index, line in enumerate(balance.credit_lines or []):
                if line.type == wanted and line.credit_line_amount is not None:
                    path = f"{report.path}[{index}].creditLines[{line_index}].creditLineAmount"
                    return _located(line.credit_line_amount, path)
    return None


def _subtype(raw: YapilyAccount) -> str | None:
    """Return Yapily's account type, or read it from the older free-text ``type``.

    ``type`` reads like ``"Personal - Current"`` or ``"BUSINESS_CURRENT"``.
    """
    if raw.account_type and raw.account_type != "UNKNOWN":
        return raw.account_type
    if not raw.type:
        return None
    text = raw.type.rsplit("-", 1)[-1].strip().upper().replace(" ", "_")
    return text.removeprefix("PERSONAL_").removeprefix("BUSINESS_") or None


def _mask(raw: YapilyAccount) -> str | None:
    for source in _MASK_SOURCES:
        for ident in raw.account_identifications or []:
            if ident.type == source and ident.identification:
                return ident.identification.replace(" ", "")[-_MASK_DIGITS:]
    return None


# --- transactions -----------------------------------------------------------------------


def _transactions(envelope: ConnectEnvelope, limits: DecodeLimits) -> TransactionsObserved:
    payload = validate_model(YapilyTransactionsPayload, envelope.payload, prefix="payload")
    latest = envelope.received_at.date() + dt.timedelta(days=limits.future_tolerance_days)
    seen: dict[str, int] = {}
    upserts = []
    for index, raw in enumerate(payload.body.data):
        path = f"payload.body.data[{index}]"
        txn = _transaction(raw, payload.account_id, path, latest, seen)
        upserts.append(TransactionUpsert(txn, modified=True))
    return TransactionsObserved(
        context=_context(envelope, last_page=_is_last_page(payload.body)),
        upserts=tuple(upserts),
        removed=(),
    )


def _is_last_page(body: YapilyTransactionsBody) -> bool:
    pagination = body.meta.pagination if body.meta is not None else None
    has_next = pagination is not None and pagination.next is not None
    return not has_next and not (body.links or {}).get("next")


def _transaction(
    raw: YapilyTransaction,
    provider_account_id: str,
    path: str,
    latest: dt.date,
    seen: dict[str, int],
) -> UnifiedTransaction:
    """Build one FOS transaction; ``seen`` counts content keys already used in this page."""
    amount_minor, currency = _transaction_amount(raw, path)
    dates = _dates(raw, path, latest)
    text = _counterparty_text(raw)
    provider_transaction_id = _vendor_id(raw) or _content_id(
        (dates.posted or dates.authorised, amount_minor, currency, text), seen
    )
    merchant = raw.merchant
    categorisation = raw.enrichment.categorisation if raw.enrichment else None
    categories = tuple(categorisation.categories or ()) if categorisation else ()
    return UnifiedTransaction(
        transaction_id=transaction_id(provider_account_id, provider_transaction_id),
        account_id=account_id(provider_account_id),
        provider=PROVIDER,
        provider_account_id=provider_account_id,
        provider_transaction_id=provider_transaction_id,
        amount_minor=amount_minor,
        currency=currency,
        status=TransactionStatus.POSTED if raw.status == "BOOKED" else TransactionStatus.PENDING,
        dates=dates,
        details=TransactionDetails(type=_transaction_type(raw)),
        merchant=Merchant(
            raw_name=text,
            clean_name=merchant.merchant_name if merchant else None,
            category_code=merchant.merchant_category_code if merchant else None,
        ),
        enrichment=Enrichment(vendor_category=categories),
        balance_after_minor=_balance_after(raw, currency, path),
    )


def _transaction_amount(raw: YapilyTransaction, path: str) -> tuple[int, str]:
    """Return the signed amount in minor units and its currency."""
    legacy = (
        None
        if raw.amount is None
        else _Located(raw.amount, raw.currency, f"{path}.amount", f"{path}.currency")
    )
    if raw.transaction_amount is not None:
        chosen = _located(raw.transaction_amount, f"{path}.transactionAmount")
    elif legacy is not None:
        chosen = legacy
    else:
        msg = f"{path} has neither transactionAmount nor amount"
        raise RejectedInput(Reason.MISSING_FIELD, f"{path}.transactionAmount", msg)
    currency = _currency(chosen.currency, chosen.currency_path)
    amount_minor = _minor(chosen, currency)
    if legacy is not None and legacy is not chosen and legacy.currency in {None, currency}:
        # The two carry the same figure; if they disagree one is wrong, and which is unknown.
        if _minor(legacy, currency) != amount_minor:
            msg = f"{legacy.path} {legacy.amount} disagrees with {chosen.path} {chosen.amount}"
            raise RejectedInput(Reason.INVALID_AMOUNT, legacy.path, msg)
    return amount_minor, currency


def _dates(raw: YapilyTransaction, path: str, latest: dt.date) -> TransactionDates:
    if raw.status == "PENDING":
        happened = _first_day(
            path,
            latest,
            ("date", raw.date),
            ("bookingDateTime", raw.booking_date_time),
            ("valueDateTime", raw.value_date_time),
        )
        return TransactionDates(posted=None, authorised=happened)
    posted = _first_day(
        path, latest, ("bookingDateTime", raw.booking_date_time), ("date", raw.date)
    )
    value_day = None if raw.value_date_time is None else _utc_day(raw.value_date_time)
    # A value date after booking is when funds clear, not when the transaction happened.
    authorised = value_day if value_day is not None and value_day <= posted else None
    return TransactionDates(posted=posted, authorised=authorised)


def _first_day(path: str, latest: dt.date, *candidates: tuple[str, dt.datetime | None]) -> dt.date:
    """Return the UTC day of the first present timestamp, refusing one beyond ``latest``."""
    for name, moment in candidates:
        if moment is None:
            continue
        day = _utc_day(moment)
        if day > latest:
            msg = f"{path}.{name} {day.isoformat()} is later than {latest.isoformat()}"
            raise RejectedInput(Reason.FUTURE_DATE, f"{path}.{name}", msg)
        return day
    names = " or ".join(name for name, _ in candidates)
    raise RejectedInput(
        Reason.MISSING_FIELD, f"{path}.{candidates[0][0]}", f"{path} has no {names}"
    )


def _utc_day(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(dt.UTC).date()


def _counterparty_text(raw: YapilyTransaction) -> str:
    information = next((line for line in raw.transaction_information or [] if line), None)
    merchant_name = raw.merchant.merchant_name if raw.merchant else None
    return raw.description or information or merchant_name or raw.reference or ""


def _vendor_id(raw: YapilyTransaction) -> str | None:
    enriched = raw.enrichment.transaction_hash if raw.enrichment else None
    for candidate in (
        raw.id,
        enriched.hash if enriched else None,
        raw.transaction_hash.hash if raw.transaction_hash else None,
    ):
        if candidate:
            return candidate
    return None


def _content_id(key: tuple[dt.date | None, int, str, str], seen: dict[str, int]) -> str:
    """Return a content id for a row without vendor ids, distinct per occurrence in the page."""
    day, amount_minor, currency, text = key
    parts = [day.isoformat() if day else None, amount_minor, currency, text]
    base = content_hash(parts)
    occurrence = seen.get(base, 0)
    seen[base] = occurrence + 1
    return "content-" + content_hash([*parts, occurrence])[:32]


def _transaction_type(raw: YapilyTransaction) -> TransactionType:
    code = raw.iso_bank_transaction_code
    sub_family = code.sub_family_code.code if code and code.sub_family_code else None
    return _TYPE_BY_SUB_FAMILY.get(sub_family or "", TransactionType.PAYMENT)


def _balance_after(raw: YapilyTransaction, currency: str, path: str) -> int | None:
    if raw.balance is None or raw.balance.balance_amount is None:
        return None
    return _minor(_located(raw.balance.balance_amount, f"{path}.balance.balanceAmount"), currency)


# --- money ------------------------------------------------------------------------------


def _currency(currency: str | None, path: str) -> str:
    """Return ``currency`` once it is known to be ISO 4217 with a minor unit."""
    if not currency:
        raise RejectedInput(Reason.MISSING_FIELD, path, f"{path} is required")
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), path, f"{path}: {exc.message}") from exc
    return currency


def _minor(located: _Located, currency: str) -> int:
    """Return ``located`` in minor units of ``currency``, the currency it must be in."""
    if located.currency is not None:
        _currency(located.currency, located.currency_path)
        if located.currency != currency:
            msg = f"{located.currency_path} is {located.currency} but must be {currency}"
            raise RejectedInput(Reason.INVALID_AMOUNT, located.currency_path, msg)
    try:
        return parse_minor(located.amount, currency)
    except MoneyError as exc:
        msg = f"{located.path}: {exc.message}"
        raise RejectedInput(Reason(exc.code), located.path, msg) from exc
