"""The core dataflow wired to in-memory ends: keying, dead letters and recovery."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
from bytewax.connectors.kafka import KafkaSinkMessage, KafkaSourceMessage
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main
from prometheus_client import REGISTRY

from fintra.samples import SampleSpec, generate
from flows.core import CoreIO, wire_core_flow
from operators.decode import DecodeLimits
from operators.pipeline import ProfileDocument
from schemas.events import Event

TOPIC = "connect.sync_completed.v1"


def message(
    document: dict[str, Any] | bytes, offset: int, key: bytes | None = None
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    value = document if isinstance(document, bytes) else orjson.dumps(document)
    if key is None and isinstance(document, dict):
        key = f"{document['tenant_id']}:{document['profile_id']}".encode()
    return KafkaSourceMessage(key=key, value=value, topic=TOPIC, partition=0, offset=offset)


class Run:
    """One deployment's outputs, accumulated over executions like real sinks would."""

    def __init__(self) -> None:
        self.events: list[KafkaSinkMessage[Any, Any]] = []
        self.letters: list[KafkaSinkMessage[Any, Any]] = []
        self.stored: list[Event | ProfileDocument] = []

    def execute(self, items: list[Any], recovery: RecoveryConfig | None = None) -> None:
        io = CoreIO(
            source=TestingSource(items),
            events=TestingSink(self.events),
            dead_letters=TestingSink(self.letters),
            store=TestingSink(self.stored),
        )
        run_main(
            wire_core_flow(io, DecodeLimits()),
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
