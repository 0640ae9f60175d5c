"""The core dataflow wired to in-memory ends: keying, dead letters and recovery."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import orjson
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main
from prometheus_client import REGISTRY

from fintra.samples import SampleSpec, generate
from flows.core import CoreIO, InputTopics, wire_core_flow
from operators.decode import DecodeLimits
from operators.pipeline import ProfileDocument
from schemas.events import Event
from tests.support.envelopes import envelope, plaid_fixture

TOPIC = "connect.sync_completed.v1"
TOPICS = InputTopics(
    syncs=TOPIC,
    platform_data="connect.custom_data.v1",
    registry="brain.registry.v1",
    tenants="core.tenants.v1",
    market="marketstream.price_updated.v1",
    interests="core.instrument_interest.v1",
    commands="core.commands.v1",
)


def message(
    document: dict[str, Any] | bytes | None,
    offset: int,
    key: bytes | None = None,
    *,
    topic: str = TOPIC,
    timestamp_ms: int = 1_767_312_000_000,
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    value = document if document is None or isinstance(document, bytes) else orjson.dumps(document)
    if key is None and isinstance(document, dict):
        key = f"{document['tenant_id']}:{document['profile_id']}".encode()
    return KafkaSourceMessage(
        key=key, value=value, topic=topic, partition=0, offset=offset, timestamp=(1, timestamp_ms)
    )


class Run:
    """One deployment's outputs, accumulated over executions like real sinks would."""

    def __init__(self) -> None:
        self.events: list[KafkaSinkMessage[Any, Any]] = []
        self.letters: list[KafkaSinkMessage[Any, Any]] = []
        self.stored: list[Event | ProfileDocument] = []
        self.interests: list[KafkaSinkMessage[Any, Any]] = []
        self.requests: list[KafkaSinkMessage[Any, Any]] = []

    def execute(self, items: list[Any], recovery: RecoveryConfig | None = None) -> None:
        io = CoreIO(
            source=TestingSource(items),
            events=TestingSink(self.events),
            dead_letters=TestingSink(self.letters),
            store=TestingSink(self.stored),
            interests=TestingSink(self.interests),
            passport_requests=TestingSink(self.requests),
        )
        run_main(
            wire_core_flow(io, TOPICS, DecodeLimits()),
            epoch_interval=dt.timedelta(0),
            recovery_config=recovery,
        )

    def final_documents(self) -> dict[tuple[str, str], dict[str, Any]]:
        newest: dict[tuple[str, str], ProfileDocument] = {}
        for item in self.stored:
            if isinstance(item, ProfileDocument):
                key = (item.tenant_id, item.profile_id)
                if key not in newest or newest[key].version < item.version:
                    newest[key] = item
        return {key: doc.doc for key, doc in newest.items()}

    def unique_events(self) -> dict[str, bytes]:
        return {orjson.loads(m.value)["event_id"]: m.value for m in self.events}


def sample_messages() -> list[KafkaSourceMessage[bytes | None, bytes | None]]:
    sample = generate(SampleSpec(seed=3, tenants=2, profiles_per_tenant=2, months=3))
    return [message(envelope, offset) for offset, envelope in enumerate(sample.envelopes)]


def test_bad_keys_and_bad_bodies_become_dead_letters_and_the_rest_flows() -> None:
    good = sample_messages()
    bad = [
        message(b"{}", 9001, key=None),
        message(b"{}", 9002, key=b"no-colon"),
        message(b'{"tenant_id": "t", "profile_id": "p"', 9003, key=b"t:p"),
    ]
    run = Run()
    run.execute([*good[:5], *bad, *good[5:]])
    reasons = sorted(orjson.loads(m.value)["reason"] for m in run.letters)
    assert reasons == ["invalid_key", "malformed_json", "missing_key"]
    profiles = {(e.tenant_id, e.profile_id) for e in run.stored if isinstance(e, Event)}
    assert len(profiles) == 4


def inputs_counted() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "fintra_inputs_total", {"topic": TOPIC, "outcome": outcome}
        )
        or 0.0
        for outcome in ("accepted", "dead_lettered")
    }


def test_every_input_is_counted_accepted_or_dead_lettered() -> None:
    good = sample_messages()
    bad = [message(b"{}", 9001, key=None), message(b"[1]", 9002, key=b"t:p")]
    before = inputs_counted()
    run = Run()
    run.execute([*good, *bad])
    after = inputs_counted()
    accepted = after["accepted"] - before["accepted"]
    dead = after["dead_lettered"] - before["dead_lettered"]
    assert dead == len(run.letters) == len(bad)
    assert accepted + dead == len(good) + len(bad)


def test_a_crash_and_resume_gives_the_same_twins_as_a_clean_run(tmp_path: Path) -> None:
    messages = sample_messages()
    clean = Run()
    clean.execute(messages)

    init_db_dir(tmp_path, 1)
    recovery = RecoveryConfig(str(tmp_path))
    crashed = Run()
    half = len(messages) // 2
    items: list[Any] = [*messages[:half], TestingSource.ABORT(), *messages[half:]]
    try:
        crashed.execute(items, recovery)
    except RuntimeError:
        pass  # the injected abort
    crashed.execute(items, recovery)

    assert crashed.final_documents() == clean.final_documents()
    # Output is at-least-once: repeats carry the same ids and bytes, so idempotent sinks
    # collapse them to exactly the clean run's events.
    assert crashed.unique_events() == clean.unique_events()


def definition(
    metric_id: str, return_type: str, tenant: str = "t_001"
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    body = {
        "tenant_id": tenant,
        "metric_id": metric_id,
        "display_name": metric_id.title(),
        "return_type": return_type,
    }
    return message(body, 0, key=f"{tenant}:{metric_id}".encode(), topic=TOPICS.registry)


def data_point(
    data_id: str,
    key: str,
    value: Any,
    *,
    profile: str = "p_0001",
    offset: int = 0,
    timestamp: str = "2026-01-02T10:00:00Z",
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    body = {
        "data_id": data_id,
        "tenant_id": "t_001",
        "profile_id": profile,
        "timestamp": timestamp,
        "key": key,
        "value": value,
        "context": {"region": "london_zone_1"},
    }
    return message(body, offset, key=f"t_001:{profile}".encode(), topic=TOPICS.platform_data)


def test_platform_data_is_validated_against_the_tenant_registry() -> None:
    run = Run()
    run.execute(
        [
            definition("completed_rides", "NUMBER"),
            definition("tips", "CURRENCY"),
            data_point("d1", "completed_rides", 45, offset=1),
            data_point("d2", "tips", {"value": "12.50", "currency": "GBP"}, offset=2),
            data_point("d3", "unknown_metric", 1, offset=3),
            data_point("d4", "completed_rides", "45", offset=4),
            data_point("d5", "tips", {"value": "12.505", "currency": "GBP"}, offset=5),
            data_point("d1", "completed_rides", 45, offset=6),
            data_point("d1", "completed_rides", 46, offset=7),
            data_point("d6", "completed_rides", 50, offset=8, timestamp="2027-06-01T00:00:00Z"),
        ]
    )
    reasons = sorted(orjson.loads(m.value)["reason"] for m in run.letters)
    assert reasons == [
        "excess_precision",
        "future_date",
        "idempotency_conflict",
        "unknown_metric",
        "wrong_type",
    ]
    recorded = [e for e in run.stored if isinstance(e, Event) and e.type == "PlatformDataRecorded"]
    assert [e.payload["data"]["data_id"] for e in recorded] == ["d1", "d2"]
    assert recorded[0].payload["data"]["value"] == "45"
    assert recorded[1].payload["data"]["value"] == {"amount_minor": 1250, "currency": "GBP"}
    assert recorded[0].payload["metric"]["return_type"] == "NUMBER"
    doc = run.final_documents()[("t_001", "p_0001")]
    assert doc["platform_data"]["completed_rides"]["value"] == "45"
    assert doc["platform_data"]["completed_rides"]["source_event_id"] == recorded[0].event_id
    assert doc["platform_data"]["tips"]["context"] == {"region": "london_zone_1"}


def test_a_removed_metric_no_longer_accepts_data() -> None:
    run = Run()
    run.execute(
        [
            definition("completed_rides", "NUMBER"),
            message(None, 1, key=b"t_001:completed_rides", topic=TOPICS.registry),
            data_point("d1", "completed_rides", 45, offset=2),
        ]
    )
    assert [orjson.loads(m.value)["reason"] for m in run.letters] == ["unknown_metric"]


def tenant_defaults(
    tenant: str, currency: str, offset: int
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    body = {"tenant_id": tenant, "base_currency": currency}
    return message(body, offset, key=f"{tenant}:defaults".encode(), topic=TOPICS.tenants)


def test_tenant_defaults_reach_existing_and_new_profiles() -> None:
    messages = sample_messages()
    first = [m for m in messages if m.key == b"t_001:p_0001"]
    later = [m for m in messages if m.key == b"t_001:p_0002"]
    run = Run()
    run.execute(
        [*first, tenant_defaults("t_001", "EUR", 1), *later, tenant_defaults("t_002", "XYZ", 2)]
    )
    applied = sorted(
        (e.profile_id, e.payload["base_currency"])
        for e in run.stored
        if isinstance(e, Event) and e.type == "TenantDefaultsApplied"
    )
    assert applied == [("p_0001", "EUR"), ("p_0002", "EUR")]
    assert [orjson.loads(m.value)["reason"] for m in run.letters] == ["unknown_currency"]


def holdings_body() -> dict[str, Any]:
    """One brokerage account holding 10 AAPL at 150.00 USD, beside a 100.00 USD checking."""
    fixture = plaid_fixture("investments_holdings_get.json")
    brokerage = {
        **fixture["accounts"][1],
        "account_id": "brk",
        "balances": {
            "available": None,
            "current": 1500,
            "limit": None,
            "iso_currency_code": "USD",
            "unofficial_currency_code": None,
        },
    }
    checking = {
        **brokerage,
        "account_id": "chk",
        "type": "depository",
        "subtype": "checking",
        "name": "Checking",
        "balances": {**brokerage["balances"], "current": 100},
    }
    security = {
        **fixture["securities"][2],
        "security_id": "sec-aapl",
        "ticker_symbol": "AAPL",
        "name": "Apple Inc.",
        "close_price": 150,
        "iso_currency_code": "USD",
    }
    holding = {
        **fixture["holdings"][1],
        "account_id": "brk",
        "security_id": "sec-aapl",
        "quantity": 10,
        "institution_price": 150,
        "institution_value": 1500,
        "cost_basis": 1000,
        "iso_currency_code": "USD",
    }
    return {
        "accounts": [brokerage, checking],
        "holdings": [holding],
        "securities": [security],
        "item": fixture["item"],
    }


def tick(body: dict[str, Any], offset: int) -> KafkaSourceMessage[bytes | None, bytes | None]:
    key = (
        f"FX:{body['base']}/{body['quote']}"
        if body["type"] == "FX"
        else f"SYM:{body['quote_symbol']}"
    )
    return message(body, offset, key=key.encode(), topic=TOPICS.market)


def test_ticks_revalue_holders_in_their_base_currency_and_skip_others() -> None:
    holder = envelope(
        holdings_body(),
        kind="investments_holdings",
        tenant_id="t_001",
        profile_id="p_rich",
        received_at="2026-01-02T00:00:00Z",
    )
    other = envelope(
        plaid_fixture("accounts_balance_get.json"),
        kind="accounts",
        tenant_id="t_001",
        profile_id="p_other",
        received_at="2026-01-02T00:00:00Z",
    )
    first: list[Any] = [
        tenant_defaults("t_001", "GBP", 0),
        message(holder, 1),
        message(other, 2),
        TestingSource.EOF(),
    ]
    with tempfile.TemporaryDirectory() as folder:
        init_db_dir(Path(folder), 1)
        recovery = RecoveryConfig(folder)
        run = Run()
        run.execute(first, recovery)
        # The twins publish what they hold; the index reads it back from that topic.
        interests = [
            KafkaSourceMessage(
                key=m.key,
                value=m.value,
                topic=TOPICS.interests,
                partition=0,
                offset=i,
                timestamp=(1, 0),
            )
            for i, m in enumerate(run.interests)
        ]
        holders = {orjson.loads(m.value)["holder"] for m in run.interests if m.key == b"SYM:AAPL"}
        assert holders == {"t_001:p_rich"}
        ticks = [
            tick(
                {
                    "type": "PRICE",
                    "security_id": "other",
                    "quote_symbol": "AAPL",
                    "price": "176.19",
                    "currency": "USD",
                    "as_of": "2026-01-03T00:00:00Z",
                    "source": "test",
                },
                10,
            ),
            tick(
                {
                    "type": "FX",
                    "base": "USD",
                    "quote": "GBP",
                    "rate": "0.80",
                    "as_of": "2026-01-03T00:00:00Z",
                    "source": "ecb",
                },
                11,
            ),
        ]
        run.execute([*first, *interests, *ticks], recovery)
    wealth = [e for e in run.stored if isinstance(e, Event) and e.type == "WealthUpdated"]
    assert {e.profile_id for e in wealth} <= {"p_rich", "p_other"}
    rich = [e for e in wealth if e.profile_id == "p_rich"]
    # (10 x 176.19 + 100.00) USD x 0.80 = 1489.52 GBP
    assert rich[-1].payload["net_worth_minor"] == 148952
    assert rich[-1].payload["base_currency"] == "GBP"
    revalued = [e for e in run.stored if isinstance(e, Event) and e.type == "HoldingRevalued"]
    assert {e.profile_id for e in revalued} == {"p_rich"}
    doc = run.final_documents()[("t_001", "p_rich")]
    assert doc["net_worth"]["value"] == "1489.52"
    assert doc["net_worth"]["currency"] == "GBP"
    applied = {
        e.profile_id
        for e in run.stored
        if isinstance(e, Event)
        and e.type == "MarketTickApplied"
        and e.payload["tick"]["type"] == "PRICE"
    }
    assert applied == {"p_rich"}


def command(
    command_id: str, name: str, payload: dict[str, Any], offset: int, profile: str = "p_0001"
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    body = {
        "command_id": command_id,
        "tenant_id": "t_001",
        "profile_id": profile,
        "command": name,
        "payload": payload,
        "issued_at": "2026-05-01T00:00:00Z",
    }
    return message(body, offset, key=f"t_001:{profile}".encode(), topic=TOPICS.commands)


def test_commands_apply_once_or_are_rejected_with_a_reason() -> None:
    syncs = [m for m in sample_messages() if m.key == b"t_001:p_0001"]
    run = Run()
    run.execute(
        [
            *syncs,
            command("c1", "SetBaseCurrency", {"base_currency": "EUR"}, 1),
            command("c1", "SetBaseCurrency", {"base_currency": "EUR"}, 2),
            command("c2", "SetBaseCurrency", {"base_currency": "ZZZ"}, 3),
            command("c3", "TeleportMoney", {}, 4),
            command("c1", "SetBaseCurrency", {"base_currency": "JPY"}, 5),
        ]
    )
    outcomes = [
        (e.payload["command_id"], e.type, e.payload.get("reason"))
        for e in run.stored
        if isinstance(e, Event) and e.type in {"BaseCurrencySet", "CommandRejected"}
    ]
    assert outcomes == [
        ("c1", "BaseCurrencySet", None),
        ("c2", "CommandRejected", "invalid_payload"),
        ("c3", "CommandRejected", "unknown_command"),
    ]
    assert [orjson.loads(m.value)["reason"] for m in run.letters] == ["idempotency_conflict"]
    doc = run.final_documents()[("t_001", "p_0001")]
    assert doc["base_currency"] == "EUR"
    # Its accounts are USD and no USD/EUR rate is known: nothing is valued at 1:1.
    assert doc["net_worth"]["value"] == "0.00"
    assert {item["reason"] for item in doc["unpriced_assets"]} == {"no_fx_rate"}
