"""The cashflow engine: monthly flows, own-account transfers and the trailing summary."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.cashflow import (
    FlowItem,
    MonthFlow,
    cashflow_summary,
    find_transfers,
    fraction_text,
    monthly_cashflow,
    months_before,
    ratio_text,
)

CHECKING = "acc_checking"
SAVINGS = "acc_savings"
CARD = "acc_card"
ACCOUNT_TYPES = {CHECKING: "DEPOSITORY", SAVINGS: "DEPOSITORY", CARD: "CREDIT"}


def item(
    transaction_id: str,
    account_id: str,
    day: date,
    amount_minor: int,
    kind: str = "PAYMENT",
    *,
    currency: str = "GBP",
    pending: bool = False,
) -> FlowItem:
    return FlowItem(
        transaction_id=transaction_id,
        account_id=account_id,
        account_type=ACCOUNT_TYPES.get(account_id, "DEPOSITORY"),
        day=day,
        amount_minor=amount_minor,
        currency=currency,
        kind=kind,
        category=(),
        pending=pending,
    )


def pair_ids(items: list[FlowItem]) -> list[tuple[str, str]]:
    return [(p.outflow.transaction_id, p.inflow.transaction_id) for p in find_transfers(items)]


JANUARY = [
    item("salary", CHECKING, date(2024, 1, 1), 300000, "INCOME"),
    item("rent", CHECKING, date(2024, 1, 2), -120000),
    item("groceries", CARD, date(2024, 1, 6), -25040),
    # Moving 328.00 to savings: both legs on the same day.
    item("to_savings", CHECKING, date(2024, 1, 15), -32800, "TRANSFER"),
    item("from_checking", SAVINGS, date(2024, 1, 15), 32800, "TRANSFER"),
    # A TRANSFER with no second leg in the profile went to someone else: an expense.
    item("to_landlord", CHECKING, date(2024, 1, 20), -10000, "TRANSFER"),
    item("refund", CARD, date(2024, 1, 22), 2000, "REFUND"),
    item("fee", CHECKING, date(2024, 1, 25), -500, "FEE"),
    # The card payment lands on the card two days after it leaves checking.
    item("card_autopay", CHECKING, date(2024, 1, 28), -50000),
    item("card_payment", CARD, date(2024, 1, 30), 50000),
    item("pending_coffee", CARD, date(2024, 1, 30), -300, pending=True),
    item("usd_purchase", CARD, date(2024, 1, 31), -1999, currency="USD"),
]


def test_a_month_of_income_expenses_and_transfers() -> None:
    months = monthly_cashflow(JANUARY, currency="GBP")
    assert months == {
        "2024-01": MonthFlow(
            month="2024-01",
            currency="GBP",
            income_minor=300000,
            # rent 1200.00 + groceries 250.40 + external transfer 100.00 + fee 5.00
            # - refund 20.00
            expenses_minor=153540,
            refunds_minor=2000,
            transfers_out_minor=82800,
            transfers_in_minor=82800,
            net_minor=146460,
            transaction_count=10,
            transfer_count=4,
            pending_count=1,
            other_currency_count=1,
        )
    }


def test_card_payment_and_savings_move_pair_but_the_external_transfer_does_not() -> None:
    assert pair_ids(JANUARY) == [
        ("to_savings", "from_checking"),
        ("card_autopay", "card_payment"),
    ]


def test_two_equal_transfers_on_the_same_day_pair_by_transaction_id() -> None:
    day = date(2024, 2, 10)
    items = [
        item("t2", CHECKING, day, -10000, "TRANSFER"),
        item("t4", SAVINGS, day, 10000, "TRANSFER"),
        item("t1", CHECKING, day, -10000, "TRANSFER"),
        item("t3", SAVINGS, day, 10000, "TRANSFER"),
    ]
    assert pair_ids(items) == [("t1", "t3"), ("t2", "t4")]
    assert pair_ids(items[::-1]) == [("t1", "t3"), ("t2", "t4")]


def test_an_outflow_takes_the_nearest_inflow() -> None:
    items = [
        item("out", CHECKING, date(2024, 3, 10), -5000, "TRANSFER"),
        item("early", SAVINGS, date(2024, 3, 8), 5000, "TRANSFER"),
        item("late", SAVINGS, date(2024, 3, 11), 5000, "TRANSFER"),
    ]
    assert pair_ids(items) == [("out", "late")]
    flow = monthly_cashflow(items, currency="GBP")["2024-03"]
    # The unpaired inflow came from outside the profile.
    assert (flow.income_minor, flow.expenses_minor, flow.transfer_count) == (5000, 0, 2)


def test_legs_too_far_apart_on_one_account_or_of_income_do_not_pair() -> None:
    items = [
        item("out_far", CHECKING, date(2024, 3, 1), -700, "TRANSFER"),
        item("in_far", SAVINGS, date(2024, 3, 5), 700, "TRANSFER"),
        item("withdrawal", CHECKING, date(2024, 3, 2), -900),
        item("deposit", CHECKING, date(2024, 3, 2), 900),
        item("salary", SAVINGS, date(2024, 3, 3), 250000, "INCOME"),
        item("big_payment", CHECKING, date(2024, 3, 3), -250000),
        item("pending_out", CHECKING, date(2024, 3, 4), -400, pending=True),
        item("pending_in", SAVINGS, date(2024, 3, 4), 400, pending=True),
    ]
    assert pair_ids(items) == []


def test_a_window_of_three_days_includes_the_third_day() -> None:
    items = [
        item("out", CHECKING, date(2024, 3, 1), -700),
        item("in", CARD, date(2024, 3, 4), 700),
    ]
    assert pair_ids(items) == [("out", "in")]


def test_a_transfer_across_a_month_boundary_is_neutral_in_both_months() -> None:
    items = [
        item("autopay", CHECKING, date(2024, 1, 31), -50000),
        item("payment", CARD, date(2024, 2, 1), 50000),
    ]
    months = monthly_cashflow(items, currency="GBP")
    assert [(m.income_minor, m.expenses_minor, m.net_minor) for m in months.values()] == [
        (0, 0, 0),
        (0, 0, 0),
    ]
    assert months["2024-01"].transfers_out_minor == 50000
    assert months["2024-02"].transfers_in_minor == 50000


def test_months_come_out_oldest_first() -> None:
    items = [
        item("b", CHECKING, date(2024, 3, 1), -1),
        item("a", CHECKING, date(2023, 12, 31), -1),
        item("c", CHECKING, date(2024, 1, 1), -1),
    ]
    assert list(monthly_cashflow(items, currency="GBP")) == ["2023-12", "2024-01", "2024-03"]


def months_of(*flows: tuple[str, int, int]) -> dict[str, MonthFlow]:
    return {
        month: MonthFlow(
            month=month,
            currency="GBP",
            income_minor=income,
            expenses_minor=expenses,
            net_minor=income - expenses,
            transaction_count=1,
        )
        for month, income, expenses in flows
    }


def test_summary_averages_the_full_months_before_as_of_and_skips_months_without_data() -> None:
    months = months_of(
        ("2023-12", 999999, 1),  # before the window
        ("2024-01", 400000, 300001),
        ("2024-03", 400000, 340000),
        ("2024-04", 1, 999999),  # as_of's month is still running
    )
    summary = cashflow_summary(months, as_of=date(2024, 4, 15))
    assert summary.window == ("2024-01", "2024-03")
    assert summary.skipped == ("2024-02",)
    assert summary.window_days == 62
    assert (summary.income_minor, summary.expenses_minor) == (800000, 640001)
    assert summary.monthly_income_minor == 400000
    # 640001 / 2 = 320000.5, rounded half-even to 320000
    assert summary.monthly_burn_minor == 320000
    # 159999 / 2 = 79999.5, rounded half-even to 80000
    assert summary.free_cash_flow_minor == 80000
    # 159999 / 800000 = 0.19999875
    assert summary.savings_rate == "0.2000"
    assert summary.currency == "GBP"


def test_summary_of_a_month_with_only_pending_items_skips_it() -> None:
    months = monthly_cashflow(
        [item("hold", CHECKING, date(2024, 3, 3), -500, pending=True)], currency="GBP"
    )
    summary = cashflow_summary(months, as_of=date(2024, 4, 1), trailing_months=1)
    assert summary.window == ()
    assert summary.skipped == ("2024-03",)
    assert summary.monthly_burn_minor is None
    assert summary.savings_rate is None


def test_summary_savings_rate_is_negative_when_spending_exceeds_income_and_none_without() -> None:
    months = months_of(("2024-02", 100000, 125000))
    summary = cashflow_summary(months, as_of=date(2024, 3, 1), trailing_months=1)
    assert summary.savings_rate == "-0.2500"
    assert summary.free_cash_flow_minor == -25000
    no_income = cashflow_summary(
        months_of(("2024-02", 0, 5)), as_of=date(2024, 3, 1), trailing_months=1
    )
    assert no_income.savings_rate is None
    assert no_income.monthly_burn_minor == 5


def test_summary_of_nothing_and_bad_arguments() -> None:
    empty = cashflow_summary({}, as_of=date(2024, 1, 10))
    assert empty.currency is None
    assert empty.window == ()
    assert empty.skipped == ("2023-10", "2023-11", "2023-12")
    with pytest.raises(ValueError, match="trailing_months"):
        cashflow_summary({}, as_of=date(2024, 1, 10), trailing_months=0)
    mixed = {**months_of(("2024-01", 1, 1)), "2024-02": MonthFlow("2024-02", "USD")}
    with pytest.raises(ValueError, match="mix currencies"):
        cashflow_summary(mixed, as_of=date(2024, 3, 1))


def test_months_before_crosses_a_year() -> None:
    assert months_before(date(2024, 2, 29), 3) == ("2023-11", "2023-12", "2024-01")


def test_ratio_text_rounds_half_even_once_and_never_signs_zero() -> None:
    assert ratio_text(1, 3) == "0.3333"
    assert ratio_text(2, 3) == "0.6667"
    assert ratio_text(1, 20000) == "0.0000"
    assert ratio_text(3, 20000) == "0.0002"
    assert ratio_text(-1, 20000) == "0.0000"
    assert ratio_text(-3, 2) == "-1.5000"
    assert fraction_text(Fraction(5, 2), 0) == "2"


# --- properties -----------------------------------------------------------------------------

ACCOUNTS = (CHECKING, SAVINGS, CARD)
KINDS = ("PAYMENT", "TRANSFER", "FEE", "INTEREST", "INCOME", "REFUND", "OTHER")
FIRST_DAY = date(2024, 1, 25)


@st.composite
def flow_items(draw: st.DrawFn) -> list[FlowItem]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ACCOUNTS),
                st.integers(0, 40),
                # Few magnitudes, so that pairs, near-pairs and ties are common.
                st.sampled_from((1, 500, 32800)),
                st.booleans(),
                st.sampled_from(KINDS),
                st.sampled_from(("GBP", "GBP", "GBP", "USD")),
                st.sampled_from((False, False, False, True)),
            ),
            max_size=25,
        )
    )
    return [
        FlowItem(
            transaction_id=f"t{index:02d}",
            account_id=account,
            account_type=ACCOUNT_TYPES[account],
            day=FIRST_DAY + timedelta(days=offset),
            amount_minor=magnitude if incoming else -magnitude,
            currency=currency,
            kind=kind,
            pending=pending,
        )
        for index, (account, offset, magnitude, incoming, kind, currency, pending) in enumerate(
            rows
        )
    ]


@settings(max_examples=200)
@given(items=flow_items(), data=st.data())
def test_any_order_gives_identical_results(items: list[FlowItem], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(items))
    assert find_transfers(shuffled) == find_transfers(items)
    assert monthly_cashflow(shuffled, currency="GBP") == monthly_cashflow(items, currency="GBP")


@settings(max_examples=200)
@given(items=flow_items())
def test_every_item_is_counted_once_and_amounts_are_conserved(items: list[FlowItem]) -> None:
    months = monthly_cashflow(items, currency="GBP")
    counted = sum(
        m.transaction_count + m.pending_count + m.other_currency_count for m in months.values()
    )
    assert counted == len(items)
    for month, flow in months.items():
        posted = [
            i.amount_minor
            for i in items
            if f"{i.day:%Y-%m}" == month and not i.pending and i.currency == "GBP"
        ]
        assert flow.net_minor == flow.income_minor - flow.expenses_minor
        assert sum(posted) == flow.net_minor + flow.transfers_in_minor - flow.transfers_out_minor


@settings(max_examples=200)
@given(items=flow_items())
def test_pairs_are_disjoint_and_satisfy_the_rule(items: list[FlowItem]) -> None:
    pairs = find_transfers(items)
    legs = [leg.transaction_id for pair in pairs for leg in (pair.outflow, pair.inflow)]
    assert len(legs) == len(set(legs))
    for pair in pairs:
        out, inn = pair.outflow, pair.inflow
        assert out.amount_minor == -inn.amount_minor < 0
        assert out.currency == inn.currency
        assert out.account_id != inn.account_id
        assert abs((out.day - inn.day).days) <= 3
        assert not (out.pending or inn.pending)


@settings(max_examples=200)
@given(items=flow_items(), offset=st.integers(0, 40))
def test_a_late_item_changes_only_its_own_month(items: list[FlowItem], offset: int) -> None:
    late = item("late", CHECKING, FIRST_DAY + timedelta(days=offset), -777, "FEE")
    before = monthly_cashflow(items, currency="GBP")
    after = monthly_cashflow([*items, late], currency="GBP")
    changed = {m for m in after if before.get(m) != after[m]}
    assert changed == {f"{late.day:%Y-%m}"}
