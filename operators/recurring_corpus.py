"""A labelled corpus of synthetic profiles, and the evaluation of a stream detector against it.

Every profile is 6 to 24 months of one person's accounts: income and bills of every frequency
laid out the way banks book them (moved off weekends and holidays, clamped at month ends,
posted a day late by card networks, skipped now and then, rising in price, swinging with the
seasons, starting and stopping mid-history) buried in everyday noise: groceries, coffee at
menu prices, commuter fares, cash, friends, fuel, and one-off purchases at the very merchants
that also bill a subscription. The ground truth is the set of transaction ids each stream
produced. Generation is deterministic in the seed and never reads the clock.

A stream is labelled only once it has enough occurrences to be told from coincidence
(``MIN_OCCURRENCES``); a shorter one stays in the data unlabelled, so detecting it counts
against precision.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from operators.recurring import TxPoint, detect_streams
from schemas.recurring import RecurringFrequency, RecurringStream

Frequency = RecurringFrequency
Shift = Literal["none", "previous", "next"]
AmountKind = Literal["fixed", "drift", "step", "variable", "seasonal"]
Detector = Callable[[Sequence[TxPoint]], list[RecurringStream]]

DEFAULT_SEED: Final = 20240917
DEFAULT_PROFILES: Final = 300

# How many occurrences make a habit: fewer cannot be told from coincidence.
MIN_OCCURRENCES: Final[dict[Frequency, int]] = {
    Frequency.WEEKLY: 4,
    Frequency.BIWEEKLY: 4,
    Frequency.SEMI_MONTHLY: 4,
    Frequency.MONTHLY: 3,
    Frequency.QUARTERLY: 3,
    Frequency.ANNUALLY: 2,
}

# Two evidence sets are the same stream when their Jaccard index reaches this.
MATCH_JACCARD: Final = 0.5

_LAST: Final = 31
_DAY: Final = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TrueStream:
    """A stream the generator laid down: its label, frequency and transactions."""

    name: str
    frequency: Frequency
    transaction_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class LabelledProfile:
    """One synthetic profile: its transactions and the streams hidden in them."""

    profile_id: str
    points: tuple[TxPoint, ...]
    truth: tuple[TrueStream, ...]


# --- Calendar ---------------------------------------------------------------------------------


def _easter(year: int) -> dt.date:
    """Return Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * ell) // 433
    month = (h + ell - 7 * m + 90) // 25
    return dt.date(year, month, (h + ell - 7 * m + 33 * month + 19) % 32)


def _last_monday(year: int, month: int) -> dt.date:
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=last.weekday())


@cache
def _holidays(year: int) -> frozenset[dt.date]:
    """Bank holidays in the English style: fixed dates, Easter, and two last Mondays."""
    easter = _easter(year)
    return frozenset(
        {
            dt.date(year, 1, 1),
            easter - 2 * _DAY,
            easter + _DAY,
            _last_monday(year, 5),
            _last_monday(year, 8),
            dt.date(year, 12, 25),
            dt.date(year, 12, 26),
        }
    )


def _is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def _shift(day: dt.date, policy: Shift) -> dt.date:
    """Move a date off weekends and holidays, as the payer's bank does."""
    if policy == "none":
        return day
    step = -_DAY if policy == "previous" else _DAY
    while not _is_business_day(day):
        day += step
    return day


def _month_day(month_index: int, day: int) -> dt.date:
    year, month = divmod(month_index, 12)
    return dt.date(year, month + 1, min(day, calendar.monthrange(year, month + 1)[1]))


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


# --- Streams ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Schedule:
    """When a stream is due: from ``first``, on ``days`` of the month for calendar schedules."""

    frequency: Frequency
    first: dt.date
    days: tuple[int, ...] = ()

    def nominal_dates(self, until: dt.date) -> Iterator[dt.date]:
        """Yield the due dates from ``first`` up to ``until``."""
        if self.frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
            step = dt.timedelta(days=7 if self.frequency is Frequency.WEEKLY else 14)
            day = self.first
            while day <= until:
                yield day
                day += step
            return
        months = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUALLY: 12}
        step_months = months.get(self.frequency, 1)
        index = _month_index(self.first)
        while _month_day(index, 1) <= until:
            for day_of_month in self.days:
                due = _month_day(index, day_of_month)
                if self.first <= due <= until:
                    yield due
            index += step_months


@dataclass(frozen=True, slots=True)
class _Amount:
    """How a stream's amount behaves, in minor units of the profile's currency.

    ``fixed`` never changes; ``drift`` rises ``percent`` each full year; ``step`` changes by
    ``percent`` once, from occurrence ``step_at``; ``variable`` swings up to ``percent`` either
    way; ``seasonal`` follows the heating season and swings up to ``percent`` on top.
    """

    base_minor: int
    kind: AmountKind = "fixed"
    percent: int = 0
    step_at: int = 0

    def draw(self, rng: random.Random, index: int, years: int, month: int) -> int:
        """Return the amount of occurrence ``index``, ``years`` after the first, in ``month``."""
        base = self.base_minor
        if self.kind == "drift":
            grown: int = base * (100 + self.percent) ** years // 100**years
            return grown
        if self.kind == "step":
            return base * (100 + self.percent) // 100 if index >= self.step_at else base
        if self.kind == "seasonal":
            base = base * _SEASON_PERCENT[month - 1] // 100
        if self.kind in ("variable", "seasonal"):
            swing = rng.randint(-10 * self.percent, 10 * self.percent)
            return max(1, base * (1000 + swing) // 1000)
        return base


# Energy use by month, in percent of the yearly mean: winters cost more.
_SEASON_PERCENT: Final = (135, 130, 115, 100, 85, 75, 70, 72, 85, 100, 120, 133)


@dataclass(frozen=True, slots=True)
class _StreamSpec:
    """A stream to lay down: who, where, when, how much, and how the bank books it."""

    name: str
    merchant: str
    account: str
    inflow: bool
    schedule: _Schedule
    amount: _Amount
    shift: Shift = "none"
    late_percent: int = 0
    miss_percent: int = 3
    until: dt.date = dt.date.max


@dataclass(frozen=True, slots=True)
class _Context:
    """What the stream and noise makers need to know about the profile."""

    profile_id: str
    start: dt.date
    end: dt.date
    currency: str
    checking: str
    card: str
    savings: str

    def money(self, cents: int) -> int:
        """Convert an amount priced in hundredths to the profile's minor units."""
        return cents * 19 // 10 if self.currency == "JPY" else cents


@dataclass(slots=True)
class _Row:
    """A transaction being laid down; ``stream`` is the index of its stream's spec, if any."""

    day: dt.date
    amount_minor: int
    account: str
    merchant: str
    stream: int | None = None
    pending: bool = False


def _occurrences(rng: random.Random, spec: _StreamSpec, ctx: _Context, tag: int) -> list[_Row]:
    """Book a stream: shift, post late, skip now and then (never twice running), clip."""
    rows: list[_Row] = []
    missed = False
    until = min(spec.until, ctx.end)
    for index, due in enumerate(spec.schedule.nominal_dates(until)):
        if index > 0 and not missed and rng.randrange(100) < spec.miss_percent:
            missed = True
            continue
        missed = False
        day = _shift(due, spec.shift)
        if rng.randrange(100) < spec.late_percent:
            day += _DAY * rng.choice((1, 1, 2))
        if not ctx.start <= day <= ctx.end:
            continue
        years = (due - spec.schedule.first).days // 365
        magnitude = spec.amount.draw(rng, index, years, due.month)
        rows.append(
            _Row(day, magnitude if spec.inflow else -magnitude, spec.account, spec.merchant, tag)
        )
    return rows


def _window(rng: random.Random, ctx: _Context) -> tuple[dt.date, dt.date]:
    """Pick when a stream is active: most span the history, some start or stop within it."""
    days = (ctx.end - ctx.start).days
    begin, until = ctx.start, ctx.end
    if rng.randrange(100) < 25:
        begin += dt.timedelta(days=rng.randrange(days * 3 // 5))
    if rng.randrange(100) < 20:
        until = begin + dt.timedelta(
            days=rng.randrange((ctx.end - begin).days // 3, (ctx.end - begin).days + 1)
        )
    return begin, until


def _schedule(
    rng: random.Random, frequency: Frequency, begin: dt.date, days: tuple[int, ...] = ()
) -> _Schedule:
    """Anchor a schedule somewhere in its first period after ``begin``."""
    if frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
        span = 7 if frequency is Frequency.WEEKLY else 14
        return _Schedule(frequency, begin + dt.timedelta(days=rng.randrange(span)))
    months = {Frequency.QUARTERLY: 3, Frequency.ANNUALLY: 12}.get(frequency, 1)
    first_month = _month_index(begin) + rng.randrange(months)
    chosen = days or (rng.randint(1, 31),)
    first = max(begin, _month_day(first_month, 1))
    return _Schedule(frequency, first, chosen)


def _weekday_schedule(
    rng: random.Random, frequency: Frequency, begin: dt.date, weekday: int
) -> _Schedule:
    span = 7 if frequency is Frequency.WEEKLY else 14
    first = begin + dt.timedelta(days=(weekday - begin.weekday()) % 7)
    if span == 14 and rng.randrange(2):
        first += dt.timedelta(days=7)
    return _Schedule(frequency, first)


# --- Stream makers ----------------------------------------------------------------------------

_EMPLOYERS: Final = ("acme payroll", "globex ltd", "initech", "umbrella corp", "stark industries")
_BROKERS: Final = ("vanguard", "hargreaves lansdown", "fidelity", "interactive investor")
_SUBSCRIPTIONS: Final = (
    ("netflix", 1599),
    ("spotify", 999),
    ("disney plus", 799),
    ("apple", 99),
    ("apple", 1099),
    ("amazon", 899),
    ("youtube", 1199),
    ("the times", 2600),
    ("xbox", 1099),
    ("patreon", 500),
    ("audible", 799),
    ("adobe", 1998),
    ("dropbox", 999),
    ("openai", 2000),
)
_ANNUAL: Final = (
    ("admiral", 42000, "step"),
    ("tv licensing", 15900, "fixed"),
    ("namecheap", 1299, "fixed"),
    ("jetbrains", 9900, "fixed"),
    ("amazon", 9500, "fixed"),
    ("norton", 3999, "step"),
    ("aa breakdown", 8900, "step"),
)


@dataclass(frozen=True, slots=True)
class _Maker:
    """Draws the specs of one stream once the frequency-specific parts are chosen."""

    rng: random.Random
    ctx: _Context

    def spec(
        self,
        name: str,
        merchant: str,
        frequency: Frequency,
        amount: _Amount,
        *,
        account: str | None = None,
        inflow: bool = False,
        shift: Shift = "none",
        late_percent: int = 0,
        days: tuple[int, ...] = (),
        weekday: int | None = None,
    ) -> _StreamSpec:
        """Return a stream with a random active window and a schedule anchored within it."""
        begin, until = _window(self.rng, self.ctx)
        if weekday is None:
            schedule = _schedule(self.rng, frequency, begin, days)
        else:
            schedule = _weekday_schedule(self.rng, frequency, begin, weekday)
        return _StreamSpec(
            name=name,
            merchant=merchant,
            account=account or self.ctx.checking,
            inflow=inflow,
            schedule=schedule,
            amount=amount,
            shift=shift,
            late_percent=late_percent,
            miss_percent=self.rng.choice((0, 2, 4, 8)),
            until=until,
        )

    def money(self, low: int, high: int) -> int:
        """Return a random price between two amounts in hundredths, in minor units."""
        return self.ctx.money(self.rng.randint(low, high))


def _income(make: _Maker) -> list[_StreamSpec]:
    """A pay stream of one of the four pay frequencies, sometimes with an annual bonus."""
    rng = make.rng
    employer = rng.choice(_EMPLOYERS)
    raise_percent = rng.choice((0, 2, 3, 5))
    roll = rng.randrange(100)
    if roll < 40:
        pay = _Amount(make.money(180000, 600000), "drift", raise_percent)
        days: tuple[int, ...] = (rng.choice((1, 15, 20, 25, 28, _LAST, _LAST)),)
        specs = [
            make.spec(
                "salary", employer, Frequency.MONTHLY, pay, inflow=True, shift="previous", days=days
            )
        ]
    elif roll < 62:
        pay = _Amount(make.money(90000, 300000), "drift", raise_percent)
        days = rng.choice(((1, 15), (15, _LAST)))
        specs = [
            make.spec(
                "salary",
                employer,
                Frequency.SEMI_MONTHLY,
                pay,
                inflow=True,
                shift="previous",
                days=days,
            )
        ]
    elif roll < 87:
        pay = _Amount(make.money(90000, 250000), "drift", raise_percent)
        specs = [
            make.spec(
                "salary",
                employer,
                Frequency.BIWEEKLY,
                pay,
                inflow=True,
                shift="previous",
                weekday=4,
            )
        ]
    else:
        pay = _Amount(make.money(30000, 90000), rng.choice(("fixed", "variable")), 8)
        specs = [
            make.spec(
                "wages", employer, Frequency.WEEKLY, pay, inflow=True, shift="previous", weekday=4
            )
        ]
    if rng.randrange(100) < 20:
        bonus = _Amount(make.money(100000, 500000), "variable", 4)
        specs.append(
            make.spec("bonus", employer, Frequency.ANNUALLY, bonus, inflow=True, shift="previous")
        )
    return specs


def _investment_income(make: _Maker) -> list[_StreamSpec]:
    """Quarterly dividends and a yearly fund distribution, each for some profiles."""
    rng, ctx = make.rng, make.ctx
    specs: list[_StreamSpec] = []
    broker = rng.choice(_BROKERS)
    if rng.randrange(100) < 35:
        dividend = _Amount(make.money(2000, 80000), "variable", 15)
        specs.append(
            make.spec(
                "dividends",
                broker,
                Frequency.QUARTERLY,
                dividend,
                account=ctx.savings,
                inflow=True,
                shift="next",
                days=(rng.randint(10, 28),),
            )
        )
    if rng.randrange(100) < 15:
        fund = _Amount(make.money(5000, 90000), "variable", 4)
        specs.append(
            make.spec(
                "fund distribution",
                broker,
                Frequency.ANNUALLY,
                fund,
                account=ctx.savings,
                inflow=True,
                shift="next",
            )
        )
    return specs


def _other_income(make: _Maker) -> list[_StreamSpec]:
    """Interest, rent received and pocket money, each for some profiles."""
    rng, ctx = make.rng, make.ctx
    specs: list[_StreamSpec] = []
    if rng.randrange(100) < 30:
        interest = _Amount(make.money(300, 4000), "variable", 20)
        specs.append(
            make.spec(
                "interest",
                "interest",
                Frequency.MONTHLY,
                interest,
                account=ctx.savings,
                inflow=True,
                days=(_LAST,),
            )
        )
    if rng.randrange(100) < 8:
        rent = _Amount(make.money(50000, 150000), "fixed")
        specs.append(
            make.spec(
                "rent received",
                "j smith",
                Frequency.MONTHLY,
                rent,
                inflow=True,
                shift="next",
                days=(rng.randint(1, 5),),
            )
        )
    if rng.randrange(100) < 10:
        pocket = _Amount(make.money(1000, 3000), "fixed")
        specs.append(
            make.spec(
                "allowance", "mum", Frequency.WEEKLY, pocket, inflow=True, weekday=rng.randrange(7)
            )
        )
    return specs


def _housing(make: _Maker) -> list[_StreamSpec]:
    """Rent on the first (or another day) rising each year, or a fixed mortgage."""
    rng = make.rng
    roll = rng.randrange(100)
    if roll < 50:
        rent = _Amount(make.money(60000, 250000), rng.choice(("drift", "fixed")), 3)
        day = 1 if rng.randrange(100) < 70 else rng.randint(1, 28)
        shift: Shift = rng.choice(("previous", "next"))
        return [
            make.spec("rent", "landlord ltd", Frequency.MONTHLY, rent, shift=shift, days=(day,))
        ]
    if roll < 80:
        mortgage = _Amount(make.money(50000, 300000))
        return [
            make.spec(
                "mortgage",
                "nationwide",
                Frequency.MONTHLY,
                mortgage,
                shift="next",
                days=(rng.randint(1, 28),),
            )
        ]
    return []


def _subscriptions(make: _Maker) -> list[_StreamSpec]:
    """Two to five monthly subscriptions, on the card or by direct debit."""
    rng, ctx = make.rng, make.ctx
    chosen = rng.sample(range(len(_SUBSCRIPTIONS)), rng.randint(2, 5))
    specs: list[_StreamSpec] = []
    for index in sorted(chosen):
        merchant, price = _SUBSCRIPTIONS[index]
        amount = _Amount(ctx.money(price))
        if rng.randrange(100) < 25:
            amount = _Amount(ctx.money(price), "step", rng.randint(7, 15), rng.randint(2, 12))
        on_card = rng.randrange(100) < 60
        specs.append(
            make.spec(
                f"{merchant} {price}",
                merchant,
                Frequency.MONTHLY,
                amount,
                account=ctx.card if on_card else ctx.checking,
                shift="none" if on_card else "next",
                late_percent=20 if on_card else 0,
            )
        )
    return specs


def _bills(make: _Maker) -> list[_StreamSpec]:
    """Utilities, phone, broadband, a gym and quarterly insurance."""
    rng = make.rng
    specs: list[_StreamSpec] = []
    monthly = Frequency.MONTHLY
    if rng.randrange(100) < 65:
        energy = _Amount(make.money(6000, 18000), "seasonal", 10)
        specs.append(
            make.spec(
                "energy",
                rng.choice(("octopus energy", "british gas")),
                monthly,
                energy,
                shift="next",
            )
        )
    roll = rng.randrange(100)
    if roll < 25:
        specs.append(
            make.spec(
                "water",
                "thames water",
                monthly,
                _Amount(make.money(2500, 6000), "variable", 12),
                shift="next",
            )
        )
    elif roll < 45:
        water = _Amount(make.money(8000, 20000), "variable", 15)
        specs.append(make.spec("water", "thames water", Frequency.QUARTERLY, water, shift="next"))
    if rng.randrange(100) < 60:
        mobile = _Amount(make.money(1000, 4500), rng.choice(("fixed", "variable")), 6)
        specs.append(
            make.spec("mobile", rng.choice(("vodafone", "ee", "o2")), monthly, mobile, shift="next")
        )
    if rng.randrange(100) < 50:
        broadband = _Amount(
            make.money(2500, 6000), rng.choice(("fixed", "step")), 9, rng.randint(3, 12)
        )
        specs.append(make.spec("broadband", "bt", monthly, broadband, shift="next"))
    if rng.randrange(100) < 35:
        specs.append(
            make.spec("gym", "puregym", monthly, _Amount(make.money(2000, 5000)), shift="next")
        )
        if rng.randrange(100) < 35:
            lesson = _Amount(make.money(600, 1200))
            specs.append(
                make.spec(
                    "gym class",
                    "puregym",
                    Frequency.WEEKLY,
                    lesson,
                    account=make.ctx.card,
                    late_percent=15,
                    weekday=rng.randrange(7),
                )
            )
    if rng.randrange(100) < 40:
        cover = _Amount(make.money(6000, 30000), rng.choice(("fixed", "step")), 6, 2)
        specs.append(make.spec("home insurance", "aviva", Frequency.QUARTERLY, cover, shift="next"))
    return specs


def _annual(make: _Maker) -> list[_StreamSpec]:
    """One to three yearly renewals: insurance, licences, domains, software, Prime."""
    rng, ctx = make.rng, make.ctx
    specs: list[_StreamSpec] = []
    for index in sorted(rng.sample(range(len(_ANNUAL)), rng.randint(1, 3))):
        merchant, price, kind = _ANNUAL[index]
        amount = _Amount(
            ctx.money(price), "step" if kind == "step" else "fixed", rng.randint(-8, 9), 1
        )
        on_card = rng.randrange(100) < 50
        specs.append(
            make.spec(
                f"{merchant} yearly",
                merchant,
                Frequency.ANNUALLY,
                amount,
                account=ctx.card if on_card else ctx.checking,
                shift="none" if on_card else "next",
                late_percent=20 if on_card else 0,
            )
        )
    return specs


def _weekly_outflows(make: _Maker) -> list[_StreamSpec]:
    """A cleaner, pocket money and a meal kit, each for some profiles."""
    rng, ctx = make.rng, make.ctx
    specs: list[_StreamSpec] = []
    weekly = Frequency.WEEKLY
    if rng.randrange(100) < 15:
        specs.append(
            make.spec(
                "cleaner",
                "maria lopez",
                weekly,
                _Amount(make.money(3000, 6000)),
                weekday=rng.randrange(5),
            )
        )
    if rng.randrange(100) < 15:
        specs.append(
            make.spec(
                "pocket money",
                "sam",
                weekly,
                _Amount(make.money(500, 2000)),
                weekday=rng.randrange(7),
            )
        )
    if rng.randrange(100) < 12:
        kit = _Amount(make.money(3500, 6000), rng.choice(("fixed", "step")), 8, rng.randint(5, 30))
        specs.append(
            make.spec(
                "meal kit",
                "hellofresh",
                weekly,
                kit,
                account=ctx.card,
                late_percent=20,
                weekday=rng.randrange(7),
            )
        )
    return specs


def _fortnightly_outflows(make: _Maker) -> list[_StreamSpec]:
    """A loan and childcare every other week, and savings twice a month."""
    rng = make.rng
    specs: list[_StreamSpec] = []
    biweekly = Frequency.BIWEEKLY
    if rng.randrange(100) < 15:
        loan = _Amount(make.money(10000, 40000))
        specs.append(
            make.spec("loan", "zopa", biweekly, loan, shift="next", weekday=rng.randrange(5))
        )
    if rng.randrange(100) < 12:
        care = _Amount(make.money(20000, 60000), "variable", 10)
        specs.append(
            make.spec(
                "childcare",
                "little stars nursery",
                biweekly,
                care,
                shift="next",
                weekday=rng.randrange(5),
            )
        )
    if rng.randrange(100) < 25:
        saving = _Amount(make.money(5000, 50000))
        days = rng.choice(((1, 15), (15, _LAST), (5, 20)))
        merchant = rng.choice(("", "savings pot"))
        specs.append(
            make.spec(
                "savings transfer",
                merchant,
                Frequency.SEMI_MONTHLY,
                saving,
                shift="next",
                days=days,
            )
        )
    return specs


# --- Noise ------------------------------------------------------------------------------------

_GROCERS: Final = ("tesco", "sainsburys", "aldi", "lidl", "waitrose", "co-op")
_CAFES: Final = ("pret", "costa", "starbucks", "caffe nero")
_MENU: Final = (295, 340, 365, 410, 450)
_FARES: Final = (280, 560, 810)
_RESTAURANTS: Final = tuple(f"restaurant {n}" for n in range(40))
_FRIENDS: Final = ("alex", "jo", "priya", "tom", "chen", "fatima")
_APP_TIERS: Final = (99, 199, 299, 499, 999)


def _days(ctx: _Context) -> Iterator[dt.date]:
    day = ctx.start
    while day <= ctx.end:
        yield day
        day += _DAY


def _everyday(rng: random.Random, ctx: _Context) -> list[_Row]:
    """Groceries, restaurants, friends and cash: frequent, irregular, no habit to find."""
    rows: list[_Row] = []
    grocers = rng.sample(_GROCERS, rng.randint(1, 3))
    grocery_rate = [rng.randint(8, 35) for _ in grocers]
    cash_rate = rng.choice((0, 0, 4, 8, 12))
    for day in _days(ctx):
        for grocer, rate in zip(grocers, grocery_rate, strict=True):
            if rng.randrange(100) < rate:
                rows.append(_Row(day, -ctx.money(rng.randint(300, 15000)), ctx.card, grocer))
        if rng.randrange(100) < 15:
            place = _RESTAURANTS[min(rng.randrange(40), rng.randrange(40))]
            rows.append(_Row(day, -ctx.money(rng.randint(800, 9000)), ctx.card, place))
        if rng.randrange(100) < 4:
            amount = ctx.money(rng.randint(500, 8000))
            sign = 1 if rng.randrange(100) < 40 else -1
            rows.append(_Row(day, sign * amount, ctx.checking, rng.choice(_FRIENDS)))
        if rng.randrange(100) < cash_rate:
            rows.append(
                _Row(day, -ctx.money(rng.choice((2000, 4000, 5000, 10000))), ctx.checking, "")
            )
    return rows


def _habits(rng: random.Random, ctx: _Context) -> list[_Row]:
    """Coffee at menu prices and commuter fares: the same amounts, often, on no schedule."""
    rows: list[_Row] = []
    cafe = rng.choice(_CAFES) if rng.randrange(100) < 70 else None
    cafe_rate = rng.randint(15, 70)
    menu = rng.sample(_MENU, rng.randint(1, 3))
    commuter = rng.randrange(100) < 30
    fuel_next = ctx.start + dt.timedelta(days=rng.randint(0, 10)) if rng.randrange(2) else None
    for day in _days(ctx):
        weekday = day.weekday() < 5
        if cafe and weekday and rng.randrange(100) < cafe_rate:
            rows.append(_Row(day, -ctx.money(rng.choice(menu)), ctx.card, cafe))
        if commuter and weekday and rng.randrange(100) < 75:
            rows.append(_Row(day, -ctx.money(rng.choice(_FARES)), ctx.card, "tfl"))
        if fuel_next is not None and day == fuel_next:
            rows.append(_Row(day, -ctx.money(rng.randint(3000, 8000)), ctx.card, "shell"))
            fuel_next = day + dt.timedelta(days=rng.randint(5, 12))
    return rows


def _shopping(rng: random.Random, ctx: _Context) -> list[_Row]:
    """Online shopping, app purchases at store price tiers, and refunds."""
    rows: list[_Row] = []
    amazon_rate = rng.choice((0, 5, 10, 20))
    app_rate = rng.choice((0, 1, 2, 4))
    for day in _days(ctx):
        if rng.randrange(100) < amazon_rate:
            rows.append(
                _Row(
                    day,
                    -ctx.money(rng.randint(400, rng.choice((1500, 4000, 20000)))),
                    ctx.card,
                    "amazon",
                )
            )
        if rng.randrange(100) < app_rate:
            rows.append(_Row(day, -ctx.money(rng.choice(_APP_TIERS)), ctx.card, "apple"))
        if rng.randrange(1000) < 8:
            merchant = rng.choice(("amazon", *_GROCERS[:2]))
            rows.append(_Row(day, ctx.money(rng.randint(300, 6000)), ctx.card, merchant))
    return rows


def _one_offs(rng: random.Random, ctx: _Context, specs: Sequence[_StreamSpec]) -> list[_Row]:
    """One-off payments at the merchants of the streams, some close to the stream's amount."""
    rows: list[_Row] = []
    span = (ctx.end - ctx.start).days
    for spec in specs:
        if rng.randrange(100) >= 40:
            continue
        base = spec.amount.base_minor
        for _ in range(rng.randint(1, 3)):
            day = ctx.start + dt.timedelta(days=rng.randrange(span + 1))
            magnitude = max(1, rng.randint(base * 3 // 10, base * 3))
            rows.append(
                _Row(day, magnitude if spec.inflow else -magnitude, spec.account, spec.merchant)
            )
    return rows


def _pending(rng: random.Random, ctx: _Context, rows: list[_Row]) -> list[_Row]:
    """Leave the last days pending, and keep stale pending copies of some recent postings."""
    cutoff = ctx.end - dt.timedelta(days=rng.randint(0, 4))
    copies: list[_Row] = []
    for row in rows:
        if row.day > cutoff and rng.randrange(100) < 70:
            row.pending = True
        elif (ctx.end - row.day).days < 10 and rng.randrange(100) < 25:
            day = max(ctx.start, row.day - _DAY * rng.randint(0, 2))
            copies.append(
                _Row(day, row.amount_minor, row.account, row.merchant, None, pending=True)
            )
    return rows + copies


# --- Profiles, corpus and evaluation ------------------------------------------------------------


def _context(rng: random.Random, profile_id: str) -> _Context:
    end = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))
    months = rng.randint(6, 24)
    start = _month_day(_month_index(end) - months, end.day) + _DAY
    currency = rng.choices(("GBP", "USD", "EUR", "JPY"), weights=(45, 30, 18, 7))[0]
    return _Context(
        profile_id=profile_id,
        start=start,
        end=end,
        currency=currency,
        checking=f"{profile_id}-checking",
        card=f"{profile_id}-card",
        savings=f"{profile_id}-savings",
    )


def generate_profile(seed: int, index: int) -> LabelledProfile:
    """Generate profile ``index`` of the corpus with ``seed``; the same inputs, the same profile."""
    rng = random.Random(f"{seed}:{index}")  # noqa: S311
    ctx = _context(rng, f"p{index:04d}")
    make = _Maker(rng, ctx)
    makers = (
        _income,
        _investment_income,
        _other_income,
        _housing,
        _subscriptions,
        _bills,
        _annual,
        _weekly_outflows,
        _fortnightly_outflows,
    )
    specs = [spec for maker in makers for spec in maker(make)]
    rows = [row for tag, spec in enumerate(specs) for row in _occurrences(rng, spec, ctx, tag)]
    rows += (
        _everyday(rng, ctx) + _habits(rng, ctx) + _shopping(rng, ctx) + _one_offs(rng, ctx, specs)
    )
    rows = _pending(rng, ctx, rows)
    rng.shuffle(rows)
    points: list[TxPoint] = []
    evidence: dict[int, set[str]] = {}
    for number, row in enumerate(rows):
        tid = f"{ctx.profile_id}-{number:05d}"
        points.append(
            TxPoint(
                tid, row.account, row.day, row.amount_minor, ctx.currency, row.merchant, row.pending
            )
        )
        if row.stream is not None and not row.pending:
            evidence.setdefault(row.stream, set()).add(tid)
    truth = tuple(
        TrueStream(specs[tag].name, specs[tag].schedule.frequency, frozenset(ids))
        for tag, ids in sorted(evidence.items())
        if len(ids) >= MIN_OCCURRENCES[specs[tag].schedule.frequency]
    )
    return LabelledProfile(ctx.profile_id, tuple(points), truth)


def generate_corpus(
    count: int = DEFAULT_PROFILES, seed: int = DEFAULT_SEED
) -> list[LabelledProfile]:
    """Generate ``count`` labelled profiles, deterministically from ``seed``."""
    return [generate_profile(seed, index) for index in range(count)]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def match(
    detected: Sequence[RecurringStream], truth: Sequence[TrueStream]
) -> list[tuple[int, int]]:
    """Pair detections with true streams of the same frequency, best overlap first.

    Returns:
        ``(detected index, truth index)`` pairs whose evidence has a Jaccard index of at least
        ``MATCH_JACCARD``; each detection and each true stream appears at most once.
    """
    scored = sorted(
        (-_jaccard(frozenset(d.transaction_ids), t.transaction_ids), i, j)
        for i, d in enumerate(detected)
        for j, t in enumerate(truth)
        if d.frequency == t.frequency
    )
    pairs: list[tuple[int, int]] = []
    used_detected: set[int] = set()
    used_truth: set[int] = set()
    for negative, i, j in scored:
        if -negative >= MATCH_JACCARD and i not in used_detected and j not in used_truth:
            pairs.append((i, j))
            used_detected.add(i)
            used_truth.add(j)
    return pairs


def evaluate(
    profiles: Iterable[LabelledProfile], detector: Detector = detect_streams
) -> dict[str, Any]:
    """Score a detector on labelled profiles: precision and recall per frequency and overall.

    A detection matching no true stream (see ``match``) is a false positive, a true stream
    matched by no detection a false negative. Precision (recall) is 1.0 when nothing was
    detected (nothing was there to find).
    """
    counts: dict[Frequency, Counter[str]] = {f: Counter() for f in Frequency}
    total_profiles = 0
    for profile in profiles:
        total_profiles += 1
        detected = detector(profile.points)
        pairs = match(detected, profile.truth)
        for i, _ in pairs:
            counts[detected[i].frequency]["tp"] += 1
        matched_detected = {i for i, _ in pairs}
        matched_truth = {j for _, j in pairs}
        for i, stream in enumerate(detected):
            counts[stream.frequency]["fp"] += i not in matched_detected
        for j, true in enumerate(profile.truth):
            counts[true.frequency]["fn"] += j not in matched_truth
    overall: Counter[str] = sum(counts.values(), Counter())
    return {
        "profiles": total_profiles,
        "frequencies": {f.value: _scores(c) for f, c in counts.items()},
        "overall": _scores(overall),
    }


def _scores(counts: Counter[str]) -> dict[str, Any]:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return {
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }
