"""Tenant rules in the stream, and enriching stored transactions again after a change."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from fintra.enrich import requests_for, stale_documents
from fintra.samples import SampleSpec, generate
from operators.decode import DecodeLimits
from operators.enrichment import VERSIONS
from operators.exceptions import RejectedInput
from operators.pipeline import CommandRecord, EnrichRecord, TwinItem, process
from operators.registry import TenantRegistry, apply_rules, note_profile
from operators.twin import ProfileState
from schemas.events import Event, EventType
from schemas.records import DeadLetter, RawRecord, Reason

LIMITS = DecodeLimits()
KEY = "t_001:p_0001"
RULES = {
    "tenant_id": "t_001",
    "version": "2026.12.1",
    "rules": [
        {
            "id": "starbucks-is-a-treat",
            "match": {"merchant": "starbucks"},
            "set": {"category": ["Entertainment", "Games"], "merchant": "Starbucks Treats"},
        }
    ],
}


def syncs(months: int = 3) -> list[TwinItem]:
    envelopes = generate(SampleSpec(seed=7, tenants=1, profiles_per_tenant=1, months=months))
    return [
        RawRecord(KEY.encode(), orjson.dumps(e), "syncs", 0, offset)
        for offset, e in enumerate(envelopes.envelopes)
    ]


def rules_item(document: dict[str, Any] | None, offset: int = 1) -> list[TwinItem]:
    registry = note_profile(TenantRegistry("t_001"), RawRecord(KEY.encode(), None, "syncs", 0, 0))[
        0
    ]
    value = None if document is None else orjson.dumps(document)
    record = RawRecord(b"t_001:rules", value, "tenants", 0, offset)
    _, addressed = apply_rules(registry, record, LIMITS)
    return list(addressed)


def fold(
    items: list[TwinItem], state: ProfileState | None = None
) -> tuple[ProfileState, list[Event]]:
    events: list[Event] = []
    for item in items:
        state, outputs = process(state, KEY, item, LIMITS, project=False)
        assert not [o for o in outputs if isinstance(o, DeadLetter)]
        events += [o for o in outputs if isinstance(o, Event)]
    assert state is not None
    return state, events


def enriched(events: list[Event]) -> dict[str, dict[str, Any]]:
    """The latest enrichment of each transaction."""
    return {
        e.payload["transaction_id"]: e.payload
        for e in events
        if e.type == EventType.TRANSACTION_ENRICHED
    }


def enrich_request(documents: list[dict[str, Any]], since: str) -> list[TwinItem]:
    return [
        EnrichRecord(RawRecord(key, value, "core.enrich_requests.v1", 0, 100 + n))
        for n, (key, value) in enumerate(requests_for(KEY, since, documents))
    ]


def test_rules_in_place_decide_before_the_vendor_and_name_the_merchant() -> None:
    _, events = fold([*rules_item(RULES), *syncs()])
    latest = enriched(events).values()
    treats = [p for p in latest if p["merchant"]["clean_name"] == "Starbucks Treats"]
    assert treats, "the generated profile buys at Starbucks"
    assert {p["category_source"] for p in treats} == {"TENANT_RULE"}
    assert {tuple(p["category"]) for p in treats} == {("Entertainment", "Games")}
    assert {p["rule_id"] for p in treats} == {"starbucks-is-a-treat"}
    assert {p["versions"]["rules"] for p in latest} == {"2026.12.1"}
    others = [p for p in latest if p not in treats]
    assert others and "TENANT_RULE" not in {p["category_source"] for p in others}


def test_re_enrichment_applies_new_rules_to_stored_transactions_once() -> None:
    state, events = fold(syncs())
    before = enriched(events)
    assert "TENANT_RULE" not in {p["category_source"] for p in before.values()}
    state, applied = fold(rules_item(RULES), state)
    assert [e.type for e in applied] == [EventType.TENANT_RULES_APPLIED]
    history = events + applied
    live, stale = stale_documents(history, "2026.12.1")
    assert live == len(state.transactions)
    assert len(stale) == live  # none was enriched with these rules yet

    state, again = fold(enrich_request(stale, "2026.12.1"), state)
    changed = enriched(again)
    starbucks = {t for t, p in before.items() if p["merchant"]["clean_name"] == "Starbucks"}
    assert set(changed) == starbucks
    assert {p["category_source"] for p in changed.values()} == {"TENANT_RULE"}
    assert Counter(e.source["provider"] for e in again) == Counter({"enrichment": len(again)})
    # The same request again, or a second run, changes nothing.
    state, repeat = fold(enrich_request(stale, "2026.12.1"), state)
    assert repeat == []


def test_re_enrichment_skips_documents_that_are_no_longer_the_live_version() -> None:
    state, events = fold([*syncs(), *rules_item(RULES)])
    _, stale = stale_documents(events, "2026.12.1")
    edited = [{**doc, "amount_minor": doc["amount_minor"] + 1} for doc in stale]
    _, nothing = fold(enrich_request(edited, "2026.12.1"), state)
    assert nothing == []


def test_a_user_override_survives_re_enrichment() -> None:
    state, events = fold(syncs())
    target = next(
        t for t, p in enriched(events).items() if p["merchant"]["clean_name"] == "Starbucks"
    )
    command = {
        "command_id": "cmd-1",
        "tenant_id": "t_001",
        "profile_id": "p_0001",
        "command": "UpdateTransactionCategory",
        "issued_at": "2026-09-01T00:00:00Z",
        "payload": {"transaction_id": target, "new_category": ["Food and Drink", "Coffee"]},
    }
    record = RawRecord(KEY.encode(), orjson.dumps(command), "core.commands.v1", 0, 50)
    state, overridden = fold([CommandRecord(record), *rules_item(RULES)], state)
    assert overridden[0].type == EventType.TRANSACTION_CATEGORY_OVERRIDDEN
    _, stale = stale_documents(events + overridden, "2026.12.1")
    _, again = fold(enrich_request(stale, "2026.12.1"), state)
    # The rule renames the merchant; the user's category stays.
    assert enriched(again)[target]["merchant"]["clean_name"] == "Starbucks Treats"
    assert enriched(again)[target]["category"] == ["Food and Drink", "Coffee"]
    assert enriched(again)[target]["category_source"] == "USER_OVERRIDE"


def test_withdrawn_rules_make_their_transactions_stale_again() -> None:
    state, events = fold([*rules_item(RULES), *syncs()])
    # The same rules read again (a replay of the topic) change nothing; a newer record does.
    assert fold(rules_item(RULES), state)[1] == []
    state, withdrawn = fold(rules_item(None, offset=2), state)
    assert [e.payload["rules"] for e in withdrawn] == [None]
    _, stale = stale_documents(events + withdrawn, "2099.01.1")
    assert stale, "enriched with rules since withdrawn"
    _, again = fold(enrich_request(stale, "2099.01.1"), state)
    assert "TENANT_RULE" not in {p["category_source"] for p in enriched(again).values()}
    assert enriched(again)


def test_since_a_version_no_table_has_reached_selects_nothing() -> None:
    _, events = fold(syncs(2))
    assert stale_documents(events, "2099.01.1")[1] == []
    assert stale_documents(events, max(VERSIONS.values()))[1] == []


def test_invalid_rules_are_dead_lettered_with_every_problem() -> None:
    bad = {
        "tenant_id": "t_001",
        "version": "soon",
        "rules": [{"id": "x", "match": {}, "set": {"category": ["Nowhere"]}}],
    }
    with pytest.raises(RejectedInput) as caught:
        rules_item(bad)
    assert caught.value.reason == Reason.INVALID_RULES
    codes = {p["code"] for p in caught.value.problems}
    assert {"bad_version", "empty_match", "unknown_category"} <= codes
    assert all(p["path"] and p["message"] for p in caught.value.problems)


def test_a_request_for_another_profile_is_refused() -> None:
    state, _ = fold(syncs(2))
    request = {
        "request_id": "r-1",
        "tenant_id": "t_001",
        "profile_id": "p_0002",
        "since": "2026.12.1",
        "transactions": [],
    }
    record = RawRecord(KEY.encode(), orjson.dumps(request), "core.enrich_requests.v1", 0, 9)
    _, outputs = process(state, KEY, EnrichRecord(record), LIMITS)
    assert [o.reason for o in outputs if isinstance(o, DeadLetter)] == [Reason.TENANT_MISMATCH]
