"""``fintra dlq``: list dead letters and replay them after a fix.

The dead-letter topic is append-only. Each dead letter names the input it came from
(``origin``: its first coordinates, kept across replays). Replaying appends a marker per
origin after re-publishing the original bytes; an origin whose newest entry is a marker is
not listed and not replayed again, so running a replay twice re-submits nothing twice. A
replay that fails again appears as a new dead letter and can be replayed after the next fix.
The twin's own dedupe makes a replayed record that was accepted meanwhile a no-op.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from fintra.ingest import Outgoing, publish_messages
from fintra.topics import read_all
from schemas.records import REPLAY_HEADER

MARKER_HEADER = "fintra-dlq-marker"


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    """A dead letter as read back from the topic."""

    document: dict[str, Any]

    @property
    def origin(self) -> str:
        """Coordinates of the input this dead letter (or its first failure) came from."""
        origin: str = self.document.get("origin") or _coordinates(self.document["source"])
        return origin

    @property
    def reason(self) -> str:
        """The reason code."""
        reason: str = self.document["reason"]
        return reason


def open_dead_letters(brokers: str, dlq_topic: str) -> list[DeadLetterEntry]:
    """Return the newest dead letter of each origin that has not been replayed since."""
    newest: dict[str, DeadLetterEntry | None] = {}
    for message in read_all(brokers, dlq_topic):
        document = orjson.loads(message.value() or b"{}")
        headers = message.headers() or []
        if any(header[0] == MARKER_HEADER for header in headers):
            newest[document["origin"]] = None
        else:
            entry = DeadLetterEntry(document)
            newest[entry.origin] = entry
    return [entry for entry in newest.values() if entry is not None]


def replay(brokers: str, dlq_topic: str, entries: list[DeadLetterEntry]) -> int:
    """Re-publish each entry's original bytes to its source topic, then mark it replayed."""
    originals = [
        Outgoing(
            key=_unbase64(entry.document["key_b64"]),
            value=_unbase64(entry.document["value_b64"]),
            headers=((REPLAY_HEADER, entry.origin.encode()),),
            topic=entry.document["source"]["topic"],
        )
        for entry in entries
    ]
    replayed = publish_messages(brokers, dlq_topic, originals)
    markers = [
        Outgoing(
            key=entry.origin.encode(),
            value=orjson.dumps({"origin": entry.origin, "marker": "replayed"}),
            headers=((MARKER_HEADER, b"replayed"),),
        )
        for entry in entries
    ]
    publish_messages(brokers, dlq_topic, markers)
    return replayed


def _coordinates(source: dict[str, Any]) -> str:
    return f"{source['topic']}:{source['partition']}:{source['offset']}"


def _unbase64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
