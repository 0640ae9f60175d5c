"""Plaid → FOS: accounts, ``/transactions/sync`` pages, investments and liabilities.

Plaid's conventions are owned here and nowhere else:

* a positive transaction ``amount`` is money leaving the account, the opposite of FOS; the same
  holds for investment transactions (a buy is positive, a sell or a dividend negative), and for
  their ``fees``;
* ``balances.current`` of credit and loan accounts is positive when owed, while FOS carries
  liabilities as negative balances;
* ``iso_currency_code`` names an ISO 4217 currency; ``unofficial_currency_code`` (crypto and
  the like) has no ISO minor unit, so such records are refused rather than guessed at;
* a posted transaction names the pending one it settles in ``pending_transaction_id``.

Valuations against settled amounts. Money is taken exactly or refused, and that stays the rule
for every settled amount: transaction and trade amounts, fees, cost basis, payments, APR
balances, and the balances of depository, credit and loan accounts. A valuation is different:
the ``balances.current`` of an investment account and a holding's ``institution_value`` are
quantity × price, which routinely has more digits than the currency (Plaid's sandbox 401k is
worth 23631.9805 USD). Those are read exactly and rounded half-even once to minor units; the
holding keeps the exact text beside the rounded value, and the holdings reconciliation keeps
the account's exact text. An investment account's ``available`` is cash, so it stays strict.

Which number is an investment account worth? The institution's ``balances.current``: holdings
may leave out uninvested cash and unsettled trades, and the institution knows both. The sum of
the holdings is not discarded, though: ``HoldingsObserved.reconciliations`` carries it per
account with the difference (``unreconciled_minor``), so the twin can show what the holdings
do not explain instead of silently picking one source.

Quantities, prices and rates become canonical decimal text (``schemas.fos.decimal_text``): the
exact digits the JSON carried, without exponent or trailing fractional zeros, so ``27.530`` and
``27.53`` are one value with one spelling. A float (which only a caller bypassing the exact
parser can hand in) is read through its shortest repr.

References inside a body must resolve: a holding, investment transaction or liability naming
an account or security the body does not describe is refused with ``missing_id``. The same
security, holding or liability given twice with different content is an
``idempotency_conflict``; given twice identically, it is kept once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, Inexact, localcontext
from typing import Final, TypeVar

from pydantic import BaseModel

from operators.decode import DecodeLimits, validate_model
from operators.exceptions import RejectedInput, unsupported_kind
from operators.observations import (
    AccountsObserved,
    HoldingsObserved,
    InvestmentTransactionsObserved,
    LiabilitiesObserved,
    Observation,
    SyncContext,
    TransactionsObserved,
    TransactionUpsert,
)
from schemas.canonical import derived_id
from schemas.envelopes import ConnectEnvelope, SyncKind
from schemas.fos import (
    MAX_DECIMAL_DIGITS,
    AccountBalances,
    AccountType,
    Apr,
    AprType,
    Channel,
    Enrichment,
    HoldingsReconciliation,
    InterestRate,
    InterestRateType,
    InvestmentTransaction,
    InvestmentTransactionType,
    LiabilityKind,
    LiabilityPayment,
    LiabilityTerms,
    Merchant,
    SecurityType,
    TransactionDates,
    TransactionDetails,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedInvestmentHolding,
    UnifiedLiability,
    UnifiedSecurity,
    UnifiedTransaction,
    decimal_text,
)
from schemas.money import MoneyError, currency_exponent, parse_minor
from schemas.records import Reason
from schemas.vendors.plaid import (
    PlaidAccount,
    PlaidAccountsBody,
    PlaidApr,
    PlaidCreditLiability,
    PlaidHolding,
    PlaidHoldingsBody,
    PlaidInvestmentTransaction,
    PlaidInvestmentTransactionsBody,
    PlaidLiabilitiesBody,
    PlaidMortgageLiability,
    PlaidSecurity,
    PlaidStudentLoanLiability,
    PlaidTransaction,
    PlaidTransactionsSyncBody,
)

M = TypeVar("M", bound=BaseModel)

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
_SECURITY_TYPES: Final = {
    "equity": SecurityType.EQUITY,
    "etf": SecurityType.ETF,
    "mutual fund": SecurityType.MUTUAL_FUND,
    "cash": SecurityType.CASH,
    "derivative": SecurityType.DERIVATIVE,
    "fixed income": SecurityType.FIXED_INCOME,
    "cryptocurrency": SecurityType.CRYPTO,
}
_INVESTMENT_TYPES: Final = {
    "buy": InvestmentTransactionType.BUY,
    "sell": InvestmentTransactionType.SELL,
    "fee": InvestmentTransactionType.FEE,
    "transfer": InvestmentTransactionType.TRANSFER,
    "cancel": InvestmentTransactionType.CANCEL,
    "cash": InvestmentTransactionType.CASH,
}
# A "cash" transaction is income when its subtype says so; the rest move cash in or out.
_CASH_SUBTYPES: Final = {
    "dividend": InvestmentTransactionType.DIVIDEND,
    "qualified dividend": InvestmentTransactionType.DIVIDEND,
    "non-qualified dividend": InvestmentTransactionType.DIVIDEND,
    "interest": InvestmentTransactionType.INTEREST,
    "interest receivable": InvestmentTransactionType.INTEREST,
}
_APR_TYPES: Final = {
    "purchase_apr": AprType.PURCHASE,
    "cash_apr": AprType.CASH_ADVANCE,
    "balance_transfer_apr": AprType.BALANCE_TRANSFER,
    "special": AprType.SPECIAL,
}
_RATE_TYPES: Final = {"fixed": InterestRateType.FIXED, "variable": InterestRateType.VARIABLE}
_LOAN_TERM: Final = re.compile(r"([0-9]{1,3}) *(year|yr|month|mo)s?", re.IGNORECASE)
_MONTHS_PER_YEAR: Final = 12


def account_id(provider_account_id: str) -> str:
    """Return the FOS account id of a Plaid account."""
    return derived_id("acc", PROVIDER, provider_account_id)


def transaction_id(provider_account_id: str, provider_transaction_id: str) -> str:
    """Return the FOS transaction id of a Plaid transaction."""
    return derived_id("txn", PROVIDER, provider_account_id, provider_transaction_id)


def security_id(provider_security_id: str) -> str:
    """Return the FOS security id of a Plaid security."""
    return derived_id("sec", PROVIDER, provider_security_id)


def holding_id(provider_account_id: str, provider_security_id: str) -> str:
    """Return the FOS holding id: one position per security per account."""
    return derived_id("hld", PROVIDER, provider_account_id, provider_security_id)


def investment_transaction_id(provider_account_id: str, provider_transaction_id: str) -> str:
    """Return the FOS id of a Plaid investment transaction."""
    return derived_id("itx", PROVIDER, provider_account_id, provider_transaction_id)


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Normalise one Plaid envelope into FOS observations.

    Raises:
        RejectedInput: when any part of the body cannot be taken exactly (the whole envelope
            is refused so that a sync is never half applied), or for a kind Plaid does not
            send.
    """
    kind = envelope.kind
    if kind is SyncKind.ACCOUNTS:
        return (_accounts(envelope),)
    if kind is SyncKind.TRANSACTIONS_SYNC:
        return (_transactions(envelope, limits),)
    if kind is SyncKind.INVESTMENTS_HOLDINGS:
        return (_holdings(envelope),)
    if kind is SyncKind.INVESTMENTS_TRANSACTIONS:
        return (_investment_transactions(envelope, limits),)
    if kind is SyncKind.LIABILITIES:
        return (_liabilities(envelope),)
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
    current_path = f"{path}.balances.current"
    if kind is AccountType.INVESTMENT:
        # The value of investments is a valuation, not a settled amount (module docstring).
        current = _valuation(raw.balances.current, currency, current_path)[1]
    else:
        current = _minor(raw.balances.current, currency, current_path)
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


# --- shared by the investment and liability bodies --------------------------------------------


def _account_index(raws: list[PlaidAccount], connection_id: str) -> dict[str, UnifiedAccount]:
    """Return the body's accounts keyed by Plaid account id, in the order Plaid sent them."""
    return _unique(
        (raw.account_id, path, _account(raw, connection_id, path))
        for raw, path in _paths(raws, "payload.accounts")
    )


def _security_index(raws: list[PlaidSecurity]) -> dict[str, UnifiedSecurity]:
    """Return the body's securities keyed by Plaid security id."""
    return _unique(
        (raw.security_id, path, _security(raw, path))
        for raw, path in _paths(raws, "payload.securities")
    )


def _paths(raws: list[M], prefix: str) -> Iterable[tuple[M, str]]:
    return ((raw, f"{prefix}[{index}]") for index, raw in enumerate(raws))


def _unique(entries: Iterable[tuple[str, str, M]]) -> dict[str, M]:
    """Index ``(key, path, model)`` entries by key; an identical repeat is kept once.

    Raises:
        RejectedInput: ``idempotency_conflict`` when a key repeats with other content.
    """
    index: dict[str, M] = {}
    for key, path, model in entries:
        seen = index.setdefault(key, model)
        if seen != model:
            msg = f"{path} repeats {key!r} with other content"
            raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, path, msg)
    return index


def _referenced(index: dict[str, M], key: str, path: str, what: str) -> M:
    found = index.get(key)
    if found is None:
        msg = f"{path} names {what} {key!r}, which the body does not describe"
        raise RejectedInput(Reason.MISSING_ID, path, msg)
    return found


def _security(raw: PlaidSecurity, path: str) -> UnifiedSecurity:
    kind = _SECURITY_TYPES.get(raw.type or "", SecurityType.OTHER)
    ticker = raw.ticker_symbol or None
    # Cash has no quote, and a "ticker" that is only the institution's own code for an
    # in-house fund would find nothing (or the wrong thing) at a market-data provider.
    quotable = kind is not SecurityType.CASH and ticker != raw.institution_security_id
    return UnifiedSecurity(
        security_id=security_id(raw.security_id),
        provider=PROVIDER,
        provider_security_id=raw.security_id,
        symbol=ticker,
        quote_symbol=ticker if quotable else None,
        isin=raw.isin,
        cusip=raw.cusip,
        name=raw.name,
        type=kind,
        is_cash_equivalent=bool(raw.is_cash_equivalent),
        currency=_security_currency(raw, path),
        close_price=_optional_decimal(raw.close_price, f"{path}.close_price"),
        close_price_as_of=raw.close_price_as_of,
    )


def _security_currency(raw: PlaidSecurity, path: str) -> str | None:
    """Return the currency a security is priced in, or None when Plaid names none."""
    if raw.iso_currency_code is None and raw.unofficial_currency_code is None:
        return None
    currency = _currency(raw.iso_currency_code, raw.unofficial_currency_code, path)
    _exponent(currency, f"{path}.iso_currency_code")
    return currency


# --- /investments/holdings/get ----------------------------------------------------------------


def _holdings(envelope: ConnectEnvelope) -> HoldingsObserved:
    body = validate_model(PlaidHoldingsBody, envelope.payload, prefix="payload")
    accounts = _account_index(body.accounts, envelope.connection_id)
    securities = _security_index(body.securities)
    holdings = _unique(
        (
            holding_id(raw.account_id, raw.security_id),
            path,
            _holding(raw, accounts, securities, path),
        )
        for raw, path in _paths(body.holdings, "payload.holdings")
    )
    reconciliations = _reconciliations(body.accounts, accounts, tuple(holdings.values()))
    return HoldingsObserved(
        context=_context(envelope, last_page=True),
        accounts=tuple(accounts.values()),
        securities=tuple(securities.values()),
        holdings=tuple(holdings.values()),
        reconciliations=reconciliations,
    )


def _holding(
    raw: PlaidHolding,
    accounts: dict[str, UnifiedAccount],
    securities: dict[str, UnifiedSecurity],
    path: str,
) -> UnifiedInvestmentHolding:
    account = _referenced(accounts, raw.account_id, f"{path}.account_id", "account")
    security = _referenced(securities, raw.security_id, f"{path}.security_id", "security")
    currency = _currency(raw.iso_currency_code, raw.unofficial_currency_code, path)
    _exponent(currency, f"{path}.iso_currency_code")
    value_text, value_minor = _valuation(
        raw.institution_value, currency, f"{path}.institution_value"
    )
    return UnifiedInvestmentHolding(
        holding_id=holding_id(raw.account_id, raw.security_id),
        account_id=account.account_id,
        security_id=security.security_id,
        provider=PROVIDER,
        provider_account_id=raw.account_id,
        provider_security_id=raw.security_id,
        quantity=_decimal(raw.quantity, f"{path}.quantity"),
        # What was paid is money: a sub-cent cost basis is refused like any settled amount.
        cost_basis_minor=_optional_minor(raw.cost_basis, currency, f"{path}.cost_basis"),
        institution_price=_decimal(raw.institution_price, f"{path}.institution_price"),
        institution_price_as_of=raw.institution_price_as_of,
        institution_value=value_text,
        institution_value_minor=value_minor,
        currency=currency,
        display_symbol=security.symbol,
        quote_symbol=security.quote_symbol,
        quote_currency=security.currency or currency,
    )


def _reconciliations(
    raws: list[PlaidAccount],
    accounts: dict[str, UnifiedAccount],
    holdings: tuple[UnifiedInvestmentHolding, ...],
) -> tuple[HoldingsReconciliation, ...]:
    """Reconcile every investment account, and any other asset account holding securities."""
    reported = {raw.account_id: raw.balances.current for raw in raws}
    result = []
    for provider_account_id, account in accounts.items():
        held = tuple(h for h in holdings if h.provider_account_id == provider_account_id)
        wanted = account.type is AccountType.INVESTMENT or bool(held)
        current = reported[provider_account_id]
        if wanted and not account.type.is_liability and current is not None:
            result.append(_reconcile(account, decimal_text(current), held))
    return tuple(result)


def _reconcile(
    account: UnifiedAccount, balance_exact: str, held: tuple[UnifiedInvestmentHolding, ...]
) -> HoldingsReconciliation:
    summed = tuple(h for h in held if h.currency == account.currency)
    holdings_minor = sum(h.institution_value_minor for h in summed)
    return HoldingsReconciliation(
        account_id=account.account_id,
        currency=account.currency,
        balance_exact=balance_exact,
        balance_minor=account.balances.current_minor,
        holdings_value_exact=_exact_sum(h.institution_value for h in summed),
        holdings_value_minor=holdings_minor,
        unreconciled_minor=account.balances.current_minor - holdings_minor,
        holding_count=len(held),
        excluded_holding_ids=tuple(h.holding_id for h in held if h.currency != account.currency),
    )


def _exact_sum(texts: Iterable[str]) -> str:
    # Decimal addition rounds to the context precision; every addend has at most
    # MAX_DECIMAL_DIGITS digits around the point, so this precision keeps every sum exact, and
    # the Inexact trap would turn any rounding into an error instead of a wrong total.
    with localcontext() as context:
        context.prec = 3 * MAX_DECIMAL_DIGITS
        context.traps[Inexact] = True
        return decimal_text(sum((Decimal(text) for text in texts), Decimal(0)))


# --- /investments/transactions/get ------------------------------------------------------------


def _investment_transactions(
    envelope: ConnectEnvelope, limits: DecodeLimits
) -> InvestmentTransactionsObserved:
    body = validate_model(PlaidInvestmentTransactionsBody, envelope.payload, prefix="payload")
    accounts = _account_index(body.accounts, envelope.connection_id)
    securities = _security_index(body.securities)
    latest = envelope.received_at.date() + dt.timedelta(days=limits.future_tolerance_days)
    transactions = _unique(
        (
            investment_transaction_id(raw.account_id, raw.investment_transaction_id),
            path,
            _investment_transaction(raw, accounts, securities, path, latest),
        )
        for raw, path in _paths(body.investment_transactions, "payload.investment_transactions")
    )
    # The endpoint pages by offset and the body does not echo it, so a page can only be known
    # to be the last one when it holds every transaction of the period.
    total = body.total_investment_transactions
    last_page = total is None or len(body.investment_transactions) >= total
    return InvestmentTransactionsObserved(
        context=_context(envelope, last_page=last_page),
        accounts=tuple(accounts.values()),
        securities=tuple(securities.values()),
        transactions=tuple(transactions.values()),
    )


def _investment_transaction(
    raw: PlaidInvestmentTransaction,
    accounts: dict[str, UnifiedAccount],
    securities: dict[str, UnifiedSecurity],
    path: str,
    latest: dt.date,
) -> InvestmentTransaction:
    account = _referenced(accounts, raw.account_id, f"{path}.account_id", "account")
    security = (
        _referenced(securities, raw.security_id, f"{path}.security_id", "security")
        if raw.security_id
        else None
    )
    currency = _currency(raw.iso_currency_code, raw.unofficial_currency_code, path)
    _exponent(currency, f"{path}.iso_currency_code")
    if raw.date > latest:
        msg = f"{path}.date {raw.date.isoformat()} is later than {latest.isoformat()}"
        raise RejectedInput(Reason.FUTURE_DATE, f"{path}.date", msg)
    fees = _optional_minor(raw.fees, currency, f"{path}.fees")
    cancels = raw.cancel_transaction_id
    return InvestmentTransaction(
        investment_transaction_id=investment_transaction_id(
            raw.account_id, raw.investment_transaction_id
        ),
        account_id=account.account_id,
        provider=PROVIDER,
        provider_account_id=raw.account_id,
        provider_investment_transaction_id=raw.investment_transaction_id,
        security_id=security.security_id if security else None,
        type=_investment_type(raw.type, raw.subtype),
        subtype=_code(raw.subtype),
        date=raw.date,
        quantity=_decimal(raw.quantity, f"{path}.quantity"),
        price=_decimal(raw.price, f"{path}.price"),
        # Plaid: positive is cash debited. FOS: negative is money leaving; fees likewise.
        amount_minor=-_minor(raw.amount, currency, f"{path}.amount"),
        fees_minor=None if fees is None else -fees,
        currency=currency,
        name=raw.name,
        cancels_investment_transaction_id=(
            investment_transaction_id(raw.account_id, cancels) if cancels else None
        ),
    )


def _investment_type(kind: str, subtype: str | None) -> InvestmentTransactionType:
    mapped = _INVESTMENT_TYPES.get(kind, InvestmentTransactionType.OTHER)
    if mapped is InvestmentTransactionType.CASH:
        return _CASH_SUBTYPES.get(subtype or "", mapped)
    return mapped


def _code(text: str | None) -> str | None:
    """Return a vendor label as an upper-case code: ``"money market"`` → ``"MONEY_MARKET"``."""
    return text.upper().replace(" ", "_") if text else None


# --- /liabilities/get -------------------------------------------------------------------------


def _liabilities(envelope: ConnectEnvelope) -> LiabilitiesObserved:
    body = validate_model(PlaidLiabilitiesBody, envelope.payload, prefix="payload")
    accounts = _account_index(body.accounts, envelope.connection_id)
    found = body.liabilities
    entries = [
        *(
            (f"credit:{raw.account_id}", path, _credit(raw, accounts, path))
            for raw, path in _paths(found.credit or [], "payload.liabilities.credit")
        ),
        *(
            (f"mortgage:{raw.account_id}", path, _mortgage(raw, accounts, path))
            for raw, path in _paths(found.mortgage or [], "payload.liabilities.mortgage")
        ),
        *(
            (f"student:{raw.account_id}", path, _student(raw, accounts, path))
            for raw, path in _paths(found.student or [], "payload.liabilities.student")
        ),
    ]
    return LiabilitiesObserved(
        context=_context(envelope, last_page=True),
        accounts=tuple(accounts.values()),
        liabilities=tuple(_unique(entries).values()),
    )


def _liability_account(
    accounts: dict[str, UnifiedAccount], provider_account_id: str, path: str
) -> tuple[UnifiedAccount, int | None]:
    """Return the account a liability belongs to and what is owed on it (positive)."""
    account = _referenced(accounts, provider_account_id, f"{path}.account_id", "account")
    # Only a credit or loan balance is an amount owed; on any other type its sign says nothing.
    owed = -account.balances.current_minor if account.type.is_liability else None
    return account, owed


def _credit(
    raw: PlaidCreditLiability, accounts: dict[str, UnifiedAccount], path: str
) -> UnifiedLiability:
    account, owed = _liability_account(accounts, raw.account_id, path)
    currency = account.currency
    return UnifiedLiability(
        account_id=account.account_id,
        kind=LiabilityKind.CREDIT,
        currency=currency,
        principal_minor=owed,
        aprs=tuple(_apr(apr, currency, p) for apr, p in _paths(raw.aprs, f"{path}.aprs")),
        payment=_statement_payment(raw, currency, path),
    )


def _apr(raw: PlaidApr, currency: str, path: str) -> Apr:
    return Apr(
        type=_APR_TYPES.get(raw.apr_type, AprType.OTHER),
        percentage=_decimal(raw.apr_percentage, f"{path}.apr_percentage"),
        balance_subject_to_apr_minor=_optional_minor(
            raw.balance_subject_to_apr, currency, f"{path}.balance_subject_to_apr"
        ),
        interest_charge_minor=_optional_minor(
            raw.interest_charge_amount, currency, f"{path}.interest_charge_amount"
        ),
    )


def _mortgage(
    raw: PlaidMortgageLiability, accounts: dict[str, UnifiedAccount], path: str
) -> UnifiedLiability:
    account, owed = _liability_account(accounts, raw.account_id, path)
    currency = account.currency
    rate = raw.interest_rate
    past_due = _optional_minor(raw.past_due_amount, currency, f"{path}.past_due_amount")
    return UnifiedLiability(
        account_id=account.account_id,
        kind=LiabilityKind.MORTGAGE,
        currency=currency,
        principal_minor=owed,
        origination_principal_minor=_optional_minor(
            raw.origination_principal_amount, currency, f"{path}.origination_principal_amount"
        ),
        interest_rate=(
            InterestRate(
                percentage=_decimal(rate.percentage, f"{path}.interest_rate.percentage"),
                type=_RATE_TYPES.get(rate.type or ""),
            )
            if rate is not None and rate.percentage is not None
            else None
        ),
        terms=LiabilityTerms(
            term_months=_term_months(raw.loan_term),
            origination_date=raw.origination_date,
            maturity_date=raw.maturity_date,
        ),
        payment=LiabilityPayment(
            next_payment_due_date=raw.next_payment_due_date,
            # A mortgage's contractual payment is its minimum: it has no smaller one.
            minimum_payment_minor=_optional_minor(
                raw.next_monthly_payment, currency, f"{path}.next_monthly_payment"
            ),
            last_payment_date=raw.last_payment_date,
            last_payment_minor=_optional_minor(
                raw.last_payment_amount, currency, f"{path}.last_payment_amount"
            ),
            past_due_minor=past_due,
            # Plaid gives mortgages no overdue flag; an amount past due is what it means.
            is_overdue=None if past_due is None else past_due > 0,
        ),
    )


def _student(
    raw: PlaidStudentLoanLiability, accounts: dict[str, UnifiedAccount], path: str
) -> UnifiedLiability:
    account, owed = _liability_account(accounts, raw.account_id, path)
    currency = account.currency
    rate = raw.interest_rate_percentage
    return UnifiedLiability(
        account_id=account.account_id,
        kind=LiabilityKind.STUDENT,
        currency=currency,
        principal_minor=owed,
        origination_principal_minor=_optional_minor(
            raw.origination_principal_amount, currency, f"{path}.origination_principal_amount"
        ),
        # Plaid does not say whether a student loan's rate is fixed; None rather than a guess.
        interest_rate=(
            None
            if rate is None
            else InterestRate(percentage=_decimal(rate, f"{path}.interest_rate_percentage"))
        ),
        # No term is reported; the expected payoff date is the end of the debt.
        terms=LiabilityTerms(
            origination_date=raw.origination_date, maturity_date=raw.expected_payoff_date
        ),
        payment=_statement_payment(raw, currency, path),
    )


def _term_months(loan_term: str | None) -> int | None:
    """Read a loan term such as ``"30 year"`` or ``"360 months"``; None when unreadable."""
    match = _LOAN_TERM.fullmatch(loan_term.strip()) if loan_term else None
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).lower()
    return count * _MONTHS_PER_YEAR if unit in {"year", "yr"} else count


# --- exact numbers ----------------------------------------------------------------------------


def _decimal(value: int | float | Decimal, path: str) -> str:
    try:
        return decimal_text(value)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), path, f"{path}: {exc.message}") from exc


def _optional_decimal(value: int | float | Decimal | None, path: str) -> str | None:
    return None if value is None else _decimal(value, path)


def _exponent(currency: str, path: str) -> int:
    try:
        return currency_exponent(currency)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), path, f"{path}: {exc.message}") from exc


def _valuation(value: int | float | Decimal, currency: str, path: str) -> tuple[str, int]:
    """Return a valuation as exact text and rounded half-even once to minor units."""
    exponent = _exponent(currency, path)
    text = _decimal(value, path)
    return text, _round_half_even(Decimal(text), exponent)


def _round_half_even(value: Decimal, exponent: int) -> int:
    """Return ``value`` in minor units of ``exponent`` digits, rounding half to even.

    Integer arithmetic on the Decimal's digits: Decimal's own quantize would be bound by the
    context precision.
    """
    sign, digit_tuple, decimal_exponent = value.as_tuple()
    if not isinstance(decimal_exponent, int):
        msg = f"{value} is not finite; decimal_text admits finite numbers only"
        raise TypeError(msg)
    magnitude = int("".join(map(str, digit_tuple)))
    shift = decimal_exponent + exponent
    if shift >= 0:
        minor = magnitude * int(pow(10, shift))
    else:
        unit = int(pow(10, -shift))
        minor, remainder = divmod(magnitude, unit)
        if 2 * remainder > unit or (2 * remainder == unit and minor % 2 == 1):
            minor += 1
    return -minor if sign else minor


def _statement_payment(
    raw: PlaidCreditLiability | PlaidStudentLoanLiability, currency: str, path: str
) -> LiabilityPayment:
    """The payment terms credit cards and student loans report in the same fields."""
    return LiabilityPayment(
        next_payment_due_date=raw.next_payment_due_date,
        minimum_payment_minor=_optional_minor(
            raw.minimum_payment_amount, currency, f"{path}.minimum_payment_amount"
        ),
        last_payment_date=raw.last_payment_date,
        last_payment_minor=_optional_minor(
            raw.last_payment_amount, currency, f"{path}.last_payment_amount"
        ),
        last_statement_balance_minor=_optional_minor(
            raw.last_statement_balance, currency, f"{path}.last_statement_balance"
        ),
        last_statement_issue_date=raw.last_statement_issue_date,
        is_overdue=raw.is_overdue,
    )
