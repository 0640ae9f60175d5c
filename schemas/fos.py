"""FintraOS Open Standard (FOS) entities as they travel inside events.

Field names follow FOS §3. Inside events money is integer minor units (``*_minor``) beside a
currency; the ``{"value": "-12.50", "currency": "GBP"}`` shape is produced only by views.
Signs follow FOS: negative means money leaving the user, and liabilities carry negative
balances. Quantities, prices and rates are exact decimal strings in one canonical spelling
(``DecimalText``), never floats.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.money import INVALID_AMOUNT, NON_FINITE_NUMBER, MoneyError, format_minor


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


# --- Wealth & investments (FOS §3 B) and liabilities (FOS §3 C) -----------------------------
#
# Quantities, prices and rates are exact decimal strings in one canonical form (``DecimalText``):
# no exponent, no leading "+", no leading zeros, no trailing fractional zeros, and zero unsigned.
# ``decimal_text`` produces that form, so one number always has one spelling and the content
# hash of an entity never changes with how a vendor happened to write a number.

# The longest decimal text accepted: far beyond any real quantity, and a bound on the work an
# input such as ``Decimal("1E+999999999")`` can demand.
MAX_DECIMAL_DIGITS: Final = 1000

_DECIMAL_TEXT_PATTERN: Final = r"^(0|-?(0\.[0-9]*[1-9]|[1-9][0-9]*(\.[0-9]*[1-9])?))$"

DecimalText = Annotated[str, Field(pattern=_DECIMAL_TEXT_PATTERN)]
"""An exact decimal number as canonical text, e.g. ``"1317.476"``, ``"10000"``, ``"-0.5"``."""


def decimal_text(value: int | float | Decimal) -> str:
    """Return the canonical exact text of a number (see ``DecimalText``).

    A ``Decimal`` or ``int`` keeps every digit. A float is read through its shortest repr,
    as the money module reads one, so ``0.011`` is exactly eleven thousandths.

    Raises:
        MoneyError: ``non_finite_number`` for NaN or an infinity, ``invalid_amount`` for a bool,
            another type or more than MAX_DECIMAL_DIGITS digits.
    """
    number = _finite_decimal(value)
    sign, digit_tuple, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        raise MoneyError(NON_FINITE_NUMBER, f"{_shown(value)} is not a finite number")
    digits = "".join(map(str, digit_tuple))
    if len(digits) + abs(exponent) > MAX_DECIMAL_DIGITS:
        message = f"{_shown(value)} has more than {MAX_DECIMAL_DIGITS} digits"
        raise MoneyError(INVALID_AMOUNT, message)
    if exponent >= 0:
        whole, fraction = digits + "0" * exponent, ""
    else:
        digits = digits.rjust(1 - exponent, "0")
        whole, fraction = digits[:exponent], digits[exponent:]
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    text = f"{whole}.{fraction}" if fraction else whole
    return f"-{text}" if sign and text != "0" else text


def _finite_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        message = f"{type(value).__name__} {_shown(value)} is not a number"
        raise MoneyError(INVALID_AMOUNT, message)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MoneyError(NON_FINITE_NUMBER, f"{value!r} is not a finite number")
        # float.__repr__ rather than repr(): a subclass may override its repr.
        return Decimal(float.__repr__(value))
    number = Decimal(value)
    if not number.is_finite():
        raise MoneyError(NON_FINITE_NUMBER, f"{value!r} is not a finite number")
    return number


def _shown(value: object) -> str:
    text = float.__repr__(value) if isinstance(value, float) else str(value)
    return text if len(text) <= 40 else text[:40] + "..."


class SecurityType(StrEnum):
    """What kind of instrument a security is; decides how it can be priced."""

    EQUITY = "EQUITY"
    ETF = "ETF"
    MUTUAL_FUND = "MUTUAL_FUND"
    CASH = "CASH"
    DERIVATIVE = "DERIVATIVE"
    FIXED_INCOME = "FIXED_INCOME"
    CRYPTO = "CRYPTO"
    OTHER = "OTHER"


class UnifiedSecurity(_Frozen):
    """FOS ``UnifiedSecurity``: an instrument itself, shared by every holding of it.

    ``symbol`` is the ticker the provider reported, for display. ``quote_symbol`` is the symbol
    a market-data lookup can use; it is None when the instrument has no market quote (cash, or
    a symbol that is only the institution's own code for an in-house fund). ``close_price`` is
    a price per unit in ``currency``, as exact text: a price is not an amount of money and may
    have more digits than the currency's minor unit (an option at ``"0.011"``).
    """

    security_id: str
    provider: str
    provider_security_id: str
    symbol: str | None = None
    quote_symbol: str | None = None
    isin: str | None = None
    cusip: str | None = None
    name: str | None = None
    type: SecurityType
    is_cash_equivalent: bool = False
    currency: str | None = None
    close_price: DecimalText | None = None
    close_price_as_of: dt.date | None = None


class UnifiedInvestmentHolding(_Frozen):
    """FOS ``UnifiedInvestmentHolding``: a position of one security in one account.

    ``quantity`` and ``institution_price`` are exact text: fractional units (``"23.567"``) and
    sub-cent prices survive untouched. ``institution_value`` is the institution's valuation of
    the position (quantity × price) as exact text, and ``institution_value_minor`` the same
    value rounded half-even once to the currency's minor unit, for sums and views. A valuation
    is not a settled amount, which is why it may be rounded; ``cost_basis_minor`` (what was
    paid) is money and is taken exactly or not at all.
    """

    holding_id: str
    account_id: str
    security_id: str
    provider: str
    provider_account_id: str
    provider_security_id: str
    quantity: DecimalText
    cost_basis_minor: int | None = None
    institution_price: DecimalText
    institution_price_as_of: dt.date | None = None
    institution_value: DecimalText
    institution_value_minor: int
    currency: str
    display_symbol: str | None = None
    quote_symbol: str | None = None
    quote_currency: str | None = None


class HoldingsReconciliation(_Frozen):
    """How an account's reported value compares with the sum of its holdings.

    The institution's ``balances.current`` is the account's value (holdings may leave out
    uninvested cash and unsettled trades). ``balance_exact`` is that report as exact text and
    ``balance_minor`` the account's ``current_minor`` (rounded half-even once).
    ``holdings_value_minor`` is the sum of the holdings' ``institution_value_minor`` in the
    account currency, and ``unreconciled_minor = balance_minor - holdings_value_minor``, so the
    parts add up to the whole in integers. Holdings in another currency cannot be summed
    without a rate; they are listed in ``excluded_holding_ids`` rather than silently left out.
    """

    account_id: str
    currency: str
    balance_exact: DecimalText
    balance_minor: int
    holdings_value_exact: DecimalText
    holdings_value_minor: int
    unreconciled_minor: int
    holding_count: int
    excluded_holding_ids: tuple[str, ...] = ()


class InvestmentTransactionType(StrEnum):
    """What an investment transaction did."""

    BUY = "BUY"
    SELL = "SELL"
    DIVIDEND = "DIVIDEND"
    INTEREST = "INTEREST"
    FEE = "FEE"
    CASH = "CASH"
    TRANSFER = "TRANSFER"
    CANCEL = "CANCEL"
    OTHER = "OTHER"


class InvestmentTransaction(_Frozen):
    """A trade or cash movement in an investment account.

    ``amount_minor`` is the complete movement of the account's cash in FOS sign: negative when
    cash leaves (a buy), positive when it arrives (a sell, a dividend). ``fees_minor`` is the
    fee charged on the transaction, also in FOS sign (a fee paid is negative); it is reported
    beside ``amount_minor`` for analysis and is not to be subtracted from it again.
    ``quantity`` and ``price`` are exact text as the institution reported them; the direction
    of a trade is given by ``type``.
    """

    investment_transaction_id: str
    account_id: str
    provider: str
    provider_account_id: str
    provider_investment_transaction_id: str
    security_id: str | None = None
    type: InvestmentTransactionType
    subtype: str | None = None
    date: dt.date
    quantity: DecimalText
    price: DecimalText
    amount_minor: int
    fees_minor: int | None = None
    currency: str
    name: str | None = None
    cancels_investment_transaction_id: str | None = None


class LiabilityKind(StrEnum):
    """Which kind of debt a liability is; decides which terms it has."""

    CREDIT = "CREDIT"
    MORTGAGE = "MORTGAGE"
    STUDENT = "STUDENT"


class InterestRateType(StrEnum):
    """Whether a rate is fixed for the term or may move."""

    FIXED = "FIXED"
    VARIABLE = "VARIABLE"


class AprType(StrEnum):
    """Which balances of a card an APR applies to."""

    PURCHASE = "PURCHASE"
    CASH_ADVANCE = "CASH_ADVANCE"
    BALANCE_TRANSFER = "BALANCE_TRANSFER"
    SPECIAL = "SPECIAL"
    OTHER = "OTHER"


class InterestRate(_Frozen):
    """An annual rate in percent as exact text (``"3.99"`` is 3.99 %)."""

    percentage: DecimalText
    type: InterestRateType | None = None


class Apr(_Frozen):
    """One APR bucket of a credit card, with the balance it applies to and what it charged."""

    type: AprType
    percentage: DecimalText
    balance_subject_to_apr_minor: int | None = None
    interest_charge_minor: int | None = None


class LiabilityTerms(_Frozen):
    """The timeline of a loan: its length and its start and end dates."""

    term_months: int | None = None
    origination_date: dt.date | None = None
    maturity_date: dt.date | None = None


class LiabilityPayment(_Frozen):
    """The payment schedule and the last payment made."""

    next_payment_due_date: dt.date | None = None
    minimum_payment_minor: int | None = None
    last_payment_date: dt.date | None = None
    last_payment_minor: int | None = None
    last_statement_balance_minor: int | None = None
    last_statement_issue_date: dt.date | None = None
    past_due_minor: int | None = None
    is_overdue: bool | None = None


class UnifiedLiability(_Frozen):
    """FOS ``UnifiedLiability``: the terms of a debt, beside its account's balance.

    Amounts here describe the debt, so they are positive magnitudes in minor units of
    ``currency``: ``principal_minor`` is what is still owed (the negation of the account's FOS
    ``current_minor``; negative only when a card is in credit), payments are what is due or was
    paid. The account keeps the FOS-signed balance. Card debt has ``aprs`` and no single
    ``interest_rate``.
    """

    account_id: str
    kind: LiabilityKind
    currency: str
    principal_minor: int | None = None
    origination_principal_minor: int | None = None
    interest_rate: InterestRate | None = None
    aprs: tuple[Apr, ...] = ()
    terms: LiabilityTerms = Field(default_factory=LiabilityTerms)
    payment: LiabilityPayment = Field(default_factory=LiabilityPayment)
