"""Tests for the instrument index: ticks go to holders only, and late holders catch up."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.instruments import (
    Delivery,
    InstrumentIndex,
    Interest,
    holding_interests,
    index_holding,
    route_tick,
    routing_keys,
    step,
)
from operators.valuation import RateBook, price_at, rate_at, with_tick
from schemas.market import MARKET_TICK, FxTick, PriceTick

ALICE = "t1:alice"
BOB = "t1:bob"
FAR_FUTURE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def price(value: str, *, day: int = 1, security_id: str = "sec_aapl") -> PriceTick:
    tick = MARKET_TICK.validate_python(
        {
            "type": "PRICE",
            "security_id": security_id,
            "quote_symbol": "AAPL",
            "price": value,
            "currency": "USD",
            "as_of": f"2026-10-{day:02d}T15:00:00Z",
            "source": "iex",
        }
    )
    assert isinstance(tick, PriceTick)
    return tick


def fx(base: str, quote: str, rate: str, *, day: int = 1) -> FxTick:
    tick = MARKET_TICK.validate_python(
        {
            "type": "FX",
            "base": base,
            "quote": quote,
            "rate": rate,
            "as_of": f"2026-10-{day:02d}T00:00:00Z",
            "source": "ecb",
        }
    )
    assert isinstance(tick, FxTick)
    return tick


class Network:
    """Runs the index fold per routing key and each holder's rate book, as the flow would."""

    def __init__(self) -> None:
        self.index: dict[str, InstrumentIndex | None] = {}
        self.books: dict[str, RateBook] = {}
        self.received: dict[str, list[FxTick | PriceTick]] = {}

    def send(self, item: Interest | FxTick | PriceTick) -> None:
        for key in routing_keys(item):
            self.index[key], deliveries = step(self.index.get(key), item)
            for holder, tick in deliveries:
                self.received.setdefault(holder, []).append(tick)
                self.books[holder] = with_tick(self.books.get(holder, RateBook()), tick)


def test_a_tick_goes_only_to_holders_of_the_instrument() -> None:
    state, _ = index_holding(InstrumentIndex(), ALICE, True)
    state, holders = route_tick(state, price("176.19"))
    assert holders == [ALICE]
    other, holders = route_tick(InstrumentIndex(), price("10", security_id="sec_msft"))
    assert holders == []
    assert other.holders == frozenset()


def test_a_tick_before_the_holding_is_replayed_to_the_late_holder() -> None:
    tick = price("176.19")
    state, holders = route_tick(InstrumentIndex(), tick)
    assert holders == []
    state, buffered = index_holding(state, ALICE, True)
    assert buffered == [tick]
    # Joining again replays nothing: the holder already has everything since it joined.
    again, buffered = index_holding(state, ALICE, True)
    assert (again, buffered) == (state, [])


def test_only_the_newest_tick_is_buffered_but_every_tick_is_routed() -> None:
    newer, older = price("180", day=3), price("170", day=2)
    state, _ = route_tick(InstrumentIndex(), newer)
    state, holders = index_holding(state, BOB, True)
    state, holders_of_older = route_tick(state, older)
    assert holders_of_older == [BOB]
    assert list(state.latest.values()) == [newer]
    _, buffered = index_holding(state, ALICE, True)
    assert buffered == [newer]


def test_a_holder_who_sells_stops_receiving() -> None:
    state, _ = index_holding(InstrumentIndex(), ALICE, True)
    state, _ = index_holding(state, BOB, True)
    state, _ = index_holding(state, ALICE, False)
    _, holders = route_tick(state, price("1"))
    assert holders == [BOB]


def test_fx_ticks_are_routed_by_either_currency_of_the_pair() -> None:
    tick = fx("USD", "GBP", "0.80")
    assert routing_keys(tick) == ("CCY:USD", "CCY:GBP")
    net = Network()
    net.send(Interest("CCY:GBP", ALICE, True))
    net.send(Interest("CCY:JPY", BOB, True))
    net.send(tick)
    assert net.received == {ALICE: [tick]}


def test_price_ticks_are_routed_by_security_id_and_symbol() -> None:
    assert routing_keys(price("1")) == ("SEC:sec_aapl", "SYM:AAPL")
    assert routing_keys(Interest("SYM:AAPL", ALICE, True)) == ("SYM:AAPL",)


def test_holding_interests_name_the_security_symbol_and_currencies() -> None:
    doc = {"security_id": "sec_vod", "quote_symbol": "VOD", "currency": "GBP"}
    assert holding_interests(ALICE, {**doc, "quote_currency": "GBP"}, True) == [
        Interest("SEC:sec_vod", ALICE, True),
        Interest("SYM:VOD", ALICE, True),
        Interest("CCY:GBP", ALICE, True),
    ]
    no_symbol = {**doc, "quote_symbol": None, "quote_currency": "USD"}
    assert [i.instrument for i in holding_interests(BOB, no_symbol, False)] == [
        "SEC:sec_vod",
        "CCY:GBP",
        "CCY:USD",
    ]


def test_the_fold_creates_state_lazily_and_drops_it_when_empty() -> None:
    assert step(None, Interest("SEC:x", ALICE, False)) == (None, [])
    state, deliveries = step(None, Interest("SEC:x", ALICE, True))
    assert deliveries == []
    assert state == InstrumentIndex(holders=frozenset({ALICE}))
    tick = price("1", security_id="x")
    state, deliveries = step(state, tick)
    assert deliveries == [Delivery(ALICE, tick)]
    # A key that has seen a tick keeps it for future holders, even with no holder now.
    state, _ = step(state, Interest("SEC:x", ALICE, False))
    assert state is not None
    assert state.holders == frozenset()
    _, deliveries = step(state, Interest("SEC:x", BOB, True))
    assert deliveries == [Delivery(BOB, tick)]


def test_a_late_holder_can_value_with_the_replayed_ticks() -> None:
    net = Network()
    net.send(fx("USD", "GBP", "0.80"))
    net.send(price("176.19"))
    for interest in holding_interests(
        ALICE, {"security_id": "sec_aapl", "quote_symbol": "AAPL", "currency": "USD"}, True
    ):
        net.send(interest)
    net.send(Interest("CCY:GBP", ALICE, True))
    book = net.books[ALICE]
    quote = price_at(book, security_id="sec_aapl", quote_symbol="AAPL", at=FAR_FUTURE)
    assert quote is not None
    assert quote.price == "176.19"
    rate = rate_at(book, "USD", "GBP", FAR_FUTURE)
    assert rate is not None
    assert rate.rate == "0.8"
    assert BOB not in net.received


TICKS = [price(f"{100 + day}", day=day) for day in range(1, 6)] + [
    fx("USD", "GBP", f"0.{70 + day}", day=day) for day in range(1, 4)
]


@settings(max_examples=150, deadline=None)
@given(order=st.permutations(TICKS), join_at=st.integers(min_value=0, max_value=len(TICKS)))
def test_a_holder_ends_with_the_newest_ticks_whenever_it_joins(
    order: list[FxTick | PriceTick], join_at: int
) -> None:
    net = Network()
    for tick in order[:join_at]:
        net.send(tick)
    net.send(Interest("SEC:sec_aapl", ALICE, True))
    net.send(Interest("CCY:USD", ALICE, True))
    for tick in order[join_at:]:
        net.send(tick)
    book = net.books.get(ALICE, RateBook())
    quote = price_at(book, security_id="sec_aapl", quote_symbol="AAPL", at=FAR_FUTURE)
    assert quote is not None
    assert quote.price == "105"
    rate = rate_at(book, "USD", "GBP", FAR_FUTURE)
    assert rate is not None
    assert rate.rate == "0.73"
    # Nothing reached a profile that holds nothing.
    assert set(net.received) == {ALICE}
