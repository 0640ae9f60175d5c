"""Daily balance history: backfill from the current balance, net worth, reconciliation."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.history import Mismatch, backfill_daily_balances, daily_net_worth, reconcile

AS_OF = date(2024, 3, 5)

TRANSACTIONS = [
    (date(2024, 3, 3), 50000),
    (date(2024, 3, 1), -2000),
    (date(2024, 3, 3), -1500),
    # After as_of: not part of the current balance.
    (date(2024, 3, 6), -999),
]


def test_balances_walk_back_from_the_current_balance() -> None:
    assert backfill_daily_balances(100000, AS_OF, TRANSACTIONS) == [
        (date(2024, 3, 1), 51500),
        (date(2024, 3, 2), 51500),
        (date(2024, 3, 3), 100000),
        (date(2024, 3, 4), 100000),
        (date(2024, 3, 5), 100000),
    ]


def test_start_before_the_first_transaction_shows_the_opening_balance() -> None:
    rows = backfill_daily_balances(100000, AS_OF, TRANSACTIONS, start=date(2024, 2, 28))
    assert rows[:3] == [
        (date(2024, 2, 28), 53500),
        (date(2024, 2, 29), 53500),
        (date(2024, 3, 1), 51500),
    ]


def test_start_after_the_first_transaction_cuts_the_rows_not_the_arithmetic() -> None:
    rows = backfill_daily_balances(100000, AS_OF, TRANSACTIONS, start=date(2024, 3, 4))
    assert rows == [(date(2024, 3, 4), 100000), (date(2024, 3, 5), 100000)]


def test_no_transactions_gives_the_current_balance_alone() -> None:
    assert backfill_daily_balances(-4200, AS_OF, []) == [(AS_OF, -4200)]


def test_a_start_after_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="after as_of"):
        backfill_daily_balances(0, AS_OF, [], start=AS_OF + timedelta(days=1))


def test_net_worth_carries_each_account_forward_from_its_first_day() -> None:
    rows = {
        "checking": [(date(2024, 3, 3), 120), (date(2024, 3, 1), 100), (date(2024, 3, 2), 150)],
        "savings": [(date(2024, 3, 2), 1000), (date(2024, 3, 4), 1100)],
        "card": [(date(2024, 3, 1), -50)],
    }
    assert daily_net_worth(rows) == [
        (date(2024, 3, 1), 50),
        (date(2024, 3, 2), 1100),
        (date(2024, 3, 3), 1070),
        (date(2024, 3, 4), 1170),
    ]


def test_net_worth_of_nothing_and_of_duplicate_rows() -> None:
    assert daily_net_worth({}) == []
    assert daily_net_worth({"empty": []}) == []
    day = date(2024, 3, 1)
    assert daily_net_worth({"a": [(day, 5), (day, 5)]}) == [(day, 5)]
    with pytest.raises(ValueError, match="two balances"):
        daily_net_worth({"a": [(day, 5), (day, 6)]})


def test_reconcile_reports_both_figures_and_the_difference() -> None:
    assert reconcile(10000, 10000) is None
    assert reconcile(10000, 9500) == Mismatch(
        reported_minor=10000, derived_minor=9500, difference_minor=500
    )
    assert reconcile(-300, 0) == Mismatch(-300, 0, -300)


def test_a_vendor_balance_after_is_checked_against_the_derived_history() -> None:
    rows = dict(backfill_daily_balances(100000, AS_OF, TRANSACTIONS))
    # The vendor printed a balance of 515.00 after the 1 March transaction: it agrees.
    assert reconcile(51500, rows[date(2024, 3, 1)]) is None
    # A balance of 1010.00 on 3 March means 10.00 the transactions do not explain.
    assert reconcile(101000, rows[date(2024, 3, 3)]) == Mismatch(101000, 100000, 1000)


# --- properties -----------------------------------------------------------------------------

FIRST = date(2024, 1, 1)

days = st.integers(0, 60).map(lambda n: FIRST + timedelta(days=n))
postings = st.lists(st.tuples(days, st.integers(-(10**9), 10**9)), max_size=40)


@settings(max_examples=200)
@given(postings=postings, data=st.data())
def test_backfill_is_independent_of_order(
    postings: list[tuple[date, int]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(postings))
    as_of = FIRST + timedelta(days=50)
    assert backfill_daily_balances(7, as_of, shuffled) == backfill_daily_balances(
        7, as_of, postings
    )


@settings(max_examples=200)
@given(postings=postings, current=st.integers(-(10**12), 10**12), as_of_offset=st.integers(0, 60))
def test_backfill_conserves_every_posting(
    postings: list[tuple[date, int]], current: int, as_of_offset: int
) -> None:
    as_of = FIRST + timedelta(days=as_of_offset)
    rows = backfill_daily_balances(current, as_of, postings)
    posted: dict[date, int] = defaultdict(int)
    for day, amount in postings:
        posted[day] += amount
    assert rows[-1] == (as_of, current)
    in_range = [day for day, _ in postings if day <= as_of]
    assert rows[0][0] == min(in_range, default=as_of)
    for (previous_day, previous), (day, balance) in zip(rows, rows[1:], strict=False):
        assert day == previous_day + timedelta(days=1)
        assert previous == balance - posted[day]


@st.composite
def account_rows(draw: st.DrawFn) -> dict[str, list[tuple[date, int]]]:
    accounts = draw(st.lists(st.sampled_from("abcde"), unique=True, max_size=5))
    return {
        account: list(draw(st.dictionaries(days, st.integers(-(10**9), 10**9), max_size=8)).items())
        for account in accounts
    }


def naive_net_worth(rows: dict[str, list[tuple[date, int]]]) -> list[tuple[date, int]]:
    """Carry every account forward day by day, the slow and obvious way."""
    all_days = [day for account in rows.values() for day, _ in account]
    if not all_days:
        return []
    result = []
    day = min(all_days)
    while day <= max(all_days):
        total = 0
        for account in rows.values():
            known = [(d, b) for d, b in account if d <= day]
            total += max(known)[1] if known else 0
        result.append((day, total))
        day += timedelta(days=1)
    return result


@settings(max_examples=200)
@given(rows=account_rows(), data=st.data())
def test_net_worth_matches_a_naive_carry_forward_in_any_order(
    rows: dict[str, list[tuple[date, int]]], data: st.DataObject
) -> None:
    shuffled = {
        account: data.draw(st.permutations(rows[account]))
        for account in data.draw(st.permutations(list(rows)))
    }
    expected = naive_net_worth(rows)
    assert daily_net_worth(rows) == expected
    assert daily_net_worth(shuffled) == expected
