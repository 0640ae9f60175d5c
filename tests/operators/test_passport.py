"""Passport merges in the twin: lock, anonymised replay into the target, unlock, once."""

from __future__ import annotations

from typing import Any

import orjson

from operators.decode import DecodeLimits
from operators.passport import ExportRequest, anonymise, export_messages
from operators.pipeline import LinkRecord, Output, PassportRecord, process
from operators.twin import ProfileState
from schemas.events import Event
from schemas.records import RawRecord
from tests.support.envelopes import envelope, plaid_fixture, plaid_txn, sync_page

LIMITS = DecodeLimits()
SOURCE, TARGET = "t1:p1", "t2:p9"
LINK = {
    "link_id": "lnk-1",
    "consent_id": "cns-42",
    "source": {"tenant_id": "t1", "profile_id": "p1"},
    "target": {"tenant_id": "t2", "profile_id": "p9"},
    "linked_at": "2026-02-01T00:00:00Z",
}


def raw(
    key: str, value: Any, topic: str = "connect.sync_completed.v1", offset: int = 0
) -> RawRecord:
    body = value if isinstance(value, bytes) else orjson.dumps(value)
    return RawRecord(key=key.encode(), value=body, topic=topic, partition=0, offset=offset)


def syncs(tenant: str, profile: str, prefix: str) -> list[dict[str, Any]]:
    ids = {"tenant_id": tenant, "profile_id": profile}
    return [
        envelope(
            plaid_fixture("accounts_balance_get.json"), kind="accounts", sync_id=f"{prefix}a", **ids
        ),
        envelope(
            sync_page(added=[plaid_txn(f"{prefix}-1", 5), plaid_txn(f"{prefix}-2", 7)]),
            sync_id=f"{prefix}s",
            **ids,
        ),
    ]


class Twin:
    def __init__(self, key: str) -> None:
        self.key = key
        self.state: ProfileState | None = None
        self.outputs: list[Output] = []

    def feed(self, *items: Any) -> list[Output]:
        produced: list[Output] = []
        for item in items:
            self.state, out = process(self.state, self.key, item, LIMITS, project=False)
            produced += out
        self.outputs += produced
        return produced

    @property
    def events(self) -> list[Event]:
        return [o for o in self.outputs if isinstance(o, Event)]


def passport_records(messages: list[tuple[str, Any]], key: str) -> list[PassportRecord]:
    return [
        PassportRecord(raw(k, m.model_dump_json().encode(), "core.passport.v1", n))
        for n, (k, m) in enumerate(messages)
        if k == key
    ]


def merged() -> tuple[Twin, Twin, ExportRequest, list[tuple[str, Any]]]:
    source, target = Twin(SOURCE), Twin(TARGET)
    source.feed(*(raw(SOURCE, doc) for doc in syncs("t1", "p1", "src")))
    target.feed(*(raw(TARGET, doc) for doc in syncs("t2", "p9", "tgt")))
    out = source.feed(LinkRecord(raw(SOURCE, LINK, "connect.profile_linked.v1")))
    (request,) = [o for o in out if isinstance(o, ExportRequest)]
    history = [e for e in source.events if e.stream_version <= request.up_to_version]
    return source, target, request, export_messages(request, history)


def test_source_locks_and_its_new_inputs_wait_in_order_until_unlock() -> None:
    source, _, request, messages = merged()
    assert source.state is not None and source.state.lock == "lnk-1"
    assert request.target_key == TARGET
    assert source.events[-1].type == "ProfileLinkStarted"
    later = envelope(sync_page(added=[plaid_txn("src-3", 9)]), sync_id="src-late")
    assert source.feed(raw(SOURCE, later, offset=9)) == []
    assert len(source.state.held) == 1
    out = source.feed(*passport_records(messages, SOURCE))
    types = [o.type for o in out if isinstance(o, Event)]
    assert types[0] == "ProfileLinked"
    assert "TransactionAdded" in types  # the held sync ran after the unlock
    assert source.state.lock is None
    assert source.state.held == ()


def test_target_gets_the_anonymised_history_plus_its_own_once() -> None:
    _, target, _, messages = merged()
    own = dict(target.state.transactions) if target.state else {}
    records = passport_records(messages, TARGET)
    during = envelope(
        sync_page(added=[plaid_txn("tgt-3", 3)]),
        sync_id="tgt-late",
        tenant_id="t2",
        profile_id="p9",
    )
    target.feed(records[0], raw(TARGET, during, offset=5), *records[1:])
    assert target.state is not None
    imported = [e for e in target.events if e.source.get("provider") == "passport"]
    assert imported[-1].type == "ProfileLinked"
    assert imported[-1].payload["imported_events"] == len(records) - 2
    for event in imported:
        assert event.source["connection_id"] == "cns-42"
        assert event.source["sync_id"] == "lnk-1"
        text = orjson.dumps(event.payload).decode()
        assert '"t1"' not in text and "item-1" not in text
    exported = [
        m.payload["transaction"] for _, m in messages if m.payload and "transaction" in m.payload
    ]
    held_sync = [
        e.payload["transaction"]
        for e in target.events
        if e.type == "TransactionAdded"
        and e.payload["transaction"]["provider_transaction_id"] == "tgt-3"
    ]
    assert len(held_sync) == 1, "the sync that arrived during the merge ran after it"
    expected = set(own) | {t["transaction_id"] for t in exported + held_sync}
    assert set(target.state.transactions) == expected
    assert len(expected) == len(own) + 3
    before = target.state.version
    target.feed(*passport_records(messages, TARGET))
    assert target.state.version == before


def test_the_same_link_twice_starts_one_export() -> None:
    source, _, _, messages = merged()
    again = source.feed(LinkRecord(raw(SOURCE, LINK, "connect.profile_linked.v1", 3)))
    assert again == []  # locked: the repeat waits in the twin's state
    assert source.state is not None and len(source.state.held) == 1
    released = source.feed(*passport_records(messages, SOURCE))
    # Once unlocked, the waiting repeat runs and asks for nothing more.
    assert not any(isinstance(o, ExportRequest) for o in released)
    assert [o.type for o in released if isinstance(o, Event)] == ["ProfileLinked"]
    assert source.state.held == ()


def test_anonymise_drops_what_belongs_to_the_source_tenant() -> None:
    source, _, _, _ = merged()
    kinds = {e.type: anonymise(e, "cns-42") for e in source.events}
    assert kinds["TransactionsImported"] is None
    assert kinds["ProfileLinkStarted"] is None
    account = kinds["AccountCreated"]
    assert account is not None
    assert account[1]["account"]["connection_id"] == "passport-cns-42"
