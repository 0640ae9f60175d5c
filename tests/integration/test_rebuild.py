"""``fintra rebuild``: projections regenerated from the log equal the live ones, byte for byte."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from fintra.rebuild import rebuild
from fintra.samples import SampleSpec, generate
from tests.integration.conftest import Core
from tests.integration.test_faults import digest

pytestmark = pytest.mark.integration


def damage(core: Core, *statements: str) -> None:
    with psycopg.connect(core.info.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(core.settings.db_schema))
        )
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def test_rebuild_twice_is_byte_identical_and_equal_to_the_live_tables(core: Core) -> None:
    core.ingest(generate(SampleSpec(seed=13, tenants=2, profiles_per_tenant=3, months=6)).envelopes)
    core.run_until_idle()
    live = digest(core)
    # Damage the projections the way a bad deploy might; the log alone must restore them.
    damage(
        core,
        "UPDATE view_unified_profile SET doc = '{}'::jsonb WHERE profile_id = 'p_0001'",
        "DELETE FROM transaction_search WHERE tenant_id = 't_002'",
        "DELETE FROM historical_net_worth WHERE day < '2026-03-01'",
    )
    assert digest(core) != live
    seen = []
    first = rebuild(
        core.info.database_url,
        core.settings.db_schema,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert digest(core) == live
    second = rebuild(core.info.database_url, core.settings.db_schema)
    assert digest(core) == live
    assert first == second
    assert first.profiles == 6
    assert first.events == core.query("SELECT count(*) FROM core_events")[0][0]
    assert first.rows["view_unified_profile"] == 6
    assert seen[-1] == (6, 6)
    schemas = core.query(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
        core.settings.db_schema + "_rebuild",
    )
    assert schemas == [(0,)]
