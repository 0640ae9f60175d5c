"""Market ticks through the real broker: revalue holders in their base currency, only them."""

from __future__ import annotations

import orjson
import pytest

from fintra.ingest import publish_keyed
from fintra.profiles import load_profile
from fintra.settings import INTERESTS_TOPIC, MARKET_TOPIC, TENANTS_TOPIC
from tests.flows.test_core_flow import holdings_body
from tests.integration.conftest import Core
from tests.support.envelopes import envelope, plaid_fixture

pytestmark = pytest.mark.integration


def test_ticks_give_the_base_currency_net_worth_to_the_cent(core: Core) -> None:
    brokers = core.info.kafka_brokers
    publish_keyed(
        brokers,
        core.settings.topic(TENANTS_TOPIC),
        [(b"t_m:defaults", orjson.dumps({"tenant_id": "t_m", "base_currency": "GBP"}))],
    )
    core.run_until_idle()  # the tenant's defaults first, then its profiles' syncs
    core.ingest(
        [
            envelope(
                holdings_body(),
                kind="investments_holdings",
                tenant_id="t_m",
                profile_id="rich",
                received_at="2026-01-02T00:00:00Z",
            ),
            envelope(
                plaid_fixture("accounts_balance_get.json"),
                kind="accounts",
                tenant_id="t_m",
                profile_id="other",
                received_at="2026-01-02T00:00:00Z",
            ),
        ]
    )
    core.run_until_idle()
    holders = {
        orjson.loads(m.value())["holder"]
        for m in core.topic_messages(INTERESTS_TOPIC)
        if m.key() == b"SYM:AAPL"
    }
    assert holders == {"t_m:rich"}

    burst = []
    for minute in range(30):
        price = f"{170 + minute % 7}.{minute:02d}"
        burst.append(
            (
                b"SYM:AAPL",
                {
                    "type": "PRICE",
                    "quote_symbol": "AAPL",
                    "price": price,
                    "currency": "USD",
                    "source": "feed",
                    "as_of": f"2026-01-02T10:{minute:02d}:00Z",
                },
            )
        )
        burst.append(
            (
                b"FX:USD/GBP",
                {
                    "type": "FX",
                    "base": "USD",
                    "quote": "GBP",
                    "rate": f"0.7{minute % 10}",
                    "source": "ecb",
                    "as_of": f"2026-01-02T10:{minute:02d}:30Z",
                },
            )
        )
    # The latest by as_of, sent first: arrival order must not matter.
    burst.insert(
        0,
        (
            b"SYM:AAPL",
            {
                "type": "PRICE",
                "quote_symbol": "AAPL",
                "price": "176.19",
                "currency": "USD",
                "source": "feed",
                "as_of": "2026-01-02T11:00:00Z",
            },
        ),
    )
    burst.insert(
        0,
        (
            b"FX:USD/GBP",
            {
                "type": "FX",
                "base": "USD",
                "quote": "GBP",
                "rate": "0.80",
                "source": "ecb",
                "as_of": "2026-01-02T11:00:00Z",
            },
        ),
    )
    publish_keyed(
        brokers,
        core.settings.topic(MARKET_TOPIC),
        [(key, orjson.dumps(body)) for key, body in burst],
    )
    core.run_until_idle()

    url, schema = core.info.database_url, core.settings.db_schema
    rich = load_profile(url, schema, "t_m", "rich")
    assert rich is not None
    # (10 x 176.19 + 100.00) USD x 0.80 = 1489.52 GBP
    assert rich["net_worth"]["value"] == "1489.52"
    assert rich["net_worth"]["currency"] == "GBP"
    assert rich["unpriced_assets"] == []
    other = load_profile(url, schema, "t_m", "other")
    assert other is not None
    assert other["base_currency"] == "GBP"
    price_ticks = core.query(
        "SELECT DISTINCT profile_id FROM core_events WHERE type = 'MarketTickApplied'"
        " AND payload->'tick'->>'type' = 'PRICE'"
    )
    assert price_ticks == [("rich",)]
    assert core.dead_letters() == []
