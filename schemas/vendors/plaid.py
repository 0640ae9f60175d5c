"""Plaid response bodies, as far as Core reads them.

Only the fields Core uses are declared; Plaid adds fields over time and those are ignored.
Amounts, quantities and prices stay as the number the JSON carried (``Decimal`` from the exact
parser, or ``int``); the normaliser turns amounts into minor units once, knowing the currency,
and quantities and prices into exact decimal text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from schemas.types import Bool, IsoDate


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
    date: IsoDate
    authorized_date: IsoDate | None = None
    name: str | None = None
    merchant_name: str | None = None
    payment_channel: str | None = None
    pending: Bool
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
    has_more: Bool = False


# --- /investments/holdings/get and /investments/transactions/get ----------------------------


class PlaidSecurity(_Vendor):
    """A security of an investments body; ``close_price`` is per unit, in its currency."""

    security_id: str
    name: str | None = None
    ticker_symbol: str | None = None
    isin: str | None = None
    cusip: str | None = None
    institution_security_id: str | None = None
    type: str | None = None
    is_cash_equivalent: Bool | None = None
    close_price: Number | None = None
    close_price_as_of: IsoDate | None = None
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None


class PlaidHolding(_Vendor):
    """A position: ``quantity`` units of a security, valued by the institution."""

    account_id: str
    security_id: str
    quantity: Number
    institution_price: Number
    institution_price_as_of: IsoDate | None = None
    institution_value: Number
    cost_basis: Number | None = None
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None


class PlaidHoldingsBody(_Vendor):
    """An ``/investments/holdings/get`` response body."""

    accounts: list[PlaidAccount]
    holdings: list[PlaidHolding]
    securities: list[PlaidSecurity]
    item: PlaidItem | None = None


class PlaidInvestmentTransaction(_Vendor):
    """An investment transaction; positive ``amount`` is cash debited (a buy), as elsewhere."""

    investment_transaction_id: str
    account_id: str
    security_id: str | None = None
    cancel_transaction_id: str | None = None
    date: IsoDate
    name: str | None = None
    quantity: Number
    amount: Number
    price: Number
    fees: Number | None = None
    type: str
    subtype: str | None = None
    iso_currency_code: str | None = None
    unofficial_currency_code: str | None = None


class PlaidInvestmentTransactionsBody(_Vendor):
    """One page of an ``/investments/transactions/get`` response body (offset-paginated)."""

    accounts: list[PlaidAccount]
    investment_transactions: list[PlaidInvestmentTransaction]
    securities: list[PlaidSecurity]
    total_investment_transactions: int | None = None
    item: PlaidItem | None = None


# --- /liabilities/get -------------------------------------------------------------------------


class PlaidApr(_Vendor):
    """One APR bucket of a credit card."""

    apr_percentage: Number
    apr_type: str
    balance_subject_to_apr: Number | None = None
    interest_charge_amount: Number | None = None


class PlaidCreditLiability(_Vendor):
    """Card terms of a credit account."""

    account_id: str
    aprs: list[PlaidApr] = []
    is_overdue: Bool | None = None
    last_payment_amount: Number | None = None
    last_payment_date: IsoDate | None = None
    last_statement_balance: Number | None = None
    last_statement_issue_date: IsoDate | None = None
    minimum_payment_amount: Number | None = None
    next_payment_due_date: IsoDate | None = None


class PlaidMortgageInterestRate(_Vendor):
    """A mortgage's rate: ``percentage`` in percent, ``type`` "fixed" or "variable"."""

    percentage: Number | None = None
    type: str | None = None


class PlaidMortgageLiability(_Vendor):
    """Terms of a mortgage account."""

    account_id: str
    interest_rate: PlaidMortgageInterestRate | None = None
    last_payment_amount: Number | None = None
    last_payment_date: IsoDate | None = None
    loan_term: str | None = None
    maturity_date: IsoDate | None = None
    next_monthly_payment: Number | None = None
    next_payment_due_date: IsoDate | None = None
    origination_date: IsoDate | None = None
    origination_principal_amount: Number | None = None
    past_due_amount: Number | None = None


class PlaidStudentLoanLiability(_Vendor):
    """Terms of a student loan account."""

    account_id: str
    expected_payoff_date: IsoDate | None = None
    interest_rate_percentage: Number | None = None
    is_overdue: Bool | None = None
    last_payment_amount: Number | None = None
    last_payment_date: IsoDate | None = None
    last_statement_balance: Number | None = None
    last_statement_issue_date: IsoDate | None = None
    minimum_payment_amount: Number | None = None
    next_payment_due_date: IsoDate | None = None
    origination_date: IsoDate | None = None
    origination_principal_amount: Number | None = None


class PlaidLiabilities(_Vendor):
    """The ``liabilities`` object: one list per kind, null when the Item has none."""

    credit: list[PlaidCreditLiability] | None = None
    mortgage: list[PlaidMortgageLiability] | None = None
    student: list[PlaidStudentLoanLiability] | None = None


class PlaidLiabilitiesBody(_Vendor):
    """A ``/liabilities/get`` response body."""

    accounts: list[PlaidAccount]
    liabilities: PlaidLiabilities
    item: PlaidItem | None = None
