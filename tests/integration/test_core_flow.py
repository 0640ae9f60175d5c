"""The core flow on the real broker and PostgreSQL: ingest → run → projections and the log."""

from __future__ import annotations

import psycopg
import pytest

from fintra.profiles import load_profile
from fintra.samples import SampleSpec, generate
from operators.plaid import transaction_id
from schemas.money import format_minor
from tests.integration.conftest import Core
from tests.support.envelopes import envelope, plaid_fixture, plaid_txn, sync_page

pytestmark = pytest.mark.integration


def test_generated_syncs_end_as_the_generator_expects(core: Core) -> None:
    sample = generate(SampleSpec(seed=11, tenants=2, profiles_per_tenant=2, months=3))
    assert core.ingest(sample.envelopes) == len(sample.envelopes)
    core.run_until_idle()
    assert core.dead_letters() == []
    for (tenant, profile), truth in sample.truth.items():
        doc = load_profile(core.info.database_url, core.settings.db_schema, tenant, profile)
        assert doc is not None
        assert doc["transaction_count"] == truth.transaction_count
        balances = {
            a["provider_account_id"]: a["balances"]["current"]["value"] for a in doc["accounts"]
        }
        assert balances == {
            k: format_minor(v, truth.currency) for k, v in truth.balances_minor.items()
        }
        assert doc["net_worth"]["value"] == format_minor(truth.net_worth_minor, truth.currency)
        assert doc["total_debt"]["value"] == format_minor(truth.total_debt_minor, truth.currency)
    # Every event in the log was published, and nothing else.
    logged = {str(row[0]) for row in core.query("SELECT event_id FROM core_events")}
    published = [e["event_id"] for e in core.events_on_topic()]
    assert sorted(published) == sorted(logged)


def test_a_sync_ingested_three_times_adds_each_transaction_once(core: Core) -> None:
    sample = generate(SampleSpec(seed=5, tenants=1, profiles_per_tenant=2, months=2))
    for _ in range(3):
        core.ingest(sample.envelopes)
    core.run_until_idle()
    rows = core.query(
        "SELECT payload->'transaction'->>'transaction_id', type, count(*) FROM core_events"
        " WHERE type = 'TransactionAdded'"
        "    OR (type = 'TransactionUpdated' AND payload->>'replaces' IS NOT NULL)"
        " GROUP BY 1, 2"
    )
    # Each transaction enters the twin exactly once: added, or settling its pending one.
    assert {count for _, _, count in rows} == {1}
    entered = sorted(txn_id for txn_id, _, _ in rows)
    offered = sorted(
        {
            transaction_id(t["account_id"], t["transaction_id"])
            for e in sample.envelopes
            if e["kind"] == "transactions_sync"
            for t in e["payload"]["added"]
        }
    )
    assert entered == offered
    versions = core.query(
        "SELECT tenant_id, profile_id, max(stream_version), count(*) FROM core_events GROUP BY 1, 2"
    )
    assert all(top == count for _, _, top, count in versions)


def test_malformed_envelope_is_dead_lettered_while_the_batch_goes_on(core: Core) -> None:
    accounts = envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts")
    page = envelope(sync_page(added=[plaid_txn("a", 5), plaid_txn("b", 6)]))
    bad_currency = envelope(sync_page(added=[plaid_txn("c", 1, currency="ZZZ")]), sync_id="s-bad")
    inputs = [accounts, b'{"tenant_id": "t1", "profile_id": "p1", "kind": ', page, bad_currency]
    assert core.ingest(inputs) == 4
    core.run_until_idle()
    letters = core.dead_letters()
    assert sorted(letter["reason"] for letter in letters) == ["missing_key", "unknown_currency"]
    currency_letter = next(x for x in letters if x["reason"] == "unknown_currency")
    assert currency_letter["field"] == "payload.added[0].amount"
    assert currency_letter["source"]["topic"] == core.settings.topic("connect.sync_completed.v1")
    doc = load_profile(core.info.database_url, core.settings.db_schema, "t1", "p1")
    assert doc is not None
    assert doc["transaction_count"] == 2
    accepted = len(
        {(e["source"]["partition"], e["source"]["offset"]) for e in core.events_on_topic()}
    )
    assert len(inputs) == accepted + len(letters)


def test_the_event_log_refuses_update_delete_and_truncate(core: Core) -> None:
    core.ingest([envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts")])
    core.run_until_idle()
    for statement in (
        "UPDATE core_events SET type = 'X'",
        "DELETE FROM core_events",
        "TRUNCATE core_events",
        "DELETE FROM core_event_ids",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            core.query(statement)
    assert core.query("SELECT count(*) FROM core_events") == [(3,)]


def test_a_second_run_resumes_where_the_first_stopped(core: Core) -> None:
    core.ingest([envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts")])
    core.run_until_idle()
    core.ingest([envelope(sync_page(added=[plaid_txn("a", 5)]))])
    core.run_until_idle()
    # Three accounts, then the transaction, its enrichment and the sync's summary.
    assert core.query("SELECT count(*), max(stream_version) FROM core_events") == [(6, 6)]
    assert len(core.events_on_topic()) == 6
