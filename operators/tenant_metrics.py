"""Tenant metric definitions evaluated in each profile's stream (FOS §4).

The registry compiles a definition once, when the tenant registers it, and sends the set
to every profile (``MetricDefinitionsApplied``). After each input that changes the profile,
the twin evaluates every metric over its retained transactions as of the data's own latest
day, never the clock, and records ``MetricEvaluated`` for each value that moved. A reading
names the definition's hash, the window and how many transactions it counted: the
provenance a product needs to explain the number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from operators.engines import as_of_day, recurring_view
from operators.metric_expr import (
    And,
    CompiledMetric,
    MetricValue,
    Node,
    Not,
    Or,
    TxView,
    compiled_metric,
    evaluate,
)
from operators.twin import EventSourceInfo, ProfileState, base_currency, emit_events
from schemas.events import Event, EventType
from schemas.money import MoneyError


def refresh_metrics(
    state: ProfileState, origin: EventSourceInfo
) -> tuple[ProfileState, list[Event]]:
    """Evaluate the profile's metrics; record each reading that differs from the last."""
    as_of = as_of_day(state)
    if not state.metric_definitions or as_of is None or state.last_occurred_at is None:
        return state, []
    currency = base_currency(state)
    views: list[TxView] | None = None
    changed = []
    for metric_id, definition in sorted(state.metric_definitions.items()):
        if definition["logic"] is None:
            continue  # removed: its tombstone only keeps its position
        metric = compiled_metric(metric_id, definition["logic"], definition["return_type"])
        if metric.aggregation.is_money and currency is None:
            continue  # nothing to value money in until the profile has an account
        if views is None:
            views = transaction_views(state, recurring=_reads_recurring(state))
        reading = _reading(definition, metric, views, as_of, currency)
        held = state.metric_values.get(metric_id)
        if held is None or held.reading != reading:
            changed.append((EventType.METRIC_EVALUATED, reading))
    if not changed:
        return state, []
    return emit_events(state, state.last_occurred_at, origin.source("metrics"), changed)


def transaction_views(state: ProfileState, *, recurring: bool) -> list[TxView]:
    """The retained transactions as a metric filter sees them.

    ``is_recurring`` is true for a transaction that is evidence of a detected recurring
    stream; detection runs only when ``recurring`` asks for it.
    """
    in_streams: set[str] = set()
    if recurring:
        for stream in recurring_view(state):
            in_streams.update(stream["transaction_ids"])
    return [
        TxView(
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            day=dt.date.fromordinal(entry.day),
            category=entry.category,
            merchant=entry.merchant or None,
            account_id=entry.account_id,
            status="PENDING" if entry.pending else "POSTED",
            type=entry.kind,
            is_recurring=txn_id in in_streams,
        )
        for txn_id, entry in state.transactions.items()
    ]


def _reading(
    definition: Mapping[str, Any],
    metric: CompiledMetric,
    views: list[TxView],
    as_of: dt.date,
    currency: str | None,
) -> dict[str, Any]:
    base = {
        "metric_id": metric.metric_id,
        "display_name": definition["display_name"],
        "return_type": metric.return_type,
        "definition_hash": definition["definition_hash"],
        "as_of": as_of.isoformat(),
    }
    try:
        value: MetricValue = evaluate(metric, views, as_of, currency or "")
    except MoneyError as exc:
        # A transaction in a currency the filter cannot compare; said, never guessed.
        return {**base, "value": None, "error": str(exc)}
    return {
        **base,
        "value": value.value,
        "value_minor": value.value_minor,
        "currency": value.currency,
        "matched": value.matched,
        "skipped_currency": value.skipped_currency,
        "window": {"start": value.window_start.isoformat(), "end": value.window_end.isoformat()},
    }


def _reads_recurring(state: ProfileState) -> bool:
    """Whether any of the profile's metrics filters on ``is_recurring``."""
    return any(
        "is_recurring" in _fields(compiled_metric(m, d["logic"], d["return_type"]).filter_ast)
        for m, d in state.metric_definitions.items()
        if d["logic"] is not None
    )


def _fields(node: Node) -> set[str]:
    """The transaction fields a filter reads."""
    if isinstance(node, Not):
        return _fields(node.operand)
    if isinstance(node, And | Or):
        return set().union(*(_fields(operand) for operand in node.operands))
    return {node.field}


def metric_views(state: ProfileState) -> dict[str, dict[str, Any]]:
    """The profile's latest metric readings, each with the event that recorded it."""
    return {
        metric_id: {
            **held.reading,
            "source_event_id": held.source_event_id,
            "version": held.version,
        }
        for metric_id, held in sorted(state.metric_values.items())
    }
