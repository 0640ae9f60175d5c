"""Recurring streams: schedules, shifts, gaps, drift, noise, statuses, ids and the corpus."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.recurring import TxPoint, detect_streams
from operators.recurring_corpus import (
    DEFAULT_SEED,
    LabelledProfile,
    evaluate,
    generate_corpus,
    generate_profile,
)
from schemas.canonical import find_floats
from schemas.recurring import (
    RecurringDirection,
    RecurringFrequency,
    RecurringStatus,
    RecurringStream,
    RecurringStreamType,
)

DAY = dt.timedelta(days=1)


def point(
    tid: str,
    day: dt.date,
    amount_minor: int,
    merchant: str,
    *,
    account: str = "acc-1",
    pending: bool = False,
) -> TxPoint:
    return TxPoint(tid, account, day, amount_minor, "GBP", merchant, pending)


def month_day(year: int, month: int, day: int) -> dt.date:
    """The given day of a month, or its last day when the month is shorter."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def months(start: dt.date, count: int) -> list[tuple[int, int]]:
    index = start.year * 12 + start.month - 1
    return [divmod(index + k, 12) for k in range(count)]


def previous_business_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= DAY
    return day


def next_business_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += DAY
    return day


def monthly(
    prefix: str, merchant: str, days: Iterable[dt.date], amounts: Iterable[int]
) -> list[TxPoint]:
    return [
        point(f"{prefix}-{n:02d}", day, amount, merchant)
        for n, (day, amount) in enumerate(zip(days, amounts, strict=True))
    ]


def only(streams: list[RecurringStream], merchant: str) -> RecurringStream:
    matching = [s for s in streams if s.name == merchant]
    assert len(matching) == 1, matching
    return matching[0]


def netflix_with_a_missed_month() -> list[TxPoint]:
    dates = [dt.date(2024, m, 15) for m in range(1, 13) if m != 6]
    return monthly("nflx", "netflix", dates, [-1599] * len(dates))


def test_netflix_with_one_missed_month_is_a_mature_fixed_monthly_subscription() -> None:
    points = netflix_with_a_missed_month()
    (stream,) = detect_streams(points)
    assert stream.frequency is RecurringFrequency.MONTHLY
    assert stream.status is RecurringStatus.MATURE
    assert stream.type is RecurringStreamType.SUBSCRIPTION
    assert stream.direction is RecurringDirection.OUTFLOW
    assert not stream.is_variable
    assert stream.next_date == dt.date(2025, 1, 15)
    assert (stream.first_date, stream.last_date) == (dt.date(2024, 1, 15), dt.date(2024, 12, 15))
    assert stream.average_amount_minor == stream.last_amount_minor == -1599
    assert stream.occurrences == 11
    assert set(stream.transaction_ids) == {p.transaction_id for p in points}


def test_rent_on_the_first_moved_to_the_previous_friday_and_rising_three_percent() -> None:
    due = [month_day(y, m + 1, 1) for y, m in months(dt.date(2023, 1, 1), 17)]
    paid = [previous_business_day(d) for d in due]
    amounts = [-120000 if d.year == 2023 else -123600 for d in due]
    assert any(p != d for p, d in zip(paid, due, strict=True)), "some rent days must move"
    (stream,) = detect_streams(monthly("rent", "landlord", paid, amounts))
    assert stream.frequency is RecurringFrequency.MONTHLY
    assert stream.occurrences == 17
    assert not stream.is_variable
    assert stream.last_amount_minor == -123600
    # 1 June 2024 is a Saturday: the stream has always paid the Friday before.
    assert stream.next_date == dt.date(2024, 5, 31)


def test_salary_on_the_fifteenth_and_the_last_business_day_is_semi_monthly() -> None:
    paid: list[dt.date] = []
    for year, month in months(dt.date(2024, 1, 1), 12):
        paid.append(previous_business_day(dt.date(year, month + 1, 15)))
        paid.append(previous_business_day(month_day(year, month + 1, 31)))
    (stream,) = detect_streams(monthly("pay", "acme payroll", paid, [250000] * len(paid)))
    assert stream.frequency is RecurringFrequency.SEMI_MONTHLY
    assert stream.type is RecurringStreamType.SALARY
    assert stream.direction is RecurringDirection.INFLOW
    assert stream.occurrences == 24
    assert stream.next_date == dt.date(2025, 1, 15)


def test_quarterly_insurance_paid_on_the_next_business_day() -> None:
    due = [month_day(y, m + 1, 28) for y, m in months(dt.date(2023, 2, 1), 24)[::3]]
    paid = [next_business_day(d) for d in due]
    (stream,) = detect_streams(monthly("ins", "aviva", paid, [-18450] * len(paid)))
    assert stream.frequency is RecurringFrequency.QUARTERLY
    assert stream.occurrences == 8
    assert stream.status is RecurringStatus.MATURE
    assert not stream.is_variable


def test_annual_subscription_over_three_years() -> None:
    dates = [dt.date(2022, 3, 10), dt.date(2023, 3, 10), dt.date(2024, 3, 11)]
    (stream,) = detect_streams(monthly("jb", "jetbrains", dates, [-9900, -9900, -10900]))
    assert stream.frequency is RecurringFrequency.ANNUALLY
    assert stream.status is RecurringStatus.MATURE
    assert stream.occurrences == 3
    assert stream.next_date == dt.date(2025, 3, 10)


def test_annual_subscription_seen_twice_at_the_same_price_is_an_early_detection() -> None:
    dates = [dt.date(2023, 9, 1), dt.date(2024, 9, 2)]
    (stream,) = detect_streams(monthly("tv", "tv licensing", dates, [-15900, -15900]))
    assert stream.frequency is RecurringFrequency.ANNUALLY
    assert stream.status is RecurringStatus.EARLY_DETECTION


def test_utilities_varying_by_a_quarter_are_a_variable_bill() -> None:
    swing = [100, 125, 80, 110, 75, 120, 95, 125, 78, 105, 90, 118]
    dates = [next_business_day(dt.date(2024, m, 8)) for m in range(1, 13)]
    (stream,) = detect_streams(monthly("gas", "british gas", dates, [-90 * s for s in swing]))
    assert stream.frequency is RecurringFrequency.MONTHLY
    assert stream.is_variable
    assert stream.type is RecurringStreamType.BILL
    assert stream.occurrences == 12


def test_a_stream_that_stopped_four_months_before_the_latest_date_is_tombstoned() -> None:
    gym_days = [dt.date(2024, m, 3) for m in range(1, 7)]
    gym = monthly("gym", "puregym", gym_days, [-3500] * 6)
    streams = detect_streams(gym + netflix_with_a_missed_month())
    stopped = only(streams, "puregym")
    assert stopped.status is RecurringStatus.TOMBSTONED
    assert stopped.next_date == dt.date(2024, 7, 3)
    assert only(streams, "netflix").status is RecurringStatus.MATURE
    # "Now" is the latest date in the input unless the caller says otherwise.
    (alive,) = detect_streams(gym, as_of=dt.date(2024, 7, 20))
    assert alive.status is RecurringStatus.MATURE


def test_two_subscriptions_at_one_merchant_on_the_same_day() -> None:
    dates = [dt.date(2024, m, 5) for m in range(1, 11)]
    icloud = monthly("icloud", "apple", dates, [-99] * 10)
    music = monthly("music", "apple", dates, [-1099] * 10)
    app = [point("app-1", dt.date(2024, 4, 5), -499, "apple")]
    streams = detect_streams(icloud + music + app)
    assert len(streams) == 2
    assert streams[0].stream_id != streams[1].stream_id
    by_amount = {s.average_amount_minor: set(s.transaction_ids) for s in streams}
    assert by_amount == {
        -99: {p.transaction_id for p in icloud},
        -1099: {p.transaction_id for p in music},
    }


def amazon_prime_and_shopping() -> tuple[list[TxPoint], list[TxPoint]]:
    """Prime on the 20th of every month among random purchases at the same merchant."""
    rng = random.Random(7)
    prime = monthly("prime", "amazon", [dt.date(2024, m, 20) for m in range(1, 13)], [-899] * 12)
    day, shopping = dt.date(2024, 1, 1), []
    while day <= dt.date(2024, 12, 31):
        if rng.randrange(100) < 20:
            amount = rng.randint(400, 6000)
            shopping.append(point(f"shop-{len(shopping):03d}", day, -amount, "amazon"))
        day += DAY
    # Purchases close to the Prime price, some right beside a Prime payment.
    shopping += [
        point("shop-near-1", dt.date(2024, 3, 21), -949, "amazon"),
        point("shop-near-2", dt.date(2024, 7, 19), -849, "amazon"),
        point("shop-near-3", dt.date(2024, 10, 2), -899, "amazon"),
    ]
    return prime, shopping


def test_noise_at_a_stream_merchant_does_not_join_the_stream() -> None:
    prime, shopping = amazon_prime_and_shopping()
    (stream,) = detect_streams(prime + shopping)
    assert stream.frequency is RecurringFrequency.MONTHLY
    assert set(stream.transaction_ids) == {p.transaction_id for p in prime}
    assert not stream.is_variable


def test_weekly_allowance_and_fortnightly_pay() -> None:
    saturdays = [dt.date(2024, 1, 6) + k * 7 * DAY for k in range(30)]
    fridays = [dt.date(2024, 1, 5) + k * 14 * DAY for k in range(15)]
    allowance = monthly("pocket", "sam", saturdays, [-1000] * 30)
    pay = monthly("wage", "initech", fridays, [185000] * 15)
    streams = detect_streams(allowance + pay)
    assert only(streams, "sam").frequency is RecurringFrequency.WEEKLY
    assert only(streams, "initech").frequency is RecurringFrequency.BIWEEKLY
    assert only(streams, "initech").type is RecurringStreamType.SALARY


def test_pending_points_and_repeated_deliveries_are_ignored() -> None:
    points = netflix_with_a_missed_month()
    pending_copy = point("nflx-pending", dt.date(2024, 12, 14), -1599, "netflix", pending=True)
    assert detect_streams([*points, pending_copy]) == detect_streams(points)
    assert detect_streams([*points, points[3]]) == detect_streams(points)


def test_no_points_no_streams_and_one_offs_are_not_streams() -> None:
    assert detect_streams([]) == []
    rng = random.Random(3)
    one_offs = [
        point(f"r{n}", dt.date(2024, 1, 1) + rng.randrange(365) * DAY, -rng.randint(800, 9000), m)
        for n, m in enumerate(f"restaurant {k}" for k in range(40))
    ]
    assert detect_streams(one_offs) == []


def test_stream_ids_are_stable_and_documents_hold_no_floats() -> None:
    first = detect_streams(netflix_with_a_missed_month())
    again = detect_streams(netflix_with_a_missed_month()[:-1])
    assert first[0].stream_id == again[0].stream_id
    document = first[0].view()
    assert find_floats(first[0].model_dump(mode="json")) == []
    assert document["amount"] == {
        "average": "-15.99",
        "last": "-15.99",
        "currency": "GBP",
        "is_variable": False,
    }
    assert document["schedule"]["next_date"] == "2025-01-15"


def mixed_profile() -> list[TxPoint]:
    prime, shopping = amazon_prime_and_shopping()
    return netflix_with_a_missed_month() + prime + shopping[:40]


@settings(max_examples=25, deadline=None)
@given(st.permutations(mixed_profile()))
def test_the_same_points_in_any_order_give_the_same_streams(shuffled: list[TxPoint]) -> None:
    assert detect_streams(shuffled) == detect_streams(mixed_profile())


def test_the_corpus_is_deterministic_in_its_seed() -> None:
    assert generate_profile(DEFAULT_SEED, 5) == generate_profile(DEFAULT_SEED, 5)
    assert generate_profile(DEFAULT_SEED, 5) != generate_profile(DEFAULT_SEED + 1, 5)


def test_evaluate_counts_misses_and_false_alarms() -> None:
    profile = generate_profile(DEFAULT_SEED, 0)
    nothing = evaluate([profile], detector=lambda points: [])
    assert nothing["overall"]["true_positives"] == 0
    assert nothing["overall"]["false_negatives"] == len(profile.truth)
    assert nothing["overall"]["precision"] == 1.0
    assert nothing["overall"]["recall"] == 0.0


def test_precision_and_recall_per_frequency_on_a_200_profile_corpus() -> None:
    profiles: list[LabelledProfile] = generate_corpus(200, DEFAULT_SEED)
    report = evaluate(profiles)
    for frequency, scores in report["frequencies"].items():
        assert scores["true_positives"] >= 50, frequency
        assert scores["precision"] >= 0.95, (frequency, scores)
        assert scores["recall"] >= 0.95, (frequency, scores)


def labelled(points: list[TxPoint], category: tuple[str, ...], name: str) -> list[TxPoint]:
    return [replace(p, category=category, merchant_name=name) for p in points]


def test_the_category_says_what_kind_of_habit_a_stream_is_and_the_merchant_names_it() -> None:
    due = [month_day(y, m + 1, 1) for y, m in months(dt.date(2023, 1, 1), 12)]
    rent = monthly("rent", "landlord", due, [-120000] * 12)
    # By shape alone fixed monthly rent looks like a subscription; its category says bill.
    (by_shape,) = detect_streams(rent)
    assert by_shape.type is RecurringStreamType.SUBSCRIPTION
    (stream,) = detect_streams(labelled(rent, ("Housing", "Rent"), "Oakwood Lettings"))
    assert stream.type is RecurringStreamType.BILL
    assert stream.name == "Oakwood Lettings"
    # An inflow's category that names an outflow habit is ignored: the shape decides.
    refunds = [replace(p, amount_minor=1599) for p in netflix_with_a_missed_month()]
    (refund,) = detect_streams(labelled(refunds, ("Entertainment", "Streaming"), "Netflix"))
    assert refund.type is RecurringStreamType.SALARY
    interest = labelled(refunds, ("Income", "Interest"), "Big Bank")
    assert detect_streams(interest)[0].type is RecurringStreamType.DIVIDEND
