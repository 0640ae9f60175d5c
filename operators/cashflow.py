"""The cashflow engine: monthly income, expenses and transfers, and the trailing summary.

Everything here is a pure function of its arguments and of the *set* of items it is given:
items are sorted by value before anything order-sensitive happens, so the same transactions in
any order give identical results. Money stays in integer minor units; ratios are computed as
``Fraction`` and rendered as decimal strings with a fixed number of places.

Classification of a posted item in the requested currency:

- a leg of a transfer pair (see ``find_transfers``) is a transfer, neutral to both income
  and expenses;
- a ``REFUND`` gives spending back, so it reduces expenses rather than counting as income;
- any other item is income when money comes in and an expense when it goes out.

A vendor's ``TRANSFER`` type is not enough on its own to call an item a transfer: only a pair
of legs on two of the profile's accounts shows that the money stayed with the user. A
one-legged ``TRANSFER`` moves money to or from someone else, so it is an expense (out) or
income (in) like any other item.
"""

from __future__ import annotations

import bisect
import calendar
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Final, Literal

# Legs of a transfer post on different days when the receiving bank is slower (a card payment
# often lands a day or two after the checking debit); three days covers a weekend.
TRANSFER_WINDOW_DAYS: Final = 3

# Kinds that can be one leg of a move between the user's own accounts. Income, fees, interest
# and refunds always have a party outside the profile on the other side, so they never pair.
_PAIRABLE_KINDS: Final = frozenset({"TRANSFER", "PAYMENT", "OTHER"})

RATIO_PLACES: Final = 4

Role = Literal["income", "expense", "refund", "transfer"]


@dataclass(frozen=True, slots=True)
class FlowItem:
    """One transaction as the cashflow engine sees it.

    Attributes:
        transaction_id: The FOS transaction id.
        account_id: The profile account the transaction posted on.
        account_type: The FOS account type of that account, e.g. ``"DEPOSITORY"``.
        day: The transaction's date (the authorised date when known, else the posted date).
        amount_minor: Minor units in FOS sign: negative when money leaves the user.
        currency: The ISO 4217 code of ``amount_minor``.
        kind: The FOS ``details.type``: PAYMENT, TRANSFER, FEE, INTEREST, INCOME, REFUND, OTHER.
        category: The enrichment category path, most general first.
        pending: True while the transaction is a hold that may still change or vanish.
    """

    transaction_id: str
    account_id: str
    account_type: str
    day: date
    amount_minor: int
    currency: str
    kind: str
    category: tuple[str, ...] = ()
    pending: bool = False


@dataclass(frozen=True, slots=True)
class TransferPair:
    """Two legs that moved the same amount between two of the profile's accounts."""

    outflow: FlowItem
    inflow: FlowItem


@dataclass(frozen=True, slots=True)
class MonthFlow:
    """Income, expenses and transfers of one calendar month in one currency.

    Every item given to ``monthly_cashflow`` whose day falls in the month is counted in exactly
    one of ``transaction_count``, ``pending_count`` and ``other_currency_count``.

    Attributes:
        month: The calendar month, ``"YYYY-MM"``.
        currency: The currency of every amount here.
        income_minor: Money that came in from outside the profile.
        expenses_minor: Money that went out to outside the profile, as a positive number,
            net of refunds (so a month of refunds alone shows negative expenses).
        refunds_minor: The refunds already netted into ``expenses_minor``, positive.
        transfers_out_minor: Outgoing transfer legs, positive; neither income nor expense.
        transfers_in_minor: Incoming transfer legs, positive; neither income nor expense.
        net_minor: ``income_minor - expenses_minor``.
        transaction_count: Posted items in ``currency`` (transfer legs included).
        transfer_count: How many of those are transfer legs.
        pending_count: Pending items, in any currency; they are not counted anywhere else.
        other_currency_count: Posted items in another currency, left for a later conversion.
    """

    month: str
    currency: str
    income_minor: int = 0
    expenses_minor: int = 0
    refunds_minor: int = 0
    transfers_out_minor: int = 0
    transfers_in_minor: int = 0
    net_minor: int = 0
    transaction_count: int = 0
    transfer_count: int = 0
    pending_count: int = 0
    other_currency_count: int = 0


@dataclass(frozen=True, slots=True)
class CashflowSummary:
    """Averages over the trailing full calendar months before ``as_of``'s month.

    Averages are totals divided by the number of months in ``window``, rounded half-even to
    the minor unit once; the totals are kept beside them so each figure can be recomputed.

    Attributes:
        as_of: The day the summary describes; its own month is never in the window.
        currency: The currency of the months, or None when there were none.
        window: The months averaged over, oldest first.
        skipped: Months of the trailing range without a posted transaction in the currency.
        window_days: Calendar days in the months of ``window`` (for a daily burn rate).
        income_minor: Total income over ``window``.
        expenses_minor: Total expenses over ``window``.
        monthly_income_minor: Average income per month; None when ``window`` is empty.
        monthly_burn_minor: Average expenses per month; None when ``window`` is empty.
        free_cash_flow_minor: Average of income minus expenses per month; None likewise.
        savings_rate: ``(income - expenses) / income`` over ``window`` as a decimal string
            with four places, e.g. ``"0.1500"``; None when there was no income.
    """

    as_of: date
    currency: str | None
    window: tuple[str, ...]
    skipped: tuple[str, ...]
    window_days: int
    income_minor: int
    expenses_minor: int
    monthly_income_minor: int | None
    monthly_burn_minor: int | None
    free_cash_flow_minor: int | None
    savings_rate: str | None


def month_key(day: date) -> str:
    """Return the calendar month of ``day`` as ``"YYYY-MM"``."""
    return f"{day.year:04d}-{day.month:02d}"


def _order(item: FlowItem) -> tuple[object, ...]:
    """A total order on items, so that every tie is broken by value, never by arrival."""
    return (
        item.day,
        item.amount_minor,
        item.transaction_id,
        item.account_id,
        item.currency,
        item.kind,
        item.account_type,
        item.category,
        item.pending,
    )


def find_transfers(
    items: Iterable[FlowItem], *, window_days: int = TRANSFER_WINDOW_DAYS
) -> tuple[TransferPair, ...]:
    """Pair the legs of moves between the profile's own accounts.

    Two posted items pair when they have opposite amounts of the same currency, sit on two
    different accounts, are at most ``window_days`` apart and are both of a pairable kind
    (TRANSFER, PAYMENT or OTHER). Within each (currency, amount) group the outflows are taken
    in ``(day, amount, transaction_id, …)`` order and each takes the nearest free inflow, ties
    going to the inflow first in that order. The pairs are therefore a function of the set of
    items alone.

    Returns:
        The pairs, sorted by their outflow then inflow.
    """
    groups: dict[tuple[str, int], tuple[list[FlowItem], list[FlowItem]]] = {}
    for item in items:
        if item.pending or item.amount_minor == 0 or item.kind not in _PAIRABLE_KINDS:
            continue
        outs, ins = groups.setdefault((item.currency, abs(item.amount_minor)), ([], []))
        (outs if item.amount_minor < 0 else ins).append(item)
    pairs: list[TransferPair] = []
    for key in sorted(groups):
        outs, ins = groups[key]
        if outs and ins:
            pairs.extend(
                _pair_group(sorted(outs, key=_order), sorted(ins, key=_order), window_days)
            )
    return tuple(sorted(pairs, key=lambda pair: (_order(pair.outflow), _order(pair.inflow))))


def _pair_group(outs: list[FlowItem], ins: list[FlowItem], window_days: int) -> list[TransferPair]:
    """Greedily pair sorted outflows with sorted inflows of one amount."""
    in_days = [item.day.toordinal() for item in ins]
    taken = [False] * len(ins)
    pairs = []
    for out in outs:
        day = out.day.toordinal()
        low = bisect.bisect_left(in_days, day - window_days)
        high = bisect.bisect_right(in_days, day + window_days)
        free = [
            index
            for index in range(low, high)
            if not taken[index] and ins[index].account_id != out.account_id
        ]
        if not free:
            continue
        # The inflows are sorted, so the first index of the smallest gap is the tie-break.
        best = min(free, key=lambda index: (abs(in_days[index] - day), index))
        taken[best] = True
        pairs.append(TransferPair(outflow=out, inflow=ins[best]))
    return pairs


def monthly_cashflow(
    items: Iterable[FlowItem],
    *,
    currency: str,
    transfer_window_days: int = TRANSFER_WINDOW_DAYS,
) -> dict[str, MonthFlow]:
    """Return the cashflow of each calendar month in which any item falls, oldest first.

    Only posted items in ``currency`` are counted into amounts; pending items and items in
    other currencies are counted by number only (see ``MonthFlow``). Transfer pairs are found
    over all items, so a pair whose legs straddle a month boundary is neutral in both months.

    Adding an item changes only its own month, unless it completes (or takes over) a transfer
    pair, which can also change the month of a leg up to ``transfer_window_days`` away.
    """
    items = tuple(items)
    pairs = find_transfers(items, window_days=transfer_window_days)
    legs = Counter(leg for pair in pairs for leg in (pair.outflow, pair.inflow))
    tallies: dict[str, Counter[str]] = {}
    for item in sorted(items, key=_order):
        tally = tallies.setdefault(month_key(item.day), Counter())
        if item.pending:
            tally["pending_count"] += 1
        elif item.currency != currency:
            tally["other_currency_count"] += 1
        else:
            is_leg = legs[item] > 0
            if is_leg:
                # Identical items are interchangeable, so using up one pairing per copy is exact.
                legs[item] -= 1
            _count(tally, classify(item, is_transfer=is_leg), item.amount_minor)
    return {month: _month_flow(month, currency, tallies[month]) for month in sorted(tallies)}


def classify(item: FlowItem, *, is_transfer: bool) -> Role:
    """Return how a posted item counts: income, expense, refund or transfer."""
    if is_transfer:
        return "transfer"
    if item.kind == "REFUND":
        return "refund"
    return "income" if item.amount_minor > 0 else "expense"


def _count(tally: Counter[str], role: Role, amount_minor: int) -> None:
    tally["transaction_count"] += 1
    if role == "transfer":
        tally["transfer_count"] += 1
        side = "transfers_in_minor" if amount_minor > 0 else "transfers_out_minor"
        tally[side] += abs(amount_minor)
    elif role == "refund":
        # A refund gives spending back; a negative "refund" (a reversal) adds spending again.
        tally["refunds_minor"] += amount_minor
        tally["expenses_minor"] -= amount_minor
    elif role == "income":
        tally["income_minor"] += amount_minor
    else:
        tally["expenses_minor"] -= amount_minor


def _month_flow(month: str, currency: str, tally: Counter[str]) -> MonthFlow:
    return MonthFlow(
        month=month,
        currency=currency,
        income_minor=tally["income_minor"],
        expenses_minor=tally["expenses_minor"],
        refunds_minor=tally["refunds_minor"],
        transfers_out_minor=tally["transfers_out_minor"],
        transfers_in_minor=tally["transfers_in_minor"],
        net_minor=tally["income_minor"] - tally["expenses_minor"],
        transaction_count=tally["transaction_count"],
        transfer_count=tally["transfer_count"],
        pending_count=tally["pending_count"],
        other_currency_count=tally["other_currency_count"],
    )


def months_before(as_of: date, count: int) -> tuple[str, ...]:
    """Return the ``count`` full calendar months before ``as_of``'s month, oldest first."""
    current = as_of.year * 12 + as_of.month - 1
    indices = range(current - count, current)
    return tuple(f"{index // 12:04d}-{index % 12 + 1:02d}" for index in indices)


def cashflow_summary(
    months: Mapping[str, MonthFlow], *, as_of: date, trailing_months: int = 3
) -> CashflowSummary:
    """Summarise the trailing full calendar months before ``as_of``'s month.

    The month of ``as_of`` is left out because it is still running: its expenses so far
    would understate a month's burn. A month of the trailing range with no posted transaction
    in the currency is skipped rather than counted as zero, because no data more often means
    the account was not linked yet than that nothing was spent; skipped months are listed.

    Raises:
        ValueError: if ``trailing_months`` is below one or the months mix currencies.
    """
    if trailing_months < 1:
        msg = f"trailing_months must be at least 1, not {trailing_months}"
        raise ValueError(msg)
    currency = _single_currency(months.values())
    candidates = months_before(as_of, trailing_months)
    window = tuple(m for m in candidates if m in months and months[m].transaction_count > 0)
    income = sum(months[m].income_minor for m in window)
    expenses = sum(months[m].expenses_minor for m in window)
    count = len(window)
    return CashflowSummary(
        as_of=as_of,
        currency=currency,
        window=window,
        skipped=tuple(m for m in candidates if m not in window),
        window_days=sum(_days_in_month(m) for m in window),
        income_minor=income,
        expenses_minor=expenses,
        monthly_income_minor=_average(income, count),
        monthly_burn_minor=_average(expenses, count),
        free_cash_flow_minor=_average(income - expenses, count),
        savings_rate=ratio_text(income - expenses, income) if income else None,
    )


def _single_currency(flows: Iterable[MonthFlow]) -> str | None:
    currencies = {flow.currency for flow in flows}
    if len(currencies) > 1:
        msg = f"months mix currencies {sorted(currencies)}; summarise one currency at a time"
        raise ValueError(msg)
    return next(iter(currencies), None)


def _days_in_month(month: str) -> int:
    year, number = (int(part) for part in month.split("-"))
    return calendar.monthrange(year, number)[1]


def _average(total_minor: int, count: int) -> int | None:
    """Return ``total_minor / count`` rounded half-even to a whole minor unit."""
    return round(Fraction(total_minor, count)) if count else None


def ratio_text(numerator: int, denominator: int, places: int = RATIO_PLACES) -> str:
    """Return ``numerator / denominator`` as a decimal string, rounded half-even once.

    The division is exact (``Fraction``) and only the final digit is rounded, so the text
    never depends on a floating-point or Decimal context. Zero is never signed.

    Raises:
        ZeroDivisionError: if ``denominator`` is zero.
    """
    return fraction_text(Fraction(numerator, denominator), places)


def fraction_text(value: Fraction, places: int = RATIO_PLACES) -> str:
    """Return ``value`` as a decimal string with ``places`` digits, rounded half-even."""
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"
