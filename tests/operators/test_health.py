"""The financial health score: its components, provenance and the documented example."""

from __future__ import annotations

import json
import re
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.cashflow import FlowItem, cashflow_summary, monthly_cashflow
from operators.health import (
    HealthInputs,
    Source,
    Sourced,
    cashflow_score,
    financial_health,
    resilience_days,
    resilience_score,
    solvency_score,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "health-score.md"

FLOWS = ("evt_flows", 7)
SHEET = ("evt_sheet", 9)


def inputs(
    *,
    income: int = 1200000,
    expenses: int = 1020000,
    window_days: int = 91,
    liquid: int = 680000,
    assets: int = 15000000,
    debt: int = 5000000,
) -> HealthInputs:
    return HealthInputs(
        currency="GBP",
        income_minor=Sourced(income, *FLOWS),
        expenses_minor=Sourced(expenses, *FLOWS),
        window_days=window_days,
        liquid_minor=Sourced(liquid, *SHEET),
        assets_minor=Sourced(assets, *SHEET),
        debt_minor=Sourced(debt, *SHEET),
    )


def test_the_worked_example_of_the_docs() -> None:
    score = financial_health(inputs())
    assert score.savings_rate_pct.value == "0.1500"
    assert score.cashflow_score.value == 85
    assert score.solvency_score.value == 75
    assert score.resilience_days.value == 60
    assert score.resilience_score.value == 33
    assert score.overall_score.value == 664


def doc_example() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    example: dict[str, Any] = json.loads(blocks[0])
    return example


def test_the_example_data_in_the_docs_is_what_the_code_computes() -> None:
    example = doc_example()
    given_inputs = example["inputs"]
    assert given_inputs == {
        "currency": "GBP",
        "income_minor": 1200000,
        "expenses_minor": 1020000,
        "window_days": 91,
        "liquid_minor": 680000,
        "assets_minor": 15000000,
        "debt_minor": 5000000,
    }
    view = financial_health(inputs()).view()
    assert {k: view[k] for k in ("overall_score", "components")} == example["expected"]


def test_each_component_names_the_inputs_it_used_with_their_provenance() -> None:
    score = financial_health(inputs())
    flows = (
        Source("expenses_minor", *FLOWS),
        Source("income_minor", *FLOWS),
    )
    assert score.cashflow_score.sources == flows
    assert score.savings_rate_pct.sources == flows
    assert score.solvency_score.sources == (
        Source("assets_minor", *SHEET),
        Source("debt_minor", *SHEET),
    )
    runway = (Source("expenses_minor", *FLOWS), Source("liquid_minor", *SHEET))
    assert score.resilience_days.sources == runway
    assert score.resilience_score.sources == runway
    assert [s.input for s in score.overall_score.sources] == [
        "assets_minor",
        "debt_minor",
        "expenses_minor",
        "income_minor",
        "liquid_minor",
    ]
    provenance = score.view()["provenance"]["solvency_score"]
    assert provenance[0] == {"input": "assets_minor", "source_event_id": "evt_sheet", "version": 9}


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (Fraction(-1, 2), 0),
        (Fraction(-1, 5), 0),
        (Fraction(-1, 10), 20),
        (Fraction(0), 40),
        (Fraction(1, 10), 70),
        (Fraction(15, 100), 85),
        (Fraction(1, 5), 100),
        (Fraction(9, 10), 100),
        # 40 + 300 * 0.0125 = 43.75
        (Fraction(1, 80), 44),
        # 40 + 300 / 200 = 41.5 and 40 + 300 / 120 = 42.5 both round half-even to 42
        (Fraction(1, 200), 42),
        (Fraction(1, 120), 42),
    ],
)
def test_cashflow_score_is_piecewise_linear_in_the_savings_rate(
    rate: Fraction, expected: int
) -> None:
    assert cashflow_score(rate, expenses_minor=1) == expected


def test_cashflow_score_without_income() -> None:
    assert cashflow_score(None, expenses_minor=1) == 0
    assert cashflow_score(None, expenses_minor=0) == 40
    score = financial_health(inputs(income=0, expenses=0))
    assert score.savings_rate_pct.value is None
    assert score.cashflow_score.value == 40
    assert score.resilience_days.value is None
    assert score.resilience_score.value == 100


@pytest.mark.parametrize(
    ("assets", "debt", "expected"),
    [(0, 0, 50), (100, 0, 100), (0, 100, 0), (100, 100, 50), (1, 2, 33), (3, 1, 75)],
)
def test_solvency_score_is_the_share_of_assets(assets: int, debt: int, expected: int) -> None:
    assert solvency_score(assets, debt) == expected


def test_resilience_days_and_score() -> None:
    # 300.00 of expenses over 30 days burns 10.00 a day.
    assert resilience_days(10000, 30000, 30) == 10
    assert resilience_days(10999, 30000, 30) == 10
    assert resilience_days(-5000, 30000, 30) == 0
    assert resilience_days(10000, 0, 30) is None
    assert resilience_days(10000, -100, 30) is None
    assert resilience_score(None) == 100
    assert resilience_score(0) == 0
    assert resilience_score(90) == 50
    assert resilience_score(180) == 100
    assert resilience_score(4000) == 100


def test_inputs_that_break_the_contract_are_refused() -> None:
    with pytest.raises(ValueError, match="window_days"):
        inputs(window_days=-1)
    with pytest.raises(ValueError, match="zero days"):
        inputs(window_days=0)
    with pytest.raises(ValueError, match="debt_minor"):
        inputs(debt=-1)


def test_from_transactions_to_a_score() -> None:
    def flow(tid: str, account: str, day: date, amount: int, kind: str) -> FlowItem:
        return FlowItem(tid, account, "DEPOSITORY", day, amount, "GBP", kind)

    items = [
        flow("salary", "chk", date(2024, 2, 1), 250000, "INCOME"),
        flow("rent", "chk", date(2024, 2, 2), -150000, "PAYMENT"),
        flow("to_savings", "chk", date(2024, 2, 3), -50000, "TRANSFER"),
        flow("from_checking", "sav", date(2024, 2, 3), 50000, "TRANSFER"),
    ]
    summary = cashflow_summary(
        monthly_cashflow(items, currency="GBP"), as_of=date(2024, 3, 10), trailing_months=1
    )
    assert summary.savings_rate == "0.4000"
    score = financial_health(
        HealthInputs(
            currency="GBP",
            income_minor=Sourced(summary.income_minor, "evt_9", 9),
            expenses_minor=Sourced(summary.expenses_minor, "evt_9", 9),
            window_days=summary.window_days,
            liquid_minor=Sourced(290000, "evt_9", 9),
            assets_minor=Sourced(290000, "evt_9", 9),
            debt_minor=Sourced(0, "evt_9", 9),
        )
    )
    # The savings move is a transfer, so the score's rate is the summary's rate.
    assert score.savings_rate_pct.value == summary.savings_rate
    # 150000 over 29 days; 290000 * 29 // 150000 = 56 days.
    assert score.resilience_days.value == 56
    assert score.overall_score.value == 4 * 100 + 3 * 100 + 3 * 31


@settings(max_examples=300)
@given(
    health_inputs=st.builds(
        inputs,
        income=st.integers(0, 10**9),
        expenses=st.integers(-(10**6), 10**9),
        window_days=st.integers(1, 400),
        liquid=st.integers(-(10**8), 10**9),
        assets=st.integers(0, 10**10),
        debt=st.integers(0, 10**10),
    )
)
def test_scores_stay_in_range_and_the_overall_score_is_the_weighted_sum(
    health_inputs: HealthInputs,
) -> None:
    score = financial_health(health_inputs)
    parts = (score.cashflow_score.value, score.solvency_score.value, score.resilience_score.value)
    assert all(0 <= part <= 100 for part in parts)
    assert score.overall_score.value == 4 * parts[0] + 3 * parts[1] + 3 * parts[2]
    assert 0 <= score.overall_score.value <= 1000
    days = score.resilience_days.value
    assert days is None or days >= 0
