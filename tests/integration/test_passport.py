"""Passport through the real broker and PostgreSQL: a link merges a history once."""

from __future__ import annotations

import orjson
import pytest

from fintra.audit import verify
from fintra.ingest import publish_keyed
from fintra.samples import SampleSpec, generate
from fintra.settings import LINKS_TOPIC
from tests.integration.conftest import Core
from tests.integration.test_faults import start_run

pytestmark = pytest.mark.integration

LINK = {
    "link_id": "lnk-7",
    "consent_id": "consent-7",
    "source": {"tenant_id": "t_001", "profile_id": "p_0001"},
    "target": {"tenant_id": "t_002", "profile_id": "p_0001"},
    "linked_at": "2026-06-01T00:00:00Z",
}


def link(core: Core) -> None:
    publish_keyed(
        core.info.kafka_brokers,
        core.settings.topic(LINKS_TOPIC),
        [(b"t_001:p_0001", orjson.dumps(LINK))],
    )


def run(core: Core) -> None:
    assert start_run(core, 1).wait(timeout=300) == 0


def count(core: Core, tenant: str) -> int:
    row = core.query(
        "SELECT (doc->>'transaction_count')::int FROM view_unified_profile"
        " WHERE tenant_id = %s AND profile_id = 'p_0001'",
        tenant,
    )
    return int(row[0][0])


def first_day(core: Core, tenant: str) -> str:
    row = core.query(
        "SELECT min(day)::text FROM historical_net_worth"
        " WHERE tenant_id = %s AND profile_id = 'p_0001'",
        tenant,
    )
    return str(row[0][0])


def test_a_link_merges_the_source_history_into_the_target_once(core: Core) -> None:
    core.ingest(generate(SampleSpec(seed=19, tenants=2, profiles_per_tenant=1, months=5)).envelopes)
    run(core)
    source_count, target_count = count(core, "t_001"), count(core, "t_002")
    source_start, target_start = first_day(core, "t_001"), first_day(core, "t_002")
    link(core)
    run(core)
    assert count(core, "t_002") == source_count + target_count
    assert count(core, "t_001") == source_count
    assert first_day(core, "t_002") == min(source_start, target_start)
    imported = core.query(
        "SELECT type, payload::text, source->>'connection_id' FROM core_events"
        " WHERE tenant_id = 't_002' AND source->>'provider' = 'passport'"
        " ORDER BY stream_version"
    )
    assert imported[-1][0] == "ProfileLinked"
    assert {row[2] for row in imported} == {"consent-7"}
    assert not any("t_001" in row[1] for row in imported)
    linked = core.query(
        "SELECT role FROM (SELECT payload->>'role' AS role FROM core_events"
        " WHERE type = 'ProfileLinked') roles ORDER BY role"
    )
    assert linked == [("source",), ("target",)]
    events_before = core.query("SELECT count(*) FROM core_events")[0][0]
    link(core)
    run(core)
    assert core.query("SELECT count(*) FROM core_events")[0][0] == events_before
    assert verify(core.info.database_url, core.settings.db_schema).broken == []
