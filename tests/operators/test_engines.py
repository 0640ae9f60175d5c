"""Cashflow and health derived from the twin, through the pipeline."""

from __future__ import annotations

import random
from typing import Any

from operators.decode import DecodeLimits
from operators.pipeline import ProfileDocument, process
from tests.support.envelopes import envelope, plaid_fixture, plaid_txn, record, sync_page

KEY = "t1:p1"
CHECKING = "BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp"
CARD = "dVzbVMLjrxTnLjX4G66XUp5GLklm4oiZy88yK"


def run(documents: list[dict[str, Any]]) -> dict[str, Any]:
    state, docs = None, []
    for offset, document in enumerate(documents):
        state, outputs = process(state, KEY, record(document, offset=offset), DecodeLimits())
        docs += [o.doc for o in outputs if isinstance(o, ProfileDocument)]
    return docs[-1]


def inputs() -> list[dict[str, Any]]:
    accounts = envelope(
        plaid_fixture("accounts_balance_get.json"),
        kind="accounts",
        received_at="2026-04-02T00:00:00Z",
        sync_id="acc",
    )
    txns = []
    for month in ("01", "02", "03"):
        txns += [
            plaid_txn(
                f"sal-{month}", -3000, account_id=CHECKING, day=f"2026-{month}-25", currency="USD"
            ),
            plaid_txn(
                f"rent-{month}", 1000, account_id=CHECKING, day=f"2026-{month}-01", currency="USD"
            ),
            plaid_txn(
                f"pay-{month}", 200, account_id=CHECKING, day=f"2026-{month}-10", currency="USD"
            ),
            plaid_txn(
                f"paid-{month}", -200, account_id=CARD, day=f"2026-{month}-11", currency="USD"
            ),
        ]
    pages = [
        envelope(
            sync_page(added=txns[i : i + 3], has_more=i + 3 < len(txns)),
            page=i // 3,
            received_at="2026-04-02T00:00:00Z",
        )
        for i in range(0, 12, 3)
    ]
    return [accounts, *pages]


def test_cashflow_excludes_transfers_between_own_accounts() -> None:
    cashflow = run(inputs())["cashflow"]
    march = next(m for m in cashflow["months"] if m["month"] == "2026-03")
    assert march["income"]["value"] == "3000.00"
    assert march["expenses"]["value"] == "1000.00"
    assert march["transfers_out"]["value"] == "200.00"
    assert march["net"]["value"] == "2000.00"
    summary = cashflow["summary"]
    assert summary["window"] == ["2026-01", "2026-02", "2026-03"]
    assert summary["monthly_burn"]["value"] == "1000.00"
    assert summary["savings_rate"] == "0.6667"


def test_health_components_carry_their_events() -> None:
    doc = run(inputs())
    health = doc["health"]
    assert health["components"]["savings_rate_pct"] == "0.6667"
    # 110.00 of cash against 3000.00 spent over the 90 days of the window: 3 days of runway.
    assert health["components"]["resilience_days"] == 3
    sources = {s["source_event_id"] for s in health["provenance"]["overall_score"]}
    assert doc["source_event_id"] in sources


def test_cashflow_and_health_do_not_depend_on_page_order() -> None:
    documents = inputs()
    expected = run(documents)
    shuffled = [documents[0], *random.Random(4).sample(documents[1:], len(documents) - 1)]
    got = run(shuffled)
    assert got["cashflow"]["months"] == expected["cashflow"]["months"]
    assert got["health"]["components"] == expected["health"]["components"]
