"""Canonical JSON and the hashes and ids derived from it.

Every hash in the event log is taken over canonical JSON: keys sorted, no insignificant
whitespace, UTF-8, integers for money. The same value therefore always yields the same bytes,
which is what makes a re-run produce byte-identical events and the same event ids.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Final

import orjson

# A fixed namespace for every UUIDv5 this project derives; changing it would change every id.
ID_NAMESPACE: Final = uuid.UUID("6f1c3e0a-5b7d-5c1e-9a2b-4f8e7d6c5b4a")
_NAMESPACE_BYTES: Final = ID_NAMESPACE.bytes

GENESIS_HASH: Final = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` to canonical JSON bytes (sorted keys, compact, UTF-8).

    The models that feed it carry money as integers and rates as strings, so no float reaches
    here; ``find_floats`` lets tests check that.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    """Return the SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def derived_id(prefix: str, *parts: str) -> str:
    """Return a short, stable id such as ``txn_1f3a…`` derived from its natural key parts.

    The parts are joined with a unit separator so that ``("a", "bc")`` and ``("ab", "c")``
    never collide.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{prefix}_{digest[:20]}"


def event_uuid(name: str) -> str:
    """Return the UUIDv5 of ``name`` in the project namespace, as a string.

    The same value as ``str(uuid.uuid5(ID_NAMESPACE, name))`` (RFC 4122 §4.3), computed
    without building ``UUID`` objects: every event takes one.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])  # noqa: S324 - RFC 4122 name-based UUIDs are SHA-1
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def find_floats(value: Any, path: str = "$") -> list[str]:
    """Return the paths of every float inside ``value`` (an empty list for clean documents)."""
    if isinstance(value, float):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in find_floats(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in find_floats(v, f"{path}[{i}]")]
    return []
