"""Metric definitions: parsing, type checks, structured errors, windows and evaluation."""

from __future__ import annotations

import datetime as dt
import pickle
import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.metric_expr import (
    And,
    Comparison,
    CompiledMetric,
    MetricDefinitionError,
    MetricValue,
    Not,
    Or,
    Problem,
    TxView,
    Window,
    compile_metric,
    evaluate,
    matches_filter,
    parse_aggregation,
    parse_filter,
    parse_window,
)

AS_OF = dt.date(2024, 7, 4)  # a Thursday; 90d then starts on Saturday 2024-04-06


def tx(
    amount_minor: int,
    day: dt.date,
    *,
    category: tuple[str, ...] = ("Food & Drink", "Coffee"),
    merchant: str | None = "Blue Bottle",
    currency: str = "GBP",
    account_id: str = "acc-1",
    status: str = "POSTED",
    type_: str = "PAYMENT",
    is_recurring: bool = False,
) -> TxView:
    return TxView(
        amount_minor=amount_minor,
        currency=currency,
        day=day,
        category=category,
        merchant=merchant,
        account_id=account_id,
        status=status,
        type=type_,
        is_recurring=is_recurring,
    )


def metric(
    filter_text: str,
    aggregation: str = "COUNT(*)",
    window: str = "90d",
    return_type: str = "NUMBER",
) -> CompiledMetric:
    logic = {"filter": filter_text, "aggregation": aggregation, "window": window}
    return compile_metric("m", logic, return_type)


def problems_of(logic: dict[str, Any], return_type: str = "NUMBER") -> tuple[Problem, ...]:
    with pytest.raises(MetricDefinitionError) as caught:
        compile_metric("m", logic, return_type)
    return caught.value.problems


def filter_problem(text: str) -> Problem:
    with pytest.raises(MetricDefinitionError) as caught:
        parse_filter(text)
    (problem,) = caught.value.problems
    assert problem.field == "filter"
    return problem


# The FOS example ----------------------------------------------------------------------------

FOS_LOGIC = {
    "filter": "category == 'Coffee' AND day_of_week IN ['Sat', 'Sun']",
    "aggregation": "AVG(amount)",
    "window": "90d",
}


def test_fos_example_averages_weekend_coffee_to_the_cent() -> None:
    compiled = compile_metric("coffee_weekend_avg", FOS_LOGIC, "CURRENCY")
    rows = [
        tx(-350, dt.date(2024, 6, 29)),  # Saturday
        tx(-425, dt.date(2024, 6, 23), category=("food", "COFFEE")),  # Sunday, other case
        tx(-210, dt.date(2024, 4, 6)),  # Saturday, the first day of the window
        tx(-500, dt.date(2024, 6, 24)),  # Monday coffee
        tx(-4000, dt.date(2024, 6, 29), category=("Groceries",)),  # Saturday, not coffee
        tx(-999, dt.date(2024, 3, 31)),  # Sunday, before the window
        tx(-999, dt.date(2024, 7, 6)),  # Saturday, after as_of
        tx(-700, dt.date(2024, 6, 30), currency="EUR"),  # Sunday coffee in euros
    ]
    result = evaluate(compiled, rows, AS_OF, "GBP")
    # (-3.50 - 4.25 - 2.10) / 3 = -3.28333..., which rounds to -3.28.
    assert result == MetricValue(
        value="-3.28",
        value_minor=-328,
        currency="GBP",
        matched=3,
        window_start=dt.date(2024, 4, 6),
        window_end=AS_OF,
        skipped_currency=1,
    )
    assert compiled.source == FOS_LOGIC
    assert compiled.return_type == "CURRENCY"


def test_avg_rounds_half_to_even_in_minor_units() -> None:
    compiled = metric("amount < 0", "AVG(amount)", return_type="CURRENCY")
    day = dt.date(2024, 7, 1)
    # -0.05 / 2 = -0.025 -> -0.02 (even); -0.15 / 2 = -0.075 -> -0.08 (even).
    assert evaluate(compiled, [tx(-4, day), tx(-1, day)], AS_OF, "GBP").value == "-0.02"
    assert evaluate(compiled, [tx(-14, day), tx(-1, day)], AS_OF, "GBP").value == "-0.08"
    assert evaluate(compiled, [], AS_OF, "GBP").value is None


@given(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=30))
def test_avg_matches_an_exact_half_even_reference(amounts: list[int]) -> None:
    compiled = metric("currency == 'GBP'", "AVG(amount)", return_type="CURRENCY")
    rows = [tx(amount, dt.date(2024, 7, 1)) for amount in amounts]
    expected = round(Fraction(sum(amounts), len(amounts)))  # round() of a Fraction is half-even
    assert evaluate(compiled, rows, AS_OF, "GBP").value_minor == expected


def test_money_aggregations_and_empty_results() -> None:
    day = dt.date(2024, 7, 1)
    rows = [tx(-1250, day), tx(300, day), tx(-5, day), tx(100, day, currency="JPY")]
    run = {
        agg: evaluate(metric("amount != 0", agg, return_type="CURRENCY"), rows, AS_OF, "GBP")
        for agg in ("SUM(amount)", "SUM(abs_amount)", "MIN(amount)", "MAX(abs_amount)")
    }
    assert run["SUM(amount)"].value == "-9.55"
    assert run["SUM(abs_amount)"].value == "15.55"
    assert run["MIN(amount)"].value_minor == -1250
    assert run["MAX(abs_amount)"].value == "12.50"
    assert all(value.matched == 3 and value.skipped_currency == 1 for value in run.values())
    empty = evaluate(metric("amount > 1000000"), rows, AS_OF, "GBP")
    assert empty.value == "0"
    none = metric("amount > 1000000", "MIN(amount)", return_type="CURRENCY")
    assert evaluate(none, rows, AS_OF, "GBP").value is None
    nothing = metric("amount > 1000000", "SUM(amount)", return_type="CURRENCY")
    assert evaluate(nothing, rows, AS_OF, "GBP")[:3] == ("0.00", 0, "GBP")


def test_number_of_a_money_aggregation_is_decimal_text_without_minor_units() -> None:
    compiled = metric("amount < 0", "SUM(abs_amount)", return_type="NUMBER")
    result = evaluate(compiled, [tx(-1234, dt.date(2024, 7, 1))], AS_OF, "GBP")
    assert result[:4] == ("12.34", None, None, 1)


def test_distinct_counts() -> None:
    rows = [
        tx(-100, dt.date(2024, 7, 1), merchant="Blue Bottle"),
        tx(-100, dt.date(2024, 7, 1), merchant="BLUE BOTTLE"),
        tx(-100, dt.date(2024, 7, 2), merchant="Pret"),
        tx(-100, dt.date(2024, 7, 3), merchant=None),
        tx(-100, dt.date(2024, 7, 3), merchant="Pret", currency="EUR"),
    ]
    merchants = evaluate(metric("amount < 0", "COUNT(DISTINCT merchant)"), rows, AS_OF, "GBP")
    days = evaluate(metric("amount < 0", "count(distinct DAY)"), rows, AS_OF, "GBP")
    assert (merchants.value, merchants.matched, merchants.skipped_currency) == ("2", 5, 0)
    assert (days.value, days.matched) == ("3", 5)


def test_percentage_is_the_share_of_the_window_half_even() -> None:
    compiled = metric("category == 'Coffee'", return_type="PERCENTAGE")
    day = dt.date(2024, 7, 1)
    coffee, rent = tx(-300, day), tx(-90000, day, category=("Housing", "Rent"))
    outside = tx(-300, dt.date(2020, 1, 1))
    result = evaluate(compiled, [coffee] * 3 + [rent] * 4 + [outside], AS_OF, "GBP")
    assert (result.value, result.matched) == ("42.86", 3)  # 3/7 = 42.857...
    # 1/16000 = 0.00625 exactly: the tie goes to the even hundredth.
    assert evaluate(compiled, [coffee] + [rent] * 15999, AS_OF, "GBP").value == "0.01"
    assert evaluate(compiled, [coffee] * 3 + [rent] * 15997, AS_OF, "GBP").value == "0.02"
    assert evaluate(compiled, [coffee] * 2, AS_OF, "GBP").value == "100.00"
    assert evaluate(compiled, [outside], AS_OF, "GBP").value is None


def test_boolean_is_whether_anything_matched() -> None:
    compiled = metric("type == 'fee'", return_type="BOOLEAN")
    fee = tx(-500, dt.date(2024, 7, 1), type_="FEE")
    assert evaluate(compiled, [fee, tx(-1, dt.date(2024, 7, 1))], AS_OF, "GBP").value is True
    assert evaluate(compiled, [tx(-1, dt.date(2024, 7, 1))], AS_OF, "GBP").value is False


# Field semantics ----------------------------------------------------------------------------


def matches(text: str, row: TxView) -> bool:
    return matches_filter(parse_filter(text), row)


def test_amount_compares_exactly_in_the_transaction_currency() -> None:
    pounds = tx(-350, AS_OF)
    assert matches("amount == -3.5", pounds)
    assert matches("amount == -3.500", pounds)
    assert matches("amount > -3.505", pounds)
    assert not matches("amount >= -3.499999999999999999999999999999999", pounds)
    assert matches("abs_amount == 3.50 AND abs_amount <= 3.5", pounds)
    yen = tx(1000, AS_OF, currency="JPY")
    assert matches("amount == 1000", yen)
    assert not matches("amount == 10.00", yen)
    dinar = tx(1, AS_OF, currency="BHD")  # three decimals
    assert matches("amount == 0.001 AND amount < 0.0011", dinar)


@given(
    st.integers(-(10**15), 10**15),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**13),
)
def test_amount_order_agrees_with_exact_fractions(minor: int, literal: Decimal) -> None:
    row = tx(minor, AS_OF)
    text = format(literal, "f")
    exact = Fraction(minor, 100)
    assert matches(f"amount < {text}", row) == (exact < Fraction(literal))
    assert matches(f"amount == {text}", row) == (exact == Fraction(literal))


def test_string_fields() -> None:
    row = tx(
        -100,
        dt.date(2024, 6, 29),
        category=("Food & Drink", "Coffee"),
        merchant="Blue Bottle",
        status="PENDING",
        is_recurring=True,
    )
    assert matches("category == 'food & drink' AND category != 'Tea'", row)
    assert matches("category IN ['Tea', 'coffee'] AND category NOT IN ['Rent']", row)
    assert not matches("category == 'Food'", row)
    assert matches('merchant == "blue bottle"', row)
    assert not matches("merchant == 'Blue'", row)
    assert matches("account_id == 'acc-1' AND currency == 'gbp'", row)
    assert matches("status == 'pending' AND type IN ['PAYMENT', 'FEE']", row)
    assert matches("day_of_week == 'Saturday' AND day_of_week != 'sun'", row)
    assert matches("date >= '2024-06-29' AND date < '2024-06-30'", row)
    assert matches("is_recurring == true AND NOT is_recurring != TRUE", row)


def test_missing_merchant_is_never_equal() -> None:
    row = tx(-100, AS_OF, merchant=None)
    assert not matches("merchant == 'Pret'", row)
    assert matches("merchant != 'Pret' AND merchant NOT IN ['Pret']", row)


def test_escaped_quotes_are_decoded() -> None:
    node = parse_filter('merchant == \'Joe\\\'s\' OR merchant == "a \\"b\\" \\\\"')
    assert isinstance(node, Or)
    assert [operand.value for operand in node.operands] == ["joe's", 'a "b" \\']  # type: ignore[union-attr]


# Precedence ---------------------------------------------------------------------------------

A = "is_recurring == TRUE"
B = "status == 'PENDING'"
C = "type == 'FEE'"


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    node = parse_filter(f"NOT {A} OR {B} AND {C}")
    assert isinstance(node, Or)
    first, second = node.operands
    assert isinstance(first, Not) and isinstance(first.operand, Comparison)
    assert isinstance(second, And) and len(second.operands) == 2


@pytest.mark.parametrize("a", [False, True])
@pytest.mark.parametrize("b", [False, True])
@pytest.mark.parametrize("c", [False, True])
def test_precedence_by_evaluation(a: bool, b: bool, c: bool) -> None:
    row = tx(
        -100,
        dt.date(2024, 7, 1),
        is_recurring=a,
        status="PENDING" if b else "POSTED",
        type_="FEE" if c else "PAYMENT",
    )
    compiled = metric(f"NOT {A} OR {B} AND {C}", return_type="BOOLEAN")
    assert evaluate(compiled, [row], AS_OF, "GBP").value == ((not a) or (b and c))
    lowered = metric(f"not {A} or ({B}) and {C}", return_type="BOOLEAN")
    assert evaluate(lowered, [row], AS_OF, "GBP").value == ((not a) or (b and c))
    grouped = metric(f"NOT ({A} OR {B}) AND {C}", return_type="BOOLEAN")
    assert evaluate(grouped, [row], AS_OF, "GBP").value == ((not (a or b)) and c)


# Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "position"),
    [
        ("colour == 'red'", "unknown_field", 0),
        ("amount > 1 AND colour == 'red'", "unknown_field", 15),
        ("amount == 'ten'", "type_mismatch", 10),
        ("day_of_week == 'Funday'", "type_mismatch", 15),
        ("status == 'DONE'", "type_mismatch", 10),
        ("date > '2024-02-30'", "type_mismatch", 7),
        ("date > '2024-1-01'", "type_mismatch", 7),
        ("date > '20240101'", "type_mismatch", 7),
        ("currency == 'XYZ'", "type_mismatch", 12),
        ("is_recurring == 'yes'", "type_mismatch", 16),
        ("merchant == 5", "type_mismatch", 12),
        ("merchant IN ['a', 1]", "type_mismatch", 18),
        ("amount IN [1, TRUE]", "type_mismatch", 14),
        ("amount < 'x'", "type_mismatch", 9),
        ("merchant < 'm'", "operator_not_allowed", 9),
        ("category >= 'Coffee'", "operator_not_allowed", 9),
        ("day_of_week > 'Mon'", "operator_not_allowed", 12),
        ("is_recurring < TRUE", "operator_not_allowed", 13),
        ("len(merchant) > 3", "function_not_allowed", 0),
        ("amount > abs(3)", "function_not_allowed", 9),
        ("(amount > 1", "syntax_error", 11),
        ("amount > 1)", "syntax_error", 10),
        ("((amount > 1) AND (amount < 5)", "syntax_error", 30),
        ("amount > 1 garbage", "syntax_error", 11),
        ("amount > 1 AND", "syntax_error", 14),
        ("merchant.name == 'x'", "syntax_error", 8),
        ("amount = 1", "syntax_error", 7),
        ("amount <> 1", "syntax_error", 8),
        ("amount > 1.", "syntax_error", 10),
        ("amount > - 1", "syntax_error", 9),
        ("amount > 1e3", "syntax_error", 10),
        ("merchant == 'open", "syntax_error", 12),
        ("merchant == 'a\\n'", "syntax_error", 14),
        ("merchant IN []", "syntax_error", 13),
        ("merchant IN ['a',]", "syntax_error", 17),
        ("merchant IN 'a'", "syntax_error", 12),
        ("merchant NOT 'a'", "syntax_error", 13),
        ("merchant", "syntax_error", 8),
        ("merchant == other", "syntax_error", 12),
        ("TRUE", "syntax_error", 0),
        ("", "syntax_error", 0),
        ("   ", "syntax_error", 0),
        ("amount > 1 € 2", "syntax_error", 11),
    ],
)
def test_filter_errors(text: str, code: str, position: int) -> None:
    problem = filter_problem(text)
    assert (problem.code, problem.position) == (code, position), problem.message


def test_first_filter_error_wins_even_before_a_lexical_one() -> None:
    problem = filter_problem("colour == 'red' AND a.b == 1")
    assert (problem.code, problem.position) == ("unknown_field", 0)


def test_nesting_limit() -> None:
    assert parse_filter("(" * 32 + "amount > 1" + ")" * 32)
    problem = filter_problem("(" * 33 + "amount > 1" + ")" * 33)
    assert (problem.code, problem.position) == ("too_complex", 32)
    assert parse_filter("NOT " * 32 + "amount > 1")
    assert filter_problem("NOT " * 33 + "amount > 1").code == "too_complex"
    assert filter_problem("(NOT " * 17 + "amount > 1" + ")" * 17).code == "too_complex"


def test_length_limit() -> None:
    long_filter = " OR ".join(["amount > 1"] * 143).ljust(2000)
    assert len(long_filter) == 2000 and parse_filter(long_filter)
    problem = filter_problem(long_filter + " ")
    assert (problem.code, problem.position) == ("too_complex", None)


def test_filter_must_be_a_string() -> None:
    (problem,) = problems_of({"aggregation": "COUNT(*)", "window": "90d"})
    assert (problem.code, problem.field) == ("syntax_error", "filter")


@pytest.mark.parametrize(
    ("aggregation", "code", "position"),
    [
        ("MEDIAN(amount)", "unknown_aggregation", 0),
        ("SUM(merchant)", "unknown_aggregation", 0),
        ("COUNT(amount)", "unknown_aggregation", 0),
        ("SUM(*)", "unknown_aggregation", 0),
        ("AVG(DISTINCT amount)", "unknown_aggregation", 0),
        ("COUNT(DISTINCT colour)", "unknown_field", 15),
        ("SUM(ABS(amount))", "function_not_allowed", 4),
        ("SUM(amount", "syntax_error", 10),
        ("SUM(amount) + 1", "syntax_error", 12),
        ("amount", "syntax_error", 0),
        ("", "syntax_error", 0),
        ("SUM()", "syntax_error", 4),
    ],
)
def test_aggregation_errors(aggregation: str, code: str, position: int) -> None:
    with pytest.raises(MetricDefinitionError) as caught:
        parse_aggregation(aggregation)
    (problem,) = caught.value.problems
    assert (problem.code, problem.field, problem.position) == (code, "aggregation", position)


@pytest.mark.parametrize("window", ["0d", "90x", "-5d", "99999d", "3661d", "523w", "121m", "11y"])
def test_bad_windows(window: str) -> None:
    with pytest.raises(MetricDefinitionError) as caught:
        parse_window(window)
    (problem,) = caught.value.problems
    assert (problem.code, problem.field) == ("bad_window", "window")


@pytest.mark.parametrize("window", ["", "d", "90", "90D", " 90d", "9 0d", "1.5m", "٣d", 90, None])
def test_malformed_windows(window: object) -> None:
    with pytest.raises(MetricDefinitionError) as caught:
        parse_window(window)
    assert caught.value.problems[0].code == "bad_window"


@pytest.mark.parametrize(
    ("aggregation", "return_type"),
    [
        ("COUNT(*)", "CURRENCY"),
        ("COUNT(DISTINCT merchant)", "CURRENCY"),
        ("SUM(amount)", "PERCENTAGE"),
        ("COUNT(DISTINCT day)", "PERCENTAGE"),
        ("SUM(amount)", "BOOLEAN"),
        ("COUNT(*)", "TEXT"),
        ("COUNT(*)", "currency"),
    ],
)
def test_incompatible_return_types(aggregation: str, return_type: str) -> None:
    logic = {"filter": "amount < 0", "aggregation": aggregation, "window": "30d"}
    (problem,) = problems_of(logic, return_type)
    assert (problem.code, problem.field) == ("incompatible_return_type", "return_type")


def test_every_faulty_part_is_reported_at_once() -> None:
    logic = {"filter": "colour == 'red'", "aggregation": "COUNT(*)", "window": "0d"}
    problems = problems_of(logic, "CURRENCY")
    assert [(p.field, p.code) for p in problems] == [
        ("filter", "unknown_field"),
        ("window", "bad_window"),
        ("return_type", "incompatible_return_type"),
    ]
    problems = problems_of({"filter": "(", "aggregation": "MEDIAN(amount)"}, "NOPE")
    assert [p.field for p in problems] == ["filter", "aggregation", "window", "return_type"]
    assert [p.field for p in problems_of(None, "NUMBER")] == [  # type: ignore[arg-type]
        "filter",
        "aggregation",
        "window",
    ]


def test_error_is_a_value_error_that_pickles() -> None:
    with pytest.raises(ValueError, match="unknown field") as caught:
        compile_metric("m", {**FOS_LOGIC, "filter": "colour == 'red'"}, "CURRENCY")
    error = caught.value
    assert isinstance(error, MetricDefinitionError)
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert restored.problems == error.problems and str(restored) == str(error)


# Windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "as_of", "start"),
    [
        ("1d", dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
        ("90d", AS_OF, dt.date(2024, 4, 6)),
        ("2w", dt.date(2024, 3, 1), dt.date(2024, 2, 17)),
        ("1m", dt.date(2024, 5, 15), dt.date(2024, 4, 16)),
        ("1m", dt.date(2024, 3, 31), dt.date(2024, 3, 1)),  # 29 Feb (clamped) + 1
        ("1m", dt.date(2023, 3, 31), dt.date(2023, 3, 1)),  # 28 Feb (clamped) + 1
        ("1m", dt.date(2024, 3, 29), dt.date(2024, 3, 1)),
        ("1m", dt.date(2024, 3, 28), dt.date(2024, 2, 29)),
        ("1m", dt.date(2024, 1, 31), dt.date(2024, 1, 1)),
        ("1m", dt.date(2024, 4, 30), dt.date(2024, 3, 31)),
        ("3m", dt.date(2024, 5, 31), dt.date(2024, 3, 1)),
        ("12m", dt.date(2024, 12, 31), dt.date(2024, 1, 1)),
        ("1y", dt.date(2024, 2, 29), dt.date(2023, 3, 1)),  # 28 Feb 2023 (clamped) + 1
        ("1y", dt.date(2025, 2, 28), dt.date(2024, 2, 29)),
        ("10y", dt.date(2024, 6, 15), dt.date(2014, 6, 16)),
        ("3660d", dt.date(1, 1, 5), dt.date.min),
        ("10y", dt.date(5, 6, 1), dt.date.min),
    ],
)
def test_window_start(window: str, as_of: dt.date, start: dt.date) -> None:
    assert parse_window(window).start(as_of) == start


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_twelve_months_is_a_year_and_windows_tile(as_of: dt.date) -> None:
    assert Window(12, "m").start(as_of) == Window(1, "y").start(as_of)
    assert 365 <= (as_of - Window(1, "y").start(as_of)).days + 1 <= 366
    # Consecutive one-month windows meet without a gap or an overlap.
    previous_end = Window(1, "m").start(as_of) - dt.timedelta(days=1)
    assert Window(1, "m").start(previous_end) <= previous_end
    assert (as_of - Window(10, "y").start(as_of)).days + 1 <= 3660


def test_window_boundaries_are_inclusive() -> None:
    compiled = metric("amount < 0", window="7d")
    start = AS_OF - dt.timedelta(days=6)
    rows = [
        tx(-1, start - dt.timedelta(days=1)),
        tx(-1, start),
        tx(-1, AS_OF),
        tx(-1, AS_OF + dt.timedelta(days=1)),
    ]
    result = evaluate(compiled, rows, AS_OF, "GBP")
    assert (result.value, result.window_start, result.window_end) == ("2", start, AS_OF)


def test_as_of_must_be_a_date() -> None:
    noon = dt.datetime(2024, 7, 4, 12, tzinfo=dt.UTC)
    with pytest.raises(TypeError):
        evaluate(metric("amount < 0"), [], noon, "GBP")


# Properties ---------------------------------------------------------------------------------

VOCABULARY = [
    "amount", "abs_amount", "merchant", "category", "day_of_week", "date", "is_recurring",
    "colour", "len", "AND", "OR", "NOT", "IN", "TRUE", "false", "(", ")", "[", "]", ",", "*",
    "==", "!=", "<", "<=", ">", ">=", "=", ".", "'Sat'", "'x'", '"y\\"z"', "'2024-01-01'",
    "-12.50", "3", "1.", "'", "\\", "-",
]  # fmt: skip


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(VOCABULARY)).map(" ".join)))
def test_arbitrary_filters_fail_only_with_structured_errors(text: str) -> None:
    try:
        compiled = metric(text)
    except MetricDefinitionError as error:
        assert error.problems and all(p.field == "filter" for p in error.problems)
        problem = error.problems[0]
        assert problem.position is None or 0 <= problem.position <= len(text)
        return
    evaluate(compiled, [tx(-100, AS_OF)], AS_OF, "GBP")


@given(st.text(max_size=60), st.text(max_size=20))
def test_arbitrary_aggregations_and_windows_fail_only_with_structured_errors(
    aggregation: str, window: str
) -> None:
    try:
        compile_metric(
            "m", {"filter": "amount < 0", "aggregation": aggregation, "window": window}, "NUMBER"
        )
    except MetricDefinitionError as error:
        assert {p.field for p in error.problems} <= {"aggregation", "window"}


LEAVES = [
    "amount < -5",
    "abs_amount >= 12.345",
    "amount == 0",
    "currency == 'EUR'",
    "category == 'coffee'",
    "category NOT IN ['Rent', 'Groceries']",
    "merchant IN ['Pret', 'blue bottle']",
    "merchant != 'Pret'",
    "account_id == 'acc-2'",
    "status == 'PENDING'",
    "type NOT IN ['FEE', 'INCOME']",
    "day_of_week IN ['Sat', 'sunday']",
    "date >= '2024-06-01'",
    "is_recurring == TRUE",
]

filters = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        inner.map(lambda text: f"NOT {text}"),
        inner.map(lambda text: f"({text})"),
        st.tuples(inner, st.sampled_from([" AND ", " or "]), inner).map("".join),
    ),
    max_leaves=12,
)

transactions = st.builds(
    TxView,
    amount_minor=st.integers(-50_000, 50_000),
    currency=st.sampled_from(["GBP", "EUR", "JPY"]),
    day=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 7, 31)),
    category=st.sampled_from([(), ("Food & Drink", "Coffee"), ("Housing", "Rent"), ("Groceries",)]),
    merchant=st.sampled_from([None, "Pret", "PRET", "Blue Bottle", "Tesco"]),
    account_id=st.sampled_from(["acc-1", "acc-2"]),
    status=st.sampled_from(["PENDING", "POSTED"]),
    type=st.sampled_from(["PAYMENT", "FEE", "INCOME", "REFUND"]),
    is_recurring=st.booleans(),
)

specs = st.sampled_from(
    [
        ("SUM(amount)", "CURRENCY"),
        ("AVG(abs_amount)", "CURRENCY"),
        ("MIN(amount)", "NUMBER"),
        ("MAX(amount)", "CURRENCY"),
        ("COUNT(*)", "NUMBER"),
        ("COUNT(DISTINCT merchant)", "NUMBER"),
        ("COUNT(DISTINCT day)", "NUMBER"),
        ("COUNT(*)", "PERCENTAGE"),
        ("COUNT(*)", "BOOLEAN"),
    ]
)


@given(
    filters,
    specs,
    st.sampled_from(["30d", "6w", "3m", "1y"]),
    st.lists(transactions, max_size=40),
    st.randoms(use_true_random=False),
)
def test_evaluation_is_deterministic_and_order_independent(
    filter_text: str,
    spec: tuple[str, str],
    window: str,
    rows: list[TxView],
    shuffler: random.Random,
) -> None:
    compiled = metric(filter_text, spec[0], window, spec[1])
    as_of = dt.date(2024, 7, 4)
    first = evaluate(compiled, rows, as_of, "GBP")
    assert evaluate(compiled, list(rows), as_of, "GBP") == first
    assert evaluate(metric(filter_text, spec[0], window, spec[1]), rows, as_of, "GBP") == first
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    assert evaluate(compiled, iter(shuffled), as_of, "GBP") == first
    in_window = [row for row in rows if first.window_start <= row.day <= as_of]
    expected = [row for row in in_window if matches_filter(compiled.filter_ast, row)]
    if compiled.aggregation.is_money:
        assert first.matched + first.skipped_currency == len(expected)
    else:
        assert first.matched == len(expected)
