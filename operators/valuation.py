"""Base-currency valuation of a profile's accounts and holdings (FOS §3.2, seed 000 §4.1).

Two pure pieces:

* ``RateBook``: the market data a profile has seen, as a short series per instrument.
  ``with_tick`` folds a tick in; ``rate_at`` and ``price_at`` answer "the latest value at or
  before ``at``".
* ``value_holdings_and_accounts``: a ``BalanceSheet`` in the profile's base currency, where
  every number names the balance event, holdings event or tick it came from, and anything
  that cannot be priced or converted is listed in ``unpriced_assets`` and left out of the
  totals. Nothing is ever valued at 0 for want of a price, nor converted 1:1 for want of a
  rate.

Arithmetic. Quantities, prices and rates are exact decimal text. They are multiplied as
``fractions.Fraction`` values built from that text, which are exact for products and also
for the reciprocal of a rate (``1/3`` stays one third), so a conversion through an inverse
or a cross rate still rounds only once. Rounding is half-even, to the minor unit of the
currency, and happens once per reported number:

* ``net_worth_minor`` and ``total_debt_minor`` are each the exact sum of the exact line
  values, rounded once. ``assets_minor`` is ``net_worth_minor + total_debt_minor``, so the
  three always tie.
* Each line's ``base_minor`` and ``native_minor`` are that line's exact value rounded once,
  for display; they need not add up to the totals to the last minor unit.
* The per-currency breakdown sums exact native values per currency and rounds each sum once.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, NamedTuple, TypeVar

from schemas.envelopes import utc_iso
from schemas.fos import AccountType, decimal_text
from schemas.market import (
    FxTick,
    PriceTick,
    fx_key,
    instrument_keys,
    quote_unit,
    tick_value,
)
from schemas.money import MoneyError, currency_exponent

# How many points of each instrument a RateBook keeps: the newest by as_of. A valuation time
# older than every kept point finds no rate and reports the line as unpriced, never a wrong
# value.
DEFAULT_DEPTH: Final = 32

# Currencies a cross rate may go through, tried in this order, when neither a pair nor its
# inverse is known: USD->GBP may be USD->EUR->GBP.
PIVOT_CURRENCIES: Final = ("USD", "EUR")

# Significant digits of a rate's text when the exact rate (an inverse or a cross rate) has no
# finite decimal expansion. The text is for reading only: values are computed from the legs.
RATE_TEXT_DIGITS: Final = 34

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MICROSECOND: Final = dt.timedelta(microseconds=1)
_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]{1,1000}(\.[0-9]{1,1000})?")


# --- the rate book --------------------------------------------------------------------------


class TickPoint(NamedTuple):
    """One tick as a RateBook keeps it: time, source, value and the currency it was quoted in.

    ``currency`` is the price's quote code as sent (``"GBp"``) and empty for an FX rate.
    """

    as_of_us: int
    source: str
    value: str
    currency: str


def _order(point: TickPoint) -> tuple[int, str, Decimal, str]:
    # The same order as schemas.market.tick_order: time, then source, value and currency.
    return (point.as_of_us, point.source, Decimal(point.value), point.currency)


@dataclass(frozen=True, slots=True)
class RateBook:
    """FX rates and prices seen so far: per instrument key, up to ``depth`` points.

    ``series`` maps an instrument key (``"FX:USD/GBP"``, ``"SEC:<id>"``, ``"SYM:<symbol>"``)
    to its points in ascending tick order. It is never mutated; ``with_tick`` builds a new
    book.

    A book is a function of the set of ticks folded into it, whatever their arrival order:
    each series holds the ``depth`` greatest points of everything it was sent, and the
    greatest ``depth`` of a set do not depend on the order its members were offered in.
    """

    series: Mapping[str, tuple[TickPoint, ...]] = field(default_factory=dict)
    depth: int = DEFAULT_DEPTH


def with_tick(book: RateBook, tick: FxTick | PriceTick) -> RateBook:
    """Return the book with ``tick`` added to each series it belongs to.

    A tick already held is a no-op, so a tick delivered twice (it reaches a profile through
    each instrument it is routed by) is harmless. A point older than a full series is
    dropped.
    """
    point = TickPoint(
        _micros(tick.as_of),
        tick.source,
        tick_value(tick),
        tick.currency if isinstance(tick, PriceTick) else "",
    )
    series = dict(book.series)
    for key in instrument_keys(tick):
        held = series.get(key, ())
        if point not in held:
            series[key] = tuple(sorted((*held, point), key=_order)[-book.depth :])
    return RateBook(series, book.depth)


def _micros(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        msg = f"{moment.isoformat()} has no timezone; valuation times must be aware"
        raise ValueError(msg)
    return (moment - _EPOCH) // _ONE_MICROSECOND


def _iso(as_of_us: int) -> str:
    return utc_iso(_EPOCH + as_of_us * _ONE_MICROSECOND)


def _latest(points: Sequence[TickPoint], at_us: int) -> TickPoint | None:
    """Return the greatest point at or before ``at_us`` (points are in ascending order)."""
    index = bisect_right(points, at_us, key=lambda point: point.as_of_us)
    return points[index - 1] if index else None


class FxLeg(NamedTuple):
    """One FX tick used in a conversion; ``inverted`` when it was used as ``1 / rate``."""

    instrument: str
    as_of: str
    source: str
    rate: str
    inverted: bool

    @property
    def exact(self) -> Fraction:
        """The rate this leg contributes, exactly."""
        rate = Fraction(self.rate)
        return 1 / rate if self.inverted else rate


class RateQuote(NamedTuple):
    """A rate from one currency to another and the ticks it was derived from.

    ``rate`` is decimal text: exact whenever the rate has a finite decimal expansion, else
    rounded half-even to RATE_TEXT_DIGITS significant digits. ``legs`` is empty for a
    currency against itself (rate 1, no tick), one leg for a direct or inverse rate and two
    for a cross rate. ``exact`` recomputes the rate from the legs without rounding.
    """

    rate: str
    legs: tuple[FxLeg, ...]

    @property
    def exact(self) -> Fraction:
        """The rate as an exact fraction: the product of its legs."""
        return _product(self.legs)


def _product(legs: Iterable[FxLeg]) -> Fraction:
    product = Fraction(1)
    for leg in legs:
        product *= leg.exact
    return product


_PAR: Final = RateQuote("1", ())


def rate_at(book: RateBook, base: str, quote: str, at: dt.datetime) -> RateQuote | None:
    """Return how many ``quote`` one ``base`` buys at ``at``, or None if no rate is known.

    Rates come from ticks at or before ``at``. For a pair, the newer of the pair's own latest
    tick and its inverse pair's latest tick is used (the pair's own on a tie); an inverse is
    taken as the exact reciprocal. When neither is known, a cross rate through the first of
    PIVOT_CURRENCIES with both legs known is used. A currency against itself is 1.
    """
    at_us = _micros(at)
    if base == quote:
        return _PAR
    legs = _pair_legs(book, base, quote, at_us)
    if legs is None:
        return None
    return RateQuote(_rate_text(_product(legs)), legs)


def _pair_legs(book: RateBook, base: str, quote: str, at_us: int) -> tuple[FxLeg, ...] | None:
    leg = _leg(book, base, quote, at_us)
    if leg is not None:
        return (leg,)
    for pivot in PIVOT_CURRENCIES:
        if pivot in (base, quote):
            continue
        first = _leg(book, base, pivot, at_us)
        second = _leg(book, pivot, quote, at_us)
        if first is not None and second is not None:
            return (first, second)
    return None


def _leg(book: RateBook, base: str, quote: str, at_us: int) -> FxLeg | None:
    direct_key, inverse_key = fx_key(base, quote), fx_key(quote, base)
    direct = _latest(book.series.get(direct_key, ()), at_us)
    inverse = _latest(book.series.get(inverse_key, ()), at_us)
    if direct is not None and (inverse is None or direct.as_of_us >= inverse.as_of_us):
        return FxLeg(direct_key, _iso(direct.as_of_us), direct.source, direct.value, False)
    if inverse is not None:
        return FxLeg(inverse_key, _iso(inverse.as_of_us), inverse.source, inverse.value, True)
    return None


class PriceQuote(NamedTuple):
    """A security price from a tick, as quoted (``currency`` may be ``"GBp"``)."""

    price: str
    currency: str
    instrument: str
    as_of: str
    source: str


def price_at(
    book: RateBook, *, security_id: str | None, quote_symbol: str | None, at: dt.datetime
) -> PriceQuote | None:
    """Return the latest price tick at or before ``at`` for a security, or None.

    Ticks filed by security id and by quote symbol are both candidates; the newer wins, and
    the one filed by security id on a tie (it names the instrument without ambiguity).
    """
    at_us = _micros(at)
    keys = [f"SEC:{security_id}"] if security_id else []
    keys += [f"SYM:{quote_symbol}"] if quote_symbol else []
    best: tuple[str, TickPoint] | None = None
    for key in keys:
        point = _latest(book.series.get(key, ()), at_us)
        if point is not None and (best is None or point.as_of_us > best[1].as_of_us):
            best = (key, point)
    if best is None:
        return None
    key, point = best
    return PriceQuote(point.value, point.currency, key, _iso(point.as_of_us), point.source)


# --- exact numbers --------------------------------------------------------------------------


def _fraction(text: object) -> Fraction | None:
    """Return exact decimal text as a Fraction, or None when it is not plain decimal text."""
    if not isinstance(text, str) or _DECIMAL_TEXT.fullmatch(text) is None:
        return None
    return Fraction(text)


def _exact_text(value: Fraction) -> str | None:
    """Return the canonical decimal text of a fraction, or None if it does not terminate."""
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return None
    places = max(twos, fives)
    scaled = value.numerator * 10**places // value.denominator
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places :]
    fraction = fraction.rstrip("0")
    text = f"{whole}.{fraction}" if fraction else whole
    return f"-{text}" if scaled < 0 else text


def _rate_text(rate: Fraction) -> str:
    exact = _exact_text(rate)
    if exact is not None:
        return exact
    context = Context(prec=RATE_TEXT_DIGITS, rounding=ROUND_HALF_EVEN)
    return decimal_text(context.divide(Decimal(rate.numerator), Decimal(rate.denominator)))


def _round_minor(value: Fraction, exponent: int) -> int:
    """Round an amount in major units half-even to minor units (Fraction rounds half-even)."""
    scale: int = 10**exponent
    return round(value * scale)


def _exponent(currency: object) -> int | None:
    if not isinstance(currency, str):
        return None
    try:
        return currency_exponent(currency)
    except MoneyError:
        return None


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcedDoc:
    """A FOS document (``model_dump(mode="json")`` shape) and the event that last set it."""

    doc: Mapping[str, Any]
    source_event_id: str
    version: int


@dataclass(frozen=True, slots=True)
class AccountInput(SourcedDoc):
    """An account: ``account_id, type, currency, balances.current_minor`` (FOS sign)."""


@dataclass(frozen=True, slots=True)
class HoldingInput(SourcedDoc):
    """A holding: ``holding_id, account_id, security_id, quantity, institution_price`` …."""


@dataclass(frozen=True, slots=True)
class SecurityInput(SourcedDoc):
    """A security: ``security_id, quote_symbol, currency, close_price, close_price_as_of``."""


_Doc = TypeVar("_Doc", bound=SourcedDoc)


# --- outputs --------------------------------------------------------------------------------


class LineKind(StrEnum):
    """What a valued line is."""

    ACCOUNT = "account"
    HOLDING = "holding"


class Side(StrEnum):
    """Whether a line is something owned or something owed."""

    ASSET = "asset"
    LIABILITY = "liability"


class UnpricedReason(StrEnum):
    """Why a line could not be valued in the base currency."""

    NO_PRICE = "no_price"
    NO_FX_RATE = "no_fx_rate"
    UNKNOWN_CURRENCY = "unknown_currency"
    NO_BALANCE = "no_balance"
    INVALID_NUMBER = "invalid_number"


class PriceOrigin(StrEnum):
    """Where a holding's price came from, in order of preference."""

    TICK = "tick"
    INSTITUTION_PRICE = "institution_price"
    INSTITUTION_VALUE = "institution_value"
    CLOSE_PRICE = "close_price"


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The price a holding was valued at, as quoted, and where it came from.

    For a tick, ``instrument``, ``as_of`` (ISO 8601 UTC) and ``source`` name it. For a vendor
    price (the holding's ``institution_price``, its ``institution_value``, or the security's
    ``close_price``), ``as_of`` is the vendor's date, if any, and ``source_event_id`` and
    ``version`` name the event that carried it. For ``institution_value``, ``value`` is the
    whole position's value, not a unit price.
    """

    origin: PriceOrigin
    value: str
    currency: str
    as_of: str | None
    source: str | None = None
    instrument: str | None = None
    source_event_id: str | None = None
    version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {
            "origin": self.origin.value,
            "value": self.value,
            "currency": self.currency,
            "as_of": self.as_of,
            "source": self.source,
            "instrument": self.instrument,
            "source_event_id": self.source_event_id,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class ValuedLine:
    """One account balance or holding, valued natively and in the base currency.

    ``native_value`` is the exact value in ``currency`` (an ISO code: a pence price is
    already in pounds here); ``native_minor`` and ``base_minor`` are half-even roundings of
    this line alone. ``source_event_id``/``version`` name the balance or holdings event;
    ``price`` the price (holdings only); ``fx`` the rate and its ticks.
    """

    id: str
    kind: LineKind
    side: Side
    account_id: str
    currency: str
    native_value: str
    native_minor: int
    base_minor: int
    source_event_id: str
    version: int
    price: PriceSource | None
    fx: RateQuote

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "side": self.side.value,
            "account_id": self.account_id,
            "currency": self.currency,
            "native_value": self.native_value,
            "native_minor": self.native_minor,
            "base_minor": self.base_minor,
            "source_event_id": self.source_event_id,
            "version": self.version,
            "price": None if self.price is None else self.price.as_dict(),
            "fx": {"rate": self.fx.rate, "legs": [leg._asdict() for leg in self.fx.legs]},
        }


@dataclass(frozen=True, slots=True)
class UnpricedItem:
    """Something that is in the profile but not in the totals, and why.

    ``currency``, ``native_value`` and ``native_minor`` are set when the native value is
    known (a missing FX rate), None when it is not (a missing price).
    """

    id: str
    kind: LineKind
    side: Side
    account_id: str
    reason: UnpricedReason
    source_event_id: str
    version: int
    currency: str | None = None
    native_value: str | None = None
    native_minor: int | None = None
    price: PriceSource | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "side": self.side.value,
            "account_id": self.account_id,
            "reason": self.reason.value,
            "currency": self.currency,
            "native_value": self.native_value,
            "native_minor": self.native_minor,
            "source_event_id": self.source_event_id,
            "version": self.version,
            "price": None if self.price is None else self.price.as_dict(),
        }


class CurrencyTotal(NamedTuple):
    """Native sums of one currency, in its minor units, each rounded once.

    ``liabilities_minor`` is in FOS sign (owed is negative). ``unconverted_minor`` is the part
    of ``net_minor`` left out of the base totals because no FX rate was known.
    """

    currency: str
    assets_minor: int
    liabilities_minor: int
    net_minor: int
    unconverted_minor: int


class ReplacedBalance(NamedTuple):
    """An account valued from its holdings; its own reported balance is kept for reference."""

    account_id: str
    currency: str
    reported_minor: int | None
    holding_count: int
    source_event_id: str
    version: int


@dataclass(frozen=True, slots=True)
class BalanceSheet:
    """A profile's assets and liabilities in ``base_currency`` at ``at`` (see module doc)."""

    base_currency: str
    at: str
    net_worth_minor: int
    total_debt_minor: int
    assets_minor: int
    lines: tuple[ValuedLine, ...]
    by_currency: tuple[CurrencyTotal, ...]
    unpriced_assets: tuple[UnpricedItem, ...]
    replaced_balances: tuple[ReplacedBalance, ...]

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape: integers for money, strings for rates and prices."""
        return {
            "base_currency": self.base_currency,
            "at": self.at,
            "net_worth_minor": self.net_worth_minor,
            "total_debt_minor": self.total_debt_minor,
            "assets_minor": self.assets_minor,
            "lines": [line.as_dict() for line in self.lines],
            "by_currency": [total._asdict() for total in self.by_currency],
            "unpriced_assets": [item.as_dict() for item in self.unpriced_assets],
            "replaced_balances": [entry._asdict() for entry in self.replaced_balances],
        }


# --- valuation ------------------------------------------------------------------------------


class _Head(NamedTuple):
    """What every line or unpriced item says about itself."""

    id: str
    kind: LineKind
    side: Side
    account_id: str
    source_event_id: str
    version: int


class _Valued(NamedTuple):
    line: ValuedLine
    native: Fraction
    base: Fraction


class _Unpriced(NamedTuple):
    item: UnpricedItem
    native: Fraction | None


class _Priced(NamedTuple):
    """A holding's exact native value, its ISO currency and the price it came from."""

    native: Fraction
    currency: str
    price: PriceSource


@dataclass(frozen=True, slots=True)
class _Valuation:
    book: RateBook
    base_currency: str
    base_exponent: int
    at: dt.datetime


def value_holdings_and_accounts(
    accounts: Iterable[AccountInput],
    holdings: Iterable[HoldingInput],
    securities: Iterable[SecurityInput],
    book: RateBook,
    *,
    base_currency: str,
    at: dt.datetime,
) -> BalanceSheet:
    """Value a profile's accounts and holdings in ``base_currency`` at ``at``.

    Accounts: DEPOSITORY, PROPERTY and OTHER count their ``balances.current_minor`` as
    assets; CREDIT and LOAN count theirs as liabilities. An account that has holdings (an
    INVESTMENT account, typically) is valued from its holdings, so a price tick revalues it;
    its reported balance is listed in ``replaced_balances`` and not counted. An INVESTMENT
    account without holdings counts its reported balance. Liabilities are never replaced.

    Holdings: quantity times the latest price tick at or before ``at`` (filed by security id
    or quote symbol). Without one, the newest of the vendor's own figures: the holding's
    ``institution_price`` or ``institution_value``, or the security's ``close_price``, where
    a vendor zero counts as unknown. Every value is converted with ``rate_at``. A line
    without a price or rate goes to ``unpriced_assets`` and out of the totals.

    The result depends only on the arguments, not on their order; a document given twice
    under one id counts once, the highest ``version`` winning.

    Raises:
        MoneyError: if ``base_currency`` is not an ISO 4217 currency with a minor unit.
        ValueError: if ``at`` has no timezone.
    """
    _micros(at)  # Refuse a zoneless time before doing any work.
    ctx = _Valuation(book, base_currency, currency_exponent(base_currency), at)
    by_account = _latest_docs(accounts, "account_id")
    by_holding = _latest_docs(holdings, "holding_id")
    by_security = _latest_docs(securities, "security_id")
    holding_counts: dict[str, int] = {}
    for holding in by_holding.values():
        account_id = holding.doc["account_id"]
        holding_counts[account_id] = holding_counts.get(account_id, 0) + 1
    results: list[_Valued | _Unpriced] = []
    replaced = []
    for account_id, account in sorted(by_account.items()):
        count = holding_counts.get(account_id, 0)
        if count and _side_of(account.doc) is not Side.LIABILITY:
            replaced.append(_replaced(account, count))
        else:
            results.append(_value_account(ctx, account))
    for _, holding in sorted(by_holding.items()):
        security = by_security.get(holding.doc.get("security_id", ""))
        results.append(_value_holding(ctx, holding, security))
    return _assemble(ctx, results, tuple(replaced))


def _latest_docs(items: Iterable[_Doc], id_field: str) -> dict[str, _Doc]:
    latest: dict[str, _Doc] = {}
    for item in items:
        key = item.doc[id_field]
        held = latest.get(key)
        rank = (item.version, item.source_event_id)
        if held is None or rank > (held.version, held.source_event_id):
            latest[key] = item
    return latest


def _side_of(doc: Mapping[str, Any]) -> Side:
    liability = doc.get("type") in {AccountType.CREDIT.value, AccountType.LOAN.value}
    return Side.LIABILITY if liability else Side.ASSET


def _replaced(account: AccountInput, count: int) -> ReplacedBalance:
    balance = (account.doc.get("balances") or {}).get("current_minor")
    return ReplacedBalance(
        account.doc["account_id"],
        account.doc.get("currency", ""),
        balance if isinstance(balance, int) and not isinstance(balance, bool) else None,
        count,
        account.source_event_id,
        account.version,
    )


def _value_account(ctx: _Valuation, account: AccountInput) -> _Valued | _Unpriced:
    doc = account.doc
    head = _Head(
        doc["account_id"],
        LineKind.ACCOUNT,
        _side_of(doc),
        doc["account_id"],
        account.source_event_id,
        account.version,
    )
    currency = doc.get("currency")
    exponent = _exponent(currency)
    if exponent is None:
        return _unpriced(head, UnpricedReason.UNKNOWN_CURRENCY)
    balance = (doc.get("balances") or {}).get("current_minor")
    if not isinstance(balance, int) or isinstance(balance, bool):
        return _unpriced(head, UnpricedReason.NO_BALANCE)
    return _convert(ctx, head, Fraction(balance, 10**exponent), str(currency), None)


def _value_holding(
    ctx: _Valuation, holding: HoldingInput, security: SecurityInput | None
) -> _Valued | _Unpriced:
    doc = holding.doc
    head = _Head(
        doc["holding_id"],
        LineKind.HOLDING,
        Side.ASSET,
        doc.get("account_id", ""),
        holding.source_event_id,
        holding.version,
    )
    quantity = _fraction(doc.get("quantity"))
    if quantity is None:
        return _unpriced(head, UnpricedReason.INVALID_NUMBER)
    priced = _tick_price(ctx, doc, security, quantity) or _vendor_price(holding, security, quantity)
    if priced is None:
        return _unpriced(head, UnpricedReason.NO_PRICE)
    return _convert(ctx, head, priced.native, priced.currency, priced.price)


def _tick_price(
    ctx: _Valuation,
    doc: Mapping[str, Any],
    security: SecurityInput | None,
    quantity: Fraction,
) -> _Priced | None:
    symbol = doc.get("quote_symbol") or (security.doc.get("quote_symbol") if security else None)
    quote = price_at(ctx.book, security_id=doc.get("security_id"), quote_symbol=symbol, at=ctx.at)
    if quote is None:
        return None
    # The tick was validated on the way in, so its quote code is known.
    currency, divisor = quote_unit(quote.currency)
    source = PriceSource(
        PriceOrigin.TICK,
        quote.price,
        quote.currency,
        quote.as_of,
        source=quote.source,
        instrument=quote.instrument,
    )
    return _Priced(quantity * Fraction(quote.price) / divisor, currency, source)


def _vendor_price(
    holding: HoldingInput, security: SecurityInput | None, quantity: Fraction
) -> _Priced | None:
    """Value a holding from the vendor's own figures when no tick is known.

    Candidates are the holding's ``institution_price`` (times quantity), its
    ``institution_value`` (the institution's value of the whole position: a price source
    too) and the security's ``close_price`` (times quantity). The newest by vendor date wins,
    in that order on a tie, undated ones last. A vendor figure of zero is taken as "unknown":
    vendors send 0 when they have no price, and a holding valued at 0 would vanish from net
    worth silently, whereas an unpriced one is listed.
    """
    doc = holding.doc
    as_of = doc.get("institution_price_as_of")
    candidates = [
        _vendor_candidate(
            PriceOrigin.INSTITUTION_PRICE, doc.get("institution_price"), doc, as_of, holding
        ),
        _vendor_candidate(
            PriceOrigin.INSTITUTION_VALUE, doc.get("institution_value"), doc, as_of, holding
        ),
    ]
    if security is not None:
        currency = security.doc.get("currency") or doc.get("quote_currency") or doc.get("currency")
        candidates.append(
            _vendor_candidate(
                PriceOrigin.CLOSE_PRICE,
                security.doc.get("close_price"),
                {"currency": currency},
                security.doc.get("close_price_as_of"),
                security,
            )
        )
    ranked = [(c.as_of or "", -rank, c) for rank, c in enumerate(candidates) if c is not None]
    if not ranked:
        return None
    source = max(ranked, key=lambda entry: entry[:2])[2]
    currency, divisor = quote_unit(source.currency)
    value = Fraction(source.value) / divisor
    if source.origin is not PriceOrigin.INSTITUTION_VALUE:
        value *= quantity
    return _Priced(value, currency, source)


def _vendor_candidate(
    origin: PriceOrigin,
    value: object,
    doc: Mapping[str, Any],
    as_of: object,
    carrier: SourcedDoc,
) -> PriceSource | None:
    number = _fraction(value)
    currency = doc.get("currency")
    if number is None or number <= 0 or not isinstance(currency, str):
        return None
    try:
        quote_unit(currency)
    except MoneyError:
        return None
    return PriceSource(
        origin,
        str(value),
        currency,
        as_of if isinstance(as_of, str) else None,
        source_event_id=carrier.source_event_id,
        version=carrier.version,
    )


def _unpriced(head: _Head, reason: UnpricedReason) -> _Unpriced:
    item = UnpricedItem(
        head.id,
        head.kind,
        head.side,
        head.account_id,
        reason,
        head.source_event_id,
        head.version,
    )
    return _Unpriced(item, None)


def _convert(
    ctx: _Valuation,
    head: _Head,
    native: Fraction,
    currency: str,
    price: PriceSource | None,
) -> _Valued | _Unpriced:
    """Convert an exact native value to the base currency, or list it when no rate exists."""
    exponent = currency_exponent(currency)
    native_text = _exact_text(native)
    if native_text is None:
        # Natives are products of decimal text and divisors of 100, so they terminate.
        msg = f"native value {native} of {head.id} has no finite decimal expansion"
        raise AssertionError(msg)
    native_minor = _round_minor(native, exponent)
    if currency == ctx.base_currency:
        # At par: the base value is the native one, with no rate to look up or multiply.
        quote, base, base_minor = _PAR, native, native_minor
    else:
        found = rate_at(ctx.book, currency, ctx.base_currency, ctx.at)
        if found is None:
            item = UnpricedItem(
                head.id,
                head.kind,
                head.side,
                head.account_id,
                UnpricedReason.NO_FX_RATE,
                head.source_event_id,
                head.version,
                currency=currency,
                native_value=native_text,
                native_minor=native_minor,
                price=price,
            )
            return _Unpriced(item, native)
        quote, base = found, native * found.exact
        base_minor = _round_minor(base, ctx.base_exponent)
    line = ValuedLine(
        head.id,
        head.kind,
        head.side,
        head.account_id,
        currency,
        native_text,
        native_minor,
        base_minor,
        head.source_event_id,
        head.version,
        price,
        quote,
    )
    return _Valued(line, native, base)


def _assemble(
    ctx: _Valuation,
    results: list[_Valued | _Unpriced],
    replaced: tuple[ReplacedBalance, ...],
) -> BalanceSheet:
    valued = [r for r in results if isinstance(r, _Valued)]
    net = sum((r.base for r in valued), Fraction(0))
    # A liability account in credit is money the user has, so it raises assets rather than
    # lowering debt; debt is therefore never negative.
    debt = sum(
        (-r.base for r in valued if r.line.side is Side.LIABILITY and r.base < 0), Fraction(0)
    )
    net_worth_minor = _round_minor(net, ctx.base_exponent)
    total_debt_minor = _round_minor(debt, ctx.base_exponent)
    return BalanceSheet(
        base_currency=ctx.base_currency,
        at=utc_iso(ctx.at),
        net_worth_minor=net_worth_minor,
        total_debt_minor=total_debt_minor,
        assets_minor=net_worth_minor + total_debt_minor,
        lines=tuple(r.line for r in valued),
        by_currency=_by_currency(results),
        unpriced_assets=tuple(r.item for r in results if isinstance(r, _Unpriced)),
        replaced_balances=replaced,
    )


def _by_currency(results: list[_Valued | _Unpriced]) -> tuple[CurrencyTotal, ...]:
    """Sum exact native values per currency, then round each sum once."""
    assets: dict[str, Fraction] = {}
    liabilities: dict[str, Fraction] = {}
    unconverted: dict[str, Fraction] = {}
    for result in results:
        if result.native is None:
            continue
        if isinstance(result, _Valued):
            currency, side = result.line.currency, result.line.side
        else:
            currency, side = str(result.item.currency), result.item.side
            unconverted[currency] = unconverted.get(currency, Fraction(0)) + result.native
        bucket = liabilities if side is Side.LIABILITY else assets
        bucket[currency] = bucket.get(currency, Fraction(0)) + result.native
    totals = []
    for currency in sorted(assets.keys() | liabilities.keys()):
        exponent = currency_exponent(currency)
        owned, owed = assets.get(currency, Fraction(0)), liabilities.get(currency, Fraction(0))
        totals.append(
            CurrencyTotal(
                currency,
                _round_minor(owned, exponent),
                _round_minor(owed, exponent),
                _round_minor(owned + owed, exponent),
                _round_minor(unconverted.get(currency, Fraction(0)), exponent),
            )
        )
    return tuple(totals)
