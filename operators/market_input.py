"""Market-side inputs: ticks and interest changes, read and routed to the instrument index."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from operators.decode import DecodeLimits, parse_json, rejection_from
from operators.exceptions import RejectedInput
from operators.instruments import Delivery, InstrumentIndex, Interest, routing_keys, step
from schemas.market import MARKET_TICK, FxTick, PriceTick
from schemas.records import DeadLetter, RawRecord, Reason

MarketItem = Interest | FxTick | PriceTick


def parse_market(
    record: RawRecord, *, is_interest: bool, limits: DecodeLimits
) -> MarketItem | DeadLetter:
    """Read a tick (or an interest change published by the twins), or say why not."""
    try:
        document = parse_json(record.value, limits)
        if is_interest:
            return _interest(document)
        try:
            return MARKET_TICK.validate_python(document)
        except ValidationError as exc:
            raise rejection_from(exc, "") from exc
    except RejectedInput as exc:
        return DeadLetter(exc.reason, exc.field, exc.message, record)


def _interest(document: Any) -> Interest:
    if (
        not isinstance(document, dict)
        or set(document) != {"instrument", "holder", "held"}
        or not isinstance(document["held"], bool)
    ):
        msg = "an interest is {instrument, holder, held}"
        raise RejectedInput(Reason.WRONG_TYPE, None, msg)
    return Interest(str(document["instrument"]), str(document["holder"]), document["held"])


def interest_message(interest: Interest) -> tuple[bytes, bytes]:
    """The ``(key, value)`` an interest change is published as, keyed by instrument."""
    value = orjson.dumps(
        {"instrument": interest.instrument, "holder": interest.holder, "held": interest.held}
    )
    return interest.instrument.encode(), value


def routed(pair: tuple[RawRecord, MarketItem]) -> list[tuple[str, tuple[RawRecord, MarketItem]]]:
    """Key an item under each instrument it is routed by (an FX tick goes to both currencies)."""
    return [(key, pair) for key in routing_keys(pair[1])]


def index_step(
    state: InstrumentIndex | None, pair: tuple[RawRecord, MarketItem]
) -> tuple[InstrumentIndex | None, list[tuple[RawRecord, Delivery]]]:
    """The instrument index fold, keeping each delivery's source record for provenance."""
    record, item = pair
    new_state, deliveries = step(state, item)
    return new_state, [(record, delivery) for delivery in deliveries]
