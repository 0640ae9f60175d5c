"""Holdings, investment transactions and liabilities folded into the twin and projected."""

from __future__ import annotations

from typing import Any

from operators.decode import DecodeLimits
from operators.pipeline import Output, ProfileDocument, process
from operators.twin import ProfileState
from schemas.events import Event
from schemas.records import DeadLetter
from tests.support.envelopes import envelope, plaid_fixture, record

LIMITS = DecodeLimits()
KEY = "t1:p1"


def feed(
    documents: list[dict[str, Any]], state: ProfileState | None = None
) -> tuple[ProfileState, list[Output]]:
    outputs: list[Output] = []
    for offset, document in enumerate(documents):
        state, produced = process(state, KEY, record(document, offset=offset), LIMITS)
        outputs.extend(produced)
    assert state is not None
    return state, outputs


def types(outputs: list[Output]) -> list[str]:
    return [o.type for o in outputs if isinstance(o, Event)]


def last_doc(outputs: list[Output]) -> dict[str, Any]:
    return [o for o in outputs if isinstance(o, ProfileDocument)][-1].doc


def holdings_envelope() -> dict[str, Any]:
    return envelope(plaid_fixture("investments_holdings_get.json"), kind="investments_holdings")


def test_holdings_are_projected_with_exact_quantities_and_the_unreconciled_gap() -> None:
    state, outputs = feed([holdings_envelope()])
    assert not [o for o in outputs if isinstance(o, DeadLetter)]
    # One snapshot per investment account; the money-market account holds none.
    assert types(outputs).count("HoldingsUpdated") == 2
    doc = last_doc(outputs)
    quantities = sorted(h["quantity"] for h in doc["holdings"])
    assert quantities == ["0.01", "1", "100.05", "10000", "12345.67", "2", "23.567"]
    option = next(h for h in doc["holdings"] if h["quantity"] == "10000")
    assert option["institution_value"] == {"value": "110.00", "currency": "USD"}
    gaps = {
        r["balance"]["value"]: r["unreconciled"]["value"] for r in doc["investment_reconciliation"]
    }
    assert gaps["320.76"] == "210.75"
    assert gaps["23631.98"] == "9253.36"
    # The institution's value counts towards net worth, not the sum of holdings.
    assert any(a["balances"]["current"]["value"] == "23631.98" for a in doc["accounts"])
    again, more = feed([holdings_envelope()], state)
    assert types(more) == []
    assert again.holdings == state.holdings


def test_investment_transactions_are_added_once() -> None:
    body = plaid_fixture("investments_transactions_get.json")
    page = envelope(body, kind="investments_transactions")
    state, outputs = feed([page, page])
    assert types(outputs).count("InvestmentTransactionAdded") == 3
    assert last_doc(outputs)["investment_transaction_count"] == 3
    sell = next(
        e
        for e in outputs
        if isinstance(e, Event)
        and e.type == "InvestmentTransactionAdded"
        and e.payload["transaction"]["type"] == "SELL"
    )
    assert sell.payload["transaction"]["quantity"] == "47.74104242992852"
    assert sell.payload["transaction"]["amount_minor"] == 128901
    assert len(state.investment_transactions) == 3


def test_liabilities_carry_terms_and_payments() -> None:
    body = plaid_fixture("liabilities_get.json")
    _, outputs = feed([envelope(body, kind="liabilities")])
    assert types(outputs).count("LiabilityUpdated") == 3
    liabilities = {item["kind"]: item for item in last_doc(outputs)["liabilities"]}
    mortgage = liabilities["MORTGAGE"]
    assert mortgage["interest_rate"] == {"percentage": "3.99", "type": "FIXED"}
    assert mortgage["terms"]["term_months"] == 360
    assert mortgage["payment"]["minimum_payment"] == {"value": "3141.54", "currency": "USD"}
    assert len(liabilities["CREDIT"]["aprs"]) == 4
