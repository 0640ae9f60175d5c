"""The twin fold: dedupe, pending→posted, ordering, provenance and the hash chain."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.decode import DecodeLimits
from operators.pipeline import Output, ProfileDocument, process
from operators.twin import ProfileState, merchant_key, replay
from schemas.canonical import GENESIS_HASH
from schemas.events import Event
from schemas.records import DeadLetter, Reason
from tests.support.envelopes import envelope, plaid_fixture, plaid_txn, record, sync_page

LIMITS = DecodeLimits()
KEY = "t1:p1"


def feed(
    documents: list[dict[str, Any] | bytes], state: ProfileState | None = None
) -> tuple[ProfileState, list[Output]]:
    outputs: list[Output] = []
    for offset, document in enumerate(documents):
        state, produced = process(state, KEY, record(document, offset=offset), LIMITS)
        outputs.extend(produced)
    assert state is not None
    return state, outputs


def events_of(outputs: list[Output]) -> list[Event]:
    return [o for o in outputs if isinstance(o, Event)]


def last_doc(outputs: list[Output]) -> dict[str, Any]:
    return [o for o in outputs if isinstance(o, ProfileDocument)][-1].doc


def twin_facts(state: ProfileState) -> tuple[Any, ...]:
    """What a twin knows about the profile, without stream positions or input bookkeeping."""
    accounts = {k: (dict(v.doc)) for k, v in state.accounts.items()}
    transactions = {k: (v.content_hash, v.pending) for k, v in state.transactions.items()}
    return accounts, transactions, set(state.tombstones)


def accounts_envelope(received_at: str = "2026-01-02T00:00:00Z") -> dict[str, Any]:
    return envelope(
        plaid_fixture("accounts_balance_get.json"),
        kind="accounts",
        received_at=received_at,
        sync_id="acc-" + received_at,
    )


def test_accounts_give_net_worth_and_debt_with_provenance() -> None:
    state, outputs = feed([accounts_envelope()])
    assert [e.type for e in events_of(outputs)] == ["AccountCreated"] * 3
    doc = last_doc(outputs)
    # 110.00 checking - 410.00 card - 65262.00 student loan
    assert doc["net_worth"]["value"] == "-65562.00"
    assert doc["total_debt"]["value"] == "65672.00"
    assert doc["net_worth"]["currency"] == "USD"
    assert doc["net_worth"]["source_event_id"] == events_of(outputs)[-1].event_id
    assert doc["net_worth"]["version"] == 3
    assert doc["version"] == state.version == 3


def test_the_same_sync_twice_adds_each_transaction_once() -> None:
    page = envelope(sync_page(added=[plaid_txn("a", 5), plaid_txn("b", 7)]))
    state, outputs = feed([page, page, page])
    added = [e for e in events_of(outputs) if e.type == "TransactionAdded"]
    assert len(added) == 2
    assert state.noops == 4
    assert len(state.transactions) == 2
    assert [e.type for e in events_of(outputs)].count("TransactionsImported") == 1


def test_balance_report_older_than_the_applied_one_is_ignored() -> None:
    newer = accounts_envelope("2026-02-01T00:00:00Z")
    older = accounts_envelope("2026-01-01T00:00:00Z")
    older["payload"]["accounts"][0]["balances"]["current"] = 999
    state, outputs = feed([newer, older])
    assert [e.type for e in events_of(outputs)] == ["AccountCreated"] * 3


def test_changed_balance_is_a_balance_update_that_moves_net_worth() -> None:
    later = accounts_envelope("2026-02-01T00:00:00Z")
    later["payload"]["accounts"][0]["balances"]["current"] = 210
    _, outputs = feed([accounts_envelope(), later])
    assert [e.type for e in events_of(outputs)][-1] == "BalanceUpdated"
    assert last_doc(outputs)["net_worth"]["value"] == "-65462.00"


def test_pending_then_posted_is_one_transaction_never_two() -> None:
    first = envelope(
        sync_page(added=[plaid_txn("p-1", 12.5, pending=True)]),
        sync_id="s1",
        received_at="2026-01-01T00:00:00Z",
    )
    second = envelope(
        sync_page(
            added=[plaid_txn("x-1", 14.0, pending_of="p-1")],
            removed=[{"transaction_id": "p-1", "account_id": "acc-chk"}],
        ),
        sync_id="s2",
        received_at="2026-01-02T00:00:00Z",
    )
    state, outputs = feed([first, second])
    types = [e.type for e in events_of(outputs)]
    assert types == [
        "TransactionAdded",
        "TransactionEnriched",
        "TransactionsImported",
        "TransactionUpdated",
        "TransactionEnriched",
        "TransactionsImported",
    ]
    updated = events_of(outputs)[3]
    assert (
        updated.payload["replaces"]
        == events_of(outputs)[0].payload["transaction"]["transaction_id"]
    )
    assert updated.payload["transaction"]["amount_minor"] == -1400
    assert len(state.transactions) == 1
    assert last_doc(outputs)["transaction_count"] == 1
    assert last_doc(outputs)["pending_transaction_count"] == 0
    # Replaying the first sync again must not bring the settled pending back.
    state, more = feed([first], state)
    assert events_of(more) == []
    assert len(state.transactions) == 1


def test_same_id_with_other_content_in_added_is_an_idempotency_conflict() -> None:
    state, _ = feed([envelope(sync_page(added=[plaid_txn("a", 5)]))])
    conflicting = envelope(
        sync_page(added=[plaid_txn("a", 6)]), sync_id="s2", received_at="2026-01-03T00:00:00Z"
    )
    after, outputs = feed([conflicting], state)
    assert len(outputs) == 1
    letter = outputs[0]
    assert isinstance(letter, DeadLetter)
    assert letter.reason is Reason.IDEMPOTENCY_CONFLICT
    assert after is state


def test_modified_transaction_is_updated_in_place() -> None:
    state, _ = feed([envelope(sync_page(added=[plaid_txn("a", 5)]))])
    change = envelope(
        sync_page(modified=[plaid_txn("a", 5, name="TESCO EXPRESS")]),
        sync_id="s2",
        received_at="2026-01-03T00:00:00Z",
    )
    state, outputs = feed([change], state)
    assert [e.type for e in events_of(outputs)] == [
        "TransactionUpdated",
        "TransactionEnriched",
        "TransactionsImported",
    ]
    assert len(state.transactions) == 1


def test_summary_waits_for_every_page_of_a_sync() -> None:
    pages = [
        envelope(sync_page(added=[plaid_txn("a", 1)], has_more=True), page=0),
        envelope(sync_page(added=[plaid_txn("b", 2)], has_more=True), page=1),
        envelope(sync_page(added=[plaid_txn("c", 3)]), page=2),
    ]
    _, outputs = feed([pages[2], pages[0], pages[1]])
    summaries = [e for e in events_of(outputs) if e.type == "TransactionsImported"]
    assert len(summaries) == 1
    assert summaries[0].payload["added"] == 3
    assert summaries[0].payload["pages"] == 3
    assert events_of(outputs)[-1] is summaries[0]


def test_bad_input_is_a_dead_letter_and_leaves_state_alone() -> None:
    state, _ = feed([accounts_envelope()])
    after, outputs = feed([b"{not json"], state)
    assert after is state
    assert isinstance(outputs[0], DeadLetter)
    assert outputs[0].reason is Reason.MALFORMED_JSON
    assert outputs[0].record.value == b"{not json"


def test_events_chain_by_hash_and_replay_rebuilds_the_twin() -> None:
    pages = [
        accounts_envelope(),
        envelope(
            sync_page(added=[plaid_txn("p", 3, pending=True), plaid_txn("a", 5)]),
            sync_id="s1",
            received_at="2026-01-02T00:00:00Z",
        ),
        envelope(
            sync_page(
                added=[plaid_txn("x", 3, pending_of="p")],
                removed=[{"transaction_id": "a", "account_id": "acc-chk"}],
            ),
            sync_id="s2",
            received_at="2026-01-03T00:00:00Z",
        ),
    ]
    state, outputs = feed(pages)
    events = events_of(outputs)
    assert [e.stream_version for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.chain_hash()
    rebuilt = replay(KEY, [Event.from_dict(e.to_dict()) for e in events])
    assert twin_facts(rebuilt) == twin_facts(state)
    assert (rebuilt.version, rebuilt.last_hash) == (state.version, state.last_hash)


def test_same_input_gives_byte_identical_events() -> None:
    pages = [accounts_envelope(), envelope(sync_page(added=[plaid_txn("a", 5)]))]
    _, first = feed(pages)
    _, second = feed(pages)
    assert [e.to_json() for e in events_of(first)] == [e.to_json() for e in events_of(second)]


# --- properties -------------------------------------------------------------------------

amounts = st.integers(min_value=-500_000, max_value=500_000).map(lambda c: c / 100)


@st.composite
def paged_sync(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A sync split over pages: pendings, postings that settle them, removals."""
    count = draw(st.integers(min_value=1, max_value=12))
    txns = [
        plaid_txn(f"t{i}", draw(amounts), pending=draw(st.booleans()), day=f"2025-12-{1 + i:02d}")
        for i in range(count)
    ]
    settled = [t for t in txns if t["pending"] and draw(st.booleans())]
    postings = [
        plaid_txn("s" + t["transaction_id"], draw(amounts), pending_of=t["transaction_id"])
        for t in settled
    ]
    removed = [{"transaction_id": t["transaction_id"], "account_id": "acc-chk"} for t in settled]
    items: list[tuple[str, dict[str, Any]]] = [("added", t) for t in txns + postings]
    items += [("removed", r) for r in removed]
    size = draw(st.integers(min_value=1, max_value=5))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    return [
        envelope(
            sync_page(
                added=[t for k, t in chunk if k == "added"],
                removed=[t for k, t in chunk if k == "removed"],
                has_more=index < len(chunks) - 1,
            ),
            page=index,
        )
        for index, chunk in enumerate(chunks)
    ]


def _without_stream_position(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in {"version", "source_event_id"}}


@settings(max_examples=60, deadline=None)
@given(pages=paged_sync(), order=st.randoms(use_true_random=False))
def test_pages_in_any_order_give_the_same_twin(pages: list[dict[str, Any]], order: Any) -> None:
    in_order, _ = feed(pages)
    shuffled = list(pages)
    order.shuffle(shuffled)
    any_order, _ = feed(shuffled)
    assert twin_facts(any_order) == twin_facts(in_order)
    assert len(any_order.transactions) == len(in_order.transactions)


@settings(max_examples=40, deadline=None)
@given(pages=paged_sync())
def test_feeding_a_sync_twice_changes_nothing_more(pages: list[dict[str, Any]]) -> None:
    once, first = feed(pages)
    twice, second = feed(pages, once)
    assert events_of(second) == []
    assert twin_facts(twice) == twin_facts(once)
    assert twice.version == once.version


def test_a_balance_that_disagrees_with_the_transactions_is_reported_not_adjusted() -> None:
    checking = "BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp"
    spend = envelope(
        sync_page(
            added=[plaid_txn("a", 12.5, account_id=checking, day="2026-01-05", currency="USD")]
        ),
        sync_id="s1",
        received_at="2026-01-06T00:00:00Z",
    )
    agreeing = accounts_envelope("2026-01-10T00:00:00Z")
    agreeing["payload"]["accounts"][0]["balances"]["current"] = 97.5
    disagreeing = accounts_envelope("2026-01-10T00:00:00Z")
    disagreeing["payload"]["accounts"][0]["balances"]["current"] = 100
    _, fine = feed([accounts_envelope(), spend, agreeing])
    assert "ReconciliationMismatch" not in [e.type for e in events_of(fine)]
    _, outputs = feed([accounts_envelope(), spend, disagreeing])
    (mismatch,) = [e for e in events_of(outputs) if e.type == "ReconciliationMismatch"]
    assert mismatch.payload["reported_minor"] == 10000
    assert mismatch.payload["derived_minor"] == 9750
    assert mismatch.payload["difference_minor"] == 250
    # The vendor's figure is still what the twin shows: nothing is adjusted silently.
    checking_doc = next(
        a for a in last_doc(outputs)["accounts"] if a["provider_account_id"] == checking
    )
    assert checking_doc["balances"]["current"]["value"] == "100.00"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.text(max_size=40))
def test_merchant_key_keeps_the_first_four_runs_of_letters(name: str) -> None:
    letters = "".join(c if c.isalpha() else " " for c in name.lower())
    assert merchant_key(name) == " ".join(letters.split()[:4])


def test_merchant_key_drops_digits_and_punctuation_alike_in_ascii_and_beyond() -> None:
    assert merchant_key("AMZN Mktp US*2K4RT5 Amzn.com/bill") == "amzn mktp us k"
    assert merchant_key("Café Zürich 12/03") == "café zürich"
