"""Tests for the deterministic Plaid sample generator."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from fintra.samples import (
    Sample,
    SampleSpec,
    count_transactions,
    generate,
    spec_for_transactions,
    write_jsonl,
)
from schemas.envelopes import ConnectEnvelope
from schemas.vendors.plaid import PlaidAccountsBody, PlaidTransactionsSyncBody

Envelope = dict[str, Any]
Key = tuple[str, str]

ENVELOPE_KEYS = {
    "tenant_id",
    "profile_id",
    "provider",
    "connection_id",
    "sync_id",
    "received_at",
    "kind",
    "page",
    "payload",
}
TRANSACTION_KEYS = {
    "transaction_id",
    "account_id",
    "amount",
    "iso_currency_code",
    "unofficial_currency_code",
    "date",
    "authorized_date",
    "name",
    "merchant_name",
    "payment_channel",
    "pending",
    "pending_transaction_id",
    "category",
    "category_id",
    "transaction_type",
    "transaction_code",
    "location",
}
BALANCE_KEYS = {"available", "current", "limit", "iso_currency_code", "unofficial_currency_code"}
MONEY_FIELDS = {"amount", "available", "current", "limit"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def sample() -> Sample:
    return generate(SampleSpec())


# ---- helpers -------------------------------------------------------------------------------


def streams(envelopes: Iterable[Envelope]) -> dict[Key, list[Envelope]]:
    """Group envelopes per profile, keeping their order."""
    out: dict[Key, list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        out[(envelope["tenant_id"], envelope["profile_id"])].append(envelope)
    return out


def syncs(stream: list[Envelope]) -> list[list[Envelope]]:
    """The transactions_sync envelopes of one profile, grouped per sync (pages in order)."""
    out: list[list[Envelope]] = []
    for envelope in stream:
        if envelope["kind"] != "transactions_sync":
            continue
        if out and out[-1][0]["sync_id"] == envelope["sync_id"]:
            out[-1].append(envelope)
        else:
            out.append([envelope])
    return out


def items(pages: list[Envelope], part: str) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["payload"][part]]


def minor(value: float) -> int:
    """Exact minor units of a Plaid amount; fails if it has more than two decimals."""
    exact = Decimal(repr(value))
    assert exact == exact.quantize(Decimal("0.01")), value
    return int(exact * 100)


def fos_balances(envelope: Envelope) -> dict[str, int]:
    """FOS balances of an accounts envelope: liabilities negative."""
    out = {}
    for account in envelope["payload"]["accounts"]:
        current = minor(account["balances"]["current"])
        liability = account["type"] in ("credit", "loan")
        out[account["account_id"]] = -current if liability else current
    return out


def floats_outside_money(node: Any, path: str = "") -> list[str]:
    if isinstance(node, float):
        return [] if path.rsplit(".", 1)[-1] in MONEY_FIELDS else [path]
    if isinstance(node, dict):
        return [bad for k, v in node.items() for bad in floats_outside_money(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [bad for v in node for bad in floats_outside_money(v, f"{path}[]")]
    return []


# ---- determinism ---------------------------------------------------------------------------


def test_same_spec_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(first, generate(SampleSpec()).envelopes)
    write_jsonl(second, generate(SampleSpec()).envelopes)
    assert first.read_bytes() == second.read_bytes()


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(first, generate(SampleSpec(seed=7)).envelopes)
    write_jsonl(second, generate(SampleSpec(seed=8)).envelopes)
    assert first.read_bytes() != second.read_bytes()


def test_adding_tenants_and_profiles_keeps_existing_profiles(sample: Sample) -> None:
    bigger = generate(SampleSpec(tenants=3, profiles_per_tenant=4))
    small, large = streams(sample.envelopes), streams(bigger.envelopes)
    for key, stream in small.items():
        assert large[key] == stream
        assert bigger.truth[key] == sample.truth[key]


# ---- shape ---------------------------------------------------------------------------------


def test_envelopes_have_the_required_fields(sample: Sample) -> None:
    for envelope in sample.envelopes:
        assert set(envelope) == ENVELOPE_KEYS
        assert envelope["provider"] == "plaid"
        assert envelope["kind"] in ("accounts", "transactions_sync")
        assert TIMESTAMP.match(envelope["received_at"])
        assert isinstance(envelope["page"], int)
        assert envelope["connection_id"]
        assert envelope["sync_id"]
        assert floats_outside_money(envelope) == []
        ConnectEnvelope.model_validate(envelope)


def test_accounts_payloads_are_plaid_shaped(sample: Sample) -> None:
    for envelope in sample.envelopes:
        if envelope["kind"] != "accounts":
            continue
        body = envelope["payload"]
        PlaidAccountsBody.model_validate(body)
        assert body["item"]["item_id"] == envelope["connection_id"]
        assert body["item"]["institution_id"].startswith("ins_")
        assert body["request_id"]
        types = Counter(account["type"] for account in body["accounts"])
        assert types["credit"] == 1
        assert types["loan"] <= 1
        assert 1 <= types["depository"] <= 2
        for account in body["accounts"]:
            assert set(account["balances"]) == BALANCE_KEYS
            assert account["balances"]["unofficial_currency_code"] is None
            assert re.fullmatch(r"\d{4}", account["mask"])
            assert (account["balances"]["limit"] is not None) == (account["type"] == "credit")


def test_transactions_payloads_are_plaid_shaped(sample: Sample) -> None:
    for envelope in sample.envelopes:
        if envelope["kind"] != "transactions_sync":
            continue
        body = envelope["payload"]
        PlaidTransactionsSyncBody.model_validate(body)
        assert set(body) == {
            "added",
            "modified",
            "removed",
            "next_cursor",
            "has_more",
            "request_id",
        }
        for txn in body["added"] + body["modified"]:
            assert set(txn) == TRANSACTION_KEYS
            assert isinstance(txn["amount"], float)
            assert txn["amount"] != 0
            assert DAY.match(txn["date"])
            assert txn["authorized_date"] <= txn["date"]
            # Nothing is dated on or after the day it was delivered.
            assert txn["date"] < envelope["received_at"][:10]
            assert txn["payment_channel"] in ("online", "in store", "other")
            assert txn["transaction_type"] in ("place", "digital", "special")
            assert txn["unofficial_currency_code"] is None
            assert txn["transaction_code"] is None
        for removal in body["removed"]:
            assert set(removal) == {"transaction_id", "account_id"}


def test_each_profile_has_one_currency_and_tenants_differ() -> None:
    sample = generate(SampleSpec(tenants=3, profiles_per_tenant=2))
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for key, stream in streams(sample.envelopes).items():
        currency = sample.truth[key].currency
        by_tenant[key[0]].add(currency)
        for envelope in stream:
            body = envelope["payload"]
            for account in body.get("accounts", []):
                assert account["balances"]["iso_currency_code"] == currency
            for txn in body.get("added", []):
                assert txn["iso_currency_code"] == currency
    assert by_tenant == {"t_001": {"USD"}, "t_002": {"GBP"}, "t_003": {"EUR"}}


# ---- order and paging ----------------------------------------------------------------------


def test_envelopes_are_in_delivery_order(sample: Sample) -> None:
    keys = [
        (e["received_at"], e["tenant_id"], e["profile_id"], e["page"]) for e in sample.envelopes
    ]
    assert keys == sorted(keys)
    spec = SampleSpec()
    for stream in streams(sample.envelopes).values():
        kinds = [e["kind"] for e in stream]
        assert kinds[0] == "accounts"
        assert kinds[-1] == "accounts"
        # accounts, initial sync, then an accounts envelope after every sync.
        sync_count = len(syncs(stream))
        # The initial sync carries the first half of the months, then one sync per month.
        assert sync_count == 1 + spec.months - spec.months // 2
        assert kinds.count("accounts") == sync_count + 1


def test_syncs_are_split_into_pages() -> None:
    sample = generate(SampleSpec(page_size=7, months=4))
    for stream in streams(sample.envelopes).values():
        sync_ids = [pages[0]["sync_id"] for pages in syncs(stream)]
        assert len(set(sync_ids)) == len(sync_ids)
        for pages in syncs(stream):
            assert [p["page"] for p in pages] == list(range(len(pages)))
            assert [p["payload"]["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
            assert len({p["received_at"] for p in pages}) == 1
            for page in pages:
                body = page["payload"]
                assert len(body["added"]) + len(body["modified"]) + len(body["removed"]) <= 7
            assert len(pages) > 1


# ---- money ---------------------------------------------------------------------------------


def test_amounts_have_at_most_two_decimals(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    write_jsonl(path, sample.envelopes)
    numbers = re.findall(rb'"(?:amount|available|current|limit)":(-?[0-9.eE+]+)', path.read_bytes())
    assert numbers
    for number in numbers:
        assert re.fullmatch(rb"-?\d+(\.\d{1,2})?", number), number
    for envelope in sample.envelopes:
        body = envelope["payload"]
        for txn in body.get("added", []) + body.get("modified", []):
            assert len(repr(txn["amount"]).split(".")[1]) <= 2


# ---- pending lifecycle ---------------------------------------------------------------------


def test_posted_versions_replace_earlier_pending_ones(sample: Sample) -> None:
    replaced = 0
    for stream in streams(sample.envelopes).values():
        pending_seen: set[str] = set()
        for pages in syncs(stream):
            removed = {r["transaction_id"] for r in items(pages, "removed")}
            added = items(pages, "added")
            for txn in added:
                if txn["pending_transaction_id"] is not None:
                    assert not txn["pending"]
                    assert txn["pending_transaction_id"] in pending_seen
                    assert txn["pending_transaction_id"] in removed
                    replaced += 1
            pending_seen |= {t["transaction_id"] for t in added if t["pending"]}
    assert replaced > 0


def test_pending_lifecycle_covers_tips_and_cancellations(sample: Sample) -> None:
    tipped = cancelled = 0
    for stream in streams(sample.envelopes).values():
        pending: dict[str, float] = {}
        for pages in syncs(stream):
            added = items(pages, "added")
            settled = {t["pending_transaction_id"] for t in added}
            for txn in added:
                if txn["pending_transaction_id"] in pending:
                    tipped += txn["amount"] > pending[txn["pending_transaction_id"]]
            for removal in items(pages, "removed"):
                assert removal["transaction_id"] in pending
                cancelled += removal["transaction_id"] not in settled
            pending.update({t["transaction_id"]: t["amount"] for t in added if t["pending"]})
    assert tipped > 0
    assert cancelled > 0


def test_modified_entries_keep_id_and_amount(sample: Sample) -> None:
    modified_count = 0
    for stream in streams(sample.envelopes).values():
        delivered: dict[str, dict[str, Any]] = {}
        for pages in syncs(stream):
            for txn in items(pages, "modified"):
                before = delivered[txn["transaction_id"]]
                assert txn["amount"] == before["amount"]
                assert txn["account_id"] == before["account_id"]
                assert (txn["name"], txn["merchant_name"]) != (
                    before["name"],
                    before["merchant_name"],
                )
                modified_count += 1
            delivered.update({t["transaction_id"]: t for t in items(pages, "added")})
    assert modified_count > 0


# ---- ground truth --------------------------------------------------------------------------


def test_truth_counts_live_transactions(sample: Sample) -> None:
    for key, stream in streams(sample.envelopes).items():
        live: set[str] = set()
        for pages in syncs(stream):
            live |= {t["transaction_id"] for t in items(pages, "added")}
            live -= {r["transaction_id"] for r in items(pages, "removed")}
        assert sample.truth[key].transaction_count == len(live)


def test_truth_matches_the_last_accounts_envelope(sample: Sample) -> None:
    for key, stream in streams(sample.envelopes).items():
        last = [e for e in stream if e["kind"] == "accounts"][-1]
        truth = sample.truth[key]
        assert fos_balances(last) == dict(truth.balances_minor)
        assert truth.net_worth_minor == sum(truth.balances_minor.values())
        owed = [
            max(0, -truth.balances_minor[a["account_id"]])
            for a in last["payload"]["accounts"]
            if a["type"] in ("credit", "loan")
        ]
        assert truth.total_debt_minor == sum(owed)
        assert truth.total_debt_minor > 0


def test_balances_move_by_the_transactions_posted_in_between(sample: Sample) -> None:
    for stream in streams(sample.envelopes).values():
        # The first accounts envelope already counts the history the initial sync delivers.
        initial_sync = syncs(stream)[0][0]["sync_id"]
        posted: dict[str, tuple[str, int]] = {}
        moved: Counter[str] = Counter()
        previous: dict[str, int] | None = None
        for envelope in stream:
            if envelope["kind"] == "accounts":
                balances = fos_balances(envelope)
                if previous is not None:
                    change = {a: balances[a] - previous[a] for a in balances}
                    assert change == {a: moved[a] for a in balances}
                previous, moved = balances, Counter()
                continue
            counts = envelope["sync_id"] != initial_sync
            for txn in envelope["payload"]["added"]:
                if not txn["pending"]:
                    entry = (txn["account_id"], -minor(txn["amount"]))
                    posted[txn["transaction_id"]] = entry
                    moved[entry[0]] += entry[1] if counts else 0
            for removal in envelope["payload"]["removed"]:
                if removal["transaction_id"] in posted:
                    account, amount = posted.pop(removal["transaction_id"])
                    moved[account] -= amount if counts else 0


def test_available_excludes_pending_outflows(sample: Sample) -> None:
    for stream in streams(sample.envelopes).values():
        pending: dict[str, tuple[str, int]] = {}
        # The first snapshot is taken as the initial sync is, so it holds that sync's pendings.
        initial = syncs(stream)[0]
        in_order = initial + [e for e in stream if e["sync_id"] != initial[0]["sync_id"]]
        for envelope in in_order:
            body = envelope["payload"]
            if envelope["kind"] == "transactions_sync":
                for txn in body["added"]:
                    if txn["pending"]:
                        pending[txn["transaction_id"]] = (txn["account_id"], minor(txn["amount"]))
                for removal in body["removed"]:
                    pending.pop(removal["transaction_id"], None)
                continue
            held: Counter[str] = Counter()
            for account_id, amount in pending.values():
                held[account_id] += max(0, amount)
            for account in body["accounts"]:
                balances = account["balances"]
                current = minor(balances["current"])
                held_here = held[account["account_id"]]
                if account["subtype"] == "checking":
                    assert minor(balances["available"]) == current - held_here
                elif account["type"] == "credit":
                    expected = minor(balances["limit"]) - current - held_here
                    assert minor(balances["available"]) == expected
                elif account["type"] == "loan":
                    assert balances["available"] is None


def test_profiles_cover_the_account_mix(sample: Sample) -> None:
    bigger = generate(replace(SampleSpec(), profiles_per_tenant=10))
    subtypes = Counter(
        account["subtype"]
        for stream in streams(bigger.envelopes).values()
        for account in stream[0]["payload"]["accounts"]
    )
    assert subtypes["checking"] == subtypes["credit card"] == 20
    assert 0 < subtypes["savings"] < 20
    assert subtypes["student"] + subtypes["auto"] > 0


# ---- helpers of the public API -------------------------------------------------------------


def test_write_jsonl_writes_one_object_per_line(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, sample.envelopes) == len(sample.envelopes)
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(sample.envelopes)
    assert orjson.loads(lines[0]) == sample.envelopes[0]


def test_count_transactions_counts_added_items(sample: Sample) -> None:
    expected = sum(
        len(e["payload"]["added"]) for e in sample.envelopes if e["kind"] == "transactions_sync"
    )
    assert count_transactions(sample.envelopes) == expected > 0


def test_invalid_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="months"):
        generate(SampleSpec(months=0))
    with pytest.raises(ValueError, match="page_size"):
        generate(SampleSpec(page_size=0))


def test_spec_for_transactions_hits_the_requested_volume() -> None:
    spec = spec_for_transactions(100_000)
    assert spec.tenants * spec.profiles_per_tenant == 1000
    added = count_transactions(generate(spec).envelopes)
    assert 90_000 <= added <= 110_000
