"""The Plaid normaliser on investments and liabilities: exact quantities, valuations, terms."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from operators import plaid
from operators.decode import DecodeLimits, decode_envelope
from operators.exceptions import RejectedInput
from operators.observations import (
    HoldingsObserved,
    InvestmentTransactionsObserved,
    LiabilitiesObserved,
    Observation,
)
from schemas.canonical import canonical_json, find_floats
from schemas.envelopes import ConnectEnvelope
from schemas.fos import (
    AccountType,
    AprType,
    InterestRateType,
    InvestmentTransactionType,
    LiabilityKind,
    SecurityType,
    UnifiedSecurity,
    decimal_text,
)
from schemas.money import MoneyError
from schemas.records import Reason
from tests.support.envelopes import envelope, plaid_fixture, record

LIMITS = DecodeLimits()
HOLDINGS = "investments_holdings_get.json"
TRADES = "investments_transactions_get.json"
DEBTS = "liabilities_get.json"
KINDS = {HOLDINGS: "investments_holdings", TRADES: "investments_transactions", DEBTS: "liabilities"}

IRA = "JqMLm4rJwpF6gMPJwBqdh9ZjjPvvpDcb7kDK1"
K401 = "k67E4xKvMlhmleEa4pg9hlwGGNnnEeixPolGm"
OPTION = "8E4L9XLl6MudjEpwPAAgivmdZRdBPJuvMPlPb"
TIGER_FUND = "JDdP7XPMklt5vwPmDN45t3KAoWAPmjtpaW7DP"
CARD = "dVzbVMLjrxTnLjX4G66XUp5GLklm4oiZy88yK"
MORTGAGE = "BxBXxLj1m4HMXBm9WZJyUg9XLd4rKEhw8Pb1J"
STUDENT = "Pp1Vpkl9w8sajvK6oEEKtr7vZxBnGpf7LxxLE"


def normalise(body: dict[str, Any], kind: str) -> Observation:
    """Normalise a body whose numbers are Python floats (as ``json.loads`` gives them)."""
    (observed,) = plaid.normalise(ConnectEnvelope.model_validate(envelope(body, kind=kind)), LIMITS)
    return observed


def normalise_bytes(value: bytes) -> Observation:
    """Normalise raw envelope bytes through the exact parser (numbers arrive as Decimal)."""
    (observed,) = plaid.normalise(decode_envelope(record(value), LIMITS), LIMITS)
    return observed


def holdings(body: dict[str, Any] | None = None) -> HoldingsObserved:
    observed = normalise(body or plaid_fixture(HOLDINGS), "investments_holdings")
    assert isinstance(observed, HoldingsObserved)
    return observed


def trades(body: dict[str, Any] | None = None) -> InvestmentTransactionsObserved:
    observed = normalise(body or plaid_fixture(TRADES), "investments_transactions")
    assert isinstance(observed, InvestmentTransactionsObserved)
    return observed


def debts(body: dict[str, Any] | None = None) -> LiabilitiesObserved:
    observed = normalise(body or plaid_fixture(DEBTS), "liabilities")
    assert isinstance(observed, LiabilitiesObserved)
    return observed


def refused(body: dict[str, Any], kind: str) -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        normalise(body, kind)
    return caught.value


# --- /investments/holdings/get ----------------------------------------------------------------


def test_holdings_fixture_counts_and_account_types() -> None:
    observed = holdings()
    assert (len(observed.accounts), len(observed.securities), len(observed.holdings)) == (3, 6, 7)
    assert [a.type for a in observed.accounts] == [
        AccountType.DEPOSITORY,
        AccountType.INVESTMENT,
        AccountType.INVESTMENT,
    ]
    assert observed.context.last_page is True


def test_holdings_keep_fractional_quantities_and_prices_as_exact_text() -> None:
    observed = holdings()
    by_key = {(h.provider_account_id, h.display_symbol): h for h in observed.holdings}
    tiger = by_key[(K401, "MIPTX")]
    assert (tiger.quantity, tiger.institution_price) == ("23.567", "27")
    assert (tiger.institution_value, tiger.institution_value_minor) == ("636.309", 63631)
    assert tiger.cost_basis_minor == 2300
    index = by_key[(K401, "NHX105509")]
    assert (index.quantity, index.institution_price) == ("100.05", "13.73")
    # 1373.6865 rounds half-even once: the dropped 65 is above half a cent.
    assert (index.institution_value, index.institution_value_minor) == ("1373.6865", 137369)
    assert by_key[(K401, "USD")].quantity == "12345.67"
    assert by_key[(IRA, "USD")].quantity == "0.01"


def test_option_holding_keeps_quantity_sub_cent_price_and_cost_basis() -> None:
    observed = holdings()
    option = next(h for h in observed.holdings if h.provider_security_id == OPTION)
    assert option.quantity == "10000"
    assert option.institution_price == "0.011"
    assert (option.institution_value, option.institution_value_minor) == ("110", 11000)
    assert option.cost_basis_minor == 1
    assert option.account_id == plaid.account_id(IRA)
    assert option.security_id == plaid.security_id(OPTION)
    assert option.holding_id == plaid.holding_id(IRA, OPTION)
    assert (option.display_symbol, option.quote_symbol) == ("NFLX180201C00355000",) * 2
    assert option.quote_currency == "USD"


def test_securities_are_typed_and_only_market_symbols_are_quotable() -> None:
    securities = {s.symbol: s for s in holdings().securities}
    assert {symbol: s.type for symbol, s in securities.items()} == {
        "NFLX180201C00355000": SecurityType.DERIVATIVE,
        "MIPTX": SecurityType.MUTUAL_FUND,
        "ACHN": SecurityType.EQUITY,
        "DBLTX": SecurityType.MUTUAL_FUND,
        "USD": SecurityType.CASH,
        "NHX105509": SecurityType.ETF,
    }
    assert securities["NFLX180201C00355000"].close_price == "0.011"
    assert securities["MIPTX"].isin == "US5771308344"
    assert securities["MIPTX"].cusip == "577130834"
    assert securities["USD"].is_cash_equivalent is True
    # Cash has no quote; NHX105509 is the institution's own code for an in-house portfolio.
    assert securities["USD"].quote_symbol is None
    assert securities["NHX105509"].quote_symbol is None
    assert securities["ACHN"].quote_symbol == "ACHN"


def test_investment_balance_is_the_account_value_and_the_gap_is_surfaced() -> None:
    observed = holdings()
    by_account = {r.account_id: r for r in observed.reconciliations}
    # The money-market account is cash with no holdings: nothing to reconcile.
    assert set(by_account) == {plaid.account_id(IRA), plaid.account_id(K401)}
    ira = by_account[plaid.account_id(IRA)]
    assert (ira.balance_exact, ira.balance_minor) == ("320.76", 32076)
    assert (ira.holdings_value_exact, ira.holdings_value_minor) == ("110.01", 11001)
    assert ira.unreconciled_minor == 21075
    assert ira.holding_count == 2
    k401 = by_account[plaid.account_id(K401)]
    assert (k401.balance_exact, k401.balance_minor) == ("23631.9805", 2363198)
    assert (k401.holdings_value_exact, k401.holdings_value_minor) == ("14378.6155", 1437862)
    assert k401.unreconciled_minor == 925336
    assert k401.holding_count == 5
    accounts = {a.account_id: a for a in observed.accounts}
    for rec in observed.reconciliations:
        held = [h for h in observed.holdings if h.account_id == rec.account_id]
        assert rec.holdings_value_minor == sum(h.institution_value_minor for h in held)
        assert rec.holdings_value_minor + rec.unreconciled_minor == rec.balance_minor
        assert rec.balance_minor == accounts[rec.account_id].balances.current_minor
        assert rec.excluded_holding_ids == ()


def test_holding_in_another_currency_is_listed_not_summed() -> None:
    body = plaid_fixture(HOLDINGS)
    body["holdings"][0]["iso_currency_code"] = "EUR"
    ira = next(r for r in holdings(body).reconciliations if r.account_id == plaid.account_id(IRA))
    assert ira.excluded_holding_ids == (plaid.holding_id(IRA, body["holdings"][0]["security_id"]),)
    assert ira.holdings_value_minor == 11000
    assert ira.holding_count == 2


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (0.005, "USD", 0),
        (0.015, "USD", 2),
        (0.025, "USD", 2),
        (-0.015, "USD", -2),
        (0.0051, "USD", 1),
        (100.5, "JPY", 100),
        (101.5, "JPY", 102),
        (1.2345, "BHD", 1234),
    ],
)
def test_valuations_round_half_even_once(value: float, currency: str, minor: int) -> None:
    body = plaid_fixture(HOLDINGS)
    body["holdings"] = [
        {**body["holdings"][0], "institution_value": value, "iso_currency_code": currency}
    ]
    (holding,) = holdings(body).holdings
    assert holding.institution_value_minor == minor
    assert Decimal(holding.institution_value) == Decimal(repr(value))


def test_identical_repeated_security_is_kept_once_a_different_one_conflicts() -> None:
    body = plaid_fixture(HOLDINGS)
    body["securities"].append(copy.deepcopy(body["securities"][0]))
    assert len(holdings(body).securities) == 6
    body["securities"][-1]["close_price"] = 0.012
    rejection = refused(body, "investments_holdings")
    assert rejection.reason is Reason.IDEMPOTENCY_CONFLICT
    assert rejection.field == "payload.securities[6]"


def _with(body: dict[str, Any], section: str, index: int, change: dict[str, Any]) -> dict[str, Any]:
    body[section][index] = {**body[section][index], **change}
    return body


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        # What was paid is money: refused, never rounded.
        ({"cost_basis": 1.005}, Reason.EXCESS_PRECISION, "payload.holdings[0].cost_basis"),
        (
            {"iso_currency_code": "XYZ"},
            Reason.UNKNOWN_CURRENCY,
            "payload.holdings[0].iso_currency_code",
        ),
        (
            {"iso_currency_code": None, "unofficial_currency_code": "BTC"},
            Reason.UNKNOWN_CURRENCY,
            "payload.holdings[0].unofficial_currency_code",
        ),
        ({"security_id": "no-such-security"}, Reason.MISSING_ID, "payload.holdings[0].security_id"),
        ({"account_id": "no-such-account"}, Reason.MISSING_ID, "payload.holdings[0].account_id"),
        ({"quantity": "1.5"}, Reason.WRONG_TYPE, "payload.holdings[0].quantity"),
        ({"quantity": float("nan")}, Reason.NON_FINITE_NUMBER, "payload.holdings[0].quantity"),
        ({"institution_price": True}, Reason.WRONG_TYPE, "payload.holdings[0].institution_price"),
    ],
)
def test_bad_holdings_are_refused_with_reason_and_field(
    change: dict[str, Any], reason: Reason, field: str
) -> None:
    rejection = refused(
        _with(plaid_fixture(HOLDINGS), "holdings", 0, change), "investments_holdings"
    )
    assert (rejection.reason, rejection.field) == (reason, field)


def test_missing_holding_security_id_is_a_missing_id() -> None:
    body = plaid_fixture(HOLDINGS)
    del body["holdings"][2]["security_id"]
    rejection = refused(body, "investments_holdings")
    assert (rejection.reason, rejection.field) == (
        Reason.MISSING_ID,
        "payload.holdings[2].security_id",
    )


def test_security_in_an_unknown_currency_is_refused() -> None:
    body = _with(plaid_fixture(HOLDINGS), "securities", 1, {"iso_currency_code": "usd"})
    rejection = refused(body, "investments_holdings")
    assert rejection.reason is Reason.UNKNOWN_CURRENCY
    assert rejection.field == "payload.securities[1].iso_currency_code"


# --- /investments/transactions/get ------------------------------------------------------------


def test_investment_transactions_fixture_signs_types_and_exact_quantities() -> None:
    observed = trades()
    assert (len(observed.accounts), len(observed.securities), len(observed.transactions)) == (
        3,
        3,
        3,
    )
    dividend, sell, buy = observed.transactions
    assert dividend.type is InvestmentTransactionType.DIVIDEND
    assert dividend.subtype == "DIVIDEND"
    assert (dividend.amount_minor, dividend.fees_minor) == (872, 0)
    assert (dividend.quantity, dividend.price) == ("0", "0")
    assert dividend.date == dt.date(2020, 5, 29)
    assert sell.type is InvestmentTransactionType.SELL
    assert (sell.amount_minor, sell.fees_minor) == (128901, -799)
    assert (sell.quantity, sell.price) == ("47.74104242992852", "27.53")
    assert sell.security_id == plaid.security_id(TIGER_FUND)
    assert buy.type is InvestmentTransactionType.BUY
    assert (buy.amount_minor, buy.fees_minor) == (-770, -799)
    assert (buy.quantity, buy.price) == ("0.7388014749727547", "10.42")
    assert {t.currency for t in observed.transactions} == {"USD"}
    assert observed.context.last_page is True


def test_investment_accounts_in_a_trades_body_are_valued_like_any_other() -> None:
    accounts = {a.name: a for a in trades().accounts}
    assert accounts["Plaid 401k"].balances.current_minor == 2363198
    assert accounts["Plaid IRA"].balances.current_minor == 32076
    assert accounts["Plaid Checking"].balances.current_minor == 11000


def test_a_partial_page_of_investment_transactions_is_not_the_last() -> None:
    body = plaid_fixture(TRADES)
    body["total_investment_transactions"] = 10
    assert trades(body).context.last_page is False


def test_cash_transaction_without_security_and_cancel_reference() -> None:
    body = plaid_fixture(TRADES)
    body["investment_transactions"][0] |= {
        "security_id": None,
        "subtype": "deposit",
        "cancel_transaction_id": "LKoo1ko93wtreBwM7yQnuQ3P5DNKbKSPRzBNv",
    }
    first = trades(body).transactions[0]
    assert first.security_id is None
    assert first.type is InvestmentTransactionType.CASH
    assert first.cancels_investment_transaction_id == plaid.investment_transaction_id(
        "rz99ex9ZQotvnjXdgQLEsR81e3ArPgulVWjGj", "LKoo1ko93wtreBwM7yQnuQ3P5DNKbKSPRzBNv"
    )


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"amount": 1.234}, Reason.EXCESS_PRECISION, "payload.investment_transactions[1].amount"),
        ({"fees": 0.001}, Reason.EXCESS_PRECISION, "payload.investment_transactions[1].fees"),
        ({"date": "2026-03-01"}, Reason.FUTURE_DATE, "payload.investment_transactions[1].date"),
        (
            {"security_id": "gone"},
            Reason.MISSING_ID,
            "payload.investment_transactions[1].security_id",
        ),
        (
            {"iso_currency_code": "XYZ"},
            Reason.UNKNOWN_CURRENCY,
            "payload.investment_transactions[1].iso_currency_code",
        ),
        ({"quantity": None}, Reason.WRONG_TYPE, "payload.investment_transactions[1].quantity"),
    ],
)
def test_bad_investment_transactions_are_refused(
    change: dict[str, Any], reason: Reason, field: str
) -> None:
    body = _with(plaid_fixture(TRADES), "investment_transactions", 1, change)
    rejection = refused(body, "investments_transactions")
    assert (rejection.reason, rejection.field) == (reason, field)


# --- /liabilities/get -------------------------------------------------------------------------


def test_liabilities_fixture_credit_card_aprs_and_payments() -> None:
    observed = debts()
    assert (len(observed.accounts), len(observed.liabilities)) == (4, 3)
    card = next(x for x in observed.liabilities if x.kind is LiabilityKind.CREDIT)
    assert card.account_id == plaid.account_id(CARD)
    assert card.principal_minor == 41000
    assert card.interest_rate is None
    assert [
        (a.type, a.percentage, a.balance_subject_to_apr_minor, a.interest_charge_minor)
        for a in card.aprs
    ] == [
        (AprType.BALANCE_TRANSFER, "15.24", 156232, 13022),
        (AprType.CASH_ADVANCE, "27.95", 5622, 1481),
        (AprType.PURCHASE, "12.5", 15701, 2566),
        (AprType.SPECIAL, "0", 100000, 0),
    ]
    assert card.payment.next_payment_due_date == dt.date(2020, 5, 28)
    assert card.payment.minimum_payment_minor == 2000
    assert (card.payment.last_payment_date, card.payment.last_payment_minor) == (
        dt.date(2019, 5, 22),
        16825,
    )
    assert card.payment.last_statement_balance_minor == 170877
    assert card.payment.is_overdue is False


def test_liabilities_fixture_mortgage_fixed_rate_term_and_schedule() -> None:
    mortgage = next(x for x in debts().liabilities if x.kind is LiabilityKind.MORTGAGE)
    assert mortgage.account_id == plaid.account_id(MORTGAGE)
    assert mortgage.principal_minor == 5630206
    assert mortgage.origination_principal_minor == 42500000
    assert mortgage.interest_rate is not None
    assert (mortgage.interest_rate.percentage, mortgage.interest_rate.type) == (
        "3.99",
        InterestRateType.FIXED,
    )
    assert mortgage.terms.term_months == 360
    assert mortgage.terms.origination_date == dt.date(2015, 8, 1)
    assert mortgage.terms.maturity_date == dt.date(2045, 7, 31)
    assert mortgage.payment.next_payment_due_date == dt.date(2019, 11, 15)
    assert mortgage.payment.minimum_payment_minor == 314154
    assert mortgage.payment.last_payment_minor == 314154
    # 2304.00 past due: overdue, although Plaid gives mortgages no overdue flag.
    assert (mortgage.payment.past_due_minor, mortgage.payment.is_overdue) == (230400, True)


def test_liabilities_fixture_student_loan() -> None:
    loan = next(x for x in debts().liabilities if x.kind is LiabilityKind.STUDENT)
    assert loan.account_id == plaid.account_id(STUDENT)
    assert loan.principal_minor == 6526200
    assert loan.origination_principal_minor == 2500000
    assert loan.interest_rate is not None
    assert (loan.interest_rate.percentage, loan.interest_rate.type) == ("5.25", None)
    assert loan.terms.term_months is None
    assert loan.terms.origination_date == dt.date(2002, 8, 28)
    assert loan.terms.maturity_date == dt.date(2032, 7, 28)
    assert loan.payment.next_payment_due_date == dt.date(2019, 5, 28)
    assert loan.payment.minimum_payment_minor == 2500
    assert loan.payment.last_payment_minor == 13805
    assert loan.payment.is_overdue is False


def test_liability_principal_is_the_negated_fos_balance() -> None:
    observed = debts()
    accounts = {a.account_id: a for a in observed.accounts}
    for liability in observed.liabilities:
        assert liability.principal_minor == -accounts[liability.account_id].balances.current_minor
        assert liability.currency == accounts[liability.account_id].currency


@pytest.mark.parametrize(
    ("loan_term", "months"),
    [
        ("30 year", 360),
        ("15 years", 180),
        ("360 months", 360),
        ("6 mo", 6),
        ("thirty years", None),
        ("", None),
        (None, None),
    ],
)
def test_loan_term_is_read_when_parseable(loan_term: str | None, months: int | None) -> None:
    body = plaid_fixture(DEBTS)
    body["liabilities"]["mortgage"][0]["loan_term"] = loan_term
    mortgage = next(x for x in debts(body).liabilities if x.kind is LiabilityKind.MORTGAGE)
    assert mortgage.terms.term_months == months


def test_variable_and_unknown_rate_types() -> None:
    body = plaid_fixture(DEBTS)
    body["liabilities"]["mortgage"][0]["interest_rate"] = {"percentage": 4.125, "type": "variable"}
    mortgage = next(x for x in debts(body).liabilities if x.kind is LiabilityKind.MORTGAGE)
    assert mortgage.interest_rate is not None
    assert mortgage.interest_rate.type is InterestRateType.VARIABLE
    assert mortgage.interest_rate.percentage == "4.125"
    body["liabilities"]["mortgage"][0]["interest_rate"] = {"percentage": None, "type": None}
    mortgage = next(x for x in debts(body).liabilities if x.kind is LiabilityKind.MORTGAGE)
    assert mortgage.interest_rate is None


def test_absent_liability_kinds_are_empty() -> None:
    body = plaid_fixture(DEBTS)
    body["liabilities"] = {"credit": None, "mortgage": [], "student": None}
    assert debts(body).liabilities == ()


@pytest.mark.parametrize(
    ("path", "value", "reason", "field"),
    [
        (
            ("credit", 0, "account_id"),
            "unknown",
            Reason.MISSING_ID,
            "payload.liabilities.credit[0].account_id",
        ),
        (
            ("credit", 0, "minimum_payment_amount"),
            20.001,
            Reason.EXCESS_PRECISION,
            "payload.liabilities.credit[0].minimum_payment_amount",
        ),
        (
            ("mortgage", 0, "next_monthly_payment"),
            "3141.54",
            Reason.WRONG_TYPE,
            "payload.liabilities.mortgage[0].next_monthly_payment",
        ),
        (
            ("student", 0, "next_payment_due_date"),
            "soon",
            Reason.WRONG_TYPE,
            "payload.liabilities.student[0].next_payment_due_date",
        ),
    ],
)
def test_bad_liabilities_are_refused(
    path: tuple[str, int, str], value: Any, reason: Reason, field: str
) -> None:
    body = plaid_fixture(DEBTS)
    kind, index, name = path
    body["liabilities"][kind][index][name] = value
    rejection = refused(body, "liabilities")
    assert (rejection.reason, rejection.field) == (reason, field)


def test_apr_balance_with_sub_cent_precision_is_refused() -> None:
    body = plaid_fixture(DEBTS)
    body["liabilities"]["credit"][0]["aprs"][2]["balance_subject_to_apr"] = 157.015
    rejection = refused(body, "liabilities")
    assert rejection.reason is Reason.EXCESS_PRECISION
    assert rejection.field == "payload.liabilities.credit[0].aprs[2].balance_subject_to_apr"


def test_sub_cent_card_balance_is_refused_even_in_a_liabilities_body() -> None:
    body = plaid_fixture(DEBTS)
    body["accounts"][1]["balances"]["current"] = 410.005
    rejection = refused(body, "liabilities")
    assert rejection.reason is Reason.EXCESS_PRECISION
    assert rejection.field == "payload.accounts[1].balances.current"


def test_investment_account_valuation_reaches_the_profile_rounded_once() -> None:
    from operators.pipeline import ProfileDocument, process

    value = orjson.dumps(envelope(plaid_fixture("accounts_get.json"), kind="accounts"))
    _, outputs = process(None, "t1:p1", record(value), LIMITS)
    (doc,) = [o.doc for o in outputs if isinstance(o, ProfileDocument)]
    k401 = next(a for a in doc["accounts"] if a["name"] == "Plaid 401k")
    assert k401["balances"]["current"] == {"value": "23631.98", "currency": "USD"}
    # 110.00 checking + 23631.98 401k - 65262.00 student loan
    assert doc["net_worth"]["value"] == "-41520.02"


# --- exactness and determinism ----------------------------------------------------------------


@pytest.mark.parametrize("name", [HOLDINGS, TRADES, DEBTS])
def test_same_body_twice_gives_identical_observations(name: str) -> None:
    value = orjson.dumps(envelope(plaid_fixture(name), kind=KINDS[name]))
    first, second = normalise_bytes(value), normalise_bytes(value)
    assert first == second
    assert _canonical(first) == _canonical(second)


@pytest.mark.parametrize("name", [HOLDINGS, TRADES, DEBTS])
def test_exact_parser_and_float_repr_agree_and_no_float_escapes(name: str) -> None:
    from_bytes = normalise_bytes(orjson.dumps(envelope(plaid_fixture(name), kind=KINDS[name])))
    from_floats = normalise(plaid_fixture(name), KINDS[name])
    assert from_bytes == from_floats
    assert find_floats(_documents(from_bytes)) == []


def _documents(observed: Observation) -> dict[str, Any]:
    return {
        name: [item.model_dump(mode="json") for item in getattr(observed, name)]
        for name in type(observed).__dataclass_fields__
        if name != "context"
    }


def _canonical(observed: Observation) -> bytes:
    return canonical_json(_documents(observed))


_QUANTITY_TEXT = st.builds(
    lambda sign, whole, fraction: f"{sign}{whole}{'.' + fraction if fraction else ''}",
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**15).map(str),
    st.text(alphabet="0123456789", max_size=10),
)


@settings(max_examples=200, deadline=None)
@given(quantity=_QUANTITY_TEXT, price=_QUANTITY_TEXT)
def test_any_decimal_quantity_survives_the_normaliser_exactly(quantity: str, price: str) -> None:
    body = plaid_fixture(HOLDINGS)
    body["holdings"] = [
        {**body["holdings"][0], "quantity": "__QUANTITY__", "institution_price": "__PRICE__"}
    ]
    value = orjson.dumps(envelope(body, kind="investments_holdings"))
    value = value.replace(b'"__QUANTITY__"', quantity.encode())
    value = value.replace(b'"__PRICE__"', price.encode())
    observed = normalise_bytes(value)
    assert isinstance(observed, HoldingsObserved)
    (holding,) = observed.holdings
    assert Decimal(holding.quantity) == Decimal(quantity)
    assert Decimal(holding.institution_price) == Decimal(price)
    assert holding.quantity == _expected_text(quantity)
    assert holding.institution_price == _expected_text(price)


def _expected_text(text: str) -> str:
    """The canonical spelling: no trailing fractional zeros, no leading zeros, zero unsigned."""
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    spelled = f"{whole}.{fraction}" if fraction else whole
    return "0" if spelled == "0" else sign + spelled


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+3"), "1000"),
        (Decimal("0.000"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("1.2300"), "1.23"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-0.50"), "-0.5"),
        (Decimal("1317.476"), "1317.476"),
        (0.1, "0.1"),
        (1e16, "10000000000000000"),
        (10000, "10000"),
        (
            Decimal("123456789012345678901234567890.123456789"),
            "123456789012345678901234567890.123456789",
        ),
    ],
)
def test_decimal_text_is_exact_and_canonical(value: Decimal | float | int, text: str) -> None:
    assert decimal_text(value) == text


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (float("inf"), "non_finite_number"),
        (Decimal("NaN"), "non_finite_number"),
        (True, "invalid_amount"),
        ("1.5", "invalid_amount"),
        (Decimal("1E+999999999"), "invalid_amount"),
    ],
)
def test_decimal_text_refuses_what_is_not_a_finite_number(value: Any, code: str) -> None:
    with pytest.raises(MoneyError) as caught:
        decimal_text(value)
    assert caught.value.code == code


def test_fos_models_refuse_a_non_canonical_decimal_text() -> None:
    fields = {"security_id": "s", "provider": "plaid", "provider_security_id": "s"}
    for text in ("1.50", "01", "-0", "1e3", "+1", ".5"):
        with pytest.raises(ValidationError):
            UnifiedSecurity(**fields, type=SecurityType.EQUITY, close_price=text)
