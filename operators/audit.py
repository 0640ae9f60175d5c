"""Verification of a profile's hash chain, as the event log holds it.

Each event names the hash of the one before it (``prev_hash``), its id derives from its
natural key and payload hash, and its payload hash from its payload. Recomputing all three
in stream order finds the first event whose stored form differs from what was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from schemas.canonical import GENESIS_HASH, content_hash, event_uuid
from schemas.events import Event


class BrokenLink(NamedTuple):
    """The first event of a profile that does not verify, and why."""

    tenant_id: str
    profile_id: str
    stream_version: int
    event_id: str
    problem: str


def first_broken_link(events: Iterable[Event]) -> BrokenLink | None:
    """Walk one profile's events in stream order; return the first that fails, if any."""
    expected_prev = GENESIS_HASH
    expected_version = 1
    for event in events:
        problem = _problem(event, expected_version, expected_prev)
        if problem is not None:
            return BrokenLink(
                event.tenant_id, event.profile_id, event.stream_version, event.event_id, problem
            )
        expected_prev = event.chain_hash()
        expected_version += 1
    return None


def _problem(event: Event, version: int, prev_hash: str) -> str | None:
    if event.stream_version != version:
        return f"stream version {event.stream_version} where {version} was expected"
    if content_hash(event.payload) != event.payload_hash:
        return "payload does not match its payload_hash"
    name = (
        f"{event.tenant_id}:{event.profile_id}:{event.stream_version}:{event.type}:"
        f"{event.payload_hash}"
    )
    if event_uuid(name) != event.event_id:
        return "event_id does not derive from the event's key and payload hash"
    if event.prev_hash != prev_hash:
        return "prev_hash does not match the previous event"
    return None
