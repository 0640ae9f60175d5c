"""Tests for inbound market ticks: FX rates and security prices."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.market import (
    MARKET_TICK,
    MINOR_UNIT_QUOTES,
    FxTick,
    PriceTick,
    instrument_key,
    instrument_keys,
    quote_unit,
    tick_order,
)
from schemas.money import MoneyError

FX: dict[str, Any] = {
    "type": "FX",
    "base": "USD",
    "quote": "GBP",
    "rate": "0.80",
    "as_of": "2026-10-01T00:00:00Z",
    "source": "ecb",
}
PRICE: dict[str, Any] = {
    "type": "PRICE",
    "security_id": "sec_aapl",
    "quote_symbol": "AAPL",
    "price": "176.19",
    "currency": "USD",
    "as_of": "2026-10-01T15:00:00Z",
    "source": "iex",
}


def parse(**fields: Any) -> FxTick | PriceTick:
    return MARKET_TICK.validate_python(fields)


def rejects(**fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        MARKET_TICK.validate_python(fields)
    return str(info.value)


def test_fx_tick_from_json_bytes() -> None:
    tick = MARKET_TICK.validate_json(
        b'{"type": "FX", "base": "USD", "quote": "GBP", "rate": "0.80",'
        b' "as_of": "2026-10-01T00:00:00Z", "source": "ecb"}'
    )
    assert isinstance(tick, FxTick)
    # One number, one spelling: "0.80" is kept as its canonical text.
    assert tick.rate == "0.8"
    assert tick.as_of == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert instrument_key(tick) == "FX:USD/GBP"


def test_price_tick_keys_by_security_id_then_symbol() -> None:
    tick = parse(**PRICE)
    assert isinstance(tick, PriceTick)
    assert tick.price == "176.19"
    assert instrument_key(tick) == "SEC:sec_aapl"
    assert instrument_keys(tick) == ("SEC:sec_aapl", "SYM:AAPL")
    by_symbol = parse(**{**PRICE, "security_id": None})
    assert instrument_key(by_symbol) == "SYM:AAPL"
    by_id = parse(**{**PRICE, "quote_symbol": None})
    assert instrument_keys(by_id) == ("SEC:sec_aapl",)


def test_as_of_with_an_offset_is_normalised_to_utc() -> None:
    tick = parse(**{**FX, "as_of": "2026-10-01T01:00:00+01:00"})
    assert tick.as_of == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert tick.as_of.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"rate": 0.8}, "valid string"),
        ({"rate": 1}, "valid string"),
        ({"rate": "0"}, "greater than 0"),
        ({"rate": "0.000"}, "greater than 0"),
        ({"rate": "-0.8"}, "pattern"),
        ({"rate": "8e-1"}, "pattern"),
        ({"rate": " 0.8"}, "pattern"),
        ({"rate": "1,000.5"}, "pattern"),
        ({"rate": "NaN"}, "pattern"),
        ({"rate": "1" * 65}, "at most 64"),
        ({"base": "usd"}, "upper case"),
        ({"quote": "XAU"}, "no minor unit"),
        ({"quote": "GBp"}, "not an ISO 4217"),
        ({"quote": "USD"}, "two currencies"),
        ({"as_of": "2026-10-01T00:00:00"}, "timezone"),
        ({"as_of": 1790000000}, "ISO 8601"),
        ({"source": ""}, "at least 1"),
        ({"extra": "x"}, "Extra inputs"),
    ],
)
def test_bad_fx_ticks_are_rejected(change: dict[str, Any], needle: str) -> None:
    assert needle in rejects(**{**FX, **change})


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"security_id": None, "quote_symbol": None}, "security_id or a quote_symbol"),
        ({"price": "-1"}, "pattern"),
        ({"price": 176.19}, "valid string"),
        ({"currency": "usd"}, "upper case"),
        ({"currency": "GBx"}, "not an ISO 4217"),
        ({"currency": "XAU"}, "no minor unit"),
        ({"security_id": ""}, "at least 1"),
        ({"type": "QUOTE"}, "does not match any of the expected tags"),
    ],
)
def test_bad_price_ticks_are_rejected(change: dict[str, Any], needle: str) -> None:
    assert needle in rejects(**{**PRICE, **change})


def test_a_zero_price_is_a_price() -> None:
    tick = parse(**{**PRICE, "price": "0.00"})
    assert isinstance(tick, PriceTick)
    assert tick.price == "0"


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("GBp", ("GBP", 100)),
        ("GBX", ("GBP", 100)),
        ("ZAc", ("ZAR", 100)),
        ("ZAC", ("ZAR", 100)),
        ("ILA", ("ILS", 100)),
        ("GBP", ("GBP", 1)),
        ("JPY", ("JPY", 1)),
        ("BHD", ("BHD", 1)),
    ],
)
def test_quote_units_map_minor_unit_codes_to_their_currency(
    code: str, unit: tuple[str, int]
) -> None:
    assert quote_unit(code) == unit


def test_minor_unit_quotes_are_not_iso_codes_of_their_own() -> None:
    # Were one of them an ISO code, a price in it would be ambiguous.
    for code, (currency, divisor) in MINOR_UNIT_QUOTES.items():
        with pytest.raises(MoneyError):
            quote_unit(code.lower())
        assert quote_unit(currency) == (currency, 1)
        assert divisor == 100


def test_pence_price_is_kept_as_quoted() -> None:
    tick = parse(**{**PRICE, "price": "17619", "currency": "GBp"})
    assert isinstance(tick, PriceTick)
    assert (tick.price, tick.currency) == ("17619", "GBp")


def test_tick_order_is_time_then_source_then_value() -> None:
    early = parse(**{**FX, "as_of": "2026-09-30T00:00:00Z", "source": "zzz"})
    ecb_low = parse(**{**FX, "rate": "0.79"})
    ecb_high = parse(**{**FX, "rate": "0.81"})
    other = parse(**{**FX, "source": "fed", "rate": "0.99"})
    ordered = sorted([ecb_high, other, early, ecb_low], key=tick_order)
    assert ordered == [early, ecb_low, ecb_high, other]
    assert tick_order(ecb_low)[2] == Decimal("0.79")


def test_ticks_are_frozen_and_picklable() -> None:
    tick = parse(**PRICE)
    assert isinstance(tick, PriceTick)
    with pytest.raises(ValidationError):
        tick.price = "1"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(tick)) == tick  # noqa: S301
    assert MARKET_TICK.validate_python(tick.model_dump(mode="json")) == tick
