"""``fintra audit verify`` on the real event log: intact chains pass, a tampered row is named."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from fintra.audit import verify
from fintra.samples import SampleSpec, generate
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration


def tamper(core: Core, statement: str) -> None:
    """Change the log as a superuser who switched its append-only triggers off."""
    with psycopg.connect(core.info.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}, public").format(sql.Identifier(core.settings.db_schema))
        )
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement)  # type: ignore[arg-type]


def test_intact_log_verifies_and_each_kind_of_tampering_is_named(core: Core) -> None:
    sample = generate(SampleSpec(seed=3, tenants=2, profiles_per_tenant=2, months=2))
    core.ingest(sample.envelopes)
    core.run_until_idle()
    report = verify(core.info.database_url, core.settings.db_schema)
    assert report.profiles == 4
    assert report.events == core.query("SELECT count(*) FROM core_events")[0][0] > 100
    assert report.broken == []
    assert verify(core.info.database_url, core.settings.db_schema, "t_002").profiles == 2

    tamper(
        core,
        "UPDATE core_events SET payload = payload || '{\"amount_minor\": 1}'"
        " WHERE tenant_id = 't_001' AND profile_id = 'p_0001' AND stream_version = 40",
    )
    tamper(
        core,
        "UPDATE core_events SET prev_hash = repeat('0', 64)"
        " WHERE tenant_id = 't_002' AND profile_id = 'p_0002' AND stream_version = 7",
    )
    tamper(
        core,
        "DELETE FROM core_events"
        " WHERE tenant_id = 't_002' AND profile_id = 'p_0001' AND stream_version = 12",
    )
    broken = {
        (link.tenant_id, link.profile_id): (link.stream_version, link.problem)
        for link in verify(core.info.database_url, core.settings.db_schema).broken
    }
    assert broken == {
        ("t_001", "p_0001"): (40, "payload does not match its payload_hash"),
        ("t_002", "p_0002"): (7, "prev_hash does not match the previous event"),
        ("t_002", "p_0001"): (13, "stream version 13 where 12 was expected"),
    }
