"""The FOS ``FinancialHealthScore``: cashflow, solvency and resilience in one number.

The formula, with a worked example, is in ``docs/health-score.md``. In short, for the window
totals ``I`` (income) and ``E`` (expenses) over ``D`` calendar days, liquid assets ``L``,
assets ``A`` and debt ``B``:

- ``savings_rate = (I - E) / I``, None when ``I == 0``;
- ``cashflow_score`` is piecewise linear in the savings rate: 0 at -20 % or below, 40 at
  break-even, 100 at +20 % or above; with no income it is 0 if anything was spent, else 40;
- ``solvency_score = 100 * A / (A + B)``, 50 when both are zero (net worth zero, as A == B);
- ``resilience_days = floor(max(L, 0) * D / E)``, None when ``E <= 0`` (nothing burns);
- ``resilience_score = 100 * min(days, 180) / 180``, 100 when nothing burns;
- ``overall_score = 4 * cashflow + 3 * solvency + 3 * resilience_score`` (0 to 1000).

Scores are computed exactly (``Fraction``) and rounded half-even to whole points once; the
overall score is a sum of whole points, so it can be checked by hand from the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Generic, TypeVar

from operators.cashflow import RATIO_PLACES, fraction_text

T = TypeVar("T")

# Savings-rate anchors of the cashflow score, (rate, score), rising; flat outside them.
# Break-even earns 40 rather than 50 because spending all one earns leaves no margin; saving a
# fifth of income (the "50/30/20" rule of thumb) earns full marks.
CASHFLOW_ANCHORS: Final = (
    (Fraction(-1, 5), Fraction(0)),
    (Fraction(0), Fraction(40)),
    (Fraction(1, 5), Fraction(100)),
)
# The inputs of HealthInputs that carry provenance, in the order components list them.
_SOURCED_FIELDS: Final = (
    "assets_minor",
    "debt_minor",
    "expenses_minor",
    "income_minor",
    "liquid_minor",
)
# Six months of expenses in cash is the usual emergency-fund target.
FULL_RESILIENCE_DAYS: Final = 180
# Weights of the overall score per point of each 0-100 component; they sum to 10, so the
# overall score runs from 0 to 1000.
CASHFLOW_WEIGHT: Final = 4
SOLVENCY_WEIGHT: Final = 3
RESILIENCE_WEIGHT: Final = 3


@dataclass(frozen=True, slots=True)
class Sourced:
    """An input amount with the stream position it was derived from.

    Attributes:
        amount_minor: Minor units of the inputs' currency.
        source_event_id: The event the amount reflects.
        version: The profile stream version of that event.
    """

    amount_minor: int
    source_event_id: str
    version: int


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """What the health score is computed from, each amount with its provenance.

    Attributes:
        currency: The currency of every amount.
        income_minor: Income over the cashflow window (``CashflowSummary.income_minor``).
        expenses_minor: Expenses over the same window, positive.
        window_days: Calendar days the window covers (``CashflowSummary.window_days``).
        liquid_minor: Liquid assets: the sum of DEPOSITORY balances (negative if overdrawn).
        assets_minor: Every asset balance (cash, investments, property), zero or more.
        debt_minor: Everything owed on credit and loan accounts, as a positive amount.
    """

    currency: str
    income_minor: Sourced
    expenses_minor: Sourced
    window_days: int
    liquid_minor: Sourced
    assets_minor: Sourced
    debt_minor: Sourced

    def __post_init__(self) -> None:
        if self.window_days < 0:
            msg = f"window_days must not be negative, not {self.window_days}"
            raise ValueError(msg)
        if self.expenses_minor.amount_minor > 0 and self.window_days == 0:
            msg = "expenses over a window of zero days have no daily rate"
            raise ValueError(msg)
        for name in ("income_minor", "assets_minor", "debt_minor"):
            amount = getattr(self, name).amount_minor
            if amount < 0:
                msg = f"{name} is a magnitude and must not be negative, not {amount}"
                raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Source:
    """One input behind a component: its name and the stream position it came from."""

    input: str
    source_event_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Component(Generic[T]):
    """A score component with the inputs it was computed from, sorted by input name."""

    value: T
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class HealthScore:
    """The FOS ``FinancialHealthScore`` with per-component provenance.

    Attributes:
        currency: The currency of the inputs.
        overall_score: 0 to 1000.
        cashflow_score: 0 to 100, from the savings rate.
        solvency_score: 0 to 100, the share of assets in assets plus debt.
        resilience_days: Whole days liquid assets last at the average daily burn; None when
            nothing burns.
        resilience_score: 0 to 100, the runway against a six-month target.
        savings_rate_pct: The savings rate as a fraction of income with four places, as FOS
            writes it (``"0.1500"`` is 15 %); None when there was no income.
    """

    currency: str
    overall_score: Component[int]
    cashflow_score: Component[int]
    solvency_score: Component[int]
    resilience_days: Component[int | None]
    resilience_score: Component[int]
    savings_rate_pct: Component[str | None]

    def view(self) -> dict[str, Any]:
        """Return the FOS shape, with each component's provenance beside the numbers."""
        components: dict[str, Component[Any]] = {
            "cashflow_score": self.cashflow_score,
            "solvency_score": self.solvency_score,
            "resilience_days": self.resilience_days,
            "resilience_score": self.resilience_score,
            "savings_rate_pct": self.savings_rate_pct,
        }
        return {
            "overall_score": self.overall_score.value,
            "components": {name: part.value for name, part in components.items()},
            "provenance": {
                name: [_source_view(source) for source in part.sources]
                for name, part in {"overall_score": self.overall_score, **components}.items()
            },
        }


def _source_view(source: Source) -> dict[str, Any]:
    """Return a source as a plain dictionary."""
    return {
        "input": source.input,
        "source_event_id": source.source_event_id,
        "version": source.version,
    }


def financial_health(inputs: HealthInputs) -> HealthScore:
    """Return the health score of a profile from its cashflow and balance-sheet figures."""
    income = inputs.income_minor.amount_minor
    expenses = inputs.expenses_minor.amount_minor
    rate = Fraction(income - expenses, income) if income else None
    cashflow = cashflow_score(rate, expenses_minor=expenses)
    solvency = solvency_score(inputs.assets_minor.amount_minor, inputs.debt_minor.amount_minor)
    days = resilience_days(inputs.liquid_minor.amount_minor, expenses, inputs.window_days)
    resilience = resilience_score(days)
    overall = CASHFLOW_WEIGHT * cashflow + SOLVENCY_WEIGHT * solvency
    overall += RESILIENCE_WEIGHT * resilience
    flow_sources = _sources(inputs, "income_minor", "expenses_minor")
    runway_sources = _sources(inputs, "expenses_minor", "liquid_minor")
    return HealthScore(
        currency=inputs.currency,
        overall_score=Component(overall, _sources(inputs, *_SOURCED_FIELDS)),
        cashflow_score=Component(cashflow, flow_sources),
        solvency_score=Component(solvency, _sources(inputs, "assets_minor", "debt_minor")),
        resilience_days=Component(days, runway_sources),
        resilience_score=Component(resilience, runway_sources),
        savings_rate_pct=Component(
            None if rate is None else fraction_text(rate, RATIO_PLACES), flow_sources
        ),
    )


def _sources(inputs: HealthInputs, *names: str) -> tuple[Source, ...]:
    sourced = ((name, getattr(inputs, name)) for name in sorted(names))
    return tuple(Source(name, item.source_event_id, item.version) for name, item in sourced)


def cashflow_score(savings_rate: Fraction | None, *, expenses_minor: int) -> int:
    """Return 0-100 from the savings rate, piecewise linear between ``CASHFLOW_ANCHORS``.

    With no income there is no rate: spending anything then scores 0, and a window with
    neither income nor spending scores as break-even.
    """
    if savings_rate is None:
        return 0 if expenses_minor > 0 else round(_piecewise_linear(Fraction(0), CASHFLOW_ANCHORS))
    return round(_piecewise_linear(savings_rate, CASHFLOW_ANCHORS))


def _piecewise_linear(x: Fraction, anchors: tuple[tuple[Fraction, Fraction], ...]) -> Fraction:
    """Interpolate between rising ``(x, y)`` anchors; flat beyond the first and last."""
    if x <= anchors[0][0]:
        return anchors[0][1]
    for (x0, y0), (x1, y1) in zip(anchors, anchors[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return anchors[-1][1]


def solvency_score(assets_minor: int, debt_minor: int) -> int:
    """Return 0-100: the share of assets in assets plus debt, 50 when both are zero.

    Owning as much as one owes (net worth zero) scores 50; owning nothing but debt scores 0.
    """
    total = assets_minor + debt_minor
    if total == 0:
        return 50
    return round(Fraction(100 * assets_minor, total))


def resilience_days(liquid_minor: int, expenses_minor: int, window_days: int) -> int | None:
    """Return whole days the liquid assets last at the window's average daily burn.

    The daily burn is ``expenses_minor / window_days``; the runway is rounded down because a
    part day is not a day survived. An overdraft gives no runway. None when nothing burns.
    """
    if expenses_minor <= 0:
        return None
    return max(liquid_minor, 0) * window_days // expenses_minor


def resilience_score(days: int | None) -> int:
    """Return 0-100: the runway against ``FULL_RESILIENCE_DAYS``; 100 when nothing burns."""
    if days is None:
        return 100
    return round(Fraction(100 * min(days, FULL_RESILIENCE_DAYS), FULL_RESILIENCE_DAYS))
