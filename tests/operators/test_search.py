"""User category overrides in the twin, and the search rows a batch of events produces."""

from __future__ import annotations

from typing import Any

import orjson

from operators.decode import DecodeLimits
from operators.pipeline import CommandRecord, Output, ProfileDocument, process
from operators.search import search_rows
from operators.twin import ProfileState, replay
from schemas.events import Event
from schemas.records import DeadLetter, RawRecord, Reason
from tests.support.envelopes import envelope, plaid_txn, record, sync_page

LIMITS = DecodeLimits()
KEY = "t1:p1"


def command_record(payload: dict[str, Any], command_id: str, offset: int = 0) -> CommandRecord:
    body = {
        "command_id": command_id,
        "tenant_id": "t1",
        "profile_id": "p1",
        "command": "UpdateTransactionCategory",
        "payload": payload,
        "issued_at": "2026-01-01T12:00:00Z",
        "metadata": {"user_id": "usr_ABC", "source": "USER_OVERRIDE"},
    }
    raw = RawRecord(
        key=KEY.encode(),
        value=orjson.dumps(body),
        topic="core.commands.v1",
        partition=0,
        offset=offset,
    )
    return CommandRecord(raw)


def feed(items: list[Any], state: ProfileState | None = None) -> tuple[ProfileState, list[Output]]:
    outputs: list[Output] = []
    for offset, item in enumerate(items):
        value = item if isinstance(item, CommandRecord) else record(item, offset=offset)
        state, produced = process(state, KEY, value, LIMITS)
        outputs.extend(produced)
    assert state is not None
    return state, outputs


def events(outputs: list[Output]) -> list[Event]:
    return [o for o in outputs if isinstance(o, Event)]


def rows_of(outputs: list[Output]) -> list[Any]:
    return [row for o in outputs if isinstance(o, ProfileDocument) for row in o.transactions]


PENDING = envelope(
    sync_page(added=[plaid_txn("p-1", 4.5, pending=True, name="CRV*CORNER COFFEE 0412")]),
    sync_id="s1",
    received_at="2026-01-01T00:00:00Z",
)
POSTED = envelope(
    sync_page(
        added=[plaid_txn("x-1", 4.5, pending_of="p-1", name="CRV*CORNER COFFEE 0412")],
        removed=[{"transaction_id": "p-1", "account_id": "acc-chk"}],
    ),
    sync_id="s2",
    received_at="2026-01-02T00:00:00Z",
)


def pending_id(state: ProfileState) -> str:
    (txn_id,) = state.transactions
    return txn_id


def test_override_is_an_event_and_a_search_row_with_its_source() -> None:
    state, _ = feed([PENDING])
    txn_id = pending_id(state)
    command = command_record({"transaction_id": txn_id, "new_category": "Business Expense"}, "c1")
    state, outputs = feed([command], state)
    (event,) = events(outputs)
    assert event.type == "TransactionCategoryOverridden"
    assert event.payload["category"] == ["Business Expense"]
    assert event.payload["user_id"] == "usr_ABC"
    (row,) = rows_of(outputs)
    assert (row.kind, row.transaction_id, row.category, row.category_source) == (
        "category",
        txn_id,
        ("Business Expense",),
        "USER_OVERRIDE",
    )
    assert row.version == event.stream_version


def test_override_follows_pending_to_posted_and_survives_resync_and_replay() -> None:
    state, _ = feed([PENDING])
    pending = pending_id(state)
    override = {"transaction_id": pending, "new_category": ["Business", "Coffee"]}
    state, _ = feed([command_record(override, "c1")], state)
    state, outputs = feed([POSTED], state)
    posted = pending_id(state)
    assert posted != pending
    assert state.category_overrides == {posted: ("Business", "Coffee")}
    by_id = {row.transaction_id: row for row in rows_of(outputs)}
    assert by_id[pending].kind == "remove"
    assert by_id[posted].kind == "upsert"
    assert by_id[posted].category == ("Business", "Coffee")
    assert by_id[posted].category_source == "USER_OVERRIDE"
    # A later re-sync of the same posted transaction changes nothing.
    state, again = feed([POSTED], state)
    assert events(again) == []
    assert state.category_overrides == {posted: ("Business", "Coffee")}
    # The log replayed from the start rebuilds the same override.
    all_events = events(feed([PENDING, command_record(override, "c1"), POSTED])[1])
    assert replay(KEY, all_events).category_overrides == state.category_overrides


def test_unknown_transaction_and_bad_payload_are_rejected_in_the_stream() -> None:
    state, _ = feed([PENDING])
    unknown = command_record({"transaction_id": "nope", "new_category": "X"}, "c1")
    empty = command_record({"transaction_id": pending_id(state), "new_category": []}, "c2")
    _, outputs = feed([unknown, empty], state)
    reasons = [(e.type, e.payload["reason"]) for e in events(outputs)]
    assert reasons == [
        ("CommandRejected", "unknown_transaction"),
        ("CommandRejected", "invalid_payload"),
    ]


def test_the_same_command_id_with_another_body_is_dead_lettered() -> None:
    state, _ = feed([PENDING])
    txn_id = pending_id(state)
    first = command_record({"transaction_id": txn_id, "new_category": "A"}, "c1")
    state, _ = feed([first], state)
    again = command_record({"transaction_id": txn_id, "new_category": "B"}, "c1")
    _, outputs = feed([again], state)
    (letter,) = outputs
    assert isinstance(letter, DeadLetter)
    assert letter.reason == Reason.IDEMPOTENCY_CONFLICT


def test_rows_coalesce_to_the_newest_change_per_transaction() -> None:
    state, outputs = feed([PENDING, POSTED])
    batch = events(outputs)
    rows = search_rows(state, batch)
    assert [row.transaction_id for row in rows] == sorted(row.transaction_id for row in rows)
    kinds = {row.transaction_id: row.kind for row in rows}
    assert sorted(kinds.values()) == ["remove", "upsert"]
    upsert = next(row for row in rows if row.kind == "upsert")
    assert upsert.amount_minor == -450
    assert upsert.merchant == "CRV*CORNER COFFEE 0412"
    # Plaid's legacy "Shops" becomes the FOS category, decided by the vendor's own category.
    assert upsert.category == ("Shopping",)
    assert upsert.category_source == "VENDOR"
    assert upsert.clean_merchant == "Corner Coffee"
    assert search_rows(state, batch) == rows
