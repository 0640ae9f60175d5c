"""The profile projection: the dashboard document derived from a twin's state.

Every derived number carries the event it reflects (``source_event_id``) and the stream
version, so a reader can trace it back to the log.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from operators.engines import cashflow_view, health_view
from operators.twin import ProfileState, base_currency
from schemas.money import format_minor

_LIABILITY_TYPES = frozenset({"CREDIT", "LOAN"})


def profile_document(state: ProfileState) -> dict[str, Any]:
    """Return the ``view_unified_profile`` document of a twin."""
    accounts = [_account_view(state, account_id) for account_id in sorted(state.accounts)]
    net_worth, total_debt = _balance_sheet(state)
    cashflow = cashflow_view(state)
    live = state.transactions.values()
    return {
        "tenant_id": state.tenant_id,
        "profile_id": state.profile_id,
        "version": state.version,
        "source_event_id": state.last_event_id,
        "base_currency": base_currency(state),
        "accounts": accounts,
        "net_worth": net_worth,
        "total_debt": total_debt,
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
    return {
        (key.removesuffix("_minor") if key.endswith("_minor") else key): (
            _optional_money(value, own) if key.endswith("_minor") else money_views(value, own)
        )
        for key, value in doc.items()
    }


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


def _balance_sheet(state: ProfileState) -> tuple[Any, Any]:
    """Return net worth and total debt, per currency until a base currency exists.

    Net worth sums every account's current balance (liabilities are negative). Total debt is
    the positive amount owed on credit and loan accounts; a card in credit is not debt.
    """
    worth: dict[str, int] = defaultdict(int)
    debt: dict[str, int] = defaultdict(int)
    for entry in state.accounts.values():
        currency = entry.doc["currency"]
        current = entry.doc["balances"]["current_minor"]
        worth[currency] += current
        # Every currency appears in the debt breakdown, at zero when nothing is owed in it.
        debt[currency] += max(0, -current) if entry.doc["type"] in _LIABILITY_TYPES else 0
    if state.balance_source is None:
        return None, None
    event_id, version = state.balance_source
    provenance = {"source_event_id": event_id, "version": version}
    net_worth = [{**_money(worth[c], c), **provenance} for c in sorted(worth)]
    total_debt = [{**_money(debt[c], c), **provenance} for c in sorted(debt)]
    if len(net_worth) == 1:
        return net_worth[0], total_debt[0]
    return net_worth, total_debt


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"value": format_minor(amount_minor, currency), "currency": currency}


def _optional_money(amount_minor: int | None, currency: str) -> dict[str, str] | None:
    return None if amount_minor is None else _money(amount_minor, currency)
