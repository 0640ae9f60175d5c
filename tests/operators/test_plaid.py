"""The Plaid normaliser on Plaid-shaped fixtures and on hand-made edge cases."""

from __future__ import annotations

import datetime as dt

import pytest

from operators import plaid
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.observations import AccountsObserved, TransactionsObserved
from schemas.envelopes import ConnectEnvelope
from schemas.fos import AccountType, Channel, TransactionStatus
from schemas.records import Reason
from tests.support.envelopes import envelope, plaid_fixture, plaid_txn, sync_page

LIMITS = DecodeLimits()


def _accounts(body: dict) -> AccountsObserved:
    (observed,) = plaid.normalise(
        ConnectEnvelope.model_validate(envelope(body, kind="accounts")), LIMITS
    )
    assert isinstance(observed, AccountsObserved)
    return observed


def _page(body: dict) -> TransactionsObserved:
    (observed,) = plaid.normalise(ConnectEnvelope.model_validate(envelope(body)), LIMITS)
    assert isinstance(observed, TransactionsObserved)
    return observed


def test_balances_fixture_turns_owed_amounts_into_negative_balances() -> None:
    observed = _accounts(plaid_fixture("accounts_balance_get.json"))
    by_name = {a.name: a for a in observed.accounts}
    assert sorted(by_name) == ["Plaid Checking", "Plaid Credit Card", "Plaid Student Loan"]
    checking = by_name["Plaid Checking"]
    assert checking.type is AccountType.DEPOSITORY
    assert checking.subtype == "CHECKING"
    assert (checking.balances.current_minor, checking.balances.available_minor) == (11000, 10000)
    card = by_name["Plaid Credit Card"]
    assert card.type is AccountType.CREDIT
    assert card.subtype == "CREDIT_CARD"
    assert card.balances.current_minor == -41000
    assert card.balances.limit_minor == 200000
    loan = by_name["Plaid Student Loan"]
    assert loan.balances.current_minor == -6526200
    assert {a.currency for a in observed.accounts} == {"USD"}


def test_liabilities_fixture_mortgage_balance_is_exact_and_negative() -> None:
    observed = _accounts(plaid_fixture("liabilities_get.json"))
    mortgage = next(a for a in observed.accounts if a.subtype == "MORTGAGE")
    assert mortgage.type is AccountType.LOAN
    assert mortgage.balances.current_minor == -5630206


def test_investment_valuation_is_rounded_once_not_refused() -> None:
    observed = _accounts(plaid_fixture("accounts_get.json"))
    by_name = {a.name: a for a in observed.accounts}
    k401 = by_name["Plaid 401k"]
    assert k401.type is AccountType.INVESTMENT
    # 23631.9805 is quantity x price, not a settled amount: half-even once to 23631.98.
    assert k401.balances.current_minor == 2363198
    assert by_name["Plaid Checking"].balances.current_minor == 11000
    assert by_name["Plaid Student Loan"].balances.current_minor == -6526200


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (0, "current", 110.005),
        (0, "available", 100.001),
        (1, "available", 23631.9805),
        (2, "current", 65262.001),
    ],
)
def test_sub_cent_cash_and_loan_balances_are_still_refused(
    index: int, field: str, value: float
) -> None:
    body = plaid_fixture("accounts_get.json")
    body["accounts"][index]["balances"][field] = value
    with pytest.raises(RejectedInput) as caught:
        _accounts(body)
    assert caught.value.reason is Reason.EXCESS_PRECISION
    assert caught.value.field == f"payload.accounts[{index}].balances.{field}"


def test_transactions_fixture_flips_plaid_sign_and_keeps_dates() -> None:
    body = plaid_fixture("transactions_get.json")
    observed = _page(sync_page(added=body["transactions"]))
    (upsert,) = observed.upserts
    txn = upsert.transaction
    assert txn.amount_minor == -230721
    assert txn.currency == "USD"
    assert txn.status is TransactionStatus.POSTED
    assert txn.dates.posted == dt.date(2017, 1, 29)
    assert txn.dates.authorised == dt.date(2017, 1, 27)
    assert txn.details.channel is Channel.IN_STORE
    assert txn.merchant.raw_name == "Apple Store"
    assert txn.merchant.clean_name == "Apple"
    assert txn.enrichment.vendor_category == ("Shops", "Computers and Electronics")
    assert txn.provider_transaction_id == "lPNjeW1nR6CDn5okmGQ6hEpMo4lLNoSrzqDje"
    assert txn.account_id == plaid.account_id("BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp")


def test_money_in_is_positive_and_pending_has_no_posted_date() -> None:
    observed = _page(sync_page(added=[plaid_txn("t-1", -2500.5, pending=True)]))
    txn = observed.upserts[0].transaction
    assert txn.amount_minor == 250050
    assert txn.status is TransactionStatus.PENDING
    assert txn.dates.posted is None
    assert txn.dates.authorised == dt.date(2025, 12, 20)


def test_posted_transaction_names_the_pending_one_it_settles() -> None:
    observed = _page(
        sync_page(
            added=[plaid_txn("t-2", 10, pending_of="t-1")],
            removed=[{"transaction_id": "t-1", "account_id": "acc-chk"}],
        )
    )
    pending_id = plaid.transaction_id("acc-chk", "t-1")
    assert observed.upserts[0].transaction.pending_transaction_id == pending_id
    assert observed.removed == (pending_id,)


def test_modified_entries_are_flagged_and_has_more_marks_a_middle_page() -> None:
    observed = _page(sync_page(modified=[plaid_txn("t-1", 3)], has_more=True))
    assert observed.upserts[0].modified is True
    assert observed.context.last_page is False


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        (
            {"iso_currency_code": None, "unofficial_currency_code": "BTC"},
            Reason.UNKNOWN_CURRENCY,
            "payload.added[0].unofficial_currency_code",
        ),
        ({"iso_currency_code": None}, Reason.MISSING_FIELD, "payload.added[0].iso_currency_code"),
        ({"iso_currency_code": "XYZ"}, Reason.UNKNOWN_CURRENCY, "payload.added[0].amount"),
        ({"amount": 1.234}, Reason.EXCESS_PRECISION, "payload.added[0].amount"),
        ({"amount": "12.00"}, Reason.WRONG_TYPE, "payload.added[0].amount"),
        ({"date": "2026-03-01"}, Reason.FUTURE_DATE, "payload.added[0].date"),
        ({"transaction_id": None}, Reason.WRONG_TYPE, "payload.added[0].transaction_id"),
    ],
)
def test_bad_transactions_are_refused_with_reason_and_field(
    change: dict, reason: Reason, field: str
) -> None:
    with pytest.raises(RejectedInput) as caught:
        _page(sync_page(added=[{**plaid_txn("t-1", 1), **change}]))
    assert caught.value.reason is reason
    assert caught.value.field == field


def test_missing_transaction_id_is_a_missing_id() -> None:
    txn = plaid_txn("t-1", 1)
    del txn["transaction_id"]
    with pytest.raises(RejectedInput) as caught:
        _page(sync_page(added=[txn]))
    assert caught.value.reason is Reason.MISSING_ID
    assert caught.value.field == "payload.added[0].transaction_id"


def test_jpy_amounts_have_no_minor_digits() -> None:
    observed = _page(sync_page(added=[plaid_txn("t-1", 1200, currency="JPY")]))
    assert observed.upserts[0].transaction.amount_minor == -1200
    with pytest.raises(RejectedInput) as caught:
        _page(sync_page(added=[plaid_txn("t-1", 1200.5, currency="JPY")]))
    assert caught.value.reason is Reason.EXCESS_PRECISION
