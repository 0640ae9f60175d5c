"""Dead letters listed, fixed upstream and replayed, once."""

from __future__ import annotations

import pytest

from fintra.dlq import open_dead_letters, replay
from fintra.profiles import load_profile
from fintra.settings import DLQ_TOPIC
from tests.integration.conftest import Core
from tests.support.envelopes import envelope, plaid_txn, sync_page

pytestmark = pytest.mark.integration


def test_replay_resubmits_each_dead_letter_once(core: Core) -> None:
    brokers, dlq = core.info.kafka_brokers, core.settings.topic(DLQ_TOPIC)
    good = envelope(sync_page(added=[plaid_txn("a", 5)]))
    too_future = envelope(sync_page(added=[plaid_txn("b", 7, day="2026-06-01")]), sync_id="s2")
    core.ingest([good, b"not json at all", too_future])
    core.run_until_idle()

    listed = open_dead_letters(brokers, dlq)
    assert sorted(e.reason for e in listed) == ["future_date", "missing_key"]
    future = [e for e in listed if e.reason == "future_date"]

    # Nothing was fixed upstream, so the replayed record fails again: a new dead letter
    # that names the same origin, listed once.
    assert replay(brokers, dlq, future) == 1
    assert [e.reason for e in open_dead_letters(brokers, dlq)] == ["missing_key"]
    core.run_until_idle()
    again = open_dead_letters(brokers, dlq)
    assert sorted(e.reason for e in again) == ["future_date", "missing_key"]
    assert {e.origin for e in again} == {e.origin for e in listed}

    # Replaying an origin whose newest entry is a replay marker re-submits nothing.
    assert replay(brokers, dlq, [e for e in again if e.reason == "future_date"]) == 1
    assert (
        replay(
            brokers, dlq, [e for e in open_dead_letters(brokers, dlq) if e.reason == "future_date"]
        )
        == 0
    )


def test_replayed_record_accepted_since_is_not_accepted_twice(core: Core) -> None:
    brokers, dlq = core.info.kafka_brokers, core.settings.topic(DLQ_TOPIC)
    first = envelope(sync_page(added=[plaid_txn("a", 5)]))
    conflicting = envelope(
        sync_page(added=[plaid_txn("a", 6)]), sync_id="s2", received_at="2026-01-03T00:00:00Z"
    )
    core.ingest([first, conflicting, first])
    core.run_until_idle()
    (letter,) = open_dead_letters(brokers, dlq)
    assert letter.reason == "idempotency_conflict"
    core.ingest([conflicting])  # the same record arrives again and still conflicts
    replay(brokers, dlq, [letter])
    core.run_until_idle()
    rows = core.query("SELECT count(*) FROM core_events WHERE type = 'TransactionAdded'")
    assert rows == [(1,)]
    doc = load_profile(core.info.database_url, core.settings.db_schema, "t1", "p1")
    assert doc is not None
    assert doc["transaction_count"] == 1
