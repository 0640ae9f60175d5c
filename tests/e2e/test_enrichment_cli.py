"""Tenant rules, metric definitions and re-enrichment as a user drives them, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from fintra.samples import SampleSpec, generate, write_jsonl
from tests.e2e.test_cli import _fintra
from tests.operators.test_tenant_metrics import WEEKEND_COFFEE as FOS_WEEKEND_COFFEE

pytestmark = pytest.mark.e2e

RULES = {
    "version": "2026.12.1",
    "rules": [
        {
            "id": "starbucks-is-a-treat",
            "match": {"merchant": "Starbucks"},
            "set": {"category": ["Entertainment", "Games"], "merchant": "Starbucks Treats"},
        }
    ],
}
# The FOS example as a tenant would file it: `fintra registry put` fills in the tenant.
WEEKEND_COFFEE = {k: v for k, v in FOS_WEEKEND_COFFEE.items() if k != "tenant_id"}


def query(env: dict[str, str], text: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["FINTRA_DATABASE_URL"], autocommit=True) as conn:
        schema = sql.Identifier(env["FINTRA_DB_SCHEMA"])
        conn.execute(sql.SQL("SET search_path TO {}, public").format(schema))
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def ok(env: dict[str, str], *args: str) -> str:
    result = _fintra(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def starbucks(env: dict[str, str]) -> set[tuple[str, str]]:
    rows = query(
        env,
        "SELECT category_source, clean_merchant FROM transaction_search"
        " WHERE merchant ILIKE 'STARBUCKS%%' AND NOT removed",
    )
    return {(row[0], row[1]) for row in rows}


def test_rules_metrics_and_re_enrichment_through_the_cli(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env
    ok(env, "up")
    sample = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=2, months=4))
    write_jsonl(tmp_path / "syncs.jsonl", sample.envelopes)
    ok(env, "ingest", str(tmp_path / "syncs.jsonl"))
    ok(env, "run", "--until-idle")
    assert starbucks(env) == {("VENDOR", "Starbucks")}

    (tmp_path / "rules.json").write_text(json.dumps(RULES))
    (tmp_path / "metrics.json").write_text(json.dumps([WEEKEND_COFFEE]))
    assert "1 rules, version 2026.12.1" in ok(
        env, "rules", "put", "t_001", str(tmp_path / "rules.json")
    )
    ok(env, "registry", "put", "t_001", str(tmp_path / "metrics.json"))
    ok(env, "run", "--until-idle")
    # New rules apply to new transactions; the stored ones wait for a re-enrichment.
    assert starbucks(env) == {("VENDOR", "Starbucks")}
    readings = query(
        env,
        "SELECT profile_id, doc->'derived_metrics'->'weekend_coffee'->>'value'"
        " FROM view_unified_profile ORDER BY profile_id",
    )
    assert [row[0] for row in readings] == ["p_0001", "p_0002"]
    assert all(row[1] is not None and row[1].startswith("-") for row in readings)

    sent = ok(env, "enrich", "--since", "2026.12.1")
    assert "in 2 profiles were enriched before 2026.12.1" in sent
    ok(env, "run", "--until-idle")
    assert starbucks(env) == {("TENANT_RULE", "Starbucks Treats")}
    events = query(env, "SELECT count(*) FROM core_events")[0][0]

    # A second run finds the same transactions, and the twins record nothing new.
    ok(env, "enrich", "--since", "2026.12.1")
    ok(env, "run", "--until-idle")
    assert query(env, "SELECT count(*) FROM core_events")[0][0] == events

    # The user's category outlives a full replay of every input topic, which writes nothing
    # twice although its topics now interleave in another order.
    target = query(
        env,
        "SELECT transaction_id FROM transaction_search WHERE profile_id = 'p_0001'"
        " AND clean_merchant = 'Starbucks Treats' ORDER BY transaction_id LIMIT 1",
    )[0][0]
    payload = json.dumps({"transaction_id": target, "new_category": ["Food and Drink", "Coffee"]})
    ok(env, "command", "t_001", "p_0001", "UpdateTransactionCategory", "--payload", payload)
    ok(env, "run", "--until-idle")
    events = query(env, "SELECT count(*) FROM core_events")[0][0]
    ok(env, "replay", "--from", "beginning")
    ok(env, "run", "--until-idle")
    assert query(env, "SELECT count(*) FROM core_events")[0][0] == events
    row = query(
        env,
        "SELECT category, category_source FROM transaction_search WHERE transaction_id = %s",
        target,
    )
    assert row == [(["Food and Drink", "Coffee"], "USER_OVERRIDE")]


def test_invalid_rules_and_definitions_are_refused_with_every_problem(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad_rules = {"version": "next", "rules": [{"id": "r1", "match": {}, "set": {}}]}
    (tmp_path / "rules.json").write_text(json.dumps(bad_rules))
    result = _fintra(cli_env, "rules", "put", "t_001", str(tmp_path / "rules.json"))
    assert result.returncode == 1
    for expected in ("(bad_version)", "rules[0].match", "(empty_match)", "(empty_set)"):
        assert expected in result.stderr

    bad_metric = {
        **WEEKEND_COFFEE,
        "logic": {"filter": "mood == 'good'", "aggregation": "AVG(amount)", "window": "90"},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(bad_metric))
    result = _fintra(cli_env, "registry", "put", "t_001", str(tmp_path / "metrics.json"))
    assert result.returncode == 1
    assert "filter at 0: unknown field 'mood'" in result.stderr
    assert "(bad_window)" in result.stderr
