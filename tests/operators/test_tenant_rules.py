"""Tenant enrichment rules: validation with structured problems, matching, exact amounts."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.tenant_rules import (
    BAD_AMOUNT,
    BAD_ID,
    BAD_PATTERN,
    BAD_TYPE,
    BAD_VALUE,
    BAD_VERSION,
    DUPLICATE_ID,
    EMPTY_MATCH,
    EMPTY_SET,
    MISSING_FIELD,
    TOO_MANY_RULES,
    UNKNOWN_CATEGORY,
    UNKNOWN_KEY,
    UNSAFE_PATTERN,
    RuleHit,
    RuleInput,
    RuleProblem,
    RuleSet,
    RuleSetError,
    first_match,
    parse_rules,
    rule_input,
    version_key,
)
from schemas.canonical import content_hash
from schemas.fos import Merchant, TransactionDates, TransactionStatus, UnifiedTransaction

EXAMPLE = r"""
{"tenant_id": "acme", "version": "2026.11.3", "rules": [
  {"id": "coffee-corner", "match": {"merchant": "Corner Coffee"},
   "set": {"category": ["Food and Drink", "Coffee"]}},
  {"id": "big-rent", "match": {"description": "(?i)^rent\\b",
   "amount": {"min": "-5000.00", "max": "-500.00"}, "account_id": "acc-1"},
   "set": {"category": ["Housing", "Rent"], "merchant": "Landlord Ltd"}}
]}
"""

COFFEE = ["Food and Drink", "Coffee"]
RENT = ["Housing", "Rent"]


def rule(
    rule_id: str = "r1",
    match: dict[str, Any] | None = None,
    set_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": rule_id,
        "match": {"merchant": "Corner Coffee"} if match is None else match,
        "set": {"category": COFFEE} if set_ is None else set_,
    }


def document(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"tenant_id": "acme", "version": "2026.11.3", "rules": list(rules) or [rule()], **top}


def problems_of(doc: object) -> list[tuple[str, str]]:
    with pytest.raises(RuleSetError) as caught:
        parse_rules(doc)
    return [(problem.code, problem.path) for problem in caught.value.problems]


def tx(
    amount_minor: int = -1250,
    currency: str = "GBP",
    *,
    raw: str = "CORNER COFFEE",
    clean: str | None = None,
    account_id: str = "acc-1",
) -> RuleInput:
    return RuleInput(clean, raw, raw, amount_minor, currency, account_id)


def amount_rule(currency: str | None = None, **bounds: str) -> RuleSet:
    match: dict[str, Any] = {"amount": bounds}
    if currency is not None:
        match["currency"] = currency
    return parse_rules(document(rule(match=match)))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def test_the_example_file_parses_into_rules_in_file_order() -> None:
    source = json.loads(EXAMPLE)
    rules = parse_rules(source)
    assert (rules.tenant_id, rules.version) == ("acme", "2026.11.3")
    assert [r.rule_id for r in rules.rules] == ["coffee-corner", "big-rent"]
    coffee, rent = rules.rules
    assert coffee.match.merchant == "corner coffee"
    assert coffee.category == ("Food and Drink", "Coffee")
    assert coffee.merchant is None
    assert rent.match.description == r"(?i)^rent\b"
    assert (rent.match.amount_min, rent.match.amount_max) == (Decimal("-5000.00"), Decimal(-500))
    assert rent.match.account_id == "acc-1"
    assert (rent.category, rent.merchant) == (("Housing", "Rent"), "Landlord Ltd")
    assert rules.source == source
    assert rules.digest == content_hash(source)


@pytest.mark.parametrize(
    ("doc", "code", "path"),
    [
        ([], BAD_TYPE, ""),
        (document(extra=1), UNKNOWN_KEY, "extra"),
        ({**document(), "rules": {}}, BAD_TYPE, "rules"),
        ({"version": "2026.11.3", "rules": [rule()]}, MISSING_FIELD, "tenant_id"),
        (document(tenant_id="acme corp"), BAD_ID, "tenant_id"),
        (document(version="2026.13.1"), BAD_VERSION, "version"),
        (document(version="v2"), BAD_VERSION, "version"),
        (document(version=""), BAD_VERSION, "version"),
        (document(version=2026), BAD_TYPE, "version"),
        (document(rules=[rule() | {"colour": "red"}]), UNKNOWN_KEY, "rules[0].colour"),
        (document(rules=[{"id": "r1", "match": {"merchant": "x"}}]), MISSING_FIELD, "rules[0].set"),
        (document(rule(rule_id="-leading-dash")), BAD_ID, "rules[0].id"),
        (document(rule(rule_id="r" * 65)), BAD_ID, "rules[0].id"),
        (document(rule("a"), rule("b"), rule("a")), DUPLICATE_ID, "rules[2].id"),
        (document(*(rule(f"r{i}") for i in range(501))), TOO_MANY_RULES, "rules"),
        (document(rule(match={})), EMPTY_MATCH, "rules[0].match"),
        (document(rule(match={"merchant": "  "})), BAD_VALUE, "rules[0].match.merchant"),
        (document(rule(match={"description": "(a"})), BAD_PATTERN, "rules[0].match.description"),
        (
            document(rule(match={"description": "a" * 201})),
            BAD_PATTERN,
            "rules[0].match.description",
        ),
        (
            document(rule(match={"description": "(a+)+$"})),
            UNSAFE_PATTERN,
            "rules[0].match.description",
        ),
        (document(rule(match={"amount": {}})), BAD_AMOUNT, "rules[0].match.amount"),
        (
            document(rule(match={"amount": {"min": "1,000.00"}})),
            BAD_AMOUNT,
            "rules[0].match.amount.min",
        ),
        (
            document(rule(match={"amount": {"min": "-500.00", "max": "-5000.00"}})),
            BAD_AMOUNT,
            "rules[0].match.amount",
        ),
        (
            document(rule(match={"amount": {"max": -500.0}})),
            BAD_TYPE,
            "rules[0].match.amount.max",
        ),
        (
            document(rule(match={"amount": {"min": "1", "avg": "1"}})),
            UNKNOWN_KEY,
            "rules[0].match.amount.avg",
        ),
        (document(rule(match={"currency": "gbp"})), BAD_VALUE, "rules[0].match.currency"),
        (document(rule(match={"account_id": 7})), BAD_TYPE, "rules[0].match.account_id"),
        (document(rule(set_={})), EMPTY_SET, "rules[0].set"),
        (document(rule(set_={"category": "Coffee"})), BAD_TYPE, "rules[0].set.category"),
        (
            document(rule(set_={"category": ["Food and Drink", "Cofee"]})),
            UNKNOWN_CATEGORY,
            "rules[0].set.category",
        ),
        (document(rule(set_={"merchant": "M" * 101})), BAD_VALUE, "rules[0].set.merchant"),
    ],
)
def test_each_problem_is_reported_with_its_code_and_path(doc: object, code: str, path: str) -> None:
    assert problems_of(doc) == [(code, path)]


def test_an_unknown_category_suggests_the_nearest_valid_path() -> None:
    doc = document(rule(set_={"category": ["Food and Drink", "Cofee"]}))
    with pytest.raises(RuleSetError) as caught:
        parse_rules(doc)
    assert "did you mean 'Food and Drink / Coffee'?" in caught.value.problems[0].message


def test_every_problem_in_a_file_is_reported_at_once_in_file_order() -> None:
    doc = {
        "tenant_id": "acme",
        "version": "2026.1",
        "owner": "ops",
        "rules": [
            rule("ok"),
            {"id": "ok", "match": {}, "set": {"category": ["Housing", "Rent"], "colour": 1}},
            rule(
                "money",
                match={"amount": {"min": "12.5.0"}, "description": r"(\w+\s?)*$"},
                set_={"category": ["Nope"]},
            ),
        ],
    }
    assert problems_of(doc) == [
        (UNKNOWN_KEY, "owner"),
        (BAD_VERSION, "version"),
        (EMPTY_MATCH, "rules[1].match"),
        (UNKNOWN_KEY, "rules[1].set.colour"),
        (DUPLICATE_ID, "rules[1].id"),
        (UNSAFE_PATTERN, "rules[2].match.description"),
        (BAD_AMOUNT, "rules[2].match.amount.min"),
        (UNKNOWN_CATEGORY, "rules[2].set.category"),
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+",
        "(a*)*",
        "(a|aa)+",
        r"^(\w+\s?)*$",
        "(?:x+y?){2,}",
        "(.*a){20}",
        "((ab)*c)+",
        "(a+)+?",
        "(a?)*",
        r"(a)\1",
        "(?P<x>a)(?P=x)",
        "(a)?(?(1)b|c)",
        "(?x) a+ # verbose",
        ".*.*.*.*b",
        r"\w+\s*\w+\s*\d{2,}",
    ],
)
def test_patterns_that_can_backtrack_catastrophically_are_refused(pattern: str) -> None:
    assert problems_of(document(rule(match={"description": pattern}))) == [
        (UNSAFE_PATTERN, "rules[0].match.description")
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)^rent\b",
        r"[\s-]+",
        "(ab)+",
        "(a+)?",
        "(a+){1}",
        "(a|b)",
        r"\\1",
        "[(]a+[)]+",
        "[]a]+",
        "(?#(comment)x+",
        r"(?#a\)b)c+",
        r"^\d{3}-\d+ (?:GB|UK)$",
        "a{}",
        ".*x.*y.*z",
        r"^\d{3}-\d{4} \w+",
        r"\d{2}/\d{2}/\d{4} .*x.*y.*",
    ],
)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    rules = parse_rules(document(rule(match={"description": pattern})))
    assert rules.rules[0].match.description == pattern


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def test_the_first_matching_rule_in_file_order_wins() -> None:
    coffee = rule("coffee", match={"merchant": "Corner Coffee"})
    account = rule("account", match={"account_id": "acc-1"}, set_={"category": RENT})
    hit = first_match(parse_rules(document(coffee, account)), tx())
    assert hit == RuleHit("coffee", ("Food and Drink", "Coffee"), None, "2026.11.3")
    hit = first_match(parse_rules(document(account, coffee)), tx())
    assert hit == RuleHit("account", ("Housing", "Rent"), None, "2026.11.3")
    rules = parse_rules(document(coffee, account))
    assert first_match(rules, tx(raw="TESCO")) == RuleHit(
        "account", ("Housing", "Rent"), None, "2026.11.3"
    )
    assert first_match(rules, tx(raw="TESCO", account_id="acc-2")) is None


def test_every_condition_of_a_rule_must_hold() -> None:
    match = {"description": "(?i)^rent", "account_id": "acc-1", "currency": "GBP"}
    rules = parse_rules(document(rule(match=match, set_={"merchant": "Landlord Ltd"})))
    assert first_match(rules, tx(raw="RENT MAY")) == RuleHit(
        "r1", None, "Landlord Ltd", "2026.11.3"
    )
    assert first_match(rules, tx(raw="MAY RENT")) is None
    assert first_match(rules, tx(raw="RENT MAY", account_id="acc-2")) is None
    assert first_match(rules, tx(raw="RENT MAY", currency="EUR")) is None


@pytest.mark.parametrize(
    ("raw", "clean", "hit"),
    [
        ("corner coffee", None, True),
        ("  CORNER\t  coffee ", None, True),
        ("CRNR CFE 0042", "Corner  COFFEE", True),
        ("Corner Coffee Ltd", None, False),
        ("CRNR CFE 0042", None, False),
    ],
)
def test_merchant_matches_clean_or_raw_name_ignoring_case_and_spacing(
    raw: str, clean: str | None, hit: bool
) -> None:
    rules = parse_rules(document(rule(match={"merchant": " corner COFFEE"})))
    assert (first_match(rules, tx(raw=raw, clean=clean)) is not None) is hit


@pytest.mark.parametrize(
    ("amount_minor", "hit"),
    [(-500_000, True), (-50_000, True), (-123_456, True), (-500_001, False), (-49_999, False)],
)
def test_amount_bounds_are_inclusive_and_exact(amount_minor: int, hit: bool) -> None:
    rules = amount_rule(min="-5000.00", max="-500.00")
    assert (first_match(rules, tx(amount_minor)) is not None) is hit


def test_amount_bounds_are_read_in_the_transaction_currency_exponent() -> None:
    rules = amount_rule(min="1000", max="2000")
    assert first_match(rules, tx(1000, "JPY")) is not None  # 1000 yen
    assert first_match(rules, tx(1000, "GBP")) is None  # 10.00 pounds
    assert first_match(rules, tx(100_000, "GBP")) is not None  # 1000.00 pounds
    assert first_match(rules, tx(1_000_000, "BHD")) is not None  # 1000.000 dinars
    assert first_match(rules, tx(2_000_001, "BHD")) is None


@pytest.mark.parametrize(
    ("currency", "amount_minor", "hit"),
    [("GBP", 100, False), ("GBP", 101, True), ("JPY", 1, False), ("JPY", 2, True)],
)
def test_bounds_finer_than_the_currency_are_compared_exactly(
    currency: str, amount_minor: int, hit: bool
) -> None:
    # 1.005 is 100.5 pence and 1.005 yen: neither is rounded to fit the currency.
    rules = amount_rule(min="1.005")
    assert (first_match(rules, tx(amount_minor, currency)) is not None) is hit


def test_exact_comparison_holds_beyond_decimal_context_precision() -> None:
    rules = amount_rule(max="999999999999999999.99")
    assert first_match(rules, tx(99_999_999_999_999_999_999, "GBP")) is not None
    assert first_match(rules, tx(100_000_000_000_000_000_000, "GBP")) is None
    assert first_match(rules, tx(10**40 + 1, "GBP")) is None


def test_rule_input_reads_a_fos_transaction_document() -> None:
    doc = UnifiedTransaction(
        transaction_id="txn_1",
        account_id="acc-1",
        provider="plaid",
        provider_account_id="p-acc",
        provider_transaction_id="p-txn",
        amount_minor=-450,
        currency="GBP",
        status=TransactionStatus.POSTED,
        dates=TransactionDates(posted=dt.date(2026, 11, 2)),
        merchant=Merchant(raw_name="CARD CORNER COFFEE", clean_name="Corner Coffee"),
    ).model_dump()
    expected = RuleInput(
        "Corner Coffee", "CARD CORNER COFFEE", "CARD CORNER COFFEE", -450, "GBP", "acc-1"
    )
    assert rule_input(doc, None) == expected
    assert rule_input(doc, "Cafe")[0] == "Cafe"


def test_versions_compare_as_tuples_of_integers() -> None:
    assert version_key("2026.11.10") > version_key("2026.11.9") > version_key("2025.12.99")


# --------------------------------------------------------------------------------------------
# Snapshots and round trips
# --------------------------------------------------------------------------------------------


def test_rule_sets_and_errors_survive_pickling() -> None:
    rules = parse_rules(json.loads(EXAMPLE))
    copy = pickle.loads(pickle.dumps(rules))  # noqa: S301 - our own object
    assert copy == rules
    assert first_match(copy, tx(-100_000, raw="Rent November")) == first_match(
        rules, tx(-100_000, raw="Rent November")
    )
    with pytest.raises(RuleSetError) as caught:
        parse_rules(document(version="x", tenant_id=""))
    error = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object
    assert isinstance(error, RuleSetError)
    assert error.problems == caught.value.problems
    assert error.problems[0] == RuleProblem(BAD_VALUE, "tenant_id", "must not be empty")
    assert str(error) == str(caught.value)


BOUNDS = st.builds(
    lambda units, places: str(Decimal(units).scaleb(-places)),
    st.integers(-(10**7), 10**7),
    st.integers(0, 3),
)
MATCHES = st.fixed_dictionaries(
    {},
    optional={
        "merchant": st.sampled_from(["Corner Coffee", "corner  COFFEE", "Tesco", "Landlord Ltd"]),
        "description": st.sampled_from([r"(?i)^rent\b", "TESCO", r"\d{4}", r"[\s-]+x", "(ab)+"]),
        "amount": st.lists(BOUNDS, min_size=1, max_size=2).map(
            lambda bounds: dict(zip(("min", "max"), sorted(bounds, key=Decimal), strict=False))
        ),
        "account_id": st.sampled_from(["acc-1", "acc-2"]),
        "currency": st.sampled_from(["GBP", "JPY", "BHD"]),
    },
).filter(bool)
SETS = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from([COFFEE, RENT, ["Other"]]),
        "merchant": st.sampled_from(["Landlord Ltd", "Corner Coffee"]),
    },
).filter(bool)
DOCUMENTS = st.lists(st.tuples(MATCHES, SETS), min_size=1, max_size=12).map(
    lambda pairs: document(*(rule(f"r{i}", m, s) for i, (m, s) in enumerate(pairs)))
)
INPUTS = st.builds(
    RuleInput,
    st.sampled_from([None, "Corner Coffee", "Tesco"]),
    st.sampled_from(["CORNER COFFEE", "tesco 1234", "Rent May", "Landlord  ltd"]),
    st.sampled_from(["RENT MAY", "TESCO STORES 3296", "ab-x", "paid 2026"]),
    st.integers(-(10**10), 10**10),
    st.sampled_from(["GBP", "JPY", "BHD"]),
    st.sampled_from(["acc-1", "acc-2"]),
)


@given(DOCUMENTS, st.lists(INPUTS, min_size=1, max_size=5))
def test_matching_is_deterministic_and_the_source_round_trips(
    doc: dict[str, Any], inputs: list[RuleInput]
) -> None:
    rules = parse_rules(doc)
    again = parse_rules(rules.source)
    assert again == rules
    assert again.digest == rules.digest == content_hash(json.loads(json.dumps(rules.source)))
    singles = [parse_rules(document(source)) for source in rules.source["rules"]]
    for item in inputs:
        hit = first_match(rules, item)
        assert first_match(rules, item) == hit == first_match(again, item)
        # The hit is the first rule that matches on its own.
        alone = [first_match(single, item) for single in singles]
        assert hit == next((found for found in alone if found is not None), None)
