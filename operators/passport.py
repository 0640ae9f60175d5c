"""Passport (seed 000 §2.3): one profile's history merged into another tenant's profile.

The source twin, on the user's consent, records the link, locks itself and asks for its
history up to its current version to be exported. The export travels back through a topic
to the target twin, which locks, appends each exported event to its own stream anonymised
(new ids, provenance naming the consent), then unlocks. Inputs that arrive at a locked twin
wait in its state, in order, and are applied when it unlocks. A link is merged once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final, NamedTuple

from operators.exceptions import RejectedInput
from operators.twin import EventSourceInfo, ProfileState, emit_events
from schemas.envelopes import utc_iso
from schemas.events import Event, EventType
from schemas.passport import PassportKind, PassportMessage, ProfileLinked
from schemas.records import Reason

#: Facts of the source tenant's own relationship with the user, not of the user's finances:
#: they stay behind.
NOT_EXPORTED: Final = frozenset(
    {
        EventType.COMMAND_REJECTED,
        EventType.BASE_CURRENCY_SET,
        EventType.TRANSACTION_CATEGORY_OVERRIDDEN,
        EventType.TENANT_DEFAULTS_APPLIED,
        EventType.PLATFORM_DATA_RECORDED,
        EventType.DAY_CLOSED,
        EventType.TRANSACTIONS_IMPORTED,
        EventType.PROFILE_LINK_STARTED,
        EventType.PROFILE_LINKED,
    }
)
_STRIPPED: Final = frozenset({"tenant_id", "profile_id", "user_id", "sync_id"})


class ExportRequest(NamedTuple):
    """The source twin asks for its events ``1..up_to_version`` to go to the target."""

    link_id: str
    consent_id: str
    source_key: str
    target_key: str
    up_to_version: int


def anonymise(event: Event, consent_id: str) -> tuple[str, dict[str, Any]] | None:
    """The event as the target receives it, or ``None`` when it stays with the source.

    Tenant and profile ids, user ids and sync ids are removed; connection ids become the
    consent's, so nothing names the source tenant.
    """
    if event.type in NOT_EXPORTED:
        return None
    return event.type, _scrub(event.payload, f"passport-{consent_id}")


def _scrub(value: Any, connection_id: str) -> Any:
    if isinstance(value, dict):
        return {
            key: connection_id if key == "connection_id" and item else _scrub(item, connection_id)
            for key, item in value.items()
            if key not in _STRIPPED
        }
    if isinstance(value, list):
        return [_scrub(item, connection_id) for item in value]
    return value


def start_link(
    state: ProfileState, link: ProfileLinked, origin: EventSourceInfo
) -> tuple[ProfileState, list[Event], ExportRequest | None]:
    """The source side: record the link, lock, and ask for the history to be exported.

    Raises:
        RejectedInput: when the link names another profile as its source.
    """
    if (state.tenant_id, state.profile_id) != (link.source.tenant_id, link.source.profile_id):
        msg = (
            f"link names source {link.source.stream_key}, key {state.tenant_id}:{state.profile_id}"
        )
        raise RejectedInput(Reason.PROFILE_MISMATCH, "source", msg)
    if link.link_id in state.links or state.lock == link.link_id:
        return replace(state, noops=state.noops + 1), [], None
    source = origin.source("passport", link.link_id, link.consent_id)
    payload = {
        "link_id": link.link_id,
        "consent_id": link.consent_id,
        "role": "source",
        "up_to_version": state.version,
    }
    new_state, events = emit_events(
        state, utc_iso(link.linked_at), source, [(EventType.PROFILE_LINK_STARTED, payload)]
    )
    request = ExportRequest(
        link.link_id,
        link.consent_id,
        link.source.stream_key,
        link.target.stream_key,
        state.version,
    )
    return replace(new_state, lock=link.link_id), events, request


def apply_passport(
    state: ProfileState, message: PassportMessage, origin: EventSourceInfo
) -> tuple[ProfileState, list[Event], bool]:
    """Apply one merge step; the flag says the twin unlocked and its held inputs may run.

    Raises:
        RejectedInput: for an exported event of a type this twin does not know.
    """
    if message.link_id in state.links and state.lock != message.link_id:
        if message.kind in (PassportKind.BEGIN, PassportKind.END, PassportKind.EVENT):
            if state.links[message.link_id].startswith("linked"):
                return replace(state, noops=state.noops + 1), [], False
    if message.kind == PassportKind.BEGIN:
        if state.lock is not None:
            # Redelivered, or another merge still running: either way nothing starts twice.
            held = state.held if state.lock == message.link_id else (*state.held, message)
            return replace(state, held=held, noops=state.noops + 1), [], False
        return replace(state, lock=message.link_id, import_seq=0), [], False
    if state.lock != message.link_id:
        return replace(state, noops=state.noops + 1), [], False
    source = origin.source("passport", message.link_id, message.consent_id)
    if message.kind == PassportKind.EVENT:
        return _import_event(state, message, source)
    role = "target" if message.kind == PassportKind.END else "source"
    counted = "imported_events" if role == "target" else "exported_events"
    payload = {
        "link_id": message.link_id,
        "consent_id": message.consent_id,
        "role": role,
        counted: state.import_seq if role == "target" else message.count,
    }
    when = state.last_occurred_at or "1970-01-01T00:00:00Z"
    new_state, events = emit_events(state, when, source, [(EventType.PROFILE_LINKED, payload)])
    return replace(new_state, lock=None, import_seq=0), events, True


def _import_event(
    state: ProfileState, message: PassportMessage, source: dict[str, Any]
) -> tuple[ProfileState, list[Event], bool]:
    if message.seq != state.import_seq + 1:
        # A step redelivered after a restart: it was applied already.
        return replace(state, noops=state.noops + 1), [], False
    try:
        event_type = EventType(message.event_type or "")
    except ValueError as exc:
        msg = f"exported event type {message.event_type!r} is unknown"
        raise RejectedInput(Reason.UNSUPPORTED_KIND, "event_type", msg) from exc
    if event_type in NOT_EXPORTED or message.payload is None or message.occurred_at is None:
        msg = f"exported event {message.seq} of link {message.link_id} cannot be imported"
        raise RejectedInput(Reason.UNSUPPORTED_KIND, "event_type", msg)
    new_state, events = emit_events(
        state, message.occurred_at, source, [(event_type, dict(message.payload))]
    )
    return replace(new_state, import_seq=message.seq), events, False


def export_messages(
    request: ExportRequest, events: list[Event]
) -> list[tuple[str, PassportMessage]]:
    """The merge as messages, each with the stream key it is addressed to.

    The target receives ``begin``, the exported events numbered from 1, and ``end``; the
    source receives ``unlock``. ``events`` are the source's, in stream order.
    """
    exported = [
        shown for event in events if (shown := anonymise(event, request.consent_id)) is not None
    ]
    ids = {"link_id": request.link_id, "consent_id": request.consent_id}
    begin = PassportMessage(kind=PassportKind.BEGIN, count=len(exported), **ids)
    steps = [
        PassportMessage(
            kind=PassportKind.EVENT,
            seq=seq,
            event_type=event_type,
            occurred_at=event.occurred_at,
            payload=payload,
            **ids,
        )
        for seq, (event, (event_type, payload)) in enumerate(
            zip(_exported_events(events), exported, strict=True), start=1
        )
    ]
    end = PassportMessage(kind=PassportKind.END, count=len(exported), **ids)
    unlock = PassportMessage(kind=PassportKind.UNLOCK, count=len(exported), **ids)
    target = [(request.target_key, message) for message in (begin, *steps, end)]
    return [*target, (request.source_key, unlock)]


def _exported_events(events: list[Event]) -> list[Event]:
    return [event for event in events if event.type not in NOT_EXPORTED]
