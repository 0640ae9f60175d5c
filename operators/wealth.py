"""The twin's balance sheet in its base currency, and what a profile needs market data for.

Valuation is a function of the twin's state (accounts, holdings, the rates and prices it
has received) and a valuation time taken from the data, never the clock, so a rebuilt twin
values the same and ticks in any arrival order give the same valuation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from operators.instruments import Interest
from operators.twin import ProfileState, base_currency
from operators.valuation import (
    AccountInput,
    BalanceSheet,
    HoldingInput,
    SecurityInput,
    value_holdings_and_accounts,
)


def valuation_time(state: ProfileState) -> dt.datetime | None:
    """The latest moment the twin's data reaches: its newest event or market tick."""
    moments = [dt.datetime.fromisoformat(state.last_occurred_at)] if state.last_occurred_at else []
    moments += [
        dt.datetime.fromtimestamp(series[-1].as_of_us / 1e6, tz=dt.UTC)
        for series in state.rates.series.values()
        if series
    ]
    return max(moments) if moments else None


def balance_sheet(state: ProfileState) -> BalanceSheet | None:
    """Value every account and holding in the base currency at the valuation time.

    An account valued from its holdings also counts the part of its reported value the
    holdings do not explain (uninvested cash, pending trades) as cash, so the total matches
    the institution's figure at its own prices and moves with price ticks from there.
    """
    currency, at = base_currency(state), valuation_time(state)
    if currency is None or at is None:
        return None
    accounts = [AccountInput(e.doc, e.source_event_id, e.version) for e in state.accounts.values()]
    holdings, securities = [], []
    for entry in state.holdings.values():
        for holding in entry.doc["holdings"]:
            holdings.append(HoldingInput(holding, entry.source_event_id, entry.version))
        for security in entry.doc["securities"]:
            securities.append(SecurityInput(security, entry.source_event_id, entry.version))
        gap = entry.doc.get("reconciliation")
        if gap and gap["unreconciled_minor"]:
            accounts.append(AccountInput(_cash_line(gap), entry.source_event_id, entry.version))
    return value_holdings_and_accounts(
        accounts, holdings, securities, state.rates, base_currency=currency, at=at
    )


def _cash_line(gap: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": f"{gap['account_id']}:unreconciled",
        "type": "DEPOSITORY",
        "currency": gap["currency"],
        "balances": {"current_minor": gap["unreconciled_minor"]},
    }


def interests(state: ProfileState) -> frozenset[str]:
    """The instrument keys whose ticks this profile needs."""
    keys = {f"CCY:{entry.doc['currency']}" for entry in state.accounts.values()}
    for entry in state.holdings.values():
        for holding in entry.doc["holdings"]:
            keys.add(f"SEC:{holding['security_id']}")
            if holding.get("quote_symbol"):
                keys.add(f"SYM:{holding['quote_symbol']}")
            keys.add(f"CCY:{holding['currency']}")
    currency = base_currency(state)
    if currency is not None:
        keys.add(f"CCY:{currency}")
    return frozenset(keys)


def interest_changes(before: ProfileState, after: ProfileState) -> list[Interest]:
    """The interests a step started or stopped, for the instrument index."""
    old, new = interests(before), interests(after)
    holder = f"{after.tenant_id}:{after.profile_id}"
    return [Interest(key, holder, True) for key in sorted(new - old)] + [
        Interest(key, holder, False) for key in sorted(old - new)
    ]
