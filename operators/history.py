"""Daily balance history derived from a current balance and the transactions behind it.

A vendor reports an account's balance now; the past is rebuilt by walking backwards through
the posted transactions. The balance at the end of day ``d`` is the current balance minus
everything that posted after ``d``, so the history is exact in integer minor units and the
same whatever order the transactions arrive in. Where a vendor's own balance disagrees with
the derived one, ``reconcile`` reports both figures: nothing here adjusts a number silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A reported balance that the transactions do not explain.

    Attributes:
        reported_minor: What the vendor says the balance is.
        derived_minor: What the transactions say it is.
        difference_minor: ``reported_minor - derived_minor``: the amount the transactions
            seen so far do not account for (a missing transaction, or a pending one already
            in the vendor's figure).
    """

    reported_minor: int
    derived_minor: int
    difference_minor: int


def backfill_daily_balances(
    current_minor: int,
    as_of: date,
    transactions: Iterable[tuple[date, int]],
    *,
    start: date | None = None,
) -> list[tuple[date, int]]:
    """Return the end-of-day balance of every day up to ``as_of``, oldest first.

    ``current_minor`` is the balance at the end of ``as_of``, and ``transactions`` are the
    account's posted ``(day, amount_minor)`` movements in FOS sign. The balance at the end of
    day ``d`` is ``current_minor`` minus the amounts posted after ``d`` up to ``as_of``.
    Transactions after ``as_of`` are not part of ``current_minor`` and are left out.

    The rows run from ``start``, or else from the earliest transaction day (``as_of`` alone
    when there is none), to ``as_of`` inclusive, one per calendar day.

    Raises:
        ValueError: if ``start`` is after ``as_of``.
    """
    if start is not None and start > as_of:
        msg = f"start {start} is after as_of {as_of}"
        raise ValueError(msg)
    posted: dict[date, int] = defaultdict(int)
    for day, amount_minor in transactions:
        if day <= as_of:
            posted[day] += amount_minor
    first = start if start is not None else min(posted, default=as_of)
    rows: list[tuple[date, int]] = []
    balance, day = current_minor, as_of
    while day >= first:
        rows.append((day, balance))
        # The balance the day before is this day's close with this day's postings undone.
        balance -= posted.get(day, 0)
        day -= _ONE_DAY
    rows.reverse()
    return rows


def daily_net_worth(
    per_account_rows: Mapping[str, Iterable[tuple[date, int]]],
) -> list[tuple[date, int]]:
    """Return the sum of the accounts' balances for every day of their combined span.

    All accounts must be in one currency. An account contributes from its first row on, and
    on a day without a row it keeps its last known balance, including after its last row.
    The rows run from the earliest first row to the latest row, one per calendar day.

    Raises:
        ValueError: if an account has two different balances for the same day.
    """
    # Each account adds the change of its balance on the days it has a row, so the running
    # sum of the changes is the total, with balances carried forward in between.
    changes: dict[date, int] = defaultdict(int)
    for account_id, rows in per_account_rows.items():
        previous = 0
        for day, balance in _account_days(account_id, rows):
            changes[day] += balance - previous
            previous = balance
    if not changes:
        return []
    result: list[tuple[date, int]] = []
    total, day, last = 0, min(changes), max(changes)
    while day <= last:
        total += changes.get(day, 0)
        result.append((day, total))
        day += _ONE_DAY
    return result


def _account_days(account_id: str, rows: Iterable[tuple[date, int]]) -> list[tuple[date, int]]:
    """Return an account's rows by day, one per day, refusing contradictory duplicates."""
    by_day: dict[date, int] = {}
    for day, balance in rows:
        known = by_day.setdefault(day, balance)
        if known != balance:
            msg = f"account {account_id} has two balances on {day}: {known} and {balance}"
            raise ValueError(msg)
    return sorted(by_day.items())


def reconcile(reported_minor: int, derived_minor: int) -> Mismatch | None:
    """Compare a vendor's balance with the one derived from transactions.

    Returns:
        None when they agree, else a ``Mismatch`` with both figures and their difference.
    """
    if reported_minor == derived_minor:
        return None
    return Mismatch(
        reported_minor=reported_minor,
        derived_minor=derived_minor,
        difference_minor=reported_minor - derived_minor,
    )
