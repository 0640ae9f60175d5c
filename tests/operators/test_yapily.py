"""The Yapily normaliser on Yapily-shaped bodies and on hand-made edge cases.

The bodies follow Yapily's documented response shapes; amounts are ``Decimal`` because the
upstream JSON parser turns every JSON number into one.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators import yapily
from operators.decode import DecodeLimits, decode_envelope
from operators.exceptions import RejectedInput
from operators.observations import AccountsObserved, TransactionsObserved
from operators.twin import EventSourceInfo, apply, initial_state
from schemas.envelopes import ConnectEnvelope
from schemas.fos import AccountType, TransactionStatus, TransactionType
from schemas.money import format_minor
from schemas.records import Reason
from tests.support.envelopes import record

LIMITS = DecodeLimits()
RECEIVED_AT = "2026-01-02T09:00:00Z"
CHECKING_ID = "a3f1c9e2-7b4d-4e1a-9c2f-5d8e6b7a1c30"


# --- bodies -----------------------------------------------------------------------------


def _amount(value: str, currency: str = "GBP") -> dict[str, Any]:
    return {"amount": Decimal(value), "currency": currency}


def _balance(
    kind: str,
    value: str,
    *,
    currency: str = "GBP",
    included: bool = False,
    lines: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    return {
        "type": kind,
        "dateTime": "2026-01-02T08:55:12.413Z",
        "balanceAmount": _amount(value, currency),
        "creditLineIncluded": included,
        "creditLines": [
            {"type": line_type, "creditLineAmount": _amount(amount, currency)}
            for line_type, amount in lines
        ],
    }


def current_account() -> dict[str, Any]:
    """A UK current account with an arranged overdraft and a pending card payment."""
    return {
        "id": CHECKING_ID,
        "type": "Personal - Current",
        "description": "Classic Current Account",
        "balance": Decimal("1511.46"),
        "currency": "GBP",
        "usageType": "PERSONAL",
        "accountType": "CURRENT",
        "nickname": "Bills",
        "details": "",
        "accountNames": [{"name": "Ms Jane Doe"}],
        "accountIdentifications": [
            {"type": "SORT_CODE", "identification": "040004"},
            {"type": "ACCOUNT_NUMBER", "identification": "37618166"},
        ],
        "accountBalances": [
            _balance("CLOSING_BOOKED", "1498.20"),
            _balance("INTERIM_BOOKED", "1523.45"),
            _balance("INTERIM_AVAILABLE", "2011.46", included=True, lines=[("PRE_AGREED", "500")]),
            _balance("INTERIM_AVAILABLE", "1511.46"),
        ],
    }


def credit_card() -> dict[str, Any]:
    """A credit card owing 412.30 on a 3,000.00 limit."""
    return {
        "id": "cc-5f2e9a71",
        "type": "Personal - Credit Card",
        "description": "Platinum Cashback Credit Card",
        "balance": Decimal("-412.30"),
        "currency": "GBP",
        "usageType": "PERSONAL",
        "accountType": "CREDIT_CARD",
        "accountNames": [{"name": "Ms Jane Doe"}],
        "accountIdentifications": [{"type": "PAN", "identification": "5555********4444"}],
        "accountBalances": [
            _balance("CLOSING_BOOKED", "-412.30"),
            _balance(
                "INTERIM_AVAILABLE",
                "2587.70",
                included=True,
                lines=[("AVAILABLE", "2587.70"), ("CREDIT", "3000.00")],
            ),
        ],
    }


def eur_savings() -> dict[str, Any]:
    """A German savings account whose bank reports only an expected balance."""
    return {
        "id": "sav-de-0532013000",
        "type": "Personal - Savings",
        "description": "Tagesgeld",
        "balance": Decimal("10250.50"),
        "currency": "EUR",
        "usageType": "PERSONAL",
        "accountType": "SAVINGS",
        "nickname": "Rainy day",
        "accountIdentifications": [
            {"type": "IBAN", "identification": "DE89 3704 0044 0532 0130 00"},
            {"type": "BIC", "identification": "COBADEFFXXX"},
        ],
        "accountBalances": [_balance("EXPECTED", "10250.5", currency="EUR")],
    }


def accounts_body(*accounts: dict[str, Any]) -> dict[str, Any]:
    data = list(accounts) or [current_account(), credit_card(), eur_savings()]
    return {"meta": {"tracingId": "0d5b1f3c8e2a4b6d", "count": len(data)}, "data": data}


def card_payment(**changes: Any) -> dict[str, Any]:
    """A booked card payment at a coffee shop, as Yapily lists it."""
    row: dict[str, Any] = {
        "id": "5b0c7d2e-91f4-4a38-b6de-3c1f0a9e8d71",
        "date": "2025-12-30T12:41:07.000Z",
        "bookingDateTime": "2025-12-31T00:00:00.000Z",
        "valueDateTime": "2025-12-30T00:00:00.000Z",
        "status": "BOOKED",
        "amount": Decimal("-4.85"),
        "currency": "GBP",
        "transactionAmount": _amount("-4.85"),
        "reference": "",
        "description": "PRET A MANGER LONDON GB",
        "transactionInformation": ["PRET A MANGER LONDON GB"],
        "merchant": {"merchantName": "Pret A Manger", "merchantCategoryCode": "5814"},
        "isoBankTransactionCode": {
            "domainCode": {"code": "PMNT", "name": "Payments"},
            "familyCode": {"code": "CCRD", "name": "Customer Card Transactions"},
            "subFamilyCode": {"code": "POSD", "name": "Point-of-Sale (POS) Debit"},
        },
        "proprietaryBankTransactionCode": {"code": "DEB", "issuer": "NWB"},
        "balance": {"type": "CLOSING_BOOKED", "balanceAmount": _amount("1518.60")},
        "enrichment": {
            "categorisation": {"categories": ["FOOD_AND_DRINK", "COFFEE"], "source": "yapily"},
            "transactionHash": {"hash": "9a0f2c4e6b8d1f3a5c7e9b0d2f4a6c8e.1"},
        },
    }
    row.update(changes)
    return row


def salary() -> dict[str, Any]:
    return {
        "id": "e3a1d6b4-0f2c-4b7e-8d95-6a4c2e1f0b93",
        "date": "2025-12-29T06:02:11.000Z",
        "bookingDateTime": "2025-12-29T06:02:11.000Z",
        "valueDateTime": "2025-12-29T00:00:00.000Z",
        "status": "BOOKED",
        "transactionAmount": _amount("2450.00"),
        "description": "ACME LTD SALARY DEC",
        "isoBankTransactionCode": {
            "domainCode": {"code": "PMNT"},
            "familyCode": {"code": "RCDT"},
            "subFamilyCode": {"code": "DMCT"},
        },
        "balance": {"type": "CLOSING_BOOKED", "balanceAmount": _amount("1523.45")},
    }


def pending_subscription() -> dict[str, Any]:
    return {
        "id": "pnd-7c2a9e14",
        "date": "2026-01-01T20:15:43.000Z",
        "status": "PENDING",
        "transactionAmount": _amount("-11.99"),
        "description": "NETFLIX.COM",
        "merchant": {"merchantName": "Netflix", "merchantCategoryCode": "4899"},
        "enrichment": {"categorisation": {"categories": ["ENTERTAINMENT"]}},
    }


def account_fee() -> dict[str, Any]:
    return {
        "id": "fee-2025-12",
        "bookingDateTime": "2025-12-31T23:59:59Z",
        "status": "BOOKED",
        "transactionAmount": _amount("-3.00"),
        "description": "MONTHLY ACCOUNT FEE",
        "isoBankTransactionCode": {"subFamilyCode": {"code": "CHRG", "name": "Charges"}},
    }


def transactions_body(
    *rows: dict[str, Any], more: bool = False, links_next: bool = False
) -> dict[str, Any]:
    data = list(rows)
    pagination: dict[str, Any] = {
        "totalCount": 1500,
        "self": {"limit": 1000, "sort": "-date", "offset": 0},
    }
    if more:
        pagination["next"] = {"from": "2025-01-01T00:00:00Z", "limit": 1000, "cursor": "c-2"}
    body: dict[str, Any] = {
        "meta": {"tracingId": "488ce8243ee7", "count": len(data), "pagination": pagination},
        "data": data,
    }
    if links_next:
        body["links"] = {"self": "https://api.example/self", "next": "https://api.example/next"}
    return body


def _envelope(
    payload: dict[str, Any],
    kind: str,
    *,
    page: int = 0,
    received_at: str = RECEIVED_AT,
) -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "profile_id": "p1",
        "provider": "yapily",
        "connection_id": "consent-8d2f",
        "sync_id": "sync-1",
        "received_at": received_at,
        "kind": kind,
        "page": page,
        "payload": payload,
    }


def _accounts(body: dict[str, Any]) -> AccountsObserved:
    envelope = ConnectEnvelope.model_validate(_envelope(body, "yapily_accounts"))
    (observed,) = yapily.normalise(envelope, LIMITS)
    assert isinstance(observed, AccountsObserved)
    return observed


def _balances(payload: dict[str, Any]) -> AccountsObserved:
    envelope = ConnectEnvelope.model_validate(_envelope(payload, "yapily_balances"))
    (observed,) = yapily.normalise(envelope, LIMITS)
    assert isinstance(observed, AccountsObserved)
    return observed


def _page(
    body: dict[str, Any], *, account_id: str = CHECKING_ID, page: int = 0
) -> TransactionsObserved:
    payload = {"account_id": account_id, "body": body}
    envelope = ConnectEnvelope.model_validate(_envelope(payload, "yapily_transactions", page=page))
    (observed,) = yapily.normalise(envelope, LIMITS)
    assert isinstance(observed, TransactionsObserved)
    return observed


def _refused(call: Any, *args: Any) -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        call(*args)
    return caught.value


# --- accounts ---------------------------------------------------------------------------


def test_current_account_takes_interim_booked_and_own_funds_available() -> None:
    (account,) = _accounts(accounts_body(current_account())).accounts
    assert account.account_id == yapily.account_id(CHECKING_ID)
    assert account.provider == "yapily"
    assert account.provider_account_id == CHECKING_ID
    assert account.connection_id == "consent-8d2f"
    assert account.type is AccountType.DEPOSITORY
    assert account.subtype == "CURRENT"
    assert (account.name, account.official_name) == ("Bills", "Classic Current Account")
    assert account.mask == "8166"
    assert account.currency == "GBP"
    # INTERIM_BOOKED beats CLOSING_BOOKED; the available balance without the overdraft beats
    # the one that includes it; the arranged overdraft is the limit.
    assert account.balances.current_minor == 152345
    assert account.balances.available_minor == 151146
    assert account.balances.limit_minor == 50000


def test_credit_card_owed_balance_stays_negative_and_limit_is_the_credit_line() -> None:
    (card,) = _accounts(accounts_body(credit_card())).accounts
    assert card.type is AccountType.CREDIT
    assert card.subtype == "CREDIT_CARD"
    assert card.name == "Platinum Cashback Credit Card"
    assert card.mask == "4444"
    assert card.balances.current_minor == -41230
    assert card.balances.available_minor == 258770
    assert card.balances.limit_minor == 300000


def test_eur_savings_without_booked_balance_falls_back_to_the_headline_balance() -> None:
    (savings,) = _accounts(accounts_body(eur_savings())).accounts
    assert savings.type is AccountType.DEPOSITORY
    assert savings.subtype == "SAVINGS"
    assert savings.currency == "EUR"
    assert savings.mask == "3000"
    assert savings.balances.current_minor == 1025050
    assert savings.balances.available_minor == 1025050
    assert savings.balances.limit_minor is None


def test_accounts_body_yields_one_observation_of_every_account() -> None:
    observed = _accounts(accounts_body())
    assert observed.context.provider == "yapily"
    assert observed.context.last_page is True
    assert [a.provider_account_id for a in observed.accounts] == [
        CHECKING_ID,
        "cc-5f2e9a71",
        "sav-de-0532013000",
    ]


def _with_balances(*balances: dict[str, Any], headline: str | None = None) -> dict[str, Any]:
    account = current_account()
    account["accountBalances"] = list(balances)
    account["balance"] = None if headline is None else Decimal(headline)
    return account


@pytest.mark.parametrize(
    ("balances", "headline", "current", "available"),
    [
        pytest.param(
            [_balance("CLOSING_BOOKED", "10.00"), _balance("OPENING_BOOKED", "9.00")],
            "11.00",
            1000,
            None,
            id="closing-booked-beats-opening-and-headline",
        ),
        pytest.param(
            [_balance("OPENING_BOOKED", "9.00"), _balance("EXPECTED", "8.00")],
            "11.00",
            900,
            800,
            id="opening-booked-beats-headline",
        ),
        pytest.param(
            [_balance("EXPECTED", "8.00"), _balance("INTERIM_AVAILABLE", "7.00")],
            "11.00",
            1100,
            700,
            id="headline-beats-available-types",
        ),
        pytest.param(
            [_balance("INTERIM_AVAILABLE", "7.00"), _balance("EXPECTED", "8.00")],
            None,
            800,
            700,
            id="expected-is-current-without-booked-or-headline",
        ),
        pytest.param(
            [_balance("CLOSING_AVAILABLE", "6.00"), _balance("INFORMATION", "5.00")],
            None,
            600,
            600,
            id="closing-available-is-the-last-resort",
        ),
        pytest.param(
            [
                _balance("INTERIM_AVAILABLE", "12.00", included=True),
                _balance("INTERIM_AVAILABLE", "7.00", included=True),
                _balance("INTERIM_BOOKED", "3.00"),
            ],
            None,
            300,
            1200,
            id="first-listed-wins-among-equals",
        ),
    ],
)
def test_balance_precedence(
    balances: list[dict[str, Any]], headline: str | None, current: int, available: int | None
) -> None:
    (account,) = _accounts(accounts_body(_with_balances(*balances, headline=headline))).accounts
    assert account.balances.current_minor == current
    assert account.balances.available_minor == available


def test_credit_line_precedence_credit_then_pre_agreed_and_never_temporary() -> None:
    lines = [("TEMPORARY", "900"), ("PRE_AGREED", "250"), ("AVAILABLE", "100")]
    overdraft = _with_balances(_balance("INTERIM_BOOKED", "1.00", lines=lines))
    assert _accounts(accounts_body(overdraft)).accounts[0].balances.limit_minor == 25000
    both = _with_balances(
        _balance("INTERIM_BOOKED", "1.00", lines=lines),
        _balance("INTERIM_AVAILABLE", "1.00", lines=[("CREDIT", "1200")]),
    )
    assert _accounts(accounts_body(both)).accounts[0].balances.limit_minor == 120000
    none = _with_balances(_balance("INTERIM_BOOKED", "1.00", lines=[("TEMPORARY", "900")]))
    assert _accounts(accounts_body(none)).accounts[0].balances.limit_minor is None


@pytest.mark.parametrize(
    ("account_type", "legacy_type", "subtype", "kind"),
    [
        ("MORTGAGE", "Personal - Mortgage", "MORTGAGE", AccountType.LOAN),
        ("LOAN", None, "LOAN", AccountType.LOAN),
        (None, "Business - Current", "CURRENT", AccountType.DEPOSITORY),
        ("UNKNOWN", "BUSINESS_SAVINGS", "SAVINGS", AccountType.DEPOSITORY),
        (None, "Personal - Credit Card", "CREDIT_CARD", AccountType.CREDIT),
        ("TAX", None, "TAX", AccountType.OTHER),
        (None, None, None, AccountType.OTHER),
    ],
)
def test_account_type_comes_from_account_type_else_the_older_type_text(
    account_type: str | None, legacy_type: str | None, subtype: str | None, kind: AccountType
) -> None:
    raw = current_account()
    raw.update(accountType=account_type, type=legacy_type)
    (account,) = _accounts(accounts_body(raw)).accounts
    assert (account.subtype, account.type) == (subtype, kind)


def test_name_falls_back_to_description_then_type_then_id() -> None:
    raw = current_account()
    raw.update(nickname=None, description=None)
    assert _accounts(accounts_body(raw)).accounts[0].name == "Personal - Current"
    raw.update(type=None, accountType=None)
    assert _accounts(accounts_body(raw)).accounts[0].name == CHECKING_ID


def test_exponent_notation_amounts_are_exact() -> None:
    raw = eur_savings()
    raw["accountBalances"] = [_balance("INTERIM_BOOKED", "-3.07920860411E9", currency="EUR")]
    (account,) = _accounts(accounts_body(raw)).accounts
    assert account.balances.current_minor == -307920860411


# --- balances ---------------------------------------------------------------------------


def _balances_payload(**data: Any) -> dict[str, Any]:
    body_data = {
        "mainBalanceAmount": _amount("1480.00"),
        "balances": [
            _balance("INTERIM_BOOKED", "1480.00"),
            _balance("INTERIM_AVAILABLE", "1455.01"),
        ],
    }
    body_data.update(data)
    return {"account": current_account(), "body": {"meta": {"tracingId": "x"}, "data": body_data}}


def test_balances_envelope_gives_the_listed_account_with_new_balances() -> None:
    observed = _balances(_balances_payload())
    (account,) = observed.accounts
    assert observed.context.last_page is True
    (listed,) = _accounts(accounts_body(current_account())).accounts
    # Everything but the balances matches the listing, so the twin sees only a balance change.
    assert account.model_dump(exclude={"balances"}) == listed.model_dump(exclude={"balances"})
    assert account.balances.current_minor == 148000
    assert account.balances.available_minor == 145501
    # The body is the whole report: the listing's overdraft credit line is not carried over.
    assert account.balances.limit_minor is None


def test_balances_main_balance_amount_is_the_fallback_for_current() -> None:
    payload = _balances_payload(balances=[_balance("INTERIM_AVAILABLE", "1455.01")])
    (account,) = _balances(payload).accounts
    assert account.balances.current_minor == 148000
    assert account.balances.available_minor == 145501


def test_credit_card_balances_keep_the_owed_sign() -> None:
    payload = {
        "account": credit_card(),
        "body": {
            "data": {
                "mainBalanceAmount": _amount("-530.10"),
                "balances": [
                    _balance("INTERIM_BOOKED", "-530.10"),
                    _balance(
                        "INTERIM_AVAILABLE", "2469.90", included=True, lines=[("CREDIT", "3000")]
                    ),
                ],
            }
        },
    }
    (card,) = _balances(payload).accounts
    assert (card.balances.current_minor, card.balances.limit_minor) == (-53010, 300000)


# --- transactions -----------------------------------------------------------------------


def test_transactions_page_keeps_yapily_sign_dates_merchant_and_balance() -> None:
    observed = _page(
        transactions_body(card_payment(), salary(), pending_subscription(), account_fee())
    )
    assert observed.removed == ()
    assert all(u.modified for u in observed.upserts)
    card, pay, pending, fee = (u.transaction for u in observed.upserts)

    assert card.transaction_id == yapily.transaction_id(
        CHECKING_ID, "5b0c7d2e-91f4-4a38-b6de-3c1f0a9e8d71"
    )
    assert card.account_id == yapily.account_id(CHECKING_ID)
    assert (card.provider, card.provider_account_id) == ("yapily", CHECKING_ID)
    assert (card.amount_minor, card.currency) == (-485, "GBP")
    assert card.status is TransactionStatus.POSTED
    assert card.dates.posted == dt.date(2025, 12, 31)
    assert card.dates.authorised == dt.date(2025, 12, 30)
    assert card.merchant.raw_name == "PRET A MANGER LONDON GB"
    assert card.merchant.clean_name == "Pret A Manger"
    assert card.merchant.category_code == "5814"
    assert card.enrichment.vendor_category == ("FOOD_AND_DRINK", "COFFEE")
    assert card.balance_after_minor == 151860
    assert card.details.type is TransactionType.PAYMENT

    assert (pay.amount_minor, pay.balance_after_minor) == (245000, 152345)
    assert pay.merchant.clean_name is None
    assert pay.dates.posted == pay.dates.authorised == dt.date(2025, 12, 29)

    assert pending.status is TransactionStatus.PENDING
    assert pending.amount_minor == -1199
    assert pending.dates.posted is None
    assert pending.dates.authorised == dt.date(2026, 1, 1)
    assert pending.provider_transaction_id == "pnd-7c2a9e14"
    assert pending.balance_after_minor is None

    assert fee.details.type is TransactionType.FEE
    assert (fee.amount_minor, fee.dates.posted, fee.dates.authorised) == (
        -300,
        dt.date(2025, 12, 31),
        None,
    )


def test_deprecated_amount_and_currency_are_the_fallback() -> None:
    row = card_payment(transactionAmount=None, amount=Decimal("12.5"), currency="GBP")
    txn = _page(transactions_body(row)).upserts[0].transaction
    assert (txn.amount_minor, txn.currency) == (1250, "GBP")


def test_booking_time_with_an_offset_is_posted_on_its_utc_day() -> None:
    row = card_payment(bookingDateTime="2026-01-01T00:30:00+01:00", valueDateTime=None)
    txn = _page(transactions_body(row)).upserts[0].transaction
    assert txn.dates.posted == dt.date(2025, 12, 31)
    assert txn.dates.authorised is None


def test_value_date_after_booking_is_not_taken_as_when_it_happened() -> None:
    row = card_payment(valueDateTime="2026-01-05T00:00:00Z")
    assert _page(transactions_body(row)).upserts[0].transaction.dates.authorised is None


def test_pending_without_date_takes_booking_time() -> None:
    row = pending_subscription()
    del row["date"]
    row["bookingDateTime"] = "2026-01-02T07:00:00"
    assert _page(transactions_body(row)).upserts[0].transaction.dates.authorised == dt.date(
        2026, 1, 2
    )


def test_description_falls_back_to_information_then_merchant_name() -> None:
    row = card_payment(description=None, transactionInformation=["", "CARD 4821 PRET"])
    assert _page(transactions_body(row)).upserts[0].transaction.merchant.raw_name == (
        "CARD 4821 PRET"
    )
    row = card_payment(description=None, transactionInformation=None)
    assert _page(transactions_body(row)).upserts[0].transaction.merchant.raw_name == (
        "Pret A Manger"
    )


# --- ids --------------------------------------------------------------------------------


def _without_ids(**changes: Any) -> dict[str, Any]:
    row = card_payment(**changes)
    row["id"] = None
    row["enrichment"] = {"categorisation": {"categories": ["FOOD_AND_DRINK"]}}
    return row


def test_missing_id_falls_back_to_enrichment_hash_then_top_level_hash() -> None:
    row = card_payment()
    del row["id"]
    txn = _page(transactions_body(row)).upserts[0].transaction
    assert txn.provider_transaction_id == "9a0f2c4e6b8d1f3a5c7e9b0d2f4a6c8e.1"
    assert txn.transaction_id == yapily.transaction_id(CHECKING_ID, txn.provider_transaction_id)
    legacy = _without_ids(transactionHash={"hash": "f00dfeed.0"})
    legacy["id"] = ""
    assert _page(transactions_body(legacy)).upserts[0].transaction.provider_transaction_id == (
        "f00dfeed.0"
    )


def test_identical_rows_without_ids_get_distinct_stable_content_ids() -> None:
    body = transactions_body(
        _without_ids(),
        _without_ids(),
        _without_ids(amount=None, transactionAmount=_amount("-4.90")),
    )
    first = [u.transaction for u in _page(body).upserts]
    again = [u.transaction for u in _page(copy.deepcopy(body)).upserts]
    ids = [t.provider_transaction_id for t in first]
    # SHA-256 of ["2025-12-31", -485, "GBP", "PRET A MANGER LONDON GB", n] as canonical JSON:
    # pinned, because a change of recipe would re-key every stored transaction without an id.
    assert ids[:2] == [
        "content-bdcac56e59ab562c4b8e7e76da5ade94",
        "content-bbdc7ff8f374a10c5e0be321b1195707",
    ]
    assert ids[2].startswith("content-")
    assert len(set(ids)) == 3
    assert [t.transaction_id for t in again] == [t.transaction_id for t in first]
    assert len({t.transaction_id for t in first}) == 3


def test_content_id_ignores_status_so_a_booked_row_keeps_its_pending_id() -> None:
    booked = _without_ids(bookingDateTime="2025-12-30T18:00:00Z", valueDateTime=None)
    pending = _without_ids(status="PENDING", bookingDateTime=None, balance=None)
    ids = [
        _page(transactions_body(row)).upserts[0].transaction.provider_transaction_id
        for row in (pending, booked)
    ]
    assert ids[0] == ids[1]


def test_content_id_counts_only_identical_rows_and_the_fos_id_is_per_account() -> None:
    other_day = _without_ids(bookingDateTime="2025-12-30T10:00:00Z")
    one = _page(transactions_body(_without_ids())).upserts[0].transaction
    two = _page(transactions_body(other_day, _without_ids())).upserts[1].transaction
    assert one.provider_transaction_id == two.provider_transaction_id
    elsewhere = _page(transactions_body(_without_ids()), account_id="cc-5f2e9a71").upserts[0]
    assert elsewhere.transaction.provider_transaction_id == one.provider_transaction_id
    assert elsewhere.transaction.transaction_id != one.transaction_id


def test_a_relisted_row_is_a_no_op_and_a_booked_pending_row_an_update_in_the_twin() -> None:
    pending = pending_subscription()
    booked = {**pending, "status": "BOOKED", "bookingDateTime": "2026-01-02T03:00:00Z"}
    state = initial_state("t1:p1")
    caused = []
    for sync, (row, received_at) in enumerate(
        [
            (pending, RECEIVED_AT),
            (pending, "2026-01-02T10:00:00Z"),
            (booked, "2026-01-03T09:00:00Z"),
        ]
    ):
        document = _envelope(
            {"account_id": CHECKING_ID, "body": transactions_body(row)},
            "yapily_transactions",
            received_at=received_at,
        )
        document["sync_id"] = f"sync-{sync}"
        (observed,) = yapily.normalise(ConnectEnvelope.model_validate(document), LIMITS)
        state, events = apply(
            state, observed, EventSourceInfo("connect.sync_completed.v1", 0, sync)
        )
        caused.append([event.type for event in events])
    assert caused == [
        ["TransactionAdded", "TransactionEnriched", "TransactionsImported"],
        [],
        ["TransactionUpdated", "TransactionEnriched", "TransactionsImported"],
    ]


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "last_page"),
    [
        (transactions_body(card_payment()), True),
        (transactions_body(card_payment(), more=True), False),
        (transactions_body(card_payment(), links_next=True), False),
        ({"data": [card_payment()]}, True),
        ({"meta": {"pagination": None}, "data": [], "links": {"next": None}}, True),
    ],
)
def test_last_page_unless_yapily_says_where_to_continue(
    body: dict[str, Any], last_page: bool
) -> None:
    assert _page(body).context.last_page is last_page


def test_page_number_comes_from_the_envelope() -> None:
    observed = _page(transactions_body(card_payment(), more=True), page=3)
    assert (observed.context.page, observed.context.sync_id) == (3, "sync-1")


# --- refusals ---------------------------------------------------------------------------


ROW = "payload.body.data[0]"


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        (
            {"transactionAmount": _amount("-4.85", "gbp")},
            Reason.UNKNOWN_CURRENCY,
            f"{ROW}.transactionAmount.currency",
        ),
        (
            {"transactionAmount": _amount("-4.85", "XAU"), "amount": None},
            Reason.UNKNOWN_CURRENCY,
            f"{ROW}.transactionAmount.currency",
        ),
        (
            {"transactionAmount": _amount("-4.855"), "amount": None},
            Reason.EXCESS_PRECISION,
            f"{ROW}.transactionAmount.amount",
        ),
        (
            {"transactionAmount": {"amount": "-4.85", "currency": "GBP"}},
            Reason.WRONG_TYPE,
            f"{ROW}.transactionAmount.amount",
        ),
        (
            {"transactionAmount": {"amount": True, "currency": "GBP"}},
            Reason.WRONG_TYPE,
            f"{ROW}.transactionAmount.amount",
        ),
        (
            {"transactionAmount": {"amount": Decimal("1")}},
            Reason.MISSING_FIELD,
            f"{ROW}.transactionAmount.currency",
        ),
        ({"status": "SETTLED"}, Reason.WRONG_TYPE, f"{ROW}.status"),
        ({"bookingDateTime": 1767139200}, Reason.WRONG_TYPE, f"{ROW}.bookingDateTime"),
        ({"bookingDateTime": "31/12/2025"}, Reason.WRONG_TYPE, f"{ROW}.bookingDateTime"),
        ({"merchant": "Pret"}, Reason.WRONG_TYPE, f"{ROW}.merchant"),
        ({"bookingDateTime": "2026-01-10T00:00:00Z"}, Reason.FUTURE_DATE, f"{ROW}.bookingDateTime"),
        (
            {"transactionAmount": None, "amount": Decimal("-4.85"), "currency": None},
            Reason.MISSING_FIELD,
            f"{ROW}.currency",
        ),
        (
            {"transactionAmount": None, "amount": None},
            Reason.MISSING_FIELD,
            f"{ROW}.transactionAmount",
        ),
        ({"bookingDateTime": None, "date": None}, Reason.MISSING_FIELD, f"{ROW}.bookingDateTime"),
        ({"amount": Decimal("4.85")}, Reason.INVALID_AMOUNT, f"{ROW}.amount"),
        (
            {"balance": {"balanceAmount": _amount("1518.60", "EUR")}},
            Reason.INVALID_AMOUNT,
            f"{ROW}.balance.balanceAmount.currency",
        ),
        (
            {"balance": {"balanceAmount": _amount("1518.601")}},
            Reason.EXCESS_PRECISION,
            f"{ROW}.balance.balanceAmount.amount",
        ),
    ],
)
def test_bad_transactions_are_refused_with_reason_and_field(
    change: dict[str, Any], reason: Reason, field: str
) -> None:
    refusal = _refused(_page, transactions_body(card_payment(**change)))
    assert (refusal.reason, refusal.field) == (reason, field)


def test_pending_with_a_future_date_is_refused_at_that_date() -> None:
    row = pending_subscription()
    row["date"] = "2026-02-01T00:00:00Z"
    refusal = _refused(_page, transactions_body(row))
    assert (refusal.reason, refusal.field) == (Reason.FUTURE_DATE, f"{ROW}.date")


def test_a_date_at_the_tolerance_edge_is_accepted() -> None:
    row = card_payment(bookingDateTime="2026-01-09T23:59:59Z", valueDateTime=None)
    assert _page(transactions_body(row)).upserts[0].transaction.dates.posted == dt.date(2026, 1, 9)


def test_missing_status_is_a_missing_field() -> None:
    row = card_payment()
    del row["status"]
    refusal = _refused(_page, transactions_body(row))
    assert (refusal.reason, refusal.field) == (Reason.MISSING_FIELD, f"{ROW}.status")


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        ({"body": transactions_body()}, Reason.MISSING_ID, "payload.account_id"),
        ({"account_id": "", "body": transactions_body()}, Reason.MISSING_ID, "payload.account_id"),
        ({"account_id": CHECKING_ID}, Reason.MISSING_FIELD, "payload.body"),
        (
            {"account_id": CHECKING_ID, "body": {"meta": {}}},
            Reason.MISSING_FIELD,
            "payload.body.data",
        ),
        (
            {"account_id": CHECKING_ID, "body": {"data": {"id": "x"}}},
            Reason.WRONG_TYPE,
            "payload.body.data",
        ),
        (
            {"accountId": CHECKING_ID, "account_id": CHECKING_ID, "body": transactions_body()},
            Reason.WRONG_TYPE,
            "payload.accountId",
        ),
    ],
)
def test_bad_transactions_payloads_are_refused(
    payload: dict[str, Any], reason: Reason, field: str
) -> None:
    envelope = ConnectEnvelope.model_validate(_envelope(payload, "yapily_transactions"))
    refusal = _refused(yapily.normalise, envelope, LIMITS)
    assert (refusal.reason, refusal.field) == (reason, field)


def _broken_checking(**changes: Any) -> dict[str, Any]:
    raw = current_account()
    raw.update(changes)
    return raw


ACC = "payload.data[0]"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (accounts_body(_broken_checking(id=None)), Reason.MISSING_ID, f"{ACC}.id"),
        (
            accounts_body(_broken_checking(currency="XAU")),
            Reason.UNKNOWN_CURRENCY,
            f"{ACC}.currency",
        ),
        (
            accounts_body(_broken_checking(currency="Gbp")),
            Reason.UNKNOWN_CURRENCY,
            f"{ACC}.currency",
        ),
        (
            accounts_body(_with_balances(_balance("INTERIM_BOOKED", "1.234"))),
            Reason.EXCESS_PRECISION,
            f"{ACC}.accountBalances[0].balanceAmount.amount",
        ),
        (
            accounts_body(_with_balances(_balance("INTERIM_BOOKED", "1.00", currency="EUR"))),
            Reason.INVALID_AMOUNT,
            f"{ACC}.accountBalances[0].balanceAmount.currency",
        ),
        (
            accounts_body(
                _with_balances(
                    _balance("INTERIM_BOOKED", "1.00"),
                    _balance("INTERIM_AVAILABLE", "1.00", lines=[("CREDIT", "0.001")]),
                )
            ),
            Reason.EXCESS_PRECISION,
            f"{ACC}.accountBalances[1].creditLines[0].creditLineAmount.amount",
        ),
        (
            accounts_body(_with_balances(_balance("INFORMATION", "1.00"))),
            Reason.MISSING_FIELD,
            f"{ACC}.accountBalances",
        ),
        (
            accounts_body(_broken_checking(accountBalances=None, balance=Decimal("0.125"))),
            Reason.EXCESS_PRECISION,
            f"{ACC}.balance",
        ),
        (
            accounts_body(_broken_checking(accountBalances=None, balance="1511.46")),
            Reason.WRONG_TYPE,
            f"{ACC}.balance",
        ),
        (
            accounts_body(
                _broken_checking(
                    accountBalances=[
                        {"type": "EXPECTED", "balanceAmount": {"amount": False, "currency": "GBP"}}
                    ]
                )
            ),
            Reason.WRONG_TYPE,
            f"{ACC}.accountBalances[0].balanceAmount.amount",
        ),
        (
            accounts_body(_broken_checking(currency=None, accountBalances=None)),
            Reason.MISSING_FIELD,
            f"{ACC}.currency",
        ),
        ({"meta": {"count": 0}}, Reason.MISSING_FIELD, "payload.data"),
    ],
)
def test_bad_accounts_are_refused_with_reason_and_field(
    body: dict[str, Any], reason: Reason, field: str
) -> None:
    refusal = _refused(_accounts, body)
    assert (refusal.reason, refusal.field) == (reason, field)


def test_account_currency_falls_back_to_the_current_balance() -> None:
    (account,) = _accounts(accounts_body(_broken_checking(currency=None))).accounts
    assert (account.currency, account.balances.current_minor) == ("GBP", 152345)


def _without_account_id() -> dict[str, Any]:
    payload = _balances_payload()
    del payload["account"]["id"]
    return payload


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (_without_account_id(), Reason.MISSING_ID, "payload.account.id"),
        ({"body": _balances_payload()["body"]}, Reason.MISSING_FIELD, "payload.account"),
        (
            _balances_payload(mainBalanceAmount=_amount("1.005"), balances=[]),
            Reason.EXCESS_PRECISION,
            "payload.body.data.mainBalanceAmount.amount",
        ),
        (
            _balances_payload(balances=[_balance("CLOSING_BOOKED", "1.00", currency="USD")]),
            Reason.INVALID_AMOUNT,
            "payload.body.data.balances[0].balanceAmount.currency",
        ),
        (
            _balances_payload(mainBalanceAmount=None, balances=None),
            Reason.MISSING_FIELD,
            "payload.body.data.balances",
        ),
    ],
)
def test_bad_balances_payloads_are_refused(
    payload: dict[str, Any], reason: Reason, field: str
) -> None:
    refusal = _refused(_balances, payload)
    assert (refusal.reason, refusal.field) == (reason, field)


def test_a_kind_yapily_does_not_send_is_unsupported() -> None:
    envelope = ConnectEnvelope.model_validate(_envelope(accounts_body(), "accounts"))
    refusal = _refused(yapily.normalise, envelope, LIMITS)
    assert (refusal.reason, refusal.field) == (Reason.UNSUPPORTED_KIND, "kind")


# --- properties -------------------------------------------------------------------------


def _wire(minor: int, currency: str, scientific: bool) -> bytes:
    """Return the raw envelope bytes of a one-row page whose amount is a JSON number."""
    exponent = {"GBP": 2, "JPY": 0, "BHD": 3}[currency]
    number = f"{minor}E-{exponent}" if scientific else format_minor(minor, currency)
    row = card_payment(transactionAmount={"amount": "@", "currency": currency}, amount=None)
    row["balance"] = None
    document = _envelope(
        {"account_id": CHECKING_ID, "body": {"data": [row]}}, "yapily_transactions"
    )
    text = orjson.dumps(document)
    return text.replace(b'"@"', number.encode())


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["GBP", "JPY", "BHD"]),
    scientific=st.booleans(),
)
def test_any_minor_amount_sent_as_a_json_number_comes_back_exactly(
    minor: int, currency: str, scientific: bool
) -> None:
    envelope = decode_envelope(record(_wire(minor, currency, scientific)), LIMITS)
    (observed,) = yapily.normalise(envelope, LIMITS)
    assert isinstance(observed, TransactionsObserved)
    txn = observed.upserts[0].transaction
    assert (txn.amount_minor, txn.currency) == (minor, currency)
