"""Tenant metric definitions compiled at registration and evaluated in the profile stream."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
import pytest

from fintra.samples import SampleSpec, generate
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.pipeline import ProfileDocument, TwinItem, process, projection
from operators.registry import TenantRegistry, apply_definition, note_profile, reject
from operators.twin import ProfileState, replay
from schemas.events import Event, EventType
from schemas.records import DeadLetter, RawRecord, Reason

LIMITS = DecodeLimits()
COFFEE_NAMES = {
    "Starbucks",
    "Blue Bottle Coffee",
    "Pret A Manger",
    "Costa Coffee",
    "Balzac Coffee",
    "Einstein Kaffee",
}
WEEKEND_COFFEE = {
    "tenant_id": "t_001",
    "metric_id": "weekend_coffee",
    "display_name": "Weekend Coffee Habit",
    "return_type": "CURRENCY",
    "logic": {
        "filter": "category == 'Coffee' AND day_of_week IN ['Sat', 'Sun']",
        "aggregation": "AVG(amount)",
        "window": "90d",
    },
}


def definition_record(document: dict[str, Any], offset: int = 0) -> RawRecord:
    key = f"{document['tenant_id']}:{document['metric_id']}".encode()
    return RawRecord(key, orjson.dumps(document), "brain.registry.v1", 0, offset)


def register(registry: TenantRegistry, *documents: dict[str, Any]) -> tuple[TenantRegistry, list]:
    addressed: list[Any] = []
    for offset, document in enumerate(documents):
        registry, sent = apply_definition(registry, definition_record(document, offset), LIMITS)
        addressed += sent
    return registry, addressed


def fold(
    items: list[TwinItem], stream_key: str = "t_001:p_0001"
) -> tuple[ProfileState, list[Event], ProfileDocument]:
    state: ProfileState | None = None
    events: list[Event] = []
    for item in items:
        state, outputs = process(state, stream_key, item, LIMITS, project=False)
        assert not [o for o in outputs if isinstance(o, DeadLetter)]
        events += [o for o in outputs if isinstance(o, Event)]
    assert state is not None
    return state, events, projection(state)


def sync_records(envelopes: list[dict[str, Any]]) -> list[TwinItem]:
    return [
        RawRecord(
            f"{e['tenant_id']}:{e['profile_id']}".encode(), orjson.dumps(e), "syncs", 0, offset
        )
        for offset, e in enumerate(envelopes)
    ]


def expected_weekend_coffee(envelopes: list[dict[str, Any]]) -> tuple[int, int, dt.date]:
    """AVG of weekend coffee purchases over 90 days, straight from the Plaid payloads."""
    live: dict[str, dict[str, Any]] = {}
    for envelope in envelopes:
        if envelope["kind"] != "transactions_sync":
            continue
        payload = json.loads(orjson.dumps(envelope["payload"]), parse_float=Decimal)
        for raw in [*payload["added"], *payload["modified"]]:
            if raw["pending_transaction_id"]:
                live.pop(raw["pending_transaction_id"], None)
            live[raw["transaction_id"]] = raw
        for removed in payload["removed"]:
            live.pop(removed["transaction_id"], None)
    as_of = max(dt.datetime.fromisoformat(e["received_at"]) for e in envelopes).date()
    start = as_of - dt.timedelta(days=89)
    amounts = []
    for raw in live.values():
        day = dt.date.fromisoformat(
            raw["date"] if not raw["pending"] else raw["authorized_date"] or raw["date"]
        )
        if raw["merchant_name"] in COFFEE_NAMES and day.weekday() >= 5 and start <= day <= as_of:
            amounts.append(-raw["amount"] * 100)
    average = (sum(amounts) / len(amounts)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(average), len(amounts), as_of


@pytest.fixture(scope="module")
def coffee_profile() -> tuple[list[dict[str, Any]], ProfileState, list[Event], ProfileDocument]:
    envelopes = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=1, months=8)).envelopes
    registry = note_profile(TenantRegistry("t_001"), sync_records(envelopes)[0])[0]  # type: ignore[arg-type]
    registry, addressed = register(registry, WEEKEND_COFFEE)
    assert [a.stream_key for a in addressed] == ["t_001:p_0001"]
    state, events, document = fold([*sync_records(envelopes), *addressed])
    return envelopes, state, events, document


def test_weekend_coffee_is_computed_to_the_cent_on_a_generated_profile(
    coffee_profile: tuple[list[dict[str, Any]], ProfileState, list[Event], ProfileDocument],
) -> None:
    envelopes, _, events, document = coffee_profile
    expected_minor, matched, as_of = expected_weekend_coffee(envelopes)
    assert matched >= 5  # the generated profile does drink coffee at weekends
    reading = document.doc["derived_metrics"]["weekend_coffee"]
    assert reading["value_minor"] == expected_minor
    assert reading["value"] == str(Decimal(expected_minor).scaleb(-2))
    assert reading["currency"] == "USD"
    assert reading["matched"] == matched
    assert reading["as_of"] == as_of.isoformat()
    assert reading["window"] == {
        "start": (as_of - dt.timedelta(days=89)).isoformat(),
        "end": as_of.isoformat(),
    }
    evaluated = [e for e in events if e.type == EventType.METRIC_EVALUATED]
    assert reading["source_event_id"] == evaluated[-1].event_id
    assert reading["definition_hash"] == evaluated[-1].payload["definition_hash"]


def test_new_data_re_evaluates_and_an_unchanged_value_records_nothing(
    coffee_profile: tuple[list[dict[str, Any]], ProfileState, list[Event], ProfileDocument],
) -> None:
    envelopes, state, _, _ = coffee_profile
    # The same sync again changes no transaction: no event, no reading.
    again, outputs = process(state, "t_001:p_0001", sync_records(envelopes)[-1], LIMITS)
    assert not [o for o in outputs if isinstance(o, Event)]
    assert again.metric_values == state.metric_values


def test_the_definitions_and_readings_replay_from_the_log(
    coffee_profile: tuple[list[dict[str, Any]], ProfileState, list[Event], ProfileDocument],
) -> None:
    envelopes, state, events, _ = coffee_profile
    rebuilt = replay("t_001:p_0001", [Event.from_dict(e.to_dict()) for e in events])
    assert rebuilt.metric_values == state.metric_values
    assert rebuilt.metric_definitions == state.metric_definitions
    registry = note_profile(TenantRegistry("t_001"), sync_records(envelopes)[0])[0]  # type: ignore[arg-type]
    _, addressed = register(registry, WEEKEND_COFFEE)
    _, second, _ = fold([*sync_records(envelopes), *addressed])
    assert [e.to_dict() for e in second] == [e.to_dict() for e in events]


def test_a_definition_registered_before_the_profile_reaches_it_on_arrival() -> None:
    envelopes = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=1, months=8)).envelopes
    registry, addressed = register(TenantRegistry("t_001"), WEEKEND_COFFEE)
    assert addressed == []  # no profile known yet
    registry, sent = note_profile(registry, sync_records(envelopes)[0])  # type: ignore[arg-type]
    assert [m["metric_id"] for m in sent[0].metrics] == ["weekend_coffee"]
    _, _, document = fold([*sent, *sync_records(envelopes)])
    expected_minor, _, _ = expected_weekend_coffee(envelopes)
    assert document.doc["derived_metrics"]["weekend_coffee"]["value_minor"] == expected_minor


def test_removing_a_definition_removes_its_reading() -> None:
    envelopes = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=1, months=3)).envelopes
    registry = note_profile(TenantRegistry("t_001"), sync_records(envelopes)[0])[0]  # type: ignore[arg-type]
    registry, added = register(registry, WEEKEND_COFFEE)
    removal = RawRecord(b"t_001:weekend_coffee", None, "brain.registry.v1", 0, 9)
    _, removed = apply_definition(registry, removal, LIMITS)
    _, _, document = fold([*sync_records(envelopes), *added, *removed])
    assert document.doc["derived_metrics"] == {}


@pytest.mark.parametrize(
    ("logic", "code", "field"),
    [
        (
            {"filter": "mood == 'happy'", "aggregation": "COUNT(*)", "window": "30d"},
            "unknown_field",
            "filter",
        ),
        (
            {"filter": "amount == 'lots'", "aggregation": "COUNT(*)", "window": "30d"},
            "type_mismatch",
            "filter",
        ),
        (
            {"filter": "lower(merchant) == 'pret'", "aggregation": "COUNT(*)", "window": "30d"},
            "function_not_allowed",
            "filter",
        ),
    ],
)
def test_an_invalid_definition_is_dead_lettered_with_structured_problems(
    logic: dict[str, str], code: str, field: str
) -> None:
    document = {**WEEKEND_COFFEE, "return_type": "NUMBER", "logic": logic}
    record = definition_record(document)
    with pytest.raises(RejectedInput) as caught:
        apply_definition(TenantRegistry("t_001"), record, LIMITS)
    letter = reject(record, caught.value, "t_001").to_dict()
    assert letter["reason"] == Reason.INVALID_DEFINITION.value
    assert letter["field"] == f"logic.{field}"
    assert [(p["code"], p["field"]) for p in letter["problems"]] == [(code, field)]
    assert isinstance(letter["problems"][0]["position"], int)


def test_every_faulty_part_is_listed() -> None:
    logic = {"filter": "amount >", "aggregation": "MEDIAN(amount)", "window": "ninety days"}
    record = definition_record({**WEEKEND_COFFEE, "logic": logic})
    with pytest.raises(RejectedInput) as caught:
        apply_definition(TenantRegistry("t_001"), record, LIMITS)
    fields = [p["field"] for p in caught.value.problems]
    assert fields == ["filter", "aggregation", "window"]


def test_an_older_partial_configuration_read_again_changes_nothing() -> None:
    envelopes = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=1, months=3)).envelopes
    seen = note_profile(TenantRegistry("t_001"), sync_records(envelopes)[0])[0]  # type: ignore[arg-type]
    second = {**WEEKEND_COFFEE, "metric_id": "coffee_count", "return_type": "NUMBER"}
    second["logic"] = {**WEEKEND_COFFEE["logic"], "aggregation": "COUNT(*)"}  # type: ignore[dict-item]
    _, complete = register(seen, WEEKEND_COFFEE, second)
    state, _, _ = fold([*sync_records(envelopes), *complete])
    assert set(state.metric_definitions) == {"weekend_coffee", "coffee_count"}
    # A registry rebuilt from the first record alone (its topic read again from the start)
    # addresses a configuration without the second metric: it is older, and ignored.
    _, partial = register(seen, WEEKEND_COFFEE)
    again, outputs = process(state, "t_001:p_0001", partial[0], LIMITS)
    assert outputs == []
    assert again.metric_definitions == state.metric_definitions
    # A removal recorded after both takes the metric away.
    registry = register(seen, WEEKEND_COFFEE, second)[0]
    removal = RawRecord(b"t_001:coffee_count", None, "brain.registry.v1", 0, 5)
    _, removed = apply_definition(registry, removal, LIMITS)
    after, outputs = process(state, "t_001:p_0001", removed[0], LIMITS)
    assert [o.type for o in outputs if isinstance(o, Event)] == [
        EventType.METRIC_DEFINITIONS_APPLIED
    ]
    assert set(after.metric_values) == {"weekend_coffee"}
