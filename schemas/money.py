"""Exact money amounts held as integer minor units of an ISO 4217 currency.

An amount is an ``int`` count of the currency's smallest unit (cents for USD, yen
for JPY, fils for BHD), paired with its currency code. Nothing here rounds: a value
that cannot be expressed exactly in the currency's minor units is rejected.

Floats never take part in money arithmetic. The one place a float is accepted is
the boundary where a vendor sends one, and there it is converted once through its
shortest round-trip representation, so ``23631.98`` means exactly 23631.98.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, Self

from schemas.iso4217 import CURRENCY_EXPONENTS, NON_DECIMAL_CODES

MoneyErrorCode = Literal[
    "unknown_currency",
    "excess_precision",
    "non_finite_number",
    "invalid_amount",
]

UNKNOWN_CURRENCY: Final = "unknown_currency"
EXCESS_PRECISION: Final = "excess_precision"
NON_FINITE_NUMBER: Final = "non_finite_number"
INVALID_AMOUNT: Final = "invalid_amount"

# ASCII digits only: \d would also accept digits from other scripts.
_AMOUNT_PATTERN: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_NON_FINITE_WORDS: Final = frozenset({"nan", "snan", "inf", "infinity"})

# No ledger holds an amount this long, and refusing longer ones bounds the work an
# input such as Decimal("1E+999999999") can demand. It also keeps every amount
# under the interpreter's limit on converting between int and str.
MAX_DIGITS: Final = 1000

# How much of a rejected input an error message repeats.
_SHOWN_CHARS: Final = 40


class MoneyError(ValueError):
    """A value that cannot be used as an exact amount of money.

    Attributes:
        code: A stable machine-readable reason: ``"unknown_currency"``,
            ``"excess_precision"``, ``"non_finite_number"`` or ``"invalid_amount"``.
        message: A sentence naming the offending value and currency.
    """

    def __init__(self, code: MoneyErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: MoneyErrorCode = code
        self.message = message

    def __reduce__(self) -> tuple[type[MoneyError], tuple[MoneyErrorCode, str]]:
        # The default reduction replays only the message, which would not rebuild
        # an error whose constructor also takes a code.
        return (type(self), (self.code, self.message))


def currency_exponent(currency: str) -> int:
    """Return the number of minor-unit digits of an ISO 4217 currency.

    Only exact, upper-case codes from List One are accepted; codes such as XAU whose
    minor unit is "N.A." are rejected because they have no minor unit to count in.

    Raises:
        MoneyError: ``unknown_currency`` if the code has no decimal minor unit.
    """
    exponent = CURRENCY_EXPONENTS.get(currency) if isinstance(currency, str) else None
    if exponent is None:
        message = _unknown_currency_message(currency)
        raise MoneyError(UNKNOWN_CURRENCY, message)
    return exponent


def _unknown_currency_message(currency: object) -> str:
    if not isinstance(currency, str):
        return f"currency must be a string code, not {type(currency).__name__}"
    if currency in NON_DECIMAL_CODES:
        return f"{currency} has no minor unit in ISO 4217, so it cannot be held as money"
    if currency.upper() in CURRENCY_EXPONENTS:
        return f"{currency!r} is not an ISO 4217 code; codes are upper case: {currency.upper()!r}"
    return f"{currency!r} is not an ISO 4217 currency code"


def parse_minor(value: str | int | float | Decimal, currency: str) -> int:
    """Convert an amount in major units to an exact count of minor units.

    Strings must match ``[+-]?digits[.digits]``: no whitespace, exponent, or
    thousands separator. An int counts whole major units. A float is read through
    its shortest repr, so a vendor's ``0.1`` is one tenth. Trailing zeros beyond
    the currency's precision are accepted (``"12.500"`` USD is 1250); any other
    extra digit is an error, never rounded away.

    Raises:
        MoneyError: ``unknown_currency``, ``excess_precision``, ``non_finite_number``
            or ``invalid_amount`` (a bool, a malformed string, another type, or more
            than MAX_DIGITS digits).
    """
    exponent = currency_exponent(currency)
    return _scale_exactly(_as_decimal(value, currency), exponent, value, currency)


def _as_decimal(value: object, currency: str) -> Decimal:
    """Convert an accepted input to a finite Decimal with the same exact value."""
    if isinstance(value, bool):
        message = f"{value!r} is a bool, not an amount of {currency}"
        raise MoneyError(INVALID_AMOUNT, message)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _non_finite(value, currency)
        # float.__repr__ rather than repr(): a subclass may override its repr.
        return Decimal(float.__repr__(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _non_finite(value, currency)
        return value
    if isinstance(value, str):
        return _parse_string(value, currency)
    message = f"{type(value).__name__} {value!r} is not an amount of {currency}"
    raise MoneyError(INVALID_AMOUNT, message)


def _parse_string(value: str, currency: str) -> Decimal:
    if _AMOUNT_PATTERN.fullmatch(value) is None:
        if value.lstrip("+-").lower() in _NON_FINITE_WORDS:
            raise _non_finite(value, currency)
        message = f"{_show(value)!r} is not a plain decimal amount of {currency}"
        raise MoneyError(INVALID_AMOUNT, message)
    return Decimal(value)


def _non_finite(value: object, currency: str) -> MoneyError:
    message = f"{value!r} is not a finite amount of {currency}"
    return MoneyError(NON_FINITE_NUMBER, message)


def _scale_exactly(amount: Decimal, exponent: int, original: object, currency: str) -> int:
    """Multiply a finite Decimal by 10**exponent using integer arithmetic only.

    Decimal arithmetic rounds to the context precision (28 digits by default), so
    the digits are taken from the Decimal's tuple and scaled as Python ints.
    """
    sign, digit_tuple, decimal_exponent = amount.as_tuple()
    if not isinstance(decimal_exponent, int):
        raise _non_finite(original, currency)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    if not digits:
        return 0
    # Dropping a trailing zero from the coefficient raises the exponent by one, so
    # "12.500" is judged by its significant digits and passes as USD.
    decimal_exponent += len(digit_tuple) - len(digits)
    shift = decimal_exponent + exponent
    if shift < 0:
        message = _excess_precision_message(original, -decimal_exponent, exponent, currency)
        raise MoneyError(EXCESS_PRECISION, message)
    if len(digits) + shift > MAX_DIGITS:
        message = f"{_show(original)} {currency} has more than {MAX_DIGITS} digits"
        raise MoneyError(INVALID_AMOUNT, message)
    magnitude = int(digits + "0" * shift)
    return -magnitude if sign else magnitude


def _excess_precision_message(value: object, places: int, exponent: int, currency: str) -> str:
    noun = "place" if places == 1 else "places"
    return f"{_show(value)} has {places} decimal {noun} but {currency} allows {exponent}"


def _show(value: object) -> str:
    """Render an input as it was given: floats by shortest repr, others as text.

    Very long inputs are cut short so that an error message stays readable.
    """
    text = float.__repr__(value) if isinstance(value, float) else str(value)
    if len(text) > _SHOWN_CHARS:
        return text[:_SHOWN_CHARS] + "..."
    return text


def format_minor(amount_minor: int, currency: str) -> str:
    """Render minor units as a decimal string with exactly the currency's digits.

    Zero is never signed: ``format_minor(0, "GBP")`` is ``"0.00"``.

    Raises:
        MoneyError: ``unknown_currency``, or ``invalid_amount`` if ``amount_minor``
            is not an int (a bool is not accepted).
    """
    exponent = currency_exponent(currency)
    _check_minor(amount_minor, currency)
    sign = "-" if amount_minor < 0 else ""
    digits = str(abs(amount_minor))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def _check_minor(amount_minor: object, currency: str) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        message = f"minor units of {currency} must be an int, not {amount_minor!r}"
        raise MoneyError(INVALID_AMOUNT, message)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Return the amount in major units as a Decimal, for edges that need one.

    The result carries the currency's exponent, so ``to_decimal(1250, "GBP")`` is
    ``Decimal("12.50")``. Computation inside the engine stays in minor units.

    Raises:
        MoneyError: as for format_minor.
    """
    return Decimal(format_minor(amount_minor, currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency, counted in its minor units.

    Attributes:
        amount_minor: The amount in minor units, e.g. -1250 for -12.50 GBP.
        currency: An ISO 4217 code with a decimal minor unit, e.g. "GBP".

    Raises:
        MoneyError: on construction, if the currency is unknown or amount_minor is
            not an int.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        currency_exponent(self.currency)
        _check_minor(self.amount_minor, self.currency)

    @classmethod
    def parse(cls, value: str | int | float | Decimal, currency: str) -> Self:
        """Build a Money from an amount in major units, as parse_minor reads it."""
        return cls(parse_minor(value, currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Return nothing of the given currency."""
        return cls(0, currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add", "to")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract", "from")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def _require_same_currency(self, other: Money, verb: str, preposition: str) -> None:
        if other.currency != self.currency:
            message = (
                f"cannot {verb} {other} {preposition} {self}: "
                f"{other.currency} and {self.currency} are different currencies"
            )
            raise MoneyError(INVALID_AMOUNT, message)

    def view(self) -> dict[str, str]:
        """Return the amount as strings for output, e.g. {"value": "-12.50", ...}."""
        return {"value": format_minor(self.amount_minor, self.currency), "currency": self.currency}

    def __str__(self) -> str:
        return f"{format_minor(self.amount_minor, self.currency)} {self.currency}"
