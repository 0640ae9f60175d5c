"""Daily history: written live beside the projection, and rebuilt identically from the log."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from fintra.ingest import publish_keyed
from fintra.profiles import load_profile
from fintra.samples import SampleSpec, generate
from fintra.settings import TENANTS_TOPIC
from fintra.snapshots import rebuild_history
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration

BALANCES = (
    "SELECT tenant_id, profile_id, account_id, day, balance_minor, currency, version"
    " FROM historical_balances ORDER BY 1, 2, 3, 4"
)
NET_WORTH = "SELECT * FROM historical_net_worth ORDER BY 1, 2, 3"


def test_history_ends_at_the_reported_balances_and_rebuilds_identically(core: Core) -> None:
    sample = generate(SampleSpec(seed=21, tenants=1, profiles_per_tenant=2, months=3))
    core.ingest(sample.envelopes)
    core.run_until_idle()

    live_balances, live_worth = core.query(BALANCES), core.query(NET_WORTH)
    assert live_balances
    for (tenant, profile), truth in sample.truth.items():
        doc = load_profile(core.info.database_url, core.settings.db_schema, tenant, profile)
        assert doc is not None
        last = {}
        for row in live_balances:
            if (row[0], row[1]) == (tenant, profile):
                last[row[2]] = row[4]  # rows are ordered by day: the last one wins
        accounts = {a["account_id"]: a["provider_account_id"] for a in doc["accounts"]}
        assert {accounts[k]: v for k, v in last.items()} == dict(truth.balances_minor)
        worth = [r for r in live_worth if (r[0], r[1]) == (tenant, profile)]
        assert worth[-1][3] == truth.net_worth_minor
        # One row per day, no gaps.
        days = [r[2] for r in worth]
        assert days == [days[0] + dt.timedelta(n) for n in range(len(days))]

    first_day = min(r[3] for r in live_balances)
    last_day = max(r[3] for r in live_balances)
    url, schema = core.info.database_url, core.settings.db_schema
    for _ in range(2):
        counts = rebuild_history(url, schema, first_day, last_day)
        assert counts.profiles == len(sample.truth)
        assert counts.balance_rows == len(live_balances)
        assert core.query(BALANCES) == live_balances
        assert core.query(NET_WORTH) == live_worth


def test_end_of_day_carries_every_account_to_midnight(core: Core) -> None:
    sample = generate(SampleSpec(seed=22, tenants=1, profiles_per_tenant=1, months=2))
    core.ingest(sample.envelopes)
    core.run_until_idle()
    last_day = max(r[3] for r in core.query(BALANCES))
    closed = last_day + dt.timedelta(days=3)
    ((tenant, profile),) = sample.truth
    publish_keyed(
        core.info.kafka_brokers,
        core.settings.topic(TENANTS_TOPIC),
        [
            (
                f"{tenant}:clock".encode(),
                orjson.dumps({"tenant_id": tenant, "day_closed": closed.isoformat()}),
            )
        ]
        * 2,
    )
    core.run_until_idle()
    rows = core.query(BALANCES)
    accounts = {r[2] for r in rows}
    final = {r[2]: r[4] for r in rows if r[3] == closed}
    assert set(final) == accounts
    before = {r[2]: r[4] for r in rows if r[3] == last_day}
    assert final == before  # nothing posted since: balances carried forward
    assert core.query("SELECT count(*) FROM core_events WHERE type = 'DayClosed'") == [(1,)]
    worth = core.query(NET_WORTH)
    assert worth[-1][2] == closed
    assert worth[-1][3] == sample.truth[(tenant, profile)].net_worth_minor
    live = rows
    rebuild_history(
        core.info.database_url, core.settings.db_schema, min(r[3] for r in rows), closed
    )
    assert core.query(BALANCES) == live
