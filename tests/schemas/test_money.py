"""Tests for the ISO 4217 table and exact minor-unit money."""

from __future__ import annotations

import pickle
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.iso4217 import CURRENCY_EXPONENTS, NON_DECIMAL_CODES
from schemas.money import (
    MAX_DIGITS,
    Money,
    MoneyError,
    currency_exponent,
    format_minor,
    parse_minor,
    to_decimal,
)

ALL_CODES = sorted(CURRENCY_EXPONENTS)
currencies = st.sampled_from(ALL_CODES)
minor_amounts = st.integers(min_value=-(10**30), max_value=10**30)


def _raises(code: str, value: object, currency: str) -> MoneyError:
    with pytest.raises(MoneyError) as info:
        parse_minor(value, currency)  # type: ignore[arg-type]
    assert info.value.code == code
    return info.value


# The ISO 4217 table.


def test_table_holds_every_list_one_code_with_a_minor_unit() -> None:
    assert len(CURRENCY_EXPONENTS) > 150
    assert len(CURRENCY_EXPONENTS) == 165
    assert len(NON_DECIMAL_CODES) == 13
    assert all(re.fullmatch("[A-Z]{3}", code) for code in CURRENCY_EXPONENTS)
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3, 4}


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("VND", 0),
        ("XAF", 0),
        ("XOF", 0),
        ("XPF", 0),
        ("UYI", 0),
        ("GBP", 2),
        ("USD", 2),
        ("EUR", 2),
        ("XCD", 2),
        ("XCG", 2),
        ("SLE", 2),
        ("VES", 2),
        ("VED", 2),
        ("ZWG", 2),
        ("BOV", 2),
        ("COU", 2),
        ("MXV", 2),
        ("USN", 2),
        ("CHE", 2),
        ("CHW", 2),
        ("MRU", 2),
        ("BHD", 3),
        ("KWD", 3),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_spot_checks_against_list_one(code: str, exponent: int) -> None:
    assert CURRENCY_EXPONENTS[code] == exponent
    assert currency_exponent(code) == exponent


def test_non_two_digit_currencies_are_exactly_the_official_ones() -> None:
    by_exponent = {n: {code for code, e in CURRENCY_EXPONENTS.items() if e == n} for n in (0, 3, 4)}
    assert by_exponent[3] == {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
    assert by_exponent[4] == {"CLF", "UYW"}
    assert by_exponent[0] == {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    }  # fmt: skip


def test_withdrawn_codes_are_not_current() -> None:
    for withdrawn in ("ANG", "BGN", "CUC", "HRK", "SLL", "ZWL", "VEF", "MRO"):
        assert withdrawn not in CURRENCY_EXPONENTS
        assert withdrawn not in NON_DECIMAL_CODES


def test_non_decimal_codes_are_kept_apart() -> None:
    assert {
        "XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD",
        "XSU", "XUA", "XTS", "XXX",
    } == NON_DECIMAL_CODES  # fmt: skip
    assert NON_DECIMAL_CODES.isdisjoint(CURRENCY_EXPONENTS)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCY_EXPONENTS["USD"] = 3  # type: ignore[index]
    assert CURRENCY_EXPONENTS["USD"] == 2


@pytest.mark.parametrize("code", sorted(NON_DECIMAL_CODES))
def test_non_decimal_codes_are_rejected(code: str) -> None:
    with pytest.raises(MoneyError) as info:
        currency_exponent(code)
    assert info.value.code == "unknown_currency"
    assert code in info.value.message
    assert "no minor unit" in info.value.message


@pytest.mark.parametrize("code", ["ABC", "usd", "US", "USDX", "", "ANG"])
def test_unknown_currencies_are_rejected(code: str) -> None:
    with pytest.raises(MoneyError) as info:
        currency_exponent(code)
    assert info.value.code == "unknown_currency"
    assert repr(code) in str(info.value)
    _raises("unknown_currency", "1.00", code)


def test_lowercase_code_message_suggests_the_upper_case_one() -> None:
    with pytest.raises(MoneyError, match="'USD'"):
        currency_exponent("usd")


def test_non_string_currency_is_unknown() -> None:
    with pytest.raises(MoneyError) as info:
        currency_exponent(840)  # type: ignore[arg-type]
    assert info.value.code == "unknown_currency"


# Parsing and formatting.


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.50", "GBP", 1250),
        ("-12.5", "GBP", -1250),
        ("+7", "USD", 700),
        ("12.500", "USD", 1250),
        ("12.5000000000000000000000000000000000", "USD", 1250),
        ("0.00", "USD", 0),
        ("-0.00", "USD", 0),
        ("1.005", "BHD", 1005),
        ("3", "JPY", 3),
        ("3.0", "JPY", 3),
        ("1.2345", "CLF", 12345),
        ("123456789012345678901234567890.12", "USD", 12345678901234567890123456789012),
        (12, "USD", 1200),
        (-3, "KWD", -3000),
        (0, "JPY", 0),
        (Decimal("12.50"), "GBP", 1250),
        (Decimal("1E+3"), "USD", 100000),
        (Decimal("-0"), "USD", 0),
        (Decimal("1.2300"), "USD", 123),
    ],
)
def test_parse_minor_is_exact(value: object, currency: str, expected: int) -> None:
    assert parse_minor(value, currency) == expected  # type: ignore[arg-type]


def test_parse_does_not_use_the_decimal_context_precision() -> None:
    # Twenty-nine significant digits would be rounded by default Decimal arithmetic.
    value = "9999999999999999999999999999.99"
    assert parse_minor(value, "USD") == 999999999999999999999999999999
    assert parse_minor(Decimal(value), "USD") == 999999999999999999999999999999


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (-1250, "GBP", "-12.50"),
        (1250, "GBP", "12.50"),
        (5, "JPY", "5"),
        (-5, "JPY", "-5"),
        (-5, "BHD", "-0.005"),
        (5, "USD", "0.05"),
        (0, "GBP", "0.00"),
        (0, "JPY", "0"),
        (0, "CLF", "0.0000"),
        (1, "CLF", "0.0001"),
        (123456789, "UYW", "12345.6789"),
    ],
)
def test_format_minor(amount: int, currency: str, expected: str) -> None:
    assert format_minor(amount, currency) == expected


@pytest.mark.parametrize("code", ALL_CODES)
def test_round_trip_for_every_currency(code: str) -> None:
    for amount in (0, 1, -1, 7, -99, 10**12 + 3, -(10**18) - 1):
        text = format_minor(amount, code)
        assert parse_minor(text, code) == amount
        fraction = text.partition(".")[2]
        assert len(fraction) == CURRENCY_EXPONENTS[code]


@given(amount=minor_amounts, currency=currencies)
def test_round_trip_property(amount: int, currency: str) -> None:
    text = format_minor(amount, currency)
    assert parse_minor(text, currency) == amount
    assert Money.parse(text, currency) == Money(amount, currency)
    assert to_decimal(amount, currency) == Decimal(text)
    assert to_decimal(amount, currency).as_tuple().exponent == -CURRENCY_EXPONENTS[currency]


@given(amount=minor_amounts, currency=currencies)
def test_format_is_signed_only_for_negative_amounts(amount: int, currency: str) -> None:
    text = format_minor(amount, currency)
    assert text.startswith("-") == (amount < 0)
    assert re.fullmatch(r"-?0\.0*", text) is None or amount == 0


def test_format_never_yields_negative_zero() -> None:
    for currency in ("GBP", "JPY", "BHD", "CLF"):
        assert not format_minor(0, currency).startswith("-")
        assert not format_minor(-0, currency).startswith("-")
    assert str(Money.parse(-0.0, "GBP")) == "0.00 GBP"
    assert str(Money.parse("-0.000", "GBP")) == "0.00 GBP"
    assert str(-Money.zero("GBP")) == "0.00 GBP"


def test_to_decimal_keeps_the_currency_exponent() -> None:
    assert to_decimal(1250, "GBP") == Decimal("12.50")
    assert str(to_decimal(1250, "GBP")) == "12.50"
    assert str(to_decimal(-5, "BHD")) == "-0.005"
    assert str(to_decimal(5, "JPY")) == "5"


# Vendor floats.


@pytest.mark.parametrize(
    ("value", "expected"),
    [(23631.98, 2363198), (0.1, 10), (2307.21, 230721), (-0.07, -7), (1e3, 100000), (-0.0, 0)],
)
def test_vendor_floats_go_through_their_shortest_repr(value: float, expected: int) -> None:
    assert parse_minor(value, "USD") == expected


def test_float_with_excess_precision_is_rejected() -> None:
    error = _raises("excess_precision", 1e-7, "USD")
    assert str(error) == "1e-07 has 7 decimal places but USD allows 2"
    _raises("excess_precision", 0.125, "USD")
    _raises("excess_precision", 0.5, "JPY")


def test_float_subclass_uses_the_float_value_not_its_repr() -> None:
    class Quoted(float):
        def __repr__(self) -> str:
            return "Quoted(0.1)"

    assert parse_minor(Quoted(0.1), "USD") == 10


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_exact_cent_floats_parse_to_their_cents(cents: int) -> None:
    assert parse_minor(round(cents / 100, 2), "USD") == cents


# Rejected input.


@pytest.mark.parametrize(
    ("value", "currency", "expected_message"),
    [
        ("12.345", "USD", "12.345 has 3 decimal places but USD allows 2"),
        ("12.3450", "USD", "12.3450 has 3 decimal places but USD allows 2"),
        ("1.5", "JPY", "1.5 has 1 decimal place but JPY allows 0"),
        ("0.0001", "KWD", "0.0001 has 4 decimal places but KWD allows 3"),
        ("1.00001", "CLF", "1.00001 has 5 decimal places but CLF allows 4"),
        (Decimal("0.001"), "GBP", "0.001 has 3 decimal places but GBP allows 2"),
    ],
)
def test_excess_precision_is_never_rounded(
    value: object, currency: str, expected_message: str
) -> None:
    error = _raises("excess_precision", value, currency)
    assert error.message == expected_message
    assert str(error) == expected_message


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "+inf",
        "sNaN",
    ],
)
def test_non_finite_numbers_are_rejected(value: object) -> None:
    error = _raises("non_finite_number", value, "USD")
    assert "USD" in error.message


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "1,000.00",
        " 12",
        "12 ",
        "12\n",
        "1e3",
        "1E3",
        "",
        "+",
        "-",
        ".5",
        "5.",
        "1.2.3",
        "--1",
        "0x10",
        "1_000",
        "١٢",
        None,
        [1],
        b"12",
    ],
)
def test_malformed_amounts_are_invalid(value: object) -> None:
    error = _raises("invalid_amount", value, "USD")
    assert "USD" in error.message


def test_unknown_currency_is_reported_before_the_amount() -> None:
    _raises("unknown_currency", "not a number", "ABC")


def test_absurdly_long_amounts_are_refused() -> None:
    _raises("invalid_amount", Decimal("1E+999999999"), "USD")
    error = _raises("invalid_amount", "1" * (MAX_DIGITS + 1), "JPY")
    assert len(error.message) < 100
    assert "JPY" in error.message
    assert parse_minor("1" * MAX_DIGITS, "JPY") == int("1" * MAX_DIGITS)


def test_money_error_survives_pickling() -> None:
    error = MoneyError("excess_precision", "12.345 has 3 decimal places but USD allows 2")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert isinstance(copy, MoneyError)
    assert (copy.code, copy.message) == (error.code, error.message)
    assert isinstance(copy, ValueError)


# The Money value.


def test_money_parse_view_and_str() -> None:
    money = Money.parse("-12.50", "GBP")
    assert money == Money(-1250, "GBP")
    assert money.view() == {"value": "-12.50", "currency": "GBP"}
    assert str(money) == "-12.50 GBP"
    assert str(Money(5, "JPY")) == "5 JPY"


def test_money_arithmetic_is_exact() -> None:
    total = Money.zero("USD")
    for _ in range(10):
        total = total + Money.parse(0.1, "USD")
    assert total == Money.parse("1.00", "USD")
    assert Money(1250, "GBP") - Money(1300, "GBP") == Money(-50, "GBP")
    assert -Money(1250, "GBP") == Money(-1250, "GBP")
    negated = -Money(3, "BHD")
    assert -negated == Money(3, "BHD")


def test_cross_currency_arithmetic_names_both_currencies() -> None:
    with pytest.raises(MoneyError) as added:
        Money(1250, "GBP") + Money(100, "EUR")
    assert added.value.code == "invalid_amount"
    assert "EUR" in added.value.message
    assert "GBP" in added.value.message
    with pytest.raises(MoneyError) as subtracted:
        Money(1250, "GBP") - Money(100, "USD")
    assert subtracted.value.code == "invalid_amount"
    assert "USD" in subtracted.value.message
    assert "GBP" in subtracted.value.message


def test_money_does_not_mix_with_other_types() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1, "USD") - Decimal(1)  # type: ignore[operator]


@pytest.mark.parametrize("amount", [True, False, 1.0, Decimal(1), "1", None])
def test_money_rejects_non_int_amounts(amount: object) -> None:
    with pytest.raises(MoneyError) as info:
        Money(amount, "USD")  # type: ignore[arg-type]
    assert info.value.code == "invalid_amount"


def test_money_rejects_unknown_currencies() -> None:
    for code in ("ABC", "usd", "XAU"):
        with pytest.raises(MoneyError) as info:
            Money(1, code)
        assert info.value.code == "unknown_currency"


def test_money_is_immutable_and_hashable() -> None:
    money = Money(1, "USD")
    with pytest.raises(AttributeError):
        money.amount_minor = 2  # type: ignore[misc]
    assert len({Money(1, "USD"), Money(1, "USD"), Money(1, "EUR")}) == 2


def test_format_rejects_bool() -> None:
    with pytest.raises(MoneyError) as info:
        format_minor(True, "USD")
    assert info.value.code == "invalid_amount"


@given(a=minor_amounts, b=minor_amounts, currency=currencies)
def test_addition_matches_integer_addition(a: int, b: int, currency: str) -> None:
    total = Money(a, currency) + Money(b, currency)
    assert total.amount_minor == a + b
    assert (total - Money(b, currency)) == Money(a, currency)
