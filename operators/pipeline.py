"""One input through the twin: decode, normalise, fold, project.

This is the work of the stateful step, in the worker that owns the profile key. Everything
an input can be refused for becomes a dead letter; the state then stays exactly as it was, so
an envelope is applied whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from operators import mapping, plaid, yapily
from operators.decode import (
    DecodeLimits,
    decode_envelope,
    parse_json,
    parse_key,
    rejection_from,
    validate_model,
)
from operators.engines import DailyHistory, daily_history
from operators.exceptions import RejectedInput
from operators.instruments import Interest
from operators.observations import Observation
from operators.passport import ExportRequest, apply_passport, start_link
from operators.projection import profile_document
from operators.registry import AcceptedPlatformData, DayClosed, TenantDefaults
from operators.search import SearchRow, search_rows
from operators.tenant_metrics import refresh_metrics
from operators.twin import (
    EventSourceInfo,
    ProfileState,
    apply,
    apply_command,
    apply_day_closed,
    apply_platform_data,
    apply_reenrichment,
    apply_tenant_defaults,
    apply_tick,
    initial_state,
)
from operators.wealth import balance_sheet, interest_changes
from schemas.commands import Command
from schemas.enrichment import EnrichRequest
from schemas.envelopes import ConnectEnvelope, Provider, utc_iso
from schemas.events import Event
from schemas.market import FxTick, PriceTick
from schemas.passport import PassportMessage, ProfileLinked
from schemas.records import DeadLetter, RawRecord, Reason


@dataclass(frozen=True, slots=True)
class ProfileDocument:
    """A new version of a profile's projection, to upsert when its version grows."""

    tenant_id: str
    profile_id: str
    version: int
    source_event_id: str | None
    doc: dict[str, Any]
    history: DailyHistory | None = None
    transactions: tuple[SearchRow, ...] = ()


@dataclass(frozen=True, slots=True)
class TickDelivery:
    """A market tick the instrument index routed to this profile."""

    record: RawRecord
    stream_key: str
    tick: FxTick | PriceTick


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A raw record read from the command topic (its bytes are a ``Command``)."""

    record: RawRecord


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A raw record read from the link topic (its bytes are a ``ProfileLinked``)."""

    record: RawRecord


@dataclass(frozen=True, slots=True)
class EnrichRecord:
    """A raw record read from the re-enrichment topic (its bytes are an ``EnrichRequest``)."""

    record: RawRecord


@dataclass(frozen=True, slots=True)
class PassportRecord:
    """A raw record read from the passport topic (its bytes are a ``PassportMessage``)."""

    record: RawRecord


TwinItem = (
    RawRecord
    | AcceptedPlatformData
    | TenantDefaults
    | DayClosed
    | TickDelivery
    | CommandRecord
    | EnrichRecord
    | LinkRecord
    | PassportRecord
)
Output = Event | DeadLetter | ProfileDocument | Interest | ExportRequest


Normaliser = Callable[[ConnectEnvelope, DecodeLimits], tuple[Observation, ...]]


def _normalise_ofx(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """``operators.ofx.normalise``, imported with the first OFX file.

    ofxtools is a third of a worker's start-up (and of every restart), and many deployments
    never receive an OFX file.
    """
    from operators import ofx  # noqa: PLC0415 - deferred, as said above

    return ofx.normalise(envelope, limits)


#: One normaliser per provider; each owns its vendor's conventions.
NORMALISERS: dict[Provider, Normaliser] = {
    Provider.PLAID: plaid.normalise,
    Provider.YAPILY: yapily.normalise,
    Provider.OFX: _normalise_ofx,
    Provider.CSV: mapping.normalise,
}


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Route an envelope to its provider's normaliser.

    Raises:
        RejectedInput: when no normaliser takes the provider, or the normaliser refuses it.
    """
    normaliser = NORMALISERS.get(envelope.provider)
    if normaliser is None:
        msg = f"provider {envelope.provider.value} is not supported yet"
        raise RejectedInput(Reason.UNSUPPORTED_KIND, "provider", msg)
    return normaliser(envelope, limits)


def _apply_envelope(
    state: ProfileState, record: RawRecord, origin: EventSourceInfo, limits: DecodeLimits
) -> tuple[ProfileState, list[Event]]:
    envelope = decode_envelope(record, limits)
    events: list[Event] = []
    for observation in normalise(envelope, limits):
        state, caused = apply(state, observation, origin)
        events.extend(caused)
    return state, events


def decode_command(record: RawRecord, limits: DecodeLimits) -> dict[str, Any]:
    """Validate a command's bytes and that it names the profile of its key.

    Raises:
        RejectedInput: for malformed commands or a key mismatch.
    """
    tenant_id, profile_id = parse_key(record.key)
    command = validate_model(Command, parse_json(record.value, limits), prefix="")
    if (command.tenant_id, command.profile_id) != (tenant_id, profile_id):
        msg = (
            f"command names {command.tenant_id}:{command.profile_id}, key {tenant_id}:{profile_id}"
        )
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    doc = command.model_dump(mode="json")
    doc["issued_at"] = utc_iso(command.issued_at)
    return doc


def decode_enrich_request(record: RawRecord, limits: DecodeLimits) -> EnrichRequest:
    """Validate a re-enrichment request and that it names the profile of its key.

    Raises:
        RejectedInput: for a malformed request or a key mismatch.
    """
    tenant_id, profile_id = parse_key(record.key)
    parse_json(record.value, limits)  # size, encoding, duplicate keys and numbers screened
    try:
        # FOS models are strict: their enums and dates are read in JSON mode, from the bytes.
        request = EnrichRequest.model_validate_json(record.value or b"")
    except ValidationError as exc:
        raise rejection_from(exc, "") from exc
    if (request.tenant_id, request.profile_id) != (tenant_id, profile_id):
        msg = (
            f"request names {request.tenant_id}:{request.profile_id}, key {tenant_id}:{profile_id}"
        )
        raise RejectedInput(Reason.TENANT_MISMATCH, "tenant_id", msg)
    return request


def _sheet(state: ProfileState) -> dict[str, Any] | None:
    sheet = balance_sheet(state)
    return None if sheet is None else sheet.as_dict()


def process(
    state: ProfileState | None,
    stream_key: str,
    item: TwinItem,
    limits: DecodeLimits,
    *,
    project: bool = True,
) -> tuple[ProfileState, list[Output]]:
    """Apply one raw record to the twin of ``stream_key``; return the state and the outputs.

    The outputs are the events caused (in stream order), the interest changes, and (unless
    ``project`` is false: a caller applying a batch projects once at its end) the new
    projection; or a single dead letter.
    """
    current = state if state is not None else initial_state(stream_key)
    if current.lock is not None and not isinstance(item, PassportRecord):
        # A merge is running: the input waits, in order, and runs when the twin unlocks.
        return replace(current, held=(*current.held, item)), []
    record = item if isinstance(item, RawRecord) else item.record
    origin = EventSourceInfo(record.topic, record.partition, record.offset)
    try:
        released = False
        if isinstance(item, LinkRecord | PassportRecord):
            new_state, events, extra, released = _apply_passport_item(current, item, origin, limits)
        else:
            new_state, events = _apply_item(current, item, origin, limits)
            extra = []
        if events:
            new_state, readings = refresh_metrics(new_state, origin)
            events += readings
        if released:
            return _release(new_state, stream_key, events, limits, project=project)
    except RejectedInput as exc:
        letter = DeadLetter(
            exc.reason, exc.field, exc.message, record, current.tenant_id or None, exc.problems
        )
        return current, [letter]
    outputs: list[Output] = [*events, *extra]
    if events:
        outputs += interest_changes(current, new_state)
        if project:
            outputs.append(projection(new_state, events))
    return new_state, outputs


def _apply_item(
    state: ProfileState,
    item: RawRecord
    | AcceptedPlatformData
    | TenantDefaults
    | DayClosed
    | TickDelivery
    | CommandRecord
    | EnrichRecord,
    origin: EventSourceInfo,
    limits: DecodeLimits,
) -> tuple[ProfileState, list[Event]]:
    if isinstance(item, AcceptedPlatformData):
        return apply_platform_data(state, item.data, item.metric, origin)
    if isinstance(item, TenantDefaults):
        return apply_tenant_defaults(
            state,
            item.base_currency,
            item.rules,
            item.metrics,
            origin,
            offsets=(item.base_currency_offset, item.rules_offset),
        )
    if isinstance(item, CommandRecord | EnrichRecord):
        return _apply_request(state, item, origin, limits)
    if isinstance(item, DayClosed):
        return apply_day_closed(state, item.day, origin)
    if isinstance(item, TickDelivery):
        return apply_tick(state, item.tick, origin, _sheet)
    return _apply_envelope(state, item, origin, limits)


def _apply_request(
    state: ProfileState,
    item: CommandRecord | EnrichRecord,
    origin: EventSourceInfo,
    limits: DecodeLimits,
) -> tuple[ProfileState, list[Event]]:
    """A command, or a request to enrich stored transactions again."""
    if isinstance(item, CommandRecord):
        return apply_command(state, decode_command(item.record, limits), origin)
    request = decode_enrich_request(item.record, limits)
    source = origin.source("enrichment", request.request_id)
    return apply_reenrichment(state, request.documents(), source)


def _apply_passport_item(
    state: ProfileState,
    item: LinkRecord | PassportRecord,
    origin: EventSourceInfo,
    limits: DecodeLimits,
) -> tuple[ProfileState, list[Event], list[Output], bool]:
    """A link (at the source) or a merge step; the flag says the twin just unlocked."""
    document = parse_json(item.record.value, limits)
    if isinstance(item, LinkRecord):
        link = validate_model(ProfileLinked, document, prefix="")
        new_state, events, request = start_link(state, link, origin)
        return new_state, events, [request] if request is not None else [], False
    message = validate_model(PassportMessage, document, prefix="")
    new_state, events, released = apply_passport(state, message, origin)
    return new_state, events, [], released


def _release(
    state: ProfileState,
    stream_key: str,
    events: list[Event],
    limits: DecodeLimits,
    *,
    project: bool,
) -> tuple[ProfileState, list[Output]]:
    """Unlocked: apply the inputs that waited, in the order they arrived."""
    held, state = state.held, replace(state, held=())
    outputs: list[Output] = list(events)
    for item in held:
        state, produced = process(state, stream_key, item, limits, project=False)
        outputs += produced
    all_events = [output for output in outputs if isinstance(output, Event)]
    if project:
        outputs.append(projection(state, all_events))
    return state, outputs


def projection(state: ProfileState, events: Iterable[Event] = ()) -> ProfileDocument:
    """The profile's projection and daily history at its current version.

    ``events`` are those applied since the previous projection: the transactions they
    touched are rewritten in the search projection.
    """
    return ProfileDocument(
        tenant_id=state.tenant_id,
        profile_id=state.profile_id,
        version=state.version,
        source_event_id=state.last_event_id,
        doc=profile_document(state),
        history=daily_history(state),
        transactions=search_rows(state, events),
    )
