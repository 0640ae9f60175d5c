"""The instrument index: send each market tick only to the profiles that hold the instrument.

The dataflow keys this fold by instrument. Two kinds of item arrive under a key:

* an ``Interest``: profile ``holder`` ("tenant:profile") starts or stops holding the
  instrument. Holdings register under ``"SEC:<security_id>"`` and ``"SYM:<quote_symbol>"``;
  currencies under ``"CCY:<code>"`` (every currency of a holding, an account or a price, and
  the profile's base currency, which cross and inverse rates need too).
  ``holding_interests`` lists them for a holding.
* a tick, sent under each of ``routing_keys(tick)``: a price under its security id and its
  quote symbol, an FX rate under ``"CCY:<base>"`` and ``"CCY:<quote>"``.

A tick reaches every current holder. The newest tick of each instrument is kept, so a
profile that starts holding after the tick arrived still receives it (``index_holding``
returns it). A profile interested in two keys a tick goes to receives it twice;
``operators.valuation.with_tick`` ignores a tick it already holds, so that is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from schemas.market import FxTick, PriceTick, instrument_key, instrument_keys, tick_order


class Interest(NamedTuple):
    """Profile ``holder`` holds (``held``) or no longer holds the instrument ``instrument``."""

    instrument: str
    holder: str
    held: bool


class Delivery(NamedTuple):
    """A tick to apply to one profile's rate book; the flow keys it by ``holder``."""

    holder: str
    tick: FxTick | PriceTick


@dataclass(frozen=True, slots=True)
class InstrumentIndex:
    """Who holds one routing key, and the newest tick of each instrument seen under it.

    ``latest`` maps ``instrument_key(tick)`` to the greatest tick in ``tick_order``, so
    ``CCY:USD`` keeps one tick per currency pair that involves USD.
    """

    holders: frozenset[str] = frozenset()
    latest: Mapping[str, FxTick | PriceTick] = field(default_factory=dict)


def routing_keys(item: Interest | FxTick | PriceTick) -> tuple[str, ...]:
    """Return the keys an item is sent under (a tick may go to several)."""
    if isinstance(item, Interest):
        return (item.instrument,)
    if isinstance(item, FxTick):
        return (f"CCY:{item.base}", f"CCY:{item.quote}")
    return instrument_keys(item)


def holding_interests(holder: str, holding: Mapping[str, Any], held: bool) -> list[Interest]:
    """Return the interests of a FOS holding document: its security, symbol and currencies."""
    keys = [f"SEC:{holding['security_id']}"]
    if holding.get("quote_symbol"):
        keys.append(f"SYM:{holding['quote_symbol']}")
    currencies: set[str] = {
        code for code in (holding.get("currency"), holding.get("quote_currency")) if code
    }
    keys.extend(f"CCY:{currency}" for currency in sorted(currencies))
    return [Interest(key, holder, held) for key in keys]


def index_holding(
    state: InstrumentIndex, holder: str, held: bool
) -> tuple[InstrumentIndex, list[FxTick | PriceTick]]:
    """Add or remove a holder; a new holder gets the buffered newest tick(s) to apply.

    A holder already present gets nothing again: it received every tick since it joined.
    """
    if not held:
        return replace(state, holders=state.holders - {holder}), []
    if holder in state.holders:
        return state, []
    buffered = sorted(
        state.latest.values(), key=lambda tick: (instrument_key(tick), *tick_order(tick))
    )
    return replace(state, holders=state.holders | {holder}), buffered


def route_tick(
    state: InstrumentIndex, tick: FxTick | PriceTick
) -> tuple[InstrumentIndex, list[str]]:
    """Return the holders a tick goes to, and the state with the tick buffered if newest.

    Every tick goes to the holders, older ones too: a valuation at an earlier time needs
    them, and the rate book orders ticks by ``as_of`` itself.
    """
    key = instrument_key(tick)
    held = state.latest.get(key)
    if held is None or tick_order(tick) > tick_order(held):
        state = replace(state, latest={**state.latest, key: tick})
    return state, sorted(state.holders)


def step(
    state: InstrumentIndex | None, item: Interest | FxTick | PriceTick
) -> tuple[InstrumentIndex | None, list[Delivery]]:
    """Fold one item into a routing key's index: ``(state, item) -> (state, deliveries)``.

    Returns None as the state while the key has neither holders nor ticks, so an interest
    withdrawn before anything arrived leaves nothing behind.
    """
    current = state if state is not None else InstrumentIndex()
    if isinstance(item, Interest):
        current, ticks = index_holding(current, item.holder, item.held)
        deliveries = [Delivery(item.holder, tick) for tick in ticks]
    else:
        current, holders = route_tick(current, item)
        deliveries = [Delivery(holder, item) for holder in holders]
    if not current.holders and not current.latest:
        return None, deliveries
    return current, deliveries
