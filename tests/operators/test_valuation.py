"""Tests for the rate book and base-currency valuation (FOS §3.2)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.valuation import (
    PIVOT_CURRENCIES,
    RATE_TEXT_DIGITS,
    AccountInput,
    BalanceSheet,
    HoldingInput,
    LineKind,
    PriceOrigin,
    RateBook,
    SecurityInput,
    Side,
    UnpricedReason,
    price_at,
    rate_at,
    value_holdings_and_accounts,
    with_tick,
)
from schemas.canonical import find_floats
from schemas.market import MARKET_TICK, FxTick, PriceTick
from schemas.money import MoneyError

DAY = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 10, 2, tzinfo=dt.UTC)


def fx(base: str, quote: str, rate: str, *, day: int = 1, source: str = "ecb") -> FxTick:
    tick = MARKET_TICK.validate_python(
        {
            "type": "FX",
            "base": base,
            "quote": quote,
            "rate": rate,
            "as_of": f"2026-10-{day:02d}T00:00:00Z",
            "source": source,
        }
    )
    assert isinstance(tick, FxTick)
    return tick


def price(
    value: str,
    currency: str = "USD",
    *,
    security_id: str | None = "sec_aapl",
    symbol: str | None = "AAPL",
    day: int = 1,
    source: str = "iex",
) -> PriceTick:
    tick = MARKET_TICK.validate_python(
        {
            "type": "PRICE",
            "security_id": security_id,
            "quote_symbol": symbol,
            "price": value,
            "currency": currency,
            "as_of": f"2026-10-{day:02d}T15:00:00Z",
            "source": source,
        }
    )
    assert isinstance(tick, PriceTick)
    return tick


def book_of(*ticks: FxTick | PriceTick, depth: int | None = None) -> RateBook:
    book = RateBook() if depth is None else RateBook(depth=depth)
    for tick in ticks:
        book = with_tick(book, tick)
    return book


def account(
    account_id: str, kind: str, currency: str, current_minor: int, *, version: int = 1
) -> AccountInput:
    doc = {
        "account_id": account_id,
        "type": kind,
        "currency": currency,
        "balances": {"current_minor": current_minor, "available_minor": None},
    }
    return AccountInput(doc, f"evt_{account_id}_{version}", version)


def holding(
    holding_id: str = "hold_aapl",
    *,
    account_id: str = "acc_inv",
    security_id: str = "sec_aapl",
    quantity: str = "10",
    institution_price: str = "170",
    institution_value: str = "1700",
    currency: str = "USD",
    quote_symbol: str | None = "AAPL",
    as_of: str | None = "2026-09-30",
    version: int = 7,
) -> HoldingInput:
    doc = {
        "holding_id": holding_id,
        "account_id": account_id,
        "security_id": security_id,
        "quantity": quantity,
        "institution_price": institution_price,
        "institution_price_as_of": as_of,
        "institution_value": institution_value,
        "institution_value_minor": 0,
        "currency": currency,
        "quote_symbol": quote_symbol,
        "quote_currency": currency,
    }
    return HoldingInput(doc, f"evt_holdings_{version}", version)


def security(
    security_id: str = "sec_aapl",
    *,
    close_price: str | None = None,
    as_of: str | None = None,
    currency: str | None = "USD",
) -> SecurityInput:
    doc = {
        "security_id": security_id,
        "quote_symbol": "AAPL",
        "currency": currency,
        "close_price": close_price,
        "close_price_as_of": as_of,
    }
    return SecurityInput(doc, "evt_security", 5)


def value(
    accounts: list[AccountInput],
    holdings: list[HoldingInput],
    book: RateBook,
    *,
    base: str = "GBP",
    at: dt.datetime = LATER,
    securities: list[SecurityInput] | None = None,
) -> BalanceSheet:
    return value_holdings_and_accounts(
        accounts, holdings, securities or [], book, base_currency=base, at=at
    )


BROKERAGE = account("acc_inv", "INVESTMENT", "USD", 180000)


# --- the concrete case ----------------------------------------------------------------------


def test_usd_holding_in_a_gbp_profile_is_valued_exactly() -> None:
    book = book_of(fx("USD", "GBP", "0.80"), price("176.19"))
    sheet = value([BROKERAGE], [holding()], book)
    # 10 x 176.19 USD x 0.80 = 1409.52 GBP, exactly.
    assert sheet.net_worth_minor == 140952
    assert (sheet.assets_minor, sheet.total_debt_minor) == (140952, 0)
    assert sheet.unpriced_assets == ()
    (line,) = sheet.lines
    assert (line.id, line.kind, line.side) == ("hold_aapl", LineKind.HOLDING, Side.ASSET)
    assert (line.currency, line.native_value, line.native_minor) == ("USD", "1761.9", 176190)
    assert line.base_minor == 140952
    # Provenance: the holdings event, the price tick and the FX tick.
    assert (line.source_event_id, line.version) == ("evt_holdings_7", 7)
    assert line.price is not None
    assert line.price.origin is PriceOrigin.TICK
    assert (line.price.instrument, line.price.as_of, line.price.source) == (
        "SEC:sec_aapl",
        "2026-10-01T15:00:00Z",
        "iex",
    )
    (leg,) = line.fx.legs
    assert leg == ("FX:USD/GBP", "2026-10-01T00:00:00Z", "ecb", "0.8", False)
    assert line.fx.rate == "0.8"


def test_investment_account_with_holdings_is_valued_from_them_not_its_balance() -> None:
    book = book_of(fx("USD", "GBP", "0.80"), price("176.19"))
    sheet = value([BROKERAGE], [holding()], book)
    assert [line.kind for line in sheet.lines] == [LineKind.HOLDING]
    (replaced,) = sheet.replaced_balances
    assert replaced == ("acc_inv", "USD", 180000, 1, "evt_acc_inv_1", 1)
    # A newer price tick revalues the account.
    newer = with_tick(book, price("200", day=2))
    third = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)
    assert value([BROKERAGE], [holding()], newer, at=third).net_worth_minor == 160000


def test_investment_account_without_holdings_counts_its_reported_balance() -> None:
    sheet = value([BROKERAGE], [], book_of(fx("USD", "GBP", "0.80")))
    assert sheet.net_worth_minor == 144000
    (line,) = sheet.lines
    assert (line.kind, line.source_event_id, line.price) == (
        LineKind.ACCOUNT,
        "evt_acc_inv_1",
        None,
    )
    assert sheet.replaced_balances == ()


# --- rates ----------------------------------------------------------------------------------


def test_the_latest_rate_at_or_before_the_valuation_time_is_used() -> None:
    book = book_of(fx("USD", "GBP", "0.90", day=5), fx("USD", "GBP", "0.80", day=1))
    on_third = rate_at(book, "USD", "GBP", dt.datetime(2026, 10, 3, tzinfo=dt.UTC))
    assert on_third is not None
    assert on_third.rate == "0.8"
    on_fifth = rate_at(book, "USD", "GBP", dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    assert on_fifth is not None
    assert on_fifth.rate == "0.9"
    before_any = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)
    assert rate_at(book, "USD", "GBP", before_any) is None
    sheet = value([account("acc_usd", "DEPOSITORY", "USD", 1000)], [], book, at=before_any)
    assert sheet.net_worth_minor == 0
    assert [item.reason for item in sheet.unpriced_assets] == [UnpricedReason.NO_FX_RATE]


def test_an_earlier_valuation_time_ignores_a_later_price() -> None:
    book = book_of(fx("USD", "GBP", "0.80"), price("176.19", day=1), price("999", day=9))
    sheet = value([BROKERAGE], [holding()], book, at=dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    assert sheet.net_worth_minor == 140952


def test_inverse_rate_is_the_exact_reciprocal() -> None:
    book = book_of(fx("GBP", "USD", "1.25"), price("176.19"))
    quote = rate_at(book, "USD", "GBP", LATER)
    assert quote is not None
    assert quote.rate == "0.8"
    assert quote.legs[0].inverted
    assert quote.legs[0].instrument == "FX:GBP/USD"
    assert value([BROKERAGE], [holding()], book).net_worth_minor == 140952


def test_a_non_terminating_inverse_still_rounds_only_once() -> None:
    book = book_of(fx("GBP", "USD", "3"))
    quote = rate_at(book, "USD", "GBP", LATER)
    assert quote is not None
    assert quote.exact == Fraction(1, 3)
    assert quote.rate == "0." + "3" * RATE_TEXT_DIGITS
    # Three cents at a third each: every line rounds to 0.00, the exact total to 0.01.
    cents = [account(f"acc_{i}", "DEPOSITORY", "USD", 1) for i in range(3)]
    sheet = value(cents, [], book)
    assert [line.base_minor for line in sheet.lines] == [0, 0, 0]
    assert sheet.net_worth_minor == 1


def test_the_newer_of_a_pair_and_its_inverse_wins() -> None:
    book = book_of(fx("USD", "GBP", "0.80", day=1), fx("GBP", "USD", "2", day=2))
    quote = rate_at(book, "USD", "GBP", LATER)
    assert quote is not None
    assert (quote.rate, quote.legs[0].inverted) == ("0.5", True)
    tie = book_of(fx("USD", "GBP", "0.80"), fx("GBP", "USD", "2"))
    tied = rate_at(tie, "USD", "GBP", LATER)
    assert tied is not None
    assert (tied.rate, tied.legs[0].inverted) == ("0.8", False)


def test_same_currency_needs_no_tick() -> None:
    quote = rate_at(RateBook(), "GBP", "GBP", LATER)
    assert quote is not None
    assert (quote.rate, quote.legs) == ("1", ())
    sheet = value([account("acc_cash", "DEPOSITORY", "GBP", 145050)], [], RateBook())
    assert sheet.net_worth_minor == 145050
    assert sheet.lines[0].fx.legs == ()


def test_cross_rate_goes_through_a_pivot_with_both_legs() -> None:
    assert PIVOT_CURRENCIES == ("USD", "EUR")
    book = book_of(fx("CHF", "USD", "1.25"), fx("GBP", "USD", "1.25"))
    quote = rate_at(book, "CHF", "GBP", LATER)
    assert quote is not None
    assert quote.rate == "1"
    assert [(leg.instrument, leg.inverted) for leg in quote.legs] == [
        ("FX:CHF/USD", False),
        ("FX:GBP/USD", True),
    ]
    # One leg missing: no rate, never 1:1.
    assert rate_at(book_of(fx("CHF", "USD", "1.25")), "CHF", "GBP", LATER) is None
    euro = rate_at(book_of(fx("EUR", "CHF", "0.9"), fx("EUR", "GBP", "0.9")), "CHF", "GBP", LATER)
    assert euro is not None
    assert euro.rate == "1"
    assert euro.legs[0].instrument == "FX:EUR/CHF"


def test_valuation_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        rate_at(RateBook(), "USD", "GBP", dt.datetime(2026, 10, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        value([], [], RateBook(), at=dt.datetime(2026, 10, 1))  # noqa: DTZ001


def test_unknown_base_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        value([], [], RateBook(), base="GBp")


# --- missing rates and prices are visible, never 1:1 and never 0 -----------------------------


def test_no_fx_rate_lists_the_asset_and_leaves_it_out_of_the_totals() -> None:
    accounts = [
        account("acc_gbp", "DEPOSITORY", "GBP", 10000),
        account("acc_chf", "DEPOSITORY", "CHF", 50000),
    ]
    sheet = value(accounts, [], RateBook())
    # Not 1:1: the 500 CHF do not appear as 500 GBP.
    assert sheet.net_worth_minor == 10000
    (item,) = sheet.unpriced_assets
    assert (item.id, item.kind, item.reason) == ("acc_chf", LineKind.ACCOUNT, "no_fx_rate")
    assert (item.currency, item.native_value, item.native_minor) == ("CHF", "500", 50000)
    assert (item.source_event_id, item.version) == ("evt_acc_chf_1", 1)
    chf = next(total for total in sheet.by_currency if total.currency == "CHF")
    assert chf == ("CHF", 50000, 0, 50000, 50000)
    assert item.as_dict()["reason"] == "no_fx_rate"


def test_unconvertible_debt_is_listed_too() -> None:
    sheet = value([account("acc_card", "CREDIT", "USD", -5000)], [], RateBook())
    assert sheet.total_debt_minor == 0
    (item,) = sheet.unpriced_assets
    assert (item.side, item.reason, item.native_minor) == (Side.LIABILITY, "no_fx_rate", -5000)


def test_no_price_tick_falls_back_to_the_institution_price() -> None:
    book = book_of(fx("USD", "GBP", "0.80"))
    sheet = value([BROKERAGE], [holding()], book)
    assert sheet.net_worth_minor == 136000  # 10 x 170 USD x 0.80
    (line,) = sheet.lines
    assert line.price is not None
    assert line.price.origin is PriceOrigin.INSTITUTION_PRICE
    assert (line.price.value, line.price.currency, line.price.as_of) == ("170", "USD", "2026-09-30")
    assert (line.price.source_event_id, line.price.version) == ("evt_holdings_7", 7)


def test_institution_value_is_a_price_source_when_the_price_is_missing() -> None:
    book = book_of(fx("USD", "GBP", "0.80"))
    sheet = value([BROKERAGE], [holding(institution_price="0", institution_value="1500")], book)
    assert sheet.net_worth_minor == 120000
    assert sheet.lines[0].price is not None
    assert sheet.lines[0].price.origin is PriceOrigin.INSTITUTION_VALUE


def test_a_newer_security_close_price_beats_an_older_institution_price() -> None:
    book = book_of(fx("USD", "GBP", "0.80"))
    newer = security(close_price="180", as_of="2026-10-01")
    sheet = value([BROKERAGE], [holding()], book, securities=[newer])
    assert sheet.net_worth_minor == 144000
    assert sheet.lines[0].price is not None
    assert sheet.lines[0].price.origin is PriceOrigin.CLOSE_PRICE
    assert sheet.lines[0].price.source_event_id == "evt_security"
    older = security(close_price="180", as_of="2026-09-01")
    assert value([BROKERAGE], [holding()], book, securities=[older]).net_worth_minor == 136000


def test_no_price_at_all_is_unpriced_not_zero() -> None:
    book = book_of(fx("USD", "GBP", "0.80"))
    cash = account("acc_cash", "DEPOSITORY", "GBP", 5000)
    unknown = holding(institution_price="0", institution_value="0")
    sheet = value([BROKERAGE, cash], [unknown], book)
    assert sheet.net_worth_minor == 5000
    (item,) = sheet.unpriced_assets
    assert (item.id, item.kind, item.reason) == ("hold_aapl", LineKind.HOLDING, "no_price")
    assert (item.currency, item.native_minor) == (None, None)
    assert item.source_event_id == "evt_holdings_7"


def test_a_zero_price_tick_is_a_real_price() -> None:
    book = book_of(fx("USD", "GBP", "0.80"), price("0"))
    sheet = value([BROKERAGE], [holding()], book)
    assert sheet.net_worth_minor == 0
    assert sheet.unpriced_assets == ()
    assert sheet.lines[0].native_value == "0"


def test_a_priced_holding_without_a_rate_keeps_its_price_in_the_listing() -> None:
    sheet = value([BROKERAGE], [holding()], book_of(price("176.19")))
    (item,) = sheet.unpriced_assets
    assert (item.reason, item.native_value, item.native_minor) == ("no_fx_rate", "1761.9", 176190)
    assert item.price is not None
    assert item.price.origin is PriceOrigin.TICK


def test_price_by_quote_symbol_when_the_security_id_is_unknown_to_the_source() -> None:
    book = book_of(fx("USD", "GBP", "0.80"), price("176.19", security_id=None))
    assert value([BROKERAGE], [holding()], book).net_worth_minor == 140952
    quote = price_at(book, security_id="sec_aapl", quote_symbol="AAPL", at=LATER)
    assert quote is not None
    assert quote.instrument == "SYM:AAPL"


# --- minor-unit quotes ------------------------------------------------------------------------


def test_pence_price_is_divided_by_one_hundred_exactly() -> None:
    vod = holding("hold_vod", security_id="sec_vod", quote_symbol="VOD", currency="GBP")
    book = book_of(price("17619", "GBp", security_id="sec_vod", symbol="VOD"))
    sheet = value([account("acc_inv", "INVESTMENT", "GBP", 0)], [vod], book)
    # 10 x 17619 GBp = 10 x 176.19 GBP, not 176190 GBP.
    assert sheet.net_worth_minor == 176190
    (line,) = sheet.lines
    assert (line.currency, line.native_value) == ("GBP", "1761.9")
    assert line.price is not None
    assert (line.price.value, line.price.currency) == ("17619", "GBp")


def test_pence_price_in_a_usd_profile_converts_pounds() -> None:
    vod = holding("hold_vod", security_id="sec_vod", quote_symbol="VOD", currency="GBP")
    book = book_of(
        price("17619.5", "GBX", security_id="sec_vod", symbol="VOD"), fx("GBP", "USD", "1.25")
    )
    sheet = value([], [vod], book, base="USD")
    # 10 x 176.195 GBP = 1761.95 GBP; x 1.25 = 2202.4375 USD -> 2202.44.
    assert sheet.net_worth_minor == 220244


# --- currencies with 0 and 3 decimals ---------------------------------------------------------


def test_jpy_base_currency_has_no_decimals() -> None:
    book = book_of(fx("USD", "JPY", "149.5"), price("176.19"))
    sheet = value([BROKERAGE], [holding()], book, base="JPY")
    assert sheet.net_worth_minor == 263404  # 1761.90 x 149.5 = 263404.05
    half = [
        account("acc_a", "DEPOSITORY", "USD", 1),  # 1.5 JPY
        account("acc_b", "DEPOSITORY", "USD", 2),  # 3.0 JPY
    ]
    halves = value(half, [], book_of(fx("USD", "JPY", "150")), base="JPY")
    # 4.5 JPY rounds half-even to 4 once; per line 1.5 -> 2 and 3.
    assert halves.net_worth_minor == 4
    assert [line.base_minor for line in halves.lines] == [2, 3]


def test_bhd_base_currency_has_three_decimals() -> None:
    book = book_of(fx("USD", "BHD", "0.376"), price("176.19"))
    sheet = value([BROKERAGE], [holding()], book, base="BHD")
    assert sheet.net_worth_minor == 662474  # 1761.90 x 0.376 = 662.4744 BHD
    dinar = value([account("acc_bhd", "DEPOSITORY", "BHD", 1234)], [], RateBook(), base="GBP")
    assert dinar.unpriced_assets[0].native_value == "1.234"


# --- liabilities and the sheet ----------------------------------------------------------------


def test_liabilities_make_debt_positive_and_net_worth_lower() -> None:
    accounts = [
        account("acc_cash", "DEPOSITORY", "GBP", 145050),
        account("acc_card", "CREDIT", "GBP", -50000),
        account("acc_loan", "LOAN", "USD", -100000),
        account("acc_home", "PROPERTY", "GBP", 30000000),
    ]
    sheet = value(accounts, [], book_of(fx("USD", "GBP", "0.80")))
    assert sheet.total_debt_minor == 50000 + 80000
    assert sheet.net_worth_minor == 145050 - 50000 - 80000 + 30000000
    assert sheet.assets_minor == 145050 + 30000000
    sides = {line.id: line.side for line in sheet.lines}
    assert sides["acc_loan"] is Side.LIABILITY
    assert sides["acc_home"] is Side.ASSET
    usd = next(total for total in sheet.by_currency if total.currency == "USD")
    assert usd == ("USD", 0, -100000, -100000, 0)


def test_a_card_in_credit_adds_to_assets_not_negative_debt() -> None:
    accounts = [account("acc_card", "CREDIT", "GBP", 2500)]
    sheet = value(accounts, [], RateBook())
    assert (sheet.total_debt_minor, sheet.net_worth_minor, sheet.assets_minor) == (0, 2500, 2500)


def test_the_three_totals_always_tie() -> None:
    accounts = [
        account("acc_a", "DEPOSITORY", "USD", 1),
        account("acc_b", "CREDIT", "USD", -1),
    ]
    sheet = value(accounts, [], book_of(fx("USD", "GBP", "0.5")))
    # Exact: assets 0.005, debt 0.005, net 0. Each total rounds once; assets is the remainder.
    assert (sheet.net_worth_minor, sheet.total_debt_minor) == (0, 0)
    assert sheet.assets_minor == sheet.net_worth_minor + sheet.total_debt_minor


def test_bad_documents_are_listed_not_crashed_on() -> None:
    accounts = [
        account("acc_odd", "DEPOSITORY", "XXX", 100),
        AccountInput(
            {"account_id": "acc_nobal", "type": "DEPOSITORY", "currency": "GBP"}, "evt", 1
        ),
    ]
    holdings = [holding(quantity="ten")]
    sheet = value(accounts, holdings, RateBook())
    reasons = {item.id: item.reason for item in sheet.unpriced_assets}
    assert reasons == {
        "acc_odd": UnpricedReason.UNKNOWN_CURRENCY,
        "acc_nobal": UnpricedReason.NO_BALANCE,
        "hold_aapl": UnpricedReason.INVALID_NUMBER,
    }


def test_the_newest_version_of_a_document_counts_once() -> None:
    old = account("acc_cash", "DEPOSITORY", "GBP", 100, version=1)
    new = account("acc_cash", "DEPOSITORY", "GBP", 300, version=4)
    for order in ([old, new], [new, old]):
        sheet = value(order, [], RateBook())
        assert sheet.net_worth_minor == 300
        assert sheet.lines[0].version == 4


def test_the_sheet_serialises_to_json_without_floats() -> None:
    book = book_of(fx("GBP", "USD", "3"), price("176.19"))
    doc = value([BROKERAGE], [holding()], book).as_dict()
    assert find_floats(doc) == []
    assert doc["lines"][0]["fx"]["legs"][0]["inverted"] is True
    assert doc["lines"][0]["price"]["origin"] == "tick"


# --- the book ---------------------------------------------------------------------------------


def test_a_repeated_tick_is_a_no_op() -> None:
    once = book_of(fx("USD", "GBP", "0.80"))
    assert with_tick(once, fx("USD", "GBP", "0.80")) == once


def test_same_time_ticks_break_ties_by_source_then_value() -> None:
    book = book_of(
        fx("USD", "GBP", "0.81", source="ecb"),
        fx("USD", "GBP", "0.79", source="fed"),
        fx("USD", "GBP", "0.80", source="ecb"),
    )
    quote = rate_at(book, "USD", "GBP", LATER)
    assert quote is not None
    assert (quote.rate, quote.legs[0].source) == ("0.79", "fed")


def test_a_series_keeps_only_its_newest_points() -> None:
    book = book_of(*(fx("USD", "GBP", f"0.{80 + day}", day=day) for day in range(1, 6)), depth=3)
    assert len(book.series["FX:USD/GBP"]) == 3
    # Days 1 and 2 are gone: an earlier valuation finds no rate rather than a wrong one.
    assert rate_at(book, "USD", "GBP", dt.datetime(2026, 10, 2, 12, tzinfo=dt.UTC)) is None
    # An old tick arriving late does not displace a newer one.
    assert with_tick(book, fx("USD", "GBP", "0.5", day=1)) == book


# --- order independence -----------------------------------------------------------------------

TICKS: list[FxTick | PriceTick] = [
    fx("USD", "GBP", "0.80", day=1),
    fx("USD", "GBP", "0.82", day=3),
    fx("USD", "GBP", "0.79", day=3, source="fed"),
    fx("GBP", "USD", "1.3", day=2),
    fx("EUR", "USD", "1.1", day=2),
    fx("CHF", "EUR", "1.05", day=4),
    fx("USD", "JPY", "149.5", day=2),
    price("176.19", day=1),
    price("180.5", day=3),
    price("181", day=3, source="aaa", security_id=None),
    price("17619", "GBp", security_id="sec_vod", symbol="VOD", day=2),
    price("17700", "GBX", security_id="sec_vod", symbol="VOD", day=4),
]


def _profile() -> tuple[list[AccountInput], list[HoldingInput]]:
    accounts = [
        BROKERAGE,
        account("acc_cash", "DEPOSITORY", "GBP", 145050),
        account("acc_chf", "DEPOSITORY", "CHF", 99999),
        account("acc_card", "CREDIT", "USD", -12345),
        account("acc_yen", "DEPOSITORY", "JPY", 123456),
        account("acc_bhd", "DEPOSITORY", "BHD", 1001),
    ]
    holdings = [
        holding(quantity="10.5"),
        holding("hold_vod", security_id="sec_vod", quote_symbol="VOD", currency="GBP"),
        holding("hold_none", security_id="sec_none", quote_symbol=None, institution_price="0"),
    ]
    return accounts, holdings


@settings(max_examples=150, deadline=None)
@given(
    order=st.permutations(TICKS),
    duplicates=st.lists(st.sampled_from(TICKS), max_size=4),
    depth=st.integers(min_value=1, max_value=4),
    day=st.integers(min_value=1, max_value=5),
    base=st.sampled_from(["GBP", "USD", "JPY", "BHD", "EUR"]),
)
def test_any_arrival_order_gives_the_same_valuation(
    order: list[FxTick | PriceTick],
    duplicates: list[FxTick | PriceTick],
    depth: int,
    day: int,
    base: str,
) -> None:
    expected_book = book_of(*TICKS, depth=depth)
    shuffled_book = book_of(*order, *duplicates, depth=depth)
    assert shuffled_book == expected_book
    accounts, holdings = _profile()
    at = dt.datetime(2026, 10, day, 23, tzinfo=dt.UTC)
    expected = value(accounts, holdings, expected_book, base=base, at=at)
    shuffled = value(accounts[::-1], holdings[::-1], shuffled_book, base=base, at=at)
    assert shuffled == expected
    # Every asset is either in the totals or listed, never both and never neither.
    ids = [line.id for line in expected.lines] + [item.id for item in expected.unpriced_assets]
    assert sorted(ids) == sorted(
        [a.doc["account_id"] for a in accounts[1:]] + [h.doc["holding_id"] for h in holdings]
    )


@settings(max_examples=200, deadline=None)
@given(
    minors=st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=6),
    rate=st.decimals(min_value="0.0001", max_value="1000", places=4),
)
def test_totals_are_the_exact_sum_rounded_once(minors: list[int], rate: Any) -> None:
    accounts = [account(f"acc_{i}", "DEPOSITORY", "USD", m) for i, m in enumerate(minors)]
    sheet = value(accounts, [], book_of(fx("USD", "GBP", str(rate))))
    exact = sum(Fraction(m, 100) for m in minors) * Fraction(str(rate)) * 100
    assert sheet.net_worth_minor == round(exact)
    assert abs(sum(line.base_minor for line in sheet.lines) - sheet.net_worth_minor) <= len(minors)
