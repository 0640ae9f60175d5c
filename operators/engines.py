"""The twin's derived engines, computed from its state: cashflow and the health score.

They are functions of the state alone, so a twin rebuilt from the event log derives the
same numbers, and each number names the event it reflects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from operators.cashflow import (
    CashflowSummary,
    FlowItem,
    MonthFlow,
    cashflow_summary,
    monthly_cashflow,
)
from operators.health import HealthInputs, Sourced, financial_health
from operators.history import backfill_daily_balances, daily_net_worth
from operators.recurring import TxPoint, detect_streams
from operators.twin import ProfileState, base_currency

_LIABILITIES = frozenset({"CREDIT", "LOAN"})
_FIELDS: dict[type, tuple[str, ...]] = {
    kind: tuple(field.name for field in fields(kind)) for kind in (MonthFlow, CashflowSummary)
}


def flow_items(state: ProfileState) -> list[FlowItem]:
    """The profile's transactions as the cashflow engine reads them."""
    types = {key: entry.doc["type"] for key, entry in state.accounts.items()}
    return [
        FlowItem(
            transaction_id=txn_id,
            account_id=entry.account_id,
            account_type=types.get(entry.account_id, "OTHER"),
            day=dt.date.fromordinal(entry.day),
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            kind=entry.kind,
            pending=entry.pending,
        )
        for txn_id, entry in state.transactions.items()
    ]


def recurring_view(state: ProfileState) -> list[dict[str, Any]]:
    """The profile's recurring streams (FOS ``RecurringStream``), the transactions as evidence.

    The streams are detected from the posted transactions as they stand, so they follow
    late, corrected and removed data; "now" is the data's own latest day.
    """
    points = [
        TxPoint(
            transaction_id=txn_id,
            account_id=entry.account_id,
            day=dt.date.fromordinal(entry.day),
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            merchant_key=entry.merchant_key,
            status_pending=entry.pending,
            category=entry.category,
            merchant_name=entry.merchant,
        )
        for txn_id, entry in state.transactions.items()
    ]
    streams = detect_streams(points, as_of=as_of_day(state))
    return [
        {
            **stream.model_dump(mode="json"),
            "source_event_id": state.last_event_id,
            "version": state.version,
        }
        for stream in streams
    ]


def as_of_day(state: ProfileState) -> dt.date | None:
    """The day the twin's data reaches: its latest event time (never the wall clock)."""
    if state.last_occurred_at is None:
        return None
    return dt.datetime.fromisoformat(state.last_occurred_at).date()


def cashflow_view(state: ProfileState) -> dict[str, Any] | None:
    """Monthly income, expenses and transfers in the base currency, and their summary."""
    currency, as_of = base_currency(state), as_of_day(state)
    if currency is None or as_of is None or not state.transactions:
        return None
    months = monthly_cashflow(flow_items(state), currency=currency)
    summary = cashflow_summary(months, as_of=as_of)
    return {
        "currency": currency,
        "months": [_plain(flow) for flow in months.values()],
        "summary": _plain(summary),
        "source_event_id": state.last_event_id,
        "version": state.version,
    }


def health_view(state: ProfileState, cashflow: dict[str, Any] | None) -> dict[str, Any] | None:
    """The FOS FinancialHealthScore, each component with the events it came from."""
    currency = base_currency(state)
    if currency is None or cashflow is None or state.balance_source is None:
        return None
    summary = cashflow["summary"]
    flow = (state.last_event_id or "", state.version)
    balance = state.balance_source
    liquid = assets = debt = 0
    for entry in state.accounts.values():
        if entry.doc["currency"] != currency:
            continue
        current = entry.doc["balances"]["current_minor"]
        if entry.doc["type"] in _LIABILITIES:
            debt += max(0, -current)
        else:
            assets += max(0, current)
            liquid += max(0, current) if entry.doc["type"] == "DEPOSITORY" else 0
    score = financial_health(
        HealthInputs(
            currency=currency,
            income_minor=Sourced(summary["income_minor"], *flow),
            expenses_minor=Sourced(summary["expenses_minor"], *flow),
            window_days=summary["window_days"],
            liquid_minor=Sourced(liquid, *balance),
            assets_minor=Sourced(assets, *balance),
            debt_minor=Sourced(debt, *balance),
        )
    )
    return score.view()


def _plain(flat: MonthFlow | CashflowSummary) -> dict[str, Any]:
    """A flat dataclass as JSON-ready fields: days as ISO text, tuples as lists."""
    doc = {}
    for name in _FIELDS[type(flat)]:
        value = getattr(flat, name)
        doc[name] = (
            value.isoformat()
            if isinstance(value, dt.date)
            else list(value)
            if isinstance(value, tuple)
            else value
        )
    return doc


@dataclass(frozen=True, slots=True)
class DailyHistory:
    """Balances per account per day, and net worth per day in the base currency."""

    accounts: tuple[tuple[str, str, int, str], ...]
    net_worth: tuple[tuple[str, int, str], ...]


def daily_history(state: ProfileState) -> DailyHistory:
    """Walk each account back from its reported balance through its posted transactions.

    Rows run from the account's first transaction to the day of its latest balance report;
    net worth counts the accounts in the base currency (others wait for FX).
    """
    posted: dict[str, list[tuple[dt.date, int]]] = {}
    for txn in state.transactions.values():
        if not txn.pending:
            posted.setdefault(txn.account_id, []).append(
                (dt.date.fromordinal(txn.day), txn.amount_minor)
            )
    rows: list[tuple[str, str, int, str]] = []
    per_account: dict[str, list[tuple[dt.date, int]]] = {}
    currency = base_currency(state)
    for account_id, entry in sorted(state.accounts.items()):
        as_of = dt.datetime.fromtimestamp(entry.as_of_us / 1_000_000, tz=dt.UTC).date()
        if state.closed_day is not None:
            # A closed day carries the last reported balance forward to its midnight.
            as_of = max(as_of, dt.date.fromisoformat(state.closed_day))
        days = backfill_daily_balances(
            entry.doc["balances"]["current_minor"],
            as_of,
            [t for t in posted.get(account_id, ()) if t[0] <= as_of],
        )
        rows += [
            (account_id, day.isoformat(), balance, entry.doc["currency"]) for day, balance in days
        ]
        if entry.doc["currency"] == currency:
            per_account[account_id] = days
    worth = daily_net_worth(per_account) if per_account else []
    return DailyHistory(
        accounts=tuple(rows),
        net_worth=tuple((day.isoformat(), value, currency or "") for day, value in worth),
    )
