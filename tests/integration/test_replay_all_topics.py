"""A replay of every input topic from the first offset, after traffic on all of them."""

from __future__ import annotations

import shutil

import orjson
import pytest

from fintra.ingest import publish_keyed
from fintra.samples import SampleSpec, generate
from fintra.settings import COMMANDS_TOPIC, REGISTRY_TOPIC, TENANTS_TOPIC
from tests.integration.conftest import Core
from tests.integration.test_faults import digest

pytestmark = pytest.mark.integration

SPEC = SampleSpec(seed=23, tenants=2, profiles_per_tenant=3, months=4)
RULES = {
    "tenant_id": "t_001",
    "version": "2026.12.1",
    "rules": [
        {"id": "groceries", "match": {"description": "(?i)market"}, "set": {"merchant": "A Market"}}
    ],
}
METRIC = {
    "tenant_id": "t_001",
    "metric_id": "monthly_spend",
    "display_name": "Spend this month",
    "return_type": "CURRENCY",
    "logic": {"filter": "amount < 0", "aggregation": "SUM(amount)", "window": "1m"},
}


def command(
    command_id: str, profile: str, name: str, payload: dict[str, object]
) -> tuple[bytes, bytes]:
    body = {
        "command_id": command_id,
        "tenant_id": "t_002",
        "profile_id": profile,
        "command": name,
        "issued_at": "2026-05-02T09:00:00Z",
        "payload": payload,
    }
    return f"t_002:{profile}".encode(), orjson.dumps(body)


def test_dropping_recovery_and_reading_every_topic_again_writes_nothing_twice(core: Core) -> None:
    brokers = core.info.kafka_brokers
    envelopes = generate(SPEC).envelopes
    half = len(envelopes) // 2
    core.ingest(envelopes[:half])
    core.run_until_idle()
    # Traffic on the other inputs between two halves of the syncs: a replay of every topic
    # at once reads them in another order against the syncs than they were first applied.
    publish_keyed(
        brokers,
        core.settings.topic(TENANTS_TOPIC),
        [
            (b"t_002:defaults", orjson.dumps({"tenant_id": "t_002", "base_currency": "EUR"})),
            (b"t_001:rules", orjson.dumps(RULES)),
        ],
    )
    publish_keyed(
        brokers,
        core.settings.topic(REGISTRY_TOPIC),
        [(b"t_001:monthly_spend", orjson.dumps(METRIC))],
    )
    publish_keyed(
        brokers,
        core.settings.topic(COMMANDS_TOPIC),
        [
            command("c-1", "p_0001", "SetBaseCurrency", {"base_currency": "GBP"}),
            command("c-2", "p_0002", "SetBaseCurrency", {"base_currency": "JPY"}),
        ],
    )
    core.run_until_idle()
    core.ingest(envelopes[half:])
    core.run_until_idle()
    before = digest(core)
    types = {row[0] for row in core.query("SELECT DISTINCT type FROM core_events")}
    assert {
        "TenantDefaultsApplied",
        "TenantRulesApplied",
        "BaseCurrencySet",
        "MetricEvaluated",
    } <= types

    shutil.rmtree(core.settings.home / "recovery")
    core.run_until_idle()
    assert digest(core) == before
    assert not core.dead_letters()
