"""Inbound market data: FX rates and security prices, as time-stamped reference data.

A tick is one observation from a market-data source: ``FX`` says how many units of ``quote``
one unit of ``base`` buys at ``as_of`` (``{"base": "USD", "quote": "GBP", "rate": "0.80"}``
is 1 USD = 0.80 GBP); ``PRICE`` gives the price of one unit of a security in ``currency``.
Rates and prices are exact decimal strings on the wire (never JSON numbers) and are kept in
the canonical spelling of ``schemas.fos.DecimalText``, so one number has one spelling
(``"0.80"`` is kept as ``"0.8"``).

Exchanges quote some securities in a currency's minor unit: London in pence (``GBp``, also
written ``GBX``), Johannesburg in cents (``ZAc``/``ZAC``), Tel Aviv in agorot (``ILA``).
A price in one of these codes is accepted and kept as quoted; ``quote_unit`` maps the code to
its ISO 4217 currency and the divisor (100 for each of them) that turns the quote into major
units, so 17619 GBp is exactly 176.19 GBP and never 17619 GBP.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from schemas.fos import decimal_text
from schemas.money import MoneyError, currency_exponent
from schemas.types import IsoDateTime

# Quote codes in a currency's minor unit, with their ISO 4217 currency and the divisor that
# turns a quote into major units. The table is closed: an unknown mixed-case code is
# rejected rather than guessed at, because reading pence as pounds is a 100x error.
MINOR_UNIT_QUOTES: Final = MappingProxyType(
    {
        "GBp": ("GBP", 100),
        "GBX": ("GBP", 100),
        "ZAc": ("ZAR", 100),
        "ZAC": ("ZAR", 100),
        "ILA": ("ILS", 100),
    }
)

# Longest rate or price text accepted. Real quotes have a few dozen digits at most; the bound
# keeps the exact arithmetic done on them small.
MAX_TICK_CHARS: Final = 64

_PLAIN_DECIMAL: Final = r"^[0-9]+(\.[0-9]+)?$"

PlainDecimal = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_TICK_CHARS, pattern=_PLAIN_DECIMAL)
]
"""A non-negative decimal string without sign, exponent or separators, e.g. ``"176.19"``."""

SourceName = Annotated[StrictStr, Field(min_length=1, max_length=128)]


def quote_unit(code: str) -> tuple[str, int]:
    """Return the ISO 4217 currency a quote code counts in and its divisor to major units.

    ``quote_unit("USD")`` is ``("USD", 1)``; ``quote_unit("GBp")`` is ``("GBP", 100)``.

    Raises:
        MoneyError: ``unknown_currency`` for a code that is neither an ISO 4217 currency with
            a decimal minor unit nor one of ``MINOR_UNIT_QUOTES``.
    """
    minor = MINOR_UNIT_QUOTES.get(code)
    if minor is not None:
        return minor
    currency_exponent(code)
    return code, 1


class _Tick(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: IsoDateTime
    source: SourceName

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        # "The latest rate at or before t" needs one timeline: a zoneless time has none.
        if value.tzinfo is None:
            msg = "as_of must carry a timezone (ISO 8601 with Z or an offset)"
            raise ValueError(msg)
        return value.astimezone(dt.UTC)


class FxTick(_Tick):
    """One unit of ``base`` buys ``rate`` units of ``quote`` at ``as_of``."""

    type: Literal["FX"]
    base: StrictStr
    quote: StrictStr
    rate: PlainDecimal

    @field_validator("base", "quote")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        _check_iso(value)
        return value

    @field_validator("rate")
    @classmethod
    def _positive(cls, value: str) -> str:
        number = Decimal(value)
        if number <= 0:
            msg = f"rate must be greater than 0, not {value!r}"
            raise ValueError(msg)
        return decimal_text(number)

    @model_validator(mode="after")
    def _two_currencies(self) -> Self:
        # A currency against itself is 1 by definition; a tick saying otherwise is an error.
        if self.base == self.quote:
            msg = f"an FX tick needs two currencies, not {self.base}/{self.quote}"
            raise ValueError(msg)
        return self


class PriceTick(_Tick):
    """The price of one unit of a security, in ``currency`` as the market quotes it.

    ``currency`` may be a minor-unit quote code (``GBp``); see ``quote_unit``. At least one of
    ``security_id`` (FOS id) and ``quote_symbol`` (the market-data symbol) names the security.
    """

    type: Literal["PRICE"]
    security_id: Annotated[StrictStr, Field(min_length=1, max_length=256)] | None = None
    quote_symbol: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    price: PlainDecimal
    currency: StrictStr

    @field_validator("currency")
    @classmethod
    def _quote_code(cls, value: str) -> str:
        try:
            quote_unit(value)
        except MoneyError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("price")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return decimal_text(Decimal(value))

    @model_validator(mode="after")
    def _named(self) -> Self:
        if self.security_id is None and self.quote_symbol is None:
            msg = "a PRICE tick needs a security_id or a quote_symbol"
            raise ValueError(msg)
        return self


def _check_iso(code: str) -> None:
    try:
        currency_exponent(code)
    except MoneyError as exc:
        raise ValueError(exc.message) from None


MarketTick = Annotated[FxTick | PriceTick, Field(discriminator="type")]

MARKET_TICK: Final[TypeAdapter[FxTick | PriceTick]] = TypeAdapter(MarketTick)
"""Validates a tick from JSON bytes (``validate_json``) or a mapping (``validate_python``)."""


def instrument_key(tick: FxTick | PriceTick) -> str:
    """Return the key a tick's series is kept under.

    ``"FX:USD/GBP"`` for a rate, ``"SEC:<security_id>"`` for a price naming its security, else
    ``"SYM:<quote_symbol>"``. A price naming both is filed under each of ``instrument_keys``.
    """
    return instrument_keys(tick)[0]


def instrument_keys(tick: FxTick | PriceTick) -> tuple[str, ...]:
    """Return every key a tick belongs to: the security id first, then the quote symbol."""
    if isinstance(tick, FxTick):
        return (fx_key(tick.base, tick.quote),)
    keys = []
    if tick.security_id is not None:
        keys.append(f"SEC:{tick.security_id}")
    if tick.quote_symbol is not None:
        keys.append(f"SYM:{tick.quote_symbol}")
    return tuple(keys)


def fx_key(base: str, quote: str) -> str:
    """Return the instrument key of a currency pair, ``"FX:USD/GBP"``."""
    return f"FX:{base}/{quote}"


def tick_value(tick: FxTick | PriceTick) -> str:
    """Return a tick's number as canonical text: the rate of an FX tick, else the price."""
    return tick.rate if isinstance(tick, FxTick) else tick.price


def tick_order(tick: FxTick | PriceTick) -> tuple[dt.datetime, str, Decimal, str]:
    """Return the key that orders ticks of one instrument: later ``as_of`` is newer.

    Arrival order never matters. Two ticks with the same ``as_of`` are ordered by source name,
    then by value, then by quoted currency, so every consumer picks the same one as latest.
    """
    currency = "" if isinstance(tick, FxTick) else tick.currency
    return (tick.as_of, tick.source, Decimal(tick_value(tick)), currency)
