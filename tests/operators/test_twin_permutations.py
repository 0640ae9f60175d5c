"""Any arrival order of the same inputs gives the same twin and the same valuation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fintra.samples import SampleSpec, generate
from operators.decode import DecodeLimits
from operators.engines import cashflow_view
from operators.pipeline import TickDelivery, TwinItem, process
from operators.twin import ProfileState
from operators.wealth import balance_sheet
from schemas.market import MARKET_TICK
from schemas.records import RawRecord
from tests.flows.test_core_flow import holdings_body
from tests.support.envelopes import envelope, record

LIMITS = DecodeLimits()
KEY = "t_001:p_0001"


def inputs(seed: int) -> list[TwinItem]:
    sample = generate(SampleSpec(seed=seed, tenants=1, profiles_per_tenant=1, months=3))
    items: list[TwinItem] = [
        record(e, key=KEY.encode(), offset=i) for i, e in enumerate(sample.envelopes)
    ]
    wealth = envelope(
        holdings_body(),
        kind="investments_holdings",
        tenant_id="t_001",
        profile_id="p_0001",
        received_at="2026-02-15T00:00:00Z",
    )
    items.append(record(wealth, key=KEY.encode(), offset=len(items)))
    ticks = [
        {
            "type": "PRICE",
            "quote_symbol": "AAPL",
            "price": p,
            "currency": "USD",
            "as_of": f"2026-02-1{d}T00:00:00Z",
            "source": "feed",
        }
        for d, p in ((1, "150.00"), (2, "176.19"), (3, "160.5"))
    ] + [
        {
            "type": "FX",
            "base": "USD",
            "quote": "GBP",
            "rate": r,
            "as_of": f"2026-02-1{d}T12:00:00Z",
            "source": "ecb",
        }
        for d, r in ((1, "0.8"), (4, "0.79"))
    ]
    marker = RawRecord(KEY.encode(), None, "marketstream.price_updated.v1", 0, 0)
    items += [TickDelivery(marker, KEY, MARKET_TICK.validate_python(t)) for t in ticks]
    return items


def fold(items: list[TwinItem]) -> ProfileState:
    state: ProfileState | None = None
    for item in items:
        state, _ = process(state, KEY, item, LIMITS)
    assert state is not None
    return state


def facts(state: ProfileState) -> tuple[Any, ...]:
    sheet = balance_sheet(state)
    return (
        {k: dict(v.doc) for k, v in state.accounts.items()},
        {k: (v.content_hash, v.pending) for k, v in state.transactions.items()},
        {k: v.doc for k, v in state.holdings.items()},
        state.rates,
        None if sheet is None else _values(sheet.as_dict()),
        cashflow_view(state)["months"] if state.transactions else None,
    )


def _values(sheet: dict[str, Any]) -> dict[str, Any]:
    """A valuation without its provenance (event ids and versions depend on arrival order)."""
    lines = sorted(
        (
            line["id"],
            line["native_minor"],
            line["base_minor"],
            line["price"] and line["price"].get("value"),
        )
        for line in sheet["lines"]
    )
    return {
        **{
            k: sheet[k]
            for k in ("base_currency", "at", "net_worth_minor", "total_debt_minor", "assets_minor")
        },
        "lines": lines,
        "unpriced": sorted(u["id"] for u in sheet["unpriced_assets"]),
    }


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=3), order=st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_twin(seed: int, order: Any) -> None:
    items = inputs(seed)
    expected = facts(fold(items))
    shuffled = list(items)
    order.shuffle(shuffled)
    assert facts(fold(shuffled)) == expected
