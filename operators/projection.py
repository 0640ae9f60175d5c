"""The profile projection: the dashboard document derived from a twin's state.

Every derived number carries the event it reflects (``source_event_id``) and the stream
version, so a reader can trace it back to the log.
"""

from __future__ import annotations

import functools
from typing import Any

from operators.engines import cashflow_view, health_view, recurring_view
from operators.tenant_metrics import metric_views
from operators.twin import ProfileState, base_currency
from operators.wealth import balance_sheet
from schemas.money import format_minor

_LIABILITY_TYPES = frozenset({"CREDIT", "LOAN"})


def profile_document(state: ProfileState) -> dict[str, Any]:
    """Return the ``view_unified_profile`` document of a twin."""
    accounts = [_account_view(state, account_id) for account_id in sorted(state.accounts)]
    sheet = _balance_sheet(state)
    cashflow = cashflow_view(state)
    live = state.transactions.values()
    return {
        "tenant_id": state.tenant_id,
        "profile_id": state.profile_id,
        "version": state.version,
        "source_event_id": state.last_event_id,
        "base_currency": base_currency(state),
        "accounts": accounts,
        **sheet,
        "transaction_count": len(state.transactions),
        "pending_transaction_count": sum(1 for entry in live if entry.pending),
        "platform_data": _platform_data(state),
        "holdings": _holdings(state),
        "investment_reconciliation": _reconciliations(state),
        "liabilities": [
            _snapshot_view(entry, entry.doc["liability"])
            for _, entry in sorted(state.liabilities.items())
        ],
        "investment_transaction_count": len(state.investment_transactions),
        "cashflow": money_views(cashflow, cashflow["currency"]) if cashflow else None,
        "health": health_view(state, cashflow),
        "recurring_streams": [money_views(s, s["currency"]) for s in recurring_view(state)],
        "derived_metrics": metric_views(state),
    }


def money_views(doc: Any, currency: str) -> Any:
    """Return ``doc`` with every ``*_minor`` field shown as ``{"value", "currency"}`` money.

    ``amount_minor: -1250`` becomes ``amount: {"value": "-12.50", "currency": "GBP"}``; a
    nested document names its own currency, which then applies below it.
    """
    if isinstance(doc, list):
        return [money_views(item, currency) for item in doc]
    if not isinstance(doc, dict):
        return doc
    own = doc.get("currency", currency)
    own = own if isinstance(own, str) else currency
    view: dict[str, Any] = {}
    for key, value in doc.items():
        money_key = _money_key(key)
        if money_key is not None:
            view[money_key] = None if value is None else _money(value, own)
        elif isinstance(value, dict | list):
            view[key] = money_views(value, own)
        else:
            view[key] = value
    return view


@functools.lru_cache(maxsize=1024)
def _money_key(key: str) -> str | None:
    """``amount`` for ``amount_minor``; ``None`` for a key that holds no minor units."""
    return key.removesuffix("_minor") if key.endswith("_minor") else None


def _snapshot_view(entry: Any, doc: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = money_views(doc, doc.get("currency", ""))
    return {**view, "source_event_id": entry.source_event_id, "version": entry.version}


def _holdings(state: ProfileState) -> list[dict[str, Any]]:
    """Every holding, with its security's name and symbols beside it."""
    views = []
    for _, entry in sorted(state.holdings.items()):
        securities = {s["security_id"]: s for s in entry.doc["securities"]}
        for holding in entry.doc["holdings"]:
            security = securities.get(holding["security_id"], {})
            view = _snapshot_view(entry, holding)
            view["security"] = {k: security.get(k) for k in ("name", "symbol", "type", "isin")}
            views.append(view)
    return views


def _reconciliations(state: ProfileState) -> list[dict[str, Any]]:
    """Per investment account: the institution's value against the sum of its holdings."""
    return [
        _snapshot_view(entry, entry.doc["reconciliation"])
        for _, entry in sorted(state.holdings.items())
        if entry.doc["reconciliation"] is not None
    ]


def _platform_data(state: ProfileState) -> dict[str, Any]:
    """Return the latest value of each platform metric, with its provenance."""
    return {
        key: {
            "value": entry.data["value"],
            "timestamp": entry.data["timestamp"],
            "data_id": entry.data["data_id"],
            "context": entry.data["context"],
            "display_name": entry.metric["display_name"],
            "return_type": entry.metric["return_type"],
            "source_event_id": entry.source_event_id,
            "version": entry.version,
        }
        for key, entry in sorted(state.metrics_latest.items())
    }


def _account_view(state: ProfileState, account_id: str) -> dict[str, Any]:
    entry = state.accounts[account_id]
    doc: dict[str, Any] = money_views(dict(entry.doc), entry.doc["currency"])
    doc["source_event_id"] = entry.source_event_id
    doc["version"] = entry.version
    return doc


def _balance_sheet(state: ProfileState) -> dict[str, Any]:
    """Net worth and total debt in the base currency, with what could not be valued.

    Anything without a price or an FX rate is listed in ``unpriced_assets`` and left out of
    the totals: never valued at 1:1 or at zero. Total debt is the positive amount owed.
    """
    sheet = balance_sheet(state)
    if sheet is None or state.balance_source is None:
        return {
            "net_worth": None,
            "total_debt": None,
            "net_worth_by_currency": [],
            "unpriced_assets": [],
            "valuation": None,
        }
    currency = sheet.base_currency
    event_id, version = state.balance_source
    provenance = {"source_event_id": event_id, "version": version, "at": sheet.at}
    doc = sheet.as_dict()
    return {
        "net_worth": {**_money(sheet.net_worth_minor, currency), **provenance},
        "total_debt": {**_money(sheet.total_debt_minor, currency), **provenance},
        "net_worth_by_currency": money_views(doc["by_currency"], currency),
        "unpriced_assets": money_views(doc["unpriced_assets"], currency),
        "valuation": money_views(doc["lines"], currency),
    }


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"value": format_minor(amount_minor, currency), "currency": currency}
