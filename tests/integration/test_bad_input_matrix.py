"""The bad-input matrix through the real flow: every case dead-lettered for its reason."""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import replace

import orjson
import pytest
from prometheus_client import REGISTRY

from fintra.ingest import Outgoing, publish_messages
from fintra.runner import run
from fintra.settings import CONNECT_SYNC_TOPIC
from tests.integration.conftest import Core
from tests.support.bad_inputs import CASES_PER_CLASS, MUTATIONS, bad_inputs, conflicts
from tests.support.envelopes import envelope, plaid_txn, sync_page

pytestmark = pytest.mark.integration


def _counted(topic: str) -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "fintra_inputs_total", {"topic": topic, "outcome": outcome}
        )
        or 0.0
        for outcome in ("accepted", "dead_lettered")
    }


def test_every_bad_input_is_dead_lettered_for_its_reason(core: Core) -> None:
    topic = core.settings.topic(CONNECT_SYNC_TOPIC)
    before = _counted(topic)
    originals, conflicting = [], []
    for key, original, conflict in conflicts():
        originals.append(Outgoing(key, original))
        conflicting.append(conflict)
    cases = [*bad_inputs(), *conflicting]
    # Originals first: a conflict is only a conflict once its original was accepted.
    publish_messages(core.info.kafka_brokers, topic, originals)
    core.run_until_idle()
    published = publish_messages(
        core.info.kafka_brokers, topic, [Outgoing(c.key, c.value) for c in cases]
    )
    core.run_until_idle()  # returns only if the worker never crashed

    letters = core.dead_letters()
    expected = Counter(c.reason for c in cases)
    assert set(expected) == {*MUTATIONS, "idempotency_conflict"}
    assert all(count >= CASES_PER_CLASS for count in expected.values())
    assert Counter(letter["reason"] for letter in letters) == expected
    # Each dead letter carries its own original bytes, and names the field where one is at
    # fault rather than the message as a whole.
    assert len({letter["value_b64"] for letter in letters}) == len(letters)
    sent = {base64.b64encode(c.value).decode() for c in cases}
    assert {letter["value_b64"] for letter in letters} == sent
    field_reasons = {
        "wrong_type",
        "unknown_currency",
        "excess_precision",
        "future_date",
        "tenant_mismatch",
        "missing_id",
        "duplicate_key",
        "idempotency_conflict",
    }
    assert all(letter["field"] for letter in letters if letter["reason"] in field_reasons)

    after = _counted(topic)
    accepted = after["accepted"] - before["accepted"]
    dead = after["dead_lettered"] - before["dead_lettered"]
    assert published == len(cases)
    assert dead == len(letters) == len(cases)
    assert accepted + dead == len(originals) + len(cases)
    assert core.query("SELECT count(DISTINCT profile_id) FROM core_events") == [(len(originals),)]


def test_the_size_limit_is_configurable_up_to_10_mib(core: Core) -> None:
    ten_mib = 10 * 1024 * 1024
    settings = replace(core.settings, max_payload_bytes=ten_mib)
    topic = settings.topic(CONNECT_SYNC_TOPIC)

    def padded(profile: str, size: int) -> Outgoing:
        doc = envelope(sync_page(added=[plaid_txn("a", 5)]), tenant_id="big", profile_id=profile)
        doc["payload"]["padding"] = ""
        overhead = len(orjson.dumps(doc))
        doc["payload"]["padding"] = "x" * (size - overhead)
        value = orjson.dumps(doc)
        assert len(value) == size
        return Outgoing(f"big:{profile}".encode(), value)

    publish_messages(
        core.info.kafka_brokers, topic, [padded("under", ten_mib), padded("over", ten_mib + 1)]
    )
    run(settings, core.info, until_idle=True)
    assert [(x["reason"], x["message"]) for x in core.dead_letters()] == [
        ("payload_too_large", f"message is {ten_mib + 1} bytes; the limit is {ten_mib}")
    ]
    assert core.query("SELECT DISTINCT profile_id FROM core_events") == [("under",)]
