"""Generated bad inputs, by class, each with the reason code it must be dead-lettered for."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.iso4217 import CURRENCY_EXPONENTS
from tests.support.envelopes import envelope, plaid_txn, sync_page

CASES_PER_CLASS = 50
RECEIVED_AT = "2026-01-02T00:00:00Z"


@dataclass(frozen=True)
class BadInput:
    """One bad message and the reason it must be refused for."""

    key: bytes | None
    value: bytes
    reason: str


def valid_envelope(rng: random.Random, profile: str) -> dict[str, Any]:
    txns = [
        plaid_txn(
            f"tx-{profile}-{i}",
            rng.randint(1, 99_999) / 100,
            day=f"2025-12-{rng.randint(1, 28):02d}",
            currency="USD",
        )
        for i in range(rng.randint(1, 4))
    ]
    return envelope(
        sync_page(added=txns),
        tenant_id="bad",
        profile_id=profile,
        sync_id=f"sync-{profile}",
        received_at=RECEIVED_AT,
    )


def _key(doc: dict[str, Any]) -> bytes:
    return f"{doc['tenant_id']}:{doc['profile_id']}".encode()


def _case(doc: dict[str, Any], value: bytes, reason: str) -> BadInput:
    return BadInput(_key(doc), value, reason)


def malformed_json(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    raw = orjson.dumps(doc)
    while True:
        cut = rng.randint(1, len(raw) - 1)
        broken = rng.choice(
            [raw[:cut], raw[:cut] + b"}", raw.replace(b":", b"=", 1), raw + b",", b"{" + raw]
        )
        try:
            json.loads(broken)
        except ValueError:
            return _case(doc, broken, "malformed_json")


def wrong_type(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    txn = doc["payload"]["added"][0]
    mutation = rng.randrange(6)
    if mutation == 0:
        txn["amount"] = str(txn["amount"])
    elif mutation == 1:
        txn["pending"] = "no"
    elif mutation == 2:
        doc["received_at"] = rng.randint(0, 10**9)
    elif mutation == 3:
        doc["payload"]["added"] = {"0": txn}
    elif mutation == 4:
        doc["page"] = "first"
    else:
        txn["date"] = rng.randint(1, 10**6)
    return _case(doc, orjson.dumps(doc), "wrong_type")


def unknown_currency(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    while True:
        code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))
        if code not in CURRENCY_EXPONENTS:
            break
    doc["payload"]["added"][-1]["iso_currency_code"] = code
    return _case(doc, orjson.dumps(doc), "unknown_currency")


def excess_precision(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    digits = rng.randint(3, 9)
    text = f"{rng.randint(0, 9999)}.{rng.randint(1, 10**digits - 1):0{digits}d}"
    text = text.rstrip("0") if text.rstrip("0")[-1] != "." else text
    if len(text.split(".")[1]) <= 2:
        text += "1"
    raw = orjson.dumps(doc).replace(b'"amount":', b'"amount":' + text.encode() + b',"x_":', 1)
    return _case(doc, raw, "excess_precision")


def non_finite(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    token = rng.choice([b"NaN", b"Infinity", b"-Infinity"])
    raw = orjson.dumps(doc).replace(b'"amount":', b'"amount":' + token + b',"x_":', 1)
    return _case(doc, raw, "non_finite_number")


def duplicate_key(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    raw = orjson.dumps(doc)
    field = rng.choice([b'"sync_id":', b'"amount":', b'"name":', b'"kind":', b'"has_more":'])
    # Repeat the field inside the same object with another value.
    raw = raw.replace(field, field + b'"dup",' + field, 1)
    return _case(doc, raw, "duplicate_key")


def too_large(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    size = 1024 * 1024 + rng.randint(1, 1024 * 1024)
    doc["payload"]["padding"] = "x" * size
    return _case(doc, orjson.dumps(doc), "payload_too_large")


def future_date(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    txn = doc["payload"]["added"][0]
    txn[rng.choice(["date", "authorized_date"])] = (
        f"2026-{rng.randint(2, 12):02d}-{rng.randint(1, 28):02d}"
    )
    return _case(doc, orjson.dumps(doc), "future_date")


def invalid_encoding(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    raw = bytearray(orjson.dumps(doc))
    position = rng.randrange(len(raw))
    raw[position:position] = rng.choice(
        [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80", b"\xf0\x28\x8c\x28"]
    )
    return _case(doc, bytes(raw), "invalid_encoding")


def tenant_mismatch(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    key = _key(doc)
    doc["tenant_id"] = f"other{rng.randint(0, 10**6)}"
    return BadInput(key, orjson.dumps(doc), "tenant_mismatch")


def missing_id(rng: random.Random, doc: dict[str, Any]) -> BadInput:
    target = rng.randrange(4)
    if target == 0:
        del doc["payload"]["added"][0]["transaction_id"]
    elif target == 1:
        del doc["payload"]["added"][0]["account_id"]
    elif target == 2:
        doc["payload"]["removed"] = [{"transaction_id": "gone"}]
    else:
        doc["sync_id"] = ""
    return _case(doc, orjson.dumps(doc), "missing_id")


MUTATIONS: dict[str, Callable[[random.Random, dict[str, Any]], BadInput]] = {
    "malformed_json": malformed_json,
    "wrong_type": wrong_type,
    "unknown_currency": unknown_currency,
    "excess_precision": excess_precision,
    "non_finite_number": non_finite,
    "duplicate_key": duplicate_key,
    "payload_too_large": too_large,
    "future_date": future_date,
    "invalid_encoding": invalid_encoding,
    "tenant_mismatch": tenant_mismatch,
    "missing_id": missing_id,
}


def bad_inputs(seed: int = 20261122) -> Iterator[BadInput]:
    """Yield ``CASES_PER_CLASS`` cases of every class, deterministically from ``seed``."""
    rng = random.Random(seed)
    for name, mutate in MUTATIONS.items():
        for index in range(CASES_PER_CLASS):
            yield mutate(rng, valid_envelope(rng, f"{name}-{index}"))


def conflicts(seed: int = 20261122) -> Iterator[tuple[bytes, bytes, BadInput]]:
    """Yield (key, original, conflicting) triples: the same provider id, other content."""
    rng = random.Random(seed)
    for index in range(CASES_PER_CLASS):
        original = valid_envelope(rng, f"conflict-{index}")
        changed = orjson.loads(orjson.dumps(original))
        changed["payload"]["added"][0]["amount"] = original["payload"]["added"][0]["amount"] + 1
        changed["sync_id"] = f"later-{index}"
        changed["received_at"] = "2026-01-03T00:00:00Z"
        yield (
            _key(original),
            orjson.dumps(original),
            BadInput(_key(changed), orjson.dumps(changed), "idempotency_conflict"),
        )
