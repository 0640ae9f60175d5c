"""Recurring inflows and outflows detected in a profile's transactions.

``detect_streams`` is pure: what it knows arrives as arguments, and "now" is the latest date in
the input unless the caller passes ``as_of``. The same points in any order give the same
streams, because everything is sorted by its natural key before any choice is made.

How a stream is found. Posted transactions are grouped by account, currency, direction and
merchant. Within a group every transaction proposes the schedules it could belong to: a
weekday phase for weekly and fortnightly streams, a day of the month (and a month phase for
quarterly and annual ones), or a pair of days for semi-monthly ones. Each schedule is a grid
of nominal dates, and a chain grows from the proposer along its grid: every slot takes the
transaction nearest the amount the chain follows that lands within a few days of the slot's
date (weekend, holiday and month-end shifts). Growth stops at the second empty slot in a row,
so one missed payment never breaks a stream, or once the chain's running evidence has fallen
well below its peak, where it is threading through noise.

How a chain is judged. Its evidence is a log-likelihood ratio: how much likelier the chain is
if the merchant bills on that schedule than if look-alike transactions (same merchant, similar
amount) fell on those days by chance, at the rate they occur over the whole history. Punctual
dates, few misses and amounts that move little raise it; look-alikes all around lower it. A
chain of coffees or groceries that happens to fit a weekly grid scores low, because such
transactions are everywhere and their dates wander. A chain needs enough occurrences, three
slots in four filled, and evidence above a bar that rises with the size of its group. An annual
stream seen only twice has too few dates to score and is judged by explicit rules. Chains are
accepted greedily, strongest first, and their transactions leave the group before the next
search, so several streams at one merchant are found one after the other.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from schemas.canonical import derived_id
from schemas.recurring import (
    RecurringDirection,
    RecurringFrequency,
    RecurringStatus,
    RecurringStream,
    RecurringStreamType,
)

Frequency = RecurringFrequency


@dataclass(frozen=True, slots=True)
class TxPoint:
    """One transaction as the detector sees it.

    Attributes:
        transaction_id: The FOS transaction id; it becomes the stream's evidence.
        account_id: Streams never span accounts.
        day: The date the transaction is booked on.
        amount_minor: Minor units in the FOS sign: negative when money leaves the user.
        currency: ISO 4217 code; streams never span currencies.
        merchant_key: A normalised counterparty name; may be empty.
        status_pending: Pending transactions are ignored: they may still change or vanish,
            and a posted copy usually follows under another id.
        category: The FOS category path enrichment gave it; decides what kind of habit a
            stream is where it says (rent is a bill, a streaming service a subscription).
        merchant_name: The clean merchant name, which names the stream.
    """

    transaction_id: str
    account_id: str
    day: dt.date
    amount_minor: int
    currency: str
    merchant_key: str
    status_pending: bool
    category: tuple[str, ...] = ()
    merchant_name: str = ""


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one frequency is searched for and judged.

    Attributes:
        tolerance_days: How far from its nominal date an occurrence may land.
        min_occurrences: Fewer occurrences than this are not called a stream.
        mature_occurrences: From this many occurrences on, a live stream is MATURE.
        grace_days: How long past its next date a stream stays alive: one missed payment,
            but never more than a quarter.
        min_evidence: The evidence (natural log of the likelihood ratio) a chain needs on top
            of the log of its group's size: every transaction of a group proposes schedules,
            so a bigger group offers more chances to fit one by luck. Finer schedules need
            more: a group offers them many more anchors.
        shortest_days: The shortest gap between two nominal dates.
        longest_days: The longest gap between two nominal dates.
    """

    tolerance_days: int
    min_occurrences: int
    mature_occurrences: int
    grace_days: int
    min_evidence: float
    shortest_days: int
    longest_days: int


RULES: Final[dict[Frequency, _Rule]] = {
    Frequency.WEEKLY: _Rule(2, 4, 6, 9, 10.0, 7, 7),
    Frequency.BIWEEKLY: _Rule(3, 4, 5, 17, 10.0, 14, 14),
    Frequency.SEMI_MONTHLY: _Rule(4, 4, 5, 19, 10.0, 12, 19),
    Frequency.MONTHLY: _Rule(5, 3, 4, 36, 4.0, 28, 31),
    Frequency.QUARTERLY: _Rule(7, 3, 3, 90, 3.5, 89, 92),
    Frequency.ANNUALLY: _Rule(10, 2, 3, 90, 4.0, 365, 366),
}

# Frequencies in the order ties are broken: the finer schedule first.
_FREQUENCY_ORDER: Final = tuple(RULES)

# A slot accepts an amount this far (percent of the larger) from the amount the chain looks
# for: wide enough for a utility bill that swings by a third either way from month to month,
# narrow enough to keep a 0.99 and a 2.99 subscription at one merchant apart.
AMOUNT_TOLERANCE_PERCENT: Final = 45

# Consecutive amounts within this (percent) of each other are the same price, give or take a
# yearly rise; a chain whose every amount is the same price as a neighbour's is fixed.
STEADY_PERCENT: Final = 5

# Margins (percent) around a chain's range of amounts when counting look-alikes: a fixed
# chain's look-alikes are its own prices, a variable chain's anything near its range.
SAME_PRICE_PERCENT: Final = 2
VARIABLE_MARGIN_PERCENT: Final = 25

# The stream model behind the evidence: how often a real stream skips a slot, and how its
# occurrences spread around their nominal dates (on the day, a weekend or holiday away, or
# further). The rest of the chance mass is spread evenly over the days of each band.
STREAM_MISS: Final = 0.1
ON_TIME: Final = 0.55
NEAR: Final = 0.40
NEAR_DAYS: Final = 3

# A chain stops growing once its running evidence falls GIVE_UP_NATS below its peak, and
# loses the hits at its end that left it more than TRIM_NATS below.
GIVE_UP_NATS: Final = 3.0
TRIM_NATS: Final = 1.0

# Log-likelihood ratios of one change of a chain's amount, by its size (percent of the larger
# amount, up to and including the limit): a real bill's amount mostly moves a little, while
# look-alikes picked by chance jump anywhere within AMOUNT_TOLERANCE_PERCENT. Small moves
# earn nothing, so that an intruder cannot buy a fixed chain credit by making it variable.
AMOUNT_CHANGE_SCORES: Final = ((15, 0.0), (30, -0.5), (45, -1.0), (100, -2.0))

# Look-alikes assumed at every merchant, so that a merchant seen only in the stream is still
# not taken to be noiseless.
PSEUDO_LOOK_ALIKES: Final = 0.5

# A two-occurrence stream (only annual ones may have two) has too few dates to score; see
# _acceptable_pair for how these bounds combine.
PAIR_DEVIATION_DAYS: Final = 4
PAIR_PRICE_LOOK_ALIKES: Final = 1
PAIR_RENEWAL_DEVIATION_DAYS: Final = 1
PAIR_SIMILAR_PERCENT: Final = 10
PAIR_QUIET_NEIGHBOURS: Final = 3
PAIR_KNOWN_MERCHANT_NEIGHBOURS: Final = 6
SET_PRICE_REPEATS: Final = 0.5


class _Point(NamedTuple):
    """A posted transaction inside a group: date ordinal, amount magnitude and id."""

    ordinal: int
    magnitude: int
    transaction_id: str
    amount_minor: int


class _Grid(NamedTuple):
    """A schedule: the frequency and its anchor.

    Day grids (weekly, biweekly) use ``phase`` as the ordinal modulo the period. Month grids
    use ``phase`` as the month index modulo the step and ``day`` as the day of the month (31
    means the last day). Semi-monthly grids use ``phase`` and ``day`` as the two days.
    """

    frequency: Frequency
    phase: int
    day: int


class _Hit(NamedTuple):
    """A grid slot and the transaction that filled it."""

    slot: int
    nominal: int
    point: _Point


class _Candidate(NamedTuple):
    """A chain of filled slots (a possible stream) and its evidence in nats."""

    grid: _Grid
    hits: tuple[_Hit, ...]
    evidence: float


@dataclass(frozen=True, slots=True)
class _Group:
    """The transactions of one group still unclaimed, indexed for the search.

    Attributes:
        points: Sorted by date, then amount, then id.
        ordinals: The points' date ordinals, for bisecting by date.
        magnitudes: The points' amount magnitudes, sorted, for counting by amount.
        history_days: Days the whole input covers: the base of every background rate.
        has_streams: Whether streams were already accepted in this group.
    """

    points: tuple[_Point, ...]
    ordinals: tuple[int, ...]
    magnitudes: tuple[int, ...]
    history_days: int
    has_streams: bool = False

    @classmethod
    def of(
        cls, points: Iterable[_Point], history_days: int, *, has_streams: bool = False
    ) -> _Group:
        """Index points for the search."""
        ordered = tuple(sorted(points))
        return cls(
            ordered,
            tuple(p.ordinal for p in ordered),
            tuple(sorted(p.magnitude for p in ordered)),
            history_days,
            has_streams,
        )

    def without(self, taken: set[_Point]) -> _Group:
        """Return the group minus the transactions an accepted stream claimed."""
        remaining = (p for p in self.points if p not in taken)
        return _Group.of(remaining, self.history_days, has_streams=True)

    def count_between(self, low: int, high: int) -> int:
        """Count transactions whose amount magnitude lies in ``[low, high]``."""
        return bisect.bisect_right(self.magnitudes, high) - bisect.bisect_left(self.magnitudes, low)


# --- Schedules --------------------------------------------------------------------------------

_DAY_STEPS: Final = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14}
_MONTH_STEPS: Final = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.ANNUALLY: 12}
_LAST_DAY: Final = 31
_SEMI_MONTHLY_GAP_DAYS: Final = range(12, 19)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _price_bucket(magnitude: int) -> int:
    """Return a bucket of amounts about 5% wide."""
    return round(math.log(magnitude) * 20)


@functools.lru_cache(maxsize=1 << 12)
def _month_day_ordinal(month_index: int, day: int) -> int:
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day, last)).toordinal()


def _nominal(grid: _Grid, slot: int) -> int:
    """Return the ordinal of a slot's nominal date."""
    frequency = grid.frequency
    if frequency in _DAY_STEPS:
        return slot * _DAY_STEPS[frequency] + grid.phase
    if frequency is Frequency.SEMI_MONTHLY:
        month, half = divmod(slot, 2)
        return _month_day_ordinal(month, grid.day if half else grid.phase)
    return _month_day_ordinal(slot * _MONTH_STEPS[frequency] + grid.phase, grid.day)


def _day_of_month_anchors(day: dt.date) -> tuple[int, ...]:
    """Days of the month a date may stand for: itself and, on a month's last day, "last"."""
    last = calendar.monthrange(day.year, day.month)[1]
    return (day.day, _LAST_DAY) if day.day == last and last != _LAST_DAY else (day.day,)


def _grids_from(
    group: _Group, index: int, rates: tuple[float, float]
) -> Iterator[tuple[_Grid, int]]:
    """Yield the schedules the transaction at ``index`` proposes, each with its slot in it.

    ``rates`` are the daily rates of the group's transactions at the proposer's price and
    near its amount (see ``_look_alike_rates``).
    """
    point = group.points[index]
    day = dt.date.fromordinal(point.ordinal)
    for frequency, step in _DAY_STEPS.items():
        if _could_repeat(group, point.ordinal, frequency, rates[0]):
            yield _Grid(frequency, point.ordinal % step, 0), point.ordinal // step
    month = _month_index(day)
    for frequency, step in _MONTH_STEPS.items():
        if _could_repeat(group, point.ordinal, frequency, rates[0]):
            for anchor in _day_of_month_anchors(day):
                yield _Grid(frequency, month % step, anchor), month // step
    if _could_repeat(group, point.ordinal, Frequency.SEMI_MONTHLY, rates[0]):
        partner = _semi_monthly_partner(group, index)
        if partner is not None:
            yield from _semi_monthly_grids(day, dt.date.fromordinal(partner.ordinal))


def _semi_monthly_partner(group: _Group, index: int) -> _Point | None:
    """Return the transaction a half month later whose amount is nearest, if any is similar.

    A semi-monthly payment's partner is the next payment of the same stream: the same amount
    (or nearly), 12 to 18 days on.
    """
    point = group.points[index]
    ordinals = group.ordinals
    low = bisect.bisect_left(ordinals, point.ordinal + _SEMI_MONTHLY_GAP_DAYS[0])
    high = bisect.bisect_right(ordinals, point.ordinal + _SEMI_MONTHLY_GAP_DAYS[-1], low)
    similar = [p for p in group.points[low:high] if _similar(p.magnitude, point.magnitude)]
    if not similar:
        return None
    return min(similar, key=lambda p: (abs(p.magnitude - point.magnitude), p))


def _could_repeat(group: _Group, ordinal: int, frequency: Frequency, price_rate: float) -> bool:
    """Whether a schedule from this transaction could stand out in its group.

    The group needs enough transactions, one of them a period or two away. And transactions
    of the proposer's very price must not crowd every slot window (a commuter's fares, a
    daily coffee at one price): no schedule can stand out from those.
    """
    rule = RULES[frequency]
    if len(group.points) < rule.min_occurrences:
        return False
    if price_rate * (2 * rule.tolerance_days + 1) >= 1:
        return False
    near = rule.shortest_days - rule.tolerance_days
    far = 2 * rule.longest_days + rule.tolerance_days
    ordinals = group.ordinals
    after = bisect.bisect_left(ordinals, ordinal + near)
    if after < len(ordinals) and ordinals[after] <= ordinal + far:
        return True
    before = bisect.bisect_right(ordinals, ordinal - near) - 1
    return before >= 0 and ordinals[before] >= ordinal - far


def _semi_monthly_grids(first: dt.date, second: dt.date) -> Iterator[tuple[_Grid, int]]:
    """Yield the semi-monthly schedules two dates a fortnight apart propose.

    Each comes with the slot of the first date.
    """
    month = _month_index(first)
    for a in _day_of_month_anchors(first):
        for b in _day_of_month_anchors(second):
            low, high = sorted((a, b))
            if 13 <= high - low <= 17:
                yield _Grid(Frequency.SEMI_MONTHLY, low, high), month * 2 + (a == high)


def _similar(magnitude: int, reference: int) -> bool:
    """Whether two amounts differ by at most the tolerance, relative to the larger one."""
    return abs(magnitude - reference) * 100 <= AMOUNT_TOLERANCE_PERCENT * max(magnitude, reference)


# --- Chains -----------------------------------------------------------------------------------


def _best_in_slot(
    group: _Group, window: tuple[int, int], refs: tuple[int, int], percent: int
) -> _Point | None:
    """Return the transaction that fills a slot best, if any lands in its window.

    ``window`` is the slot's nominal date ordinal and its tolerance in days. ``refs`` are the
    amount the chain looks for and, as a fallback, its last amount: candidates are within
    ``percent`` of either. The best fit is the amount nearest the first ref (relatively),
    then the date nearest the nominal one; the transaction id breaks the remaining ties so
    that input order never matters.
    """
    nominal, tolerance = window
    ordinals = group.ordinals
    low = bisect.bisect_left(ordinals, nominal - tolerance)
    high = bisect.bisect_right(ordinals, nominal + tolerance, low)
    if low == high:
        return None
    target, last = refs
    limit = percent * 100
    best: tuple[int, int, str] | None = None
    chosen: _Point | None = None
    points = group.points
    for index in range(low, high):
        point = points[index]
        # Relative distances in basis points, relative to the larger amount so that a bill may
        # swing up as far as down.
        magnitude = point.magnitude
        if magnitude > target:
            distance = (magnitude - target) * 10_000 // magnitude
        else:
            distance = (target - magnitude) * 10_000 // target
        if distance > limit and abs(magnitude - last) * 10_000 // max(magnitude, last) > limit:
            continue
        key = (distance, abs(point.ordinal - nominal), point.transaction_id)
        if best is None or key < best:
            best, chosen = key, point
    return chosen


def _grow(
    group: _Group, grid: _Grid, seed: tuple[int, int], rates: tuple[float, float]
) -> list[_Hit]:
    """Grow a chain from a proposer's slot and amount (``seed``): forwards, then backwards.

    ``rates`` are the daily rates of the group's transactions at about the proposer's price
    and near its amount (see ``_look_alike_rates``): they price the look-alikes the chain
    meets. Where transactions near its amount crowd every slot window, a stream whose amount
    varies could not stand out from them, so only the exact price is followed.
    """
    slot, ref = seed
    window = 2 * RULES[grid.frequency].tolerance_days + 1
    percent = AMOUNT_TOLERANCE_PERCENT if rates[1] * window < 1 else STEADY_PERCENT
    costs = (math.log(rates[0]), math.log(rates[1]))
    forward = _grow_one_way(group, grid, (slot, 1, percent), ref, costs)
    if len(forward) < 2:
        # A proposer that starts no chain forwards is either a stream's last payment, which
        # its predecessors propose, or noise.
        return forward
    backward = _grow_one_way(group, grid, (slot - 1, -1, percent), ref, costs)
    if not backward:
        return forward
    taken = {h.point for h in forward}
    return sorted(forward + [h for h in backward if h.point not in taken])


def _look_alike_rates(group: _Group, ref: int) -> tuple[float, float]:
    """Return the daily rates of transactions at about ``ref``'s price and near its amount."""
    tight = ref * STEADY_PERCENT // 100
    near = group.count_between(*_near_amounts(ref, ref))
    return (
        (group.count_between(ref - tight, ref + tight) + PSEUDO_LOOK_ALIKES) / group.history_days,
        (near + PSEUDO_LOOK_ALIKES) / group.history_days,
    )


def _near_amounts(low: int, high: int) -> tuple[int, int]:
    """Return the amounts within the tolerance of anything between ``low`` and ``high``."""
    keep = 100 - AMOUNT_TOLERANCE_PERCENT
    return low * keep // 100, high * 100 // keep


def _grow_one_way(
    group: _Group, grid: _Grid, start: tuple[int, int, int], ref: int, costs: tuple[float, float]
) -> list[_Hit]:
    """Grow a chain from ``start`` and cut it about where it was strongest.

    ``start`` is the first slot, the step (1 or -1) and the amount tolerance in percent;
    ``costs`` are the logs of the look-alike rates.

    Growth stops at the second empty slot in a row, or once the running evidence has fallen
    GIVE_UP_NATS below its peak: past that the chain is threading through noise. The amount
    each slot looks for follows the chain (the median of its last three amounts), so a bill
    that climbs through the winter is followed, while one intruder cannot pull it off course;
    the last amount alone is also followed, so that a steep climb is not lost.
    """
    slot, step, percent = start
    tolerance = RULES[grid.frequency].tolerance_days
    first, last = group.ordinals[0] - tolerance, group.ordinals[-1] + tolerance
    on_time = _ON_SCHEDULE_LOG[tolerance]
    hits: list[_Hit] = []
    recent, empty, score, peak, kept = [ref], 0, 0.0, 0.0, 0
    while empty < 2 and score >= peak - GIVE_UP_NATS:
        nominal = _nominal(grid, slot)
        if not first <= nominal <= last:
            break
        target = _median_of_few(recent)
        point = _best_in_slot(group, (nominal, tolerance), (target, recent[-1]), percent)
        if point is None:
            empty += 1
            score += _LOG_MISS
            slot += step
            continue
        empty = 0
        hits.append(_Hit(slot, nominal, point))
        slot += step
        magnitude = point.magnitude
        steady = abs(magnitude - target) * 100 <= STEADY_PERCENT * target
        score += on_time[abs(point.ordinal - nominal)] - costs[0 if steady else 1]
        score += _amount_change_score(recent[-1], magnitude)
        recent = [*recent[-2:], magnitude]
        peak = max(peak, score) if kept else score
        if score >= peak - TRIM_NATS:
            kept = len(hits)
    return hits[:kept]


def _settle(group: _Group, grid: _Grid, hits: list[_Hit]) -> list[_Hit]:
    """Refill each slot with the transaction nearest its neighbours' (median) amount.

    A chain grown from an odd transaction (a bonus paid on payday) keeps it in the proposer's
    slot although the slot also holds a payment of the chain's own amount; the neighbours say
    which one belongs.
    """
    tolerance = RULES[grid.frequency].tolerance_days
    settled = list(hits)
    taken = {h.point for h in hits}
    for index, hit in enumerate(hits):
        nearby = hits[max(0, index - 2) : index + 3]
        neighbours = sorted(h.point.magnitude for h in nearby if h is not hit)
        target = neighbours[len(neighbours) // 2]
        window = (hit.nominal, tolerance)
        point = _best_in_slot(group, window, (target, target), AMOUNT_TOLERANCE_PERCENT)
        if point is not None and point != hit.point and point not in taken:
            settled[index] = _Hit(hit.slot, hit.nominal, point)
            taken.add(point)
    return settled


def _median_of_few(values: list[int]) -> int:
    """Return the median (the upper one of two) of one to three values."""
    if len(values) < 3:
        return max(values)
    a, b, c = values
    return max(min(a, b), min(max(a, b), c))


def _steady(magnitudes: Sequence[int], index: int) -> bool:
    """Whether an amount is the same price as a neighbour's in its chain."""
    here = magnitudes[index]
    neighbours = [*magnitudes[max(0, index - 1) : index], *magnitudes[index + 1 : index + 2]]
    return any(abs(here - n) * 100 <= STEADY_PERCENT * max(here, n) for n in neighbours)


def _prune(hits: Sequence[_Hit]) -> list[_Hit]:
    """Drop what look like intruders: noise that filled a slot of a chain of steady amounts.

    An intruder matches neither neighbour's price and sits further from the chain's median
    than the chain's amounts usually do (three median absolute deviations, and at least the
    steady margin). A price change inside the chain is kept, since its new price repeats; a
    bill that swings every month is kept whole, since its deviations are all large.
    """
    magnitudes = [h.point.magnitude for h in hits]
    ordered = sorted(magnitudes)
    median = ordered[len(ordered) // 2]
    deviations = sorted(abs(m - median) for m in magnitudes)
    limit = max(3 * deviations[len(deviations) // 2], median * STEADY_PERCENT // 100)
    return [
        h
        for i, h in enumerate(hits)
        if abs(magnitudes[i] - median) <= limit or _steady(magnitudes, i)
    ]


def _runs(hits: Sequence[_Hit]) -> Iterator[tuple[_Hit, ...]]:
    """Split hits into runs that never skip more than one slot in a row."""
    start = 0
    for index in range(1, len(hits) + 1):
        if index == len(hits) or hits[index].slot - hits[index - 1].slot > 2:
            yield tuple(hits[start:index])
            start = index


def _chains(group: _Group) -> Iterator[tuple[_Grid, tuple[_Hit, ...]]]:
    """Yield the chains the group's transactions propose.

    A transaction does not propose a schedule again once a chain on that schedule has taken
    it, or a transaction of about its amount in the same slot: that chain has been grown.
    """
    grown: set[tuple[_Grid, int, int]] = set()
    for index, point in enumerate(group.points):
        rates = _look_alike_rates(group, point.magnitude)
        bucket = _price_bucket(point.magnitude)
        for grid, slot in _grids_from(group, index, rates):
            if (grid, slot, bucket) in grown:
                continue
            hits = _grow(group, grid, (slot, point.magnitude), rates)
            grown.update((grid, h.slot, _price_bucket(h.point.magnitude)) for h in hits)
            if len(hits) < RULES[grid.frequency].min_occurrences:
                continue
            hits = _settle(group, grid, hits)
            pruned = _prune(hits)
            # Whether an odd amount is an intruder or a price change cannot be told from the
            # chain alone, so both readings compete on their evidence.
            for variant in (hits,) if len(pruned) == len(hits) else (hits, pruned):
                yield from ((grid, run) for run in _runs(variant))


# --- Evidence ---------------------------------------------------------------------------------


def _band(hits: Sequence[_Hit]) -> tuple[int, int]:
    """Return the amounts a look-alike of this chain could have.

    A fixed chain's look-alikes are its own prices give or take a little; a variable chain's
    are anything around its range.
    """
    magnitudes = [h.point.magnitude for h in hits]
    low, high = min(magnitudes), max(magnitudes)
    margin = SAME_PRICE_PERCENT
    if not all(_steady(magnitudes, i) for i in range(len(hits))):
        margin = VARIABLE_MARGIN_PERCENT
    return low - low * margin // 100, high + high * margin // 100


def _on_schedule_chance(deviation_days: int, tolerance_days: int) -> float:
    """Chance that a real stream's occurrence lands this many days from its nominal date."""
    days = abs(deviation_days)
    if days == 0:
        return ON_TIME
    near_days = min(NEAR_DAYS, tolerance_days)
    if days <= near_days:
        return NEAR / (2 * near_days)
    return (1 - ON_TIME - NEAR) / (2 * (tolerance_days - near_days))


# log((1 - STREAM_MISS) * chance) by deviation, for each tolerance in use.
_ON_SCHEDULE_LOG: Final = {
    rule.tolerance_days: [
        math.log((1 - STREAM_MISS) * _on_schedule_chance(days, rule.tolerance_days))
        for days in range(rule.tolerance_days + 1)
    ]
    for rule in RULES.values()
}
_LOG_MISS: Final = math.log(STREAM_MISS)


def _evidence(group: _Group, grid: _Grid, hits: Sequence[_Hit], floor: float = -math.inf) -> float:
    """Return the log-likelihood ratio of "a stream on this grid plus noise" against "noise".

    Both hypotheses are Poisson processes over the chain's span for the merchant's
    transactions in the chain's amount band. Under noise alone they arrive at the rate seen
    over the whole history, the chain's own included: a chain that soaked up the look-alikes
    which happened to sit on its grid cannot thereby make the merchant look quiet. Under the
    stream hypothesis the chain's transactions come from the schedule (on time, a weekend
    away, or skipped) and only the rest from noise. The proposer's own hit proves nothing,
    so the best-scoring hit is left out.

    Look-alikes inside the span can only lower the evidence, so they are not counted when the
    rest already falls below ``floor``.
    """
    tolerance = RULES[grid.frequency].tolerance_days
    low, high = _band(hits)
    in_band = group.count_between(low, high)
    members = sum(1 for h in hits if low <= h.point.magnitude <= high)
    noise_rate = (in_band + PSEUDO_LOOK_ALIKES) / group.history_days
    rest_rate = (in_band - members + PSEUDO_LOOK_ALIKES) / group.history_days
    scores = sorted(
        math.log(
            (1 - STREAM_MISS)
            * _on_schedule_chance(h.point.ordinal - h.nominal, tolerance)
            / noise_rate
        )
        for h in hits
    )
    first, last = hits[0].point.ordinal - tolerance, hits[-1].point.ordinal + tolerance
    misses = hits[-1].slot - hits[0].slot + 1 - len(hits)
    evidence = (
        sum(scores[:-1])
        + misses * math.log(STREAM_MISS)
        + (noise_rate - rest_rate) * (last - first + 1)
        + _amount_evidence(hits)
    )
    if evidence < floor:
        return evidence
    others = _in_band_between(group, first, last, low, high) - members
    return evidence + others * math.log(rest_rate / noise_rate)


def _amount_evidence(hits: Sequence[_Hit]) -> float:
    """Return the log-likelihood ratio of a chain's amount changes, change by change.

    A real bill moves a little from one payment to the next, while look-alikes picked by
    chance jump anywhere a slot accepts.
    """
    magnitudes = [h.point.magnitude for h in hits]
    return sum(_amount_change_score(a, b) for a, b in itertools.pairwise(magnitudes))


def _amount_change_score(before: int, after: int) -> float:
    """Return the log-likelihood ratio of one change of a variable chain's amount."""
    change = abs(after - before) * 100 // max(before, after)
    for limit, score in AMOUNT_CHANGE_SCORES:
        if change <= limit:
            return score
    return AMOUNT_CHANGE_SCORES[-1][1]


def _in_band_between(group: _Group, first: int, last: int, low: int, high: int) -> int:
    """Count transactions dated in ``[first, last]`` with magnitudes in ``[low, high]``."""
    start = bisect.bisect_left(group.ordinals, first)
    end = bisect.bisect_right(group.ordinals, last)
    return sum(1 for p in group.points[start:end] if low <= p.magnitude <= high)


# --- Acceptance -------------------------------------------------------------------------------


def _judge(group: _Group, grid: _Grid, hits: tuple[_Hit, ...]) -> _Candidate | None:
    """Return the chain as a candidate if it passes for a stream rather than a coincidence."""
    rule = RULES[grid.frequency]
    count = len(hits)
    if count < rule.min_occurrences or count * 4 < (hits[-1].slot - hits[0].slot + 1) * 3:
        return None
    if count == 2:
        return (
            _Candidate(grid, hits, _evidence(group, grid, hits))
            if _acceptable_pair(hits, group)
            else None
        )
    threshold = rule.min_evidence + math.log(len(group.points))
    evidence = _evidence(group, grid, hits, threshold)
    return _Candidate(grid, hits, evidence) if evidence >= threshold else None


def _acceptable_pair(hits: tuple[_Hit, ...], group: _Group) -> bool:
    """Judge a stream seen twice: too few dates to score, so judged by rule.

    The same price twice, on the anniversary give or take a weekend or a holiday, is a stream
    unless other transactions at the merchant come close to that price. A changed price (a
    renewal, a bonus) must be closer still to the anniversary, at a merchant with hardly
    anything else (a little more is allowed where the profile already has a stream, as with
    an employer or a broker). Off the anniversary by a working day or two, it must be alone
    at its merchant, or at a merchant with a stream have nothing else of about its amount.
    """
    first, second = (h.point.magnitude for h in hits)
    deviation = _anniversary_deviation(hits)
    if deviation > PAIR_DEVIATION_DAYS:
        return False
    if first == second:
        low, high = _band(hits)
        look_alikes = group.count_between(low, high) - 2
        return look_alikes <= PAIR_PRICE_LOOK_ALIKES and not _sells_at_set_prices(group, hits)
    largest = max(first, second)
    if abs(first - second) * 100 > PAIR_SIMILAR_PERCENT * largest:
        return False
    others = len(group.points) - 2
    quiet = PAIR_KNOWN_MERCHANT_NEIGHBOURS if group.has_streams else PAIR_QUIET_NEIGHBOURS
    if others > quiet or deviation > PAIR_RENEWAL_DEVIATION_DAYS:
        return False
    if deviation == 0 or others == 0:
        return True
    near = group.count_between(*_near_amounts(min(first, second), largest))
    return group.has_streams and near == 2


def _sells_at_set_prices(group: _Group, hits: tuple[_Hit, ...]) -> bool:
    """Whether the merchant's other transactions repeat exact amounts often (an app store).

    There, one price turning up twice a year apart is no coincidence worth noting. The
    chance that two of its other transactions share an amount, times how many there are,
    estimates how often a transaction repeats another's price by chance; from
    SET_PRICE_REPEATS on, a repeated price proves nothing.
    """
    pair = {h.point for h in hits}
    others = [p.magnitude for p in group.points if p not in pair]
    if len(others) < 2:
        return False
    repeats = sum(count * (count - 1) // 2 for count in Counter(others).values())
    pairs = len(others) * (len(others) - 1) // 2
    return repeats * len(others) >= SET_PRICE_REPEATS * pairs


def _anniversary_deviation(hits: tuple[_Hit, ...]) -> int:
    """Return how many working days apart two payments a year apart are, either way round.

    Each date in turn is taken as the anniversary and the other is measured against it: a
    payment due on a Sunday and made on the Monday is on time whichever year was on time.
    """
    earlier, later = (h.point for h in hits)
    day = dt.date.fromordinal(earlier.ordinal)
    other_day = dt.date.fromordinal(later.ordinal)
    forward = _month_day_ordinal(_month_index(day) + 12, day.day)
    backward = _month_day_ordinal(_month_index(other_day) - 12, other_day.day)
    return min(
        _working_days_between(forward, later.ordinal),
        _working_days_between(backward, earlier.ordinal),
    )


def _working_days_between(nominal: int, actual: int) -> int:
    """Count the weekdays a payment moved across from its nominal date (ordinals).

    A payment due on a Saturday and made on the Monday moved across none: weekends explain
    the shift. Bank holidays differ by country and are not known here, so they count.
    """
    low, high = sorted((nominal, actual))
    if actual < nominal:
        low, high = low + 1, high + 1
    return sum(1 for day in range(low, high) if dt.date.fromordinal(day).weekday() < 5)


def _rank(candidate: _Candidate) -> tuple[float, int, int, tuple[str, ...]]:
    """Order candidates: strongest evidence, then most occurrences, then finer frequency."""
    return (
        -candidate.evidence,
        -len(candidate.hits),
        _FREQUENCY_ORDER.index(candidate.grid.frequency),
        tuple(h.point.transaction_id for h in candidate.hits),
    )


def _streams_in_group(group: _Group) -> list[_Candidate]:
    """Accept streams one at a time, strongest first, each from what earlier ones left."""
    found: list[_Candidate] = []
    while group.points:
        judged = (_judge(group, grid, hits) for grid, hits in _chains(group))
        accepted = [c for c in judged if c is not None]
        if not accepted:
            break
        best = min(accepted, key=_rank)
        found.append(best)
        group = group.without({h.point for h in best.hits})
    return found


@functools.lru_cache(maxsize=16_384)
def _group_streams(members: tuple[_Point, ...], history_days: int) -> tuple[_Candidate, ...]:
    """The streams of one group, remembered: a profile's new data touches few of its groups."""
    return tuple(_streams_in_group(_Group.of(members, history_days)))


class _GroupKey(NamedTuple):
    account_id: str
    currency: str
    direction: RecurringDirection
    merchant_key: str


def _groups(points: Iterable[TxPoint]) -> dict[_GroupKey, list[_Point]]:
    """Group posted, non-zero transactions, each group sorted by date then id.

    A transaction id seen twice is kept once (the smallest copy), so a duplicated delivery
    cannot become a second occurrence.
    """
    unique: dict[str, TxPoint] = {}
    for point in sorted(points, key=_sort_key):
        if not point.status_pending and point.amount_minor != 0:
            unique.setdefault(point.transaction_id, point)
    groups: dict[_GroupKey, list[_Point]] = defaultdict(list)
    for point in unique.values():
        direction = (
            RecurringDirection.INFLOW if point.amount_minor > 0 else RecurringDirection.OUTFLOW
        )
        key = _GroupKey(point.account_id, point.currency, direction, point.merchant_key)
        groups[key].append(
            _Point(
                point.day.toordinal(),
                abs(point.amount_minor),
                point.transaction_id,
                point.amount_minor,
            )
        )
    return {key: sorted(members) for key, members in sorted(groups.items())}


def _sort_key(point: TxPoint) -> tuple[str, dt.date, int, str, str, str, bool]:
    return (
        point.transaction_id,
        point.day,
        point.amount_minor,
        point.account_id,
        point.currency,
        point.merchant_key,
        point.status_pending,
    )


def detect_streams(
    points: Sequence[TxPoint], *, as_of: dt.date | None = None
) -> list[RecurringStream]:
    """Detect the recurring streams in one profile's transactions.

    Args:
        points: The profile's transactions, in any order. Pending ones are ignored.
        as_of: The date statuses are judged at; the latest date in ``points`` when omitted.
            The clock is never read.

    Returns:
        The streams, sorted by ``stream_id``. An id derives from the stream's account,
        direction, merchant and frequency, so it survives new data; where one merchant has
        several streams of one frequency, all but the one with the lowest average amount
        (the largest outflow) also carry their rank in that order.
    """
    if not points:
        return []
    first, latest = min(p.day for p in points), max(p.day for p in points)
    today = as_of if as_of is not None else latest
    # The span counts whole weeks: a day more of history leaves every group's background
    # rate, and so its streams, as they were, and the search reruns only for the groups
    # that gained a transaction.
    history_days = -(-((latest - first).days + 1) // 7) * 7
    labels = {p.transaction_id: (p.category, p.merchant_name) for p in points}
    streams: list[RecurringStream] = []
    for key, members in _groups(points).items():
        found = _group_streams(tuple(members), history_days)
        ordered = sorted(found, key=lambda c: (_average(c), c.hits[0].point.ordinal, _rank(c)))
        streams.extend(_stream(key, c, ordinal, today, labels) for ordinal, c in _numbered(ordered))
    return sorted(streams, key=lambda s: s.stream_id)


def _numbered(found: Sequence[_Candidate]) -> Iterator[tuple[int, _Candidate]]:
    """Number the streams of one group that share a frequency, so that their ids differ."""
    seen: dict[Frequency, int] = defaultdict(int)
    for candidate in found:
        yield seen[candidate.grid.frequency], candidate
        seen[candidate.grid.frequency] += 1


def _average(candidate: _Candidate) -> int:
    """Return the mean signed amount, rounded half to even in integer arithmetic."""
    total = sum(h.point.amount_minor for h in candidate.hits)
    count = len(candidate.hits)
    quotient, remainder = divmod(total, count)
    if remainder * 2 > count or (remainder * 2 == count and quotient % 2 == 1):
        quotient += 1
    return quotient


def _is_variable(candidate: _Candidate) -> bool:
    """Whether the amount changes between most payments, not just at a price change.

    A rent that rises once a year or a subscription that changes price once is fixed; a
    utility bill that differs every month is variable.
    """
    magnitudes = [h.point.magnitude for h in candidate.hits]
    changes = sum(
        1
        for before, after in itertools.pairwise(magnitudes)
        if abs(after - before) * 100 > SAME_PRICE_PERCENT * max(before, after)
    )
    return changes >= 2 and changes * 3 > len(magnitudes) - 1


def _next_date(candidate: _Candidate) -> dt.date:
    """Predict the next occurrence, moved off a weekend as the stream's past ones were."""
    last = candidate.hits[-1]
    nominal = dt.date.fromordinal(_nominal(candidate.grid, last.slot + 1))
    weekend = [h for h in candidate.hits if dt.date.fromordinal(h.nominal).weekday() >= 5]
    earlier = sum(1 for h in weekend if h.point.ordinal < h.nominal)
    later = sum(1 for h in weekend if h.point.ordinal > h.nominal)
    weekday = nominal.weekday()
    if weekday >= 5 and earlier * 2 > len(weekend):
        nominal -= dt.timedelta(days=weekday - 4)
    elif weekday >= 5 and later * 2 > len(weekend):
        nominal += dt.timedelta(days=7 - weekday)
    return max(nominal, dt.date.fromordinal(last.point.ordinal + 1))


#: What a stream's category says of it, where it says something: income that is pay or
#: returns, and outflows that are obligations (bills) or discretionary (subscriptions).
_TYPE_OF_CATEGORY: Final[dict[tuple[str, ...], RecurringStreamType]] = {
    ("Income", "Salary"): RecurringStreamType.SALARY,
    ("Income", "Pension"): RecurringStreamType.SALARY,
    ("Income", "Dividends"): RecurringStreamType.DIVIDEND,
    ("Income", "Interest"): RecurringStreamType.DIVIDEND,
    ("Housing", "Rent"): RecurringStreamType.BILL,
    ("Housing", "Mortgage"): RecurringStreamType.BILL,
    ("Bills", "Utilities"): RecurringStreamType.BILL,
    ("Bills", "Insurance"): RecurringStreamType.BILL,
    ("Bills", "Internet and TV"): RecurringStreamType.BILL,
    ("Bills", "Mobile Phone"): RecurringStreamType.BILL,
    ("Loans",): RecurringStreamType.BILL,
    ("Bills", "Software and Subscriptions"): RecurringStreamType.SUBSCRIPTION,
    ("Entertainment", "Streaming"): RecurringStreamType.SUBSCRIPTION,
    ("Entertainment", "Music"): RecurringStreamType.SUBSCRIPTION,
    ("Entertainment", "Digital Media"): RecurringStreamType.SUBSCRIPTION,
}


def _stream_type(
    direction: RecurringDirection,
    frequency: Frequency,
    is_variable: bool,
    category: tuple[str, ...] = (),
) -> RecurringStreamType:
    """Classify by the stream's category where it tells, else by shape.

    The shape is the direction, the frequency and whether the amount varies. A category
    counts only in the direction it belongs to (a refund from a streaming service is not
    a subscription).
    """
    for length in (2, 1):
        kind = _TYPE_OF_CATEGORY.get(category[:length]) if len(category) >= length else None
        inflow = kind in (RecurringStreamType.SALARY, RecurringStreamType.DIVIDEND)
        if kind is not None and inflow == (direction is RecurringDirection.INFLOW):
            return kind
    if direction is RecurringDirection.INFLOW:
        if frequency in (Frequency.QUARTERLY, Frequency.ANNUALLY):
            return RecurringStreamType.DIVIDEND
        return RecurringStreamType.OTHER_INFLOW if is_variable else RecurringStreamType.SALARY
    if is_variable:
        return RecurringStreamType.BILL
    if frequency in _MONTH_STEPS:
        return RecurringStreamType.SUBSCRIPTION
    return RecurringStreamType.OTHER_OUTFLOW


def _status(candidate: _Candidate, next_date: dt.date, today: dt.date) -> RecurringStatus:
    rule = RULES[candidate.grid.frequency]
    if (today - next_date).days > rule.grace_days:
        return RecurringStatus.TOMBSTONED
    if len(candidate.hits) >= rule.mature_occurrences:
        return RecurringStatus.MATURE
    return RecurringStatus.EARLY_DETECTION


def _stream(
    key: _GroupKey,
    candidate: _Candidate,
    ordinal: int,
    today: dt.date,
    labels: Mapping[str, tuple[tuple[str, ...], str]],
) -> RecurringStream:
    frequency = candidate.grid.frequency
    # The category most of its transactions carry (ties to the greater path), and the
    # merchant's name as its latest transaction gives it.
    tally = Counter(labels[h.point.transaction_id][0] for h in candidate.hits)
    category = max(tally, key=lambda path: (tally[path], path))
    merchant_name = labels[candidate.hits[-1].point.transaction_id][1]
    parts = [key.account_id, key.direction.value, key.merchant_key, frequency.value]
    if ordinal:
        parts.append(str(ordinal))
    is_variable = _is_variable(candidate)
    next_date = _next_date(candidate)
    unnamed = "Unnamed payer" if key.direction is RecurringDirection.INFLOW else "Unnamed payee"
    return RecurringStream(
        stream_id=derived_id("rst", *parts),
        name=merchant_name or key.merchant_key or unnamed,
        type=_stream_type(key.direction, frequency, is_variable, category),
        direction=key.direction,
        account_id=key.account_id,
        currency=key.currency,
        frequency=frequency,
        interval=1,
        average_amount_minor=_average(candidate),
        last_amount_minor=candidate.hits[-1].point.amount_minor,
        is_variable=is_variable,
        status=_status(candidate, next_date, today),
        first_date=dt.date.fromordinal(candidate.hits[0].point.ordinal),
        last_date=dt.date.fromordinal(candidate.hits[-1].point.ordinal),
        next_date=next_date,
        transaction_ids=tuple(h.point.transaction_id for h in candidate.hits),
        occurrences=len(candidate.hits),
    )
