"""Mapping plans: validation, reading files through them, ids, balances and the normaliser."""

from __future__ import annotations

import base64
import copy
import csv
import datetime as dt
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators import mapping
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.mapping import (
    AccountOverrides,
    PlanContext,
    PlanError,
    PlanResult,
    apply_plan,
    validate_plan,
)
from operators.observations import AccountsObserved, TransactionsObserved
from schemas.canonical import canonical_json, derived_id
from schemas.envelopes import ConnectEnvelope
from schemas.fos import AccountType, TransactionStatus, TransactionType
from schemas.money import format_minor
from schemas.records import Reason
from tests.support.envelopes import FIXTURES

CONTEXT = PlanContext(
    tenant_id="t1",
    profile_id="p1",
    received_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    connection_id="conn-1",
)

BASE: dict[str, Any] = {
    "name": "test-bank",
    "columns": {"date": "Date", "description": "Description", "amount": "Amount"},
    "date_format": "yyyy-mm-dd",
    "currency": "GBP",
}


def plan_with(**changes: Any) -> dict[str, Any]:
    """Return the base plan with top-level keys replaced (None removes a key)."""
    plan = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            plan.pop(key, None)
        else:
            plan[key] = value
    return plan


def columns(**extra: Any) -> dict[str, Any]:
    """Return the base columns with some added or replaced (None removes one)."""
    result = {**BASE["columns"], **extra}
    return {k: v for k, v in result.items() if v is not None}


def run(plan: dict[str, Any], text: str | bytes, context: PlanContext = CONTEXT) -> PlanResult:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return apply_plan(plan, content, context)


def ok(plan: dict[str, Any], text: str | bytes, context: PlanContext = CONTEXT) -> PlanResult:
    result = run(plan, text, context)
    assert result.errors == ()
    return result


def only_error(result: PlanResult) -> dict[str, Any]:
    (error,) = result.errors
    return error.to_dict()


def amounts(result: PlanResult) -> list[int]:
    return [t.amount_minor for t in result.transactions]


def codes(errors: list[PlanError]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in errors]


# --------------------------------------------------------------------------------------------
# Ids: content hash plus occurrence index
# --------------------------------------------------------------------------------------------

COFFEES = (
    "Date,Description,Amount\n"
    "2024-03-01,PRET A MANGER,-3.10\n"
    "2024-03-01,PRET A MANGER,-3.10\n"
    "2024-03-02,PRET A MANGER,-3.10\n"
)


def test_two_identical_coffees_on_one_day_are_two_transactions() -> None:
    result = ok(BASE, COFFEES)
    first, second, third = result.transactions
    assert first.provider_transaction_id.endswith(":0")
    assert second.provider_transaction_id.endswith(":1")
    assert first.provider_transaction_id[:-2] == second.provider_transaction_id[:-2]
    assert third.provider_transaction_id.endswith(":0")
    assert third.provider_transaction_id[:-2] != first.provider_transaction_id[:-2]
    assert len({t.transaction_id for t in result.transactions}) == 3
    assert first.transaction_id == derived_id(
        "txn", "csv", "test-bank", first.provider_transaction_id
    )


def test_reimporting_a_file_gives_the_same_ids() -> None:
    once = ok(BASE, COFFEES)
    again = ok(BASE, COFFEES)
    assert [t.transaction_id for t in once.transactions] == [
        t.transaction_id for t in again.transactions
    ]


def test_an_overlapping_export_with_one_coffee_matches_the_first() -> None:
    full = ok(BASE, COFFEES)
    partial = ok(BASE, "Date,Description,Amount\n2024-03-01,PRET A MANGER,-3.10\n")
    assert partial.transactions[0].transaction_id == full.transactions[0].transaction_id


@given(st.permutations(COFFEES.splitlines()[1:] + ["2024-03-01,TESCO,-12.00"]))
def test_row_order_does_not_change_the_set_of_transactions(rows: list[str]) -> None:
    reordered = ok(BASE, "Date,Description,Amount\n" + "\n".join(rows) + "\n")
    original = ok(BASE, COFFEES + "2024-03-01,TESCO,-12.00\n")

    def keyed(result: PlanResult) -> set[tuple[str, int, str]]:
        return {
            (t.transaction_id, t.amount_minor, t.merchant.raw_name) for t in result.transactions
        }

    assert keyed(reordered) == keyed(original)


def test_check_number_tells_otherwise_identical_rows_apart() -> None:
    plan = plan_with(columns=columns(check_number="Check"))
    text = (
        "Date,Description,Amount,Check\n2024-03-01,CHECK,-50.00,101\n2024-03-01,CHECK,-50.00,102\n"
    )
    first, second = ok(plan, text).transactions
    assert first.provider_transaction_id.endswith(":0")
    assert second.provider_transaction_id.endswith(":0")
    assert first.provider_transaction_id != second.provider_transaction_id


def test_provider_id_column_is_used_as_is() -> None:
    plan = plan_with(columns=columns(transaction_id="Id"))
    text = "Id,Date,Description,Amount\ntx-9,2024-03-01,A,-1.00\n"
    (txn,) = ok(plan, text).transactions
    assert txn.provider_transaction_id == "tx-9"
    assert txn.transaction_id == derived_id("txn", "csv", "test-bank", "tx-9")


def test_repeated_or_empty_provider_ids_are_row_errors() -> None:
    plan = plan_with(columns=columns(transaction_id="Id"))
    text = (
        "Id,Date,Description,Amount\n"
        "tx-9,2024-03-01,A,-1.00\n"
        "tx-9,2024-03-02,B,-2.00\n"
        ",2024-03-03,C,-3.00\n"
    )
    result = run(plan, text)
    assert [e.to_dict() for e in result.errors] == [
        {
            "path": "$.columns.transaction_id",
            "code": "duplicate_key",
            "message": "row 3: transaction_id 'tx-9' is also on row 2",
            "row": 3,
            "column": "Id",
        },
        {
            "path": "$.columns.transaction_id",
            "code": "missing_field",
            "message": "row 4: transaction_id is empty",
            "row": 4,
            "column": "Id",
        },
    ]
    assert result.errors[0].reason is Reason.DUPLICATE_KEY


# --------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------


def test_same_file_and_plan_give_byte_identical_output() -> None:
    plan = plan_with(columns=columns(balance="Balance"))
    text = "Date,Description,Amount,Balance\n2024-03-01,A,-1.00,99.00\n2024-03-02,B,5.00,104.00\n"

    def dump(result: PlanResult) -> bytes:
        assert result.account is not None
        return canonical_json(
            {
                "transactions": [t.model_dump(mode="json") for t in result.transactions],
                "account": result.account.model_dump(mode="json"),
            }
        )

    first, second = dump(ok(plan, text)), dump(ok(plan, text))
    assert first == second
    assert b'"current_minor":10400' in first


def test_validation_is_deterministic() -> None:
    broken = {"name": "Bad Name", "colums": {}, "date_format": "MM/DD/YYYY", "currency": "usd"}
    assert validate_plan(broken) == validate_plan(copy.deepcopy(broken))
    assert codes(validate_plan(broken)) == [
        ("$.colums", "unknown_key"),
        ("$.columns", "missing_key"),
        ("$.name", "invalid_value"),
        ("$.date_format", "bad_date_format"),
        ("$.currency", "unknown_currency"),
    ]


# --------------------------------------------------------------------------------------------
# Plan validation: structured errors a program can repair from
# --------------------------------------------------------------------------------------------


def test_shape_of_a_plan_error() -> None:
    (error,) = validate_plan(plan_with(currency="XYZ"))
    assert error.to_dict() == {
        "path": "$.currency",
        "code": "unknown_currency",
        "message": "$.currency: 'XYZ' is not an ISO 4217 currency code",
        "row": None,
        "column": None,
    }
    assert error.reason is Reason.INVALID_PLAN


def test_unknown_column_is_reported_against_the_header() -> None:
    plan = plan_with(columns=columns(amount="Amt"))
    result = run(plan, "Date,Description,Amount\n2024-03-01,A,1.00\n")
    error = only_error(result)
    assert (error["path"], error["code"], error["row"], error["column"]) == (
        "$.columns.amount",
        "unknown_column",
        None,
        "Amt",
    )
    assert "Did you mean 'Amount'?" in error["message"]
    assert result.transactions == ()


def test_duplicate_header_names_are_ambiguous() -> None:
    result = run(BASE, "Date,Description,Amount,Amount\n2024-03-01,A,1.00,2.00\n")
    assert codes(list(result.errors)) == [("$.columns.amount", "ambiguous_column")]


@pytest.mark.parametrize(
    ("date_format", "fragment"),
    [
        ("MM/DD/YYYY", "'M' at position 1 is not a token"),
        ("mdyy", "md is ambiguous"),
        ("dd/mm", "needs one year token"),
        ("yyyy-mm-dd-dd", "needs one day token (dd or d), found 2"),
    ],
)
def test_bad_date_formats(date_format: str, fragment: str) -> None:
    (error,) = validate_plan(plan_with(date_format=date_format))
    assert (error.path, error.code) == ("$.date_format", "bad_date_format")
    assert fragment in error.message


@pytest.mark.parametrize(
    ("time_format", "fragment"),
    [
        ("hh:mm", "12-hour tokens"),
        ("HH:mm AM/PM", "12-hour tokens"),
        ("HH", "one minute token"),
    ],
)
def test_bad_time_formats(time_format: str, fragment: str) -> None:
    (error,) = validate_plan(plan_with(time_format=time_format))
    assert (error.path, error.code) == ("$.time_format", "bad_time_format")
    assert fragment in error.message


def test_amount_column_with_debit_and_credit_columns_conflicts() -> None:
    plan = plan_with(columns=columns(debit="Out", credit="In"))
    assert codes(validate_plan(plan)) == [
        ("$.columns.debit", "conflicting_sign_rules"),
        ("$.columns.credit", "conflicting_sign_rules"),
    ]
    plan["sign"] = {"mode": "debit_credit"}
    assert codes(validate_plan(plan)) == [("$.columns.amount", "conflicting_sign_rules")]


def test_indicator_rules_conflict_when_a_value_means_both() -> None:
    plan = plan_with(
        columns=columns(indicator="DC"),
        sign={"mode": "indicator", "debit_values": ["D", "x"], "credit_values": ["C", "X"]},
    )
    (error,) = validate_plan(plan)
    assert (error.path, error.code) == ("$.sign.credit_values", "conflicting_sign_rules")
    assert "'x' would mean both debit and credit" in error.message


def test_indicator_values_without_indicator_mode_conflict() -> None:
    plan = plan_with(sign={"mode": "signed", "debit_values": ["D"]})
    assert codes(validate_plan(plan)) == [("$.sign.debit_values", "conflicting_sign_rules")]


def test_missing_sign_columns_and_unknown_mode() -> None:
    plan = plan_with(columns={"date": "Date"}, sign={"mode": "debit_credit"})
    assert codes(validate_plan(plan)) == [
        ("$.columns.debit", "missing_key"),
        ("$.columns.credit", "missing_key"),
    ]
    (error,) = validate_plan(plan_with(sign={"mode": "card"}))
    assert (error.path, error.code) == ("$.sign.mode", "invalid_value")


def test_unknown_keys_and_wrong_types_everywhere() -> None:
    plan = plan_with(
        source={"delimeter": ";", "header": "yes", "encoding": "ebcdic"},
        columns=columns(amount=True, colour="Red"),
        amount_format={"decimal": ",", "thousands": [",", "_"]},
        status_map={"Posted": "SETTLED"},
    )
    assert codes(validate_plan(plan)) == [
        ("$.source.delimeter", "unknown_key"),
        ("$.source.encoding", "invalid_value"),
        ("$.source.header", "wrong_type"),
        ("$.columns.colour", "unknown_key"),
        ("$.columns.amount", "wrong_type"),
        ("$.amount_format.thousands", "invalid_value"),
        ("$.amount_format.thousands", "invalid_value"),
        ("$.status_map", "invalid_value"),
        ("$.status_map.Posted", "invalid_value"),
    ]
    assert "(did you mean 'delimiter'?)" in validate_plan(plan)[0].message


def test_status_and_type_columns_need_their_maps() -> None:
    plan = plan_with(columns=columns(status="State", type="Kind"))
    assert codes(validate_plan(plan)) == [
        ("$.status_map", "missing_key"),
        ("$.type_map", "missing_key"),
    ]


def test_a_plan_that_is_not_an_object() -> None:
    assert codes(validate_plan([])) == [("$", "wrong_type")]  # type: ignore[arg-type]


def test_headerless_plans_must_use_column_numbers() -> None:
    plan = plan_with(source={"header": False}, columns={"date": 1, "amount": "Amount"})
    (error,) = validate_plan(plan)
    assert (error.path, error.code, error.column) == (
        "$.columns.amount",
        "unknown_column",
        "Amount",
    )
    plan["columns"] = {"date": 0, "amount": 2}
    assert codes(validate_plan(plan)) == [("$.columns.date", "invalid_value")]


def test_a_plan_without_any_currency_fails_on_apply() -> None:
    plan = plan_with(currency=None)
    assert validate_plan(plan) == []
    error = only_error(run(plan, "Date,Description,Amount\n2024-03-01,A,1.00\n"))
    assert (error["path"], error["code"]) == ("$.currency", "missing_key")
    override = PlanContext(
        "t1", "p1", CONTEXT.received_at, account=AccountOverrides(currency="JPY")
    )
    result = ok(plan, "Date,Description,Amount\n2024-03-01,A,1200\n", override)
    assert (result.transactions[0].amount_minor, result.transactions[0].currency) == (1200, "JPY")


# --------------------------------------------------------------------------------------------
# Encodings, line ends, delimiters, preamble and footer
# --------------------------------------------------------------------------------------------


def test_utf8_bom_is_dropped_before_the_header() -> None:
    result = ok(BASE, b"\xef\xbb\xbfDate,Description,Amount\n2024-03-01,Caf\xc3\xa9,-2.50\n")
    assert result.transactions[0].merchant.raw_name == "Café"


@pytest.mark.parametrize("encoding", ["latin-1", "iso-8859-1"])
def test_latin1_file(encoding: str) -> None:
    plan = plan_with(source={"encoding": encoding})
    result = ok(plan, b"Date,Description,Amount\n2024-03-01,Cr\xe8me \xa3,-2.50\n")
    assert result.transactions[0].merchant.raw_name == "Crème £"


@pytest.mark.parametrize("encoding", ["windows-1252", "cp1252"])
def test_cp1252_euro_sign(encoding: str) -> None:
    plan = plan_with(source={"encoding": encoding})
    result = ok(plan, b"Date,Description,Amount\n2024-03-01,\x80 caf\xe9,-2.50\n")
    assert result.transactions[0].merchant.raw_name == "€ café"


def test_bytes_outside_the_encoding_are_an_error_on_their_line() -> None:
    content = b"Date,Description,Amount\r\n2024-03-01,A,-1.00\r\n2024-03-02,\x80uro,-1.00\r\n"
    error = only_error(run(BASE, content))
    assert (error["path"], error["code"], error["row"]) == (
        "$.source.encoding",
        "invalid_encoding",
        3,
    )
    undefined = run(plan_with(source={"encoding": "windows-1252"}), b"Date\n\x81\n")
    assert undefined.errors[0].code == "invalid_encoding"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_ends_are_all_read_and_rows_counted_the_same(newline: str) -> None:
    text = newline.join(
        ["Date,Description,Amount", "2024-03-01,A,-1.00", '2024-03-02,"B, C",2.00', "bad,D,1"]
    )
    result = run(BASE, text + newline)
    assert amounts(result) == [-100, 200]
    assert result.transactions[1].merchant.raw_name == "B, C"
    error = only_error(result)
    assert (error["code"], error["row"], error["column"]) == ("invalid_date", 4, "Date")


def test_creditunion_cr_only_fixture_reads_with_an_inline_plan() -> None:
    plan = {
        "name": "cu",
        "columns": {"date": "Date", "description": "Description", "amount": "Amount"},
        "date_format": "m/d/yy",
        "currency": "USD",
    }
    content = (FIXTURES / "csv2ofx" / "creditunion.csv").read_bytes()
    assert b"\n" not in content
    result = ok(plan, content)
    assert len(result.transactions) == 8
    assert result.transactions[2].merchant.raw_name == "Sadrick Mtel"


def test_quoted_field_spanning_lines_keeps_later_row_numbers_physical() -> None:
    text = 'Date,Description,Amount\n2024-03-01,"two\nlines",1.00\n2024-03-02,X,oops\n'
    result = run(BASE, text)
    assert result.transactions[0].merchant.raw_name == "two\nlines"
    assert only_error(result)["row"] == 4


@pytest.mark.parametrize(("delimiter", "sep"), [(";", ";"), ("\t", "\t"), ("|", "|")])
def test_delimiters(delimiter: str, sep: str) -> None:
    plan = plan_with(source={"delimiter": delimiter})
    text = sep.join(["Date", "Description", "Amount"]) + "\n"
    text += sep.join(["2024-03-01", "A, B", "-1.00"]) + "\n"
    assert ok(plan, text).transactions[0].merchant.raw_name == "A, B"


def test_single_quote_character_and_no_quoting() -> None:
    text = "Date,Description,Amount\n2024-03-01,'A, B',-1.00\n"
    quoted = ok(plan_with(source={"quote": "'"}), text)
    assert quoted.transactions[0].merchant.raw_name == "A, B"
    plain = ok(plan_with(source={"quote": None}), 'Date,Description,Amount\n2024-03-01,"A",-1\n')
    assert plain.transactions[0].merchant.raw_name == '"A"'


def test_preamble_and_footer_lines_are_skipped_and_rows_still_count_from_the_top() -> None:
    plan = plan_with(source={"skip_leading_lines": 2, "skip_trailing_lines": 1})
    text = (
        "Account statement\n"
        "Exported 2024-04-01\n"
        "Date,Description,Amount\n"
        "2024-03-01,A,-1.00\n"
        "2024-03-02,B,nope\n"
        "Total,,-1.00\n"
        "\n"
    )
    result = run(plan, text)
    assert amounts(result) == [-100]
    assert only_error(result)["row"] == 5


def test_a_row_of_another_width_is_unparseable() -> None:
    result = run(BASE, "Date,Description,Amount\n2024-03-01,A,B,-1.00\n2024-03-02,C,-2.00\n")
    error = only_error(result)
    assert (error["path"], error["code"], error["row"]) == ("$.source", "unparseable_file", 2)
    assert error["message"] == "line 2 has 4 cells where the file has 3"
    assert amounts(result) == [-200]


def test_broken_quoting_stops_the_file() -> None:
    text = 'Date,Description,Amount\n2024-03-01,"A"x,-1.00\n'
    error = only_error(run(BASE, text))
    assert (error["code"], error["row"]) == ("unparseable_file", 2)


def test_headerless_file_reads_columns_by_number() -> None:
    plan = plan_with(source={"header": False}, columns={"date": 1, "description": 3, "amount": 2})
    result = ok(plan, "2024-03-01,-4.20,Bakery\n2024-03-02,10.00,Refund\n")
    assert [(t.merchant.raw_name, t.amount_minor) for t in result.transactions] == [
        ("Bakery", -420),
        ("Refund", 1000),
    ]
    error = only_error(
        run(plan_with(source={"header": False}, columns={"date": 1, "amount": 4}), "2024-03-01,1\n")
    )
    assert (error["path"], error["code"], error["column"]) == (
        "$.columns.amount",
        "unknown_column",
        4,
    )


# --------------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_format", "text", "expected"),
    [
        ("m/d/yy", "2/8/15", dt.date(2015, 2, 8)),
        ("m/d/yy", "12/31/68", dt.date(2068, 12, 31)),
        ("m/d/yy", "1/1/69", dt.date(1969, 1, 1)),
        ("mm/dd/yyyy", "08/17/2022", dt.date(2022, 8, 17)),
        ("dd.mm.yyyy", "31.03.2019", dt.date(2019, 3, 31)),
        ("dd/mm/yyyy", "05/03/2021", dt.date(2021, 3, 5)),
        ("mm/dd/yyyy", "05/03/2021", dt.date(2021, 5, 3)),
        ("yyyy.mm.dd", "2025.12.04", dt.date(2025, 12, 4)),
        ("yyyymmdd", "20240229", dt.date(2024, 2, 29)),
        ("d mon yyyy", "7 Mar 2020", dt.date(2020, 3, 7)),
        ("iso", "2020-03-07", dt.date(2020, 3, 7)),
        ("iso", "2020-03-07T23:30:00-05:00", dt.date(2020, 3, 7)),
    ],
)
def test_date_formats(date_format: str, text: str, expected: dt.date) -> None:
    plan = plan_with(date_format=date_format)
    result = ok(plan, f'Date,Description,Amount\n"{text}",A,1.00\n')
    assert result.transactions[0].dates.posted == expected


@pytest.mark.parametrize(
    ("date_format", "text"),
    [
        ("mm/dd/yyyy", "2022-08-17"),
        ("mm/dd/yyyy", "8/17/2022"),
        ("mm/dd/yyyy", "02/30/2022"),
        ("dd.mm.yyyy", "31.13.2019"),
        ("d mon yyyy", "7 Foo 2020"),
        ("yyyy-mm-dd", "2024-03-01 10:00"),
    ],
)
def test_dates_that_do_not_match_are_errors_not_guesses(date_format: str, text: str) -> None:
    result = run(plan_with(date_format=date_format), f"Date,Description,Amount\n{text},A,1.00\n")
    error = only_error(result)
    assert (error["path"], error["code"], error["row"], error["column"]) == (
        "$.columns.date",
        "invalid_date",
        2,
        "Date",
    )
    assert result.errors[0].reason is Reason.INVALID_DATE


def test_twelve_hour_times_order_rows_within_a_day() -> None:
    plan = plan_with(
        columns=columns(time="Time", balance="Balance"),
        date_format="mm/dd/yyyy",
        time_format="hh:mm AM/PM",
    )
    text = (
        "Date,Time,Description,Amount,Balance\n"
        "01/10/2019,12:05 PM,Lunch,-10.00,80.00\n"
        "01/10/2019,09:15 AM,Coffee,-10.00,90.00\n"
        "01/10/2019,12:00 AM,Midnight,0.00,100.00\n"
    )
    result = ok(plan, text)
    assert result.account is not None
    assert result.account.balances.current_minor == 8000
    bad = run(plan, "Date,Time,Description,Amount,Balance\n01/10/2019,13:05 PM,X,1,1\n")
    assert (only_error(bad)["code"], only_error(bad)["column"]) == ("invalid_date", "Time")


def test_time_zone_column_orders_by_instant_but_keeps_printed_dates() -> None:
    plan = plan_with(
        columns=columns(time="Time", timezone="Zone", balance="Balance"),
        time_format="HH:mm:ss",
    )
    text = (
        "Date,Time,Zone,Description,Amount,Balance\n"
        "2024-01-01,23:30:00,UTC,Late,-1.00,50.00\n"
        "2024-01-02,00:30:00,+02:00,Early,-1.00,51.00\n"
    )
    result = ok(plan, text)
    assert [t.dates.posted for t in result.transactions] == [
        dt.date(2024, 1, 1),
        dt.date(2024, 1, 2),
    ]
    # 00:30 at +02:00 is 22:30 UTC on the 1st: before 23:30 UTC.
    assert result.account is not None
    assert result.account.balances.current_minor == 5000
    assert result.balance_date == dt.date(2024, 1, 1)


def test_plan_timezone_and_bad_zones() -> None:
    assert codes(validate_plan(plan_with(timezone="Europe/Paris"))) == [
        ("$.timezone", "invalid_value")
    ]
    plan = plan_with(columns=columns(time="Time", timezone="Zone"), time_format="HH:mm")
    error = only_error(run(plan, "Date,Time,Zone,Description,Amount\n2024-01-01,10:00,CET,A,1\n"))
    assert (error["code"], error["column"]) == ("invalid_date", "Zone")


def test_date_and_time_in_one_column() -> None:
    plan = plan_with(time_format="HH:mm", timezone="-05:00", columns=columns(balance="Balance"))
    text = (
        "Date,Description,Amount,Balance\n"
        "2021-02-03 13:12,A,25.00,25.00\n"
        "2021-02-03 06:53,B,27.50,52.50\n"
    )
    result = ok(plan, text)
    assert result.transactions[0].dates.posted == dt.date(2021, 2, 3)
    # Descending file, latest instant is the first row even though its balance is lower.
    assert result.account is not None
    assert result.account.balances.current_minor == 2500
    missing_time = run(plan, "Date,Description,Amount,Balance\n2021-02-03,A,1,1\n")
    assert only_error(missing_time)["code"] == "invalid_date"


def test_authorised_date_column_with_its_own_format() -> None:
    plan = plan_with(
        columns=columns(authorised_date="Purchased"), authorised_date_format="dd/mm/yyyy"
    )
    text = "Date,Purchased,Description,Amount\n2024-03-04,01/03/2024,A,-1.00\n2024-03-05,,B,-1.00\n"
    first, second = ok(plan, text).transactions
    assert (first.dates.posted, first.dates.authorised) == (
        dt.date(2024, 3, 4),
        dt.date(2024, 3, 1),
    )
    assert second.dates.authorised is None


def test_future_dates_beyond_the_tolerance_are_errors() -> None:
    context = PlanContext("t1", "p1", CONTEXT.received_at, future_tolerance_days=7)
    text = "Date,Description,Amount\n2026-01-09,Ok,-1.00\n2026-01-10,Later,-1.00\n"
    result = run(BASE, text, context)
    error = only_error(result)
    assert (error["code"], error["row"], error["column"]) == ("future_date", 3, "Date")
    assert result.errors[0].reason is Reason.FUTURE_DATE


# --------------------------------------------------------------------------------------------
# Amounts and signs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "currency", "expected"),
    [
        ("$1,036.47", ".", [","], "USD", 103647),
        ("-$57.27", ".", [","], "USD", -5727),
        ("$-57.27", ".", [","], "USD", -5727),
        ("(1,234.56)", ".", [","], "USD", -123456),
        ("$(1,234.56)", ".", [","], "USD", -123456),
        ("(USD 7.00)", ".", [], "USD", -700),
        ("1,234.56-", ".", [","], "USD", -123456),
        ("\u22123.10", ".", [], "GBP", -310),
        ("+3.10", ".", [], "GBP", 310),
        ("£3.10", ".", [], "GBP", 310),
        ("-1.234,56", ",", ["."], "EUR", -123456),
        ("1.234,56 €", ",", ["."], "EUR", 123456),
        ("1 234,56 EUR", ",", [" "], "EUR", 123456),
        ("1\u202f234,56", ",", [" "], "EUR", 123456),
        ("11'373.94", ".", ["'"], "CHF", 1137394),
        ("CHF 11\u2019373.94", ".", ["'"], "CHF", 1137394),
        ("CHF -5.00", ".", [], "CHF", -500),
        ("50000", ".", [], "USD", 5000000),
        (",50", ",", [], "EUR", 50),
        ("1,234,567", ".", [","], "JPY", 1234567),
        ("12.500", ".", [], "BHD", 12500),
        ("12.500", ".", [], "USD", 1250),
    ],
)
def test_amount_styles(
    text: str, decimal: str, thousands: list[str], currency: str, expected: int
) -> None:
    plan = plan_with(currency=currency, amount_format={"decimal": decimal, "thousands": thousands})
    out = io.StringIO()
    csv.writer(out).writerows([["Date", "Description", "Amount"], ["2024-03-01", "A", text]])
    assert amounts(ok(plan, out.getvalue())) == [expected]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1,23.45", "invalid_amount"),
        ("1,234.56", "invalid_amount"),
        ("12.345", "excess_precision"),
        ("USD 5.00", "invalid_amount"),
        ("(-5.00)", "invalid_amount"),
        ("(5.00", "invalid_amount"),
        ("$5 €", "invalid_amount"),
        ("--5", "invalid_amount"),
        ("5 apples", "invalid_amount"),
        ("12.", "invalid_amount"),
        ("", "missing_field"),
    ],
)
def test_amounts_that_cannot_be_read_exactly(text: str, code: str) -> None:
    result = run(BASE, f'Date,Description,Amount\n2024-03-01,A,"{text}"\n')
    error = only_error(result)
    assert (error["path"], error["code"], error["row"], error["column"]) == (
        "$.columns.amount",
        code,
        2,
        "Amount",
    )
    assert result.errors[0].reason is Reason(code)


SEPARATORS = {".": [",", "'", " ", None], ",": [".", " ", "'", None]}


def _styled(amount_minor: int, currency: str, decimal: str, thousands: str | None) -> str:
    whole, _, fraction = format_minor(abs(amount_minor), currency).partition(".")
    if thousands is not None:
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = thousands.join([whole, *groups])
    return whole + (decimal + fraction if fraction else "")


@st.composite
def styled_amounts(draw: st.DrawFn) -> tuple[int, str, str, str | None, str]:
    """Draw an amount and render it as some bank would: (minor, currency, decimal, sep, text)."""
    amount_minor = draw(st.integers(min_value=-(10**13), max_value=10**13))
    currency = draw(st.sampled_from(["USD", "EUR", "JPY", "BHD", "CHF"]))
    decimal = draw(st.sampled_from([".", ","]))
    thousands = draw(st.sampled_from(SEPARATORS[decimal]))
    text = _styled(amount_minor, currency, decimal, thousands)
    marker = draw(st.sampled_from(["", "code-before", "code-after", "symbol"]))
    if marker == "code-before":
        text = f"{currency} {text}"
    elif marker == "code-after":
        text = f"{text} {currency}"
    elif marker == "symbol":
        text = f"$\u00a0{text}" if thousands != " " else f"${text}"
    if amount_minor < 0:
        negative = draw(st.sampled_from(["-{}", "{}-", "({})", "\u2212{}"]))
        text = negative.format(text)
    return amount_minor, currency, decimal, thousands, text


@given(styled_amounts())
def test_amounts_round_trip_through_any_locale_style(
    styled: tuple[int, str, str, str | None, str],
) -> None:
    amount_minor, currency, decimal, thousands, text = styled
    plan = plan_with(
        currency=currency,
        amount_format={"decimal": decimal, "thousands": [thousands] if thousands else []},
    )
    out = io.StringIO()
    csv.writer(out).writerows([["Date", "Description", "Amount"], ["2024-03-01", "A", text]])
    assert amounts(ok(plan, out.getvalue())) == [amount_minor]


def test_debit_and_credit_columns() -> None:
    plan = plan_with(
        columns=columns(amount=None, debit="Withdrawal", credit="Deposit"),
        sign={"mode": "debit_credit"},
        amount_format={"thousands": [","]},
    )
    text = (
        "Date,Description,Withdrawal,Deposit\n"
        '2024-03-01,ATM,"$1,103.00",\n'
        "2024-03-02,Pay,,$20.00\n"
        "2024-03-03,Fee,-2.00,0.00\n"
        "2024-03-04,Both,1.00,2.00\n"
        "2024-03-05,None,,\n"
    )
    result = run(plan, text)
    assert amounts(result) == [-110300, 2000, -200]
    assert [(e.code, e.row, e.column) for e in result.errors] == [
        ("invalid_amount", 5, "Withdrawal"),
        ("missing_field", 6, "Withdrawal"),
    ]


DC_FILE = (
    "Booked;Text;Sum;DC\n"
    "03.01.2024;Salary;2.500,00;C\n"
    "04.01.2024;Rent;1.200,00;D\n"
    "05.01.2024;Reversal;-5,00;cr\n"
    "06.01.2024;Odd;1,00;X\n"
)


def test_debit_credit_indicator_column() -> None:
    plan = {
        "name": "dc-bank",
        "source": {"delimiter": ";"},
        "columns": {"date": "Booked", "description": "Text", "amount": "Sum", "indicator": "DC"},
        "date_format": "dd.mm.yyyy",
        "amount_format": {"decimal": ",", "thousands": ["."]},
        "sign": {"mode": "indicator", "debit_values": ["D", "DR"], "credit_values": ["C", "CR"]},
        "currency": "EUR",
    }
    assert validate_plan(plan) == []
    result = run(plan, DC_FILE)
    assert amounts(result) == [250000, -120000, 500]
    error = only_error(result)
    assert (error["path"], error["code"], error["row"], error["column"]) == (
        "$.columns.indicator",
        "invalid_amount",
        5,
        "DC",
    )


def test_card_style_positive_purchases_are_inverted() -> None:
    plan = plan_with(sign={"mode": "inverted"}, currency="CAD")
    text = "Date,Description,Amount\n2019-01-10,Mobil,36.33\n2019-01-12,Payment,-100.00\n"
    assert amounts(ok(plan, text)) == [-3633, 10000]


def test_card_balance_owed_is_negative_with_invert_balance() -> None:
    plan = plan_with(
        sign={"mode": "inverted", "invert_balance": True},
        columns=columns(balance="Owed"),
        account={"type": "CREDIT"},
    )
    text = "Date,Description,Amount,Owed\n2019-01-10,Mobil,36.33,136.33\n"
    result = ok(plan, text)
    assert result.transactions[0].balance_after_minor == -13633
    assert result.account is not None
    assert (result.account.type, result.account.balances.current_minor) == (
        AccountType.CREDIT,
        -13633,
    )


def test_currency_column_any_case_and_unknown_codes() -> None:
    plan = plan_with(currency=None, columns=columns(currency="Cur"))
    text = (
        "Date,Description,Amount,Cur\n"
        "2024-03-01,A,25.00,cad\n"
        "2024-03-01,B,1.000,bhd\n"
        "2024-03-02,C,1,XAU\n"
        "2024-03-02,D,1,\n"
    )
    result = run(plan, text)
    assert [(t.amount_minor, t.currency) for t in result.transactions] == [
        (2500, "CAD"),
        (1000, "BHD"),
    ]
    assert [(e.code, e.row, e.column) for e in result.errors] == [
        ("unknown_currency", 4, "Cur"),
        ("missing_field", 5, "Cur"),
    ]
    assert result.errors[0].reason is Reason.UNKNOWN_CURRENCY


# --------------------------------------------------------------------------------------------
# Status, type, text fields and category
# --------------------------------------------------------------------------------------------


def test_status_map_matches_any_case_and_pending_has_no_posted_date() -> None:
    plan = plan_with(
        columns=columns(status="Status"),
        status_map={"Posted": "POSTED", "Pending": "PENDING"},
    )
    text = (
        "Date,Status,Description,Amount\n"
        "2024-03-01,posted,A,-1\n"
        "2024-03-02,PENDING,B,-2\n"
        "2024-03-03,Held,C,-3\n"
    )
    result = run(plan, text)
    posted, pending = result.transactions
    assert (posted.status, posted.dates.posted) == (TransactionStatus.POSTED, dt.date(2024, 3, 1))
    assert (pending.status, pending.dates.posted, pending.dates.authorised) == (
        TransactionStatus.PENDING,
        None,
        dt.date(2024, 3, 2),
    )
    error = only_error(result)
    assert (error["code"], error["row"], error["column"]) == ("unmapped_value", 4, "Status")
    assert result.errors[0].reason is Reason.INVALID_PLAN


def test_type_map_with_a_catch_all() -> None:
    plan = plan_with(
        columns=columns(type="Kind"),
        type_map={"INTADJUST": "INTEREST", "transfer": "TRANSFER", "*": "PAYMENT"},
    )
    text = (
        "Date,Kind,Description,Amount\n"
        "2024-03-01,INTADJUST,A,0.12\n"
        "2024-03-02,Transfer,B,-5\n"
        "2024-03-03,ATM,C,-20\n"
    )
    kinds = [t.details.type for t in ok(plan, text).transactions]
    assert kinds == [TransactionType.INTEREST, TransactionType.TRANSFER, TransactionType.PAYMENT]


def test_payee_then_description_then_memo_make_the_raw_name() -> None:
    plan = plan_with(columns=columns(payee="Payee", memo=["Ref1", "Ref2"], category=["Cat", "Sub"]))
    text = (
        "Date,Payee,Description,Ref1,Ref2,Cat,Sub,Amount\n"
        "2024-03-01,Shell,Card,,,Travel,Gas,-50\n"
        "2024-03-02,,Standing order,,,Household,,-700\n"
        "2024-03-03,,,INV 42,March,,,-1\n"
    )
    names = [t.merchant.raw_name for t in ok(plan, text).transactions]
    assert names == ["Shell", "Standing order", "INV 42 March"]
    categories = [t.enrichment.vendor_category for t in ok(plan, text).transactions]
    assert categories == [("Travel", "Gas"), ("Household",), ()]


# --------------------------------------------------------------------------------------------
# Closing balance
# --------------------------------------------------------------------------------------------

BALANCED = plan_with(columns=columns(balance="Balance"))


def _closing(text: str) -> int | None:
    result = ok(BALANCED, "Date,Description,Amount,Balance\n" + text)
    return result.account.balances.current_minor if result.account else None


def test_closing_balance_is_the_latest_rows() -> None:
    assert _closing("2024-03-01,A,-1,99\n2024-03-05,B,1,100\n2024-03-03,C,-1,98\n") == 10000


def test_same_day_ties_follow_the_balance_chain() -> None:
    # Written out of order and on one day: the chain 100 -> 90 -> 95 ends on 95.
    assert _closing("2024-03-05,Later,5,95\n2024-03-05,Earlier,-10,90\n") == 9500
    assert _closing("2024-03-05,Earlier,-10,90\n2024-03-05,Later,5,95\n") == 9500


def test_same_day_ties_without_a_chain_follow_the_files_direction() -> None:
    descending = "2024-03-05,X,-1,50\n2024-03-05,Y,-1,70\n2024-03-01,Z,-1,80\n"
    ascending = "2024-03-01,Z,-1,80\n2024-03-05,Y,-1,70\n2024-03-05,X,-1,50\n"
    assert _closing(descending) == 5000
    assert _closing(ascending) == 5000


def test_ties_in_a_file_whose_dates_run_both_ways_give_no_balance() -> None:
    mixed = "2024-03-05,X,-1,50\n2024-03-01,Z,-1,80\n2024-03-05,Y,-1,70\n"
    result = ok(BALANCED, "Date,Description,Amount,Balance\n" + mixed)
    assert result.account is None
    assert [t.balance_after_minor for t in result.transactions] == [5000, 8000, 7000]


def test_no_balance_column_means_no_account() -> None:
    assert ok(BASE, COFFEES).account is None


def test_a_file_with_row_errors_reports_no_account() -> None:
    result = run(
        BALANCED, "Date,Description,Amount,Balance\n2024-03-01,A,-1,99\n2024-03-02,B,x,98\n"
    )
    assert result.account is None
    assert len(result.transactions) == 1


def test_account_id_name_and_type_precedence() -> None:
    plan = plan_with(
        columns=columns(balance="Balance", account="Acct"),
        account={"name": "Plan name", "type": "DEPOSITORY", "subtype": "SAVINGS"},
    )
    text = "Date,Acct,Description,Amount,Balance\n2024-03-01,GB-123,A,1,1\n"
    from_file = ok(plan, text).account
    assert from_file is not None
    assert (from_file.provider_account_id, from_file.name, from_file.subtype) == (
        "GB-123",
        "Plan name",
        "SAVINGS",
    )
    overrides = AccountOverrides(provider_account_id="mine", name="Joint", type=AccountType.OTHER)
    context = PlanContext("t1", "p1", CONTEXT.received_at, "c9", overrides)
    chosen = ok(plan, text, context).account
    assert chosen is not None
    assert (chosen.account_id, chosen.name, chosen.type, chosen.connection_id) == (
        derived_id("acc", "csv", "mine"),
        "Joint",
        AccountType.OTHER,
        "c9",
    )
    mixed = run(plan, text + "2024-03-02,GB-999,B,1,2\n")
    assert (only_error(mixed)["code"], only_error(mixed)["row"]) == ("mixed_accounts", 3)


# --------------------------------------------------------------------------------------------
# JSON payloads
# --------------------------------------------------------------------------------------------

JSON_PLAN: dict[str, Any] = {
    "name": "webhook",
    "source": {"format": "json", "records": "$.data.transactions"},
    "columns": {
        "transaction_id": "id",
        "date": "booked_at",
        "amount": "$.amount.value",
        "currency": "$.amount.currency",
        "payee": "$.counterparty.name",
    },
    "date_format": "iso",
}


def test_json_records_by_path_with_exact_numbers() -> None:
    body = (
        b'{"data": {"transactions": ['
        b'{"id": "a1", "booked_at": "2024-03-01T10:00:00Z",'
        b' "amount": {"value": -12.10, "currency": "eur"}, "counterparty": {"name": "Bakery"}},'
        b'{"id": "a2", "booked_at": "2024-03-02",'
        b' "amount": {"value": 5, "currency": "EUR"}, "counterparty": null}'
        b"]}}"
    )
    result = ok(JSON_PLAN, body)
    assert [
        (t.provider_transaction_id, t.amount_minor, t.currency) for t in result.transactions
    ] == [
        ("a1", -1210, "EUR"),
        ("a2", 500, "EUR"),
    ]
    assert result.transactions[0].merchant.raw_name == "Bakery"
    assert result.transactions[1].merchant.raw_name == ""


def test_json_errors_name_the_record() -> None:
    body = (
        b'{"data": {"transactions": ['
        b'{"id": "a1", "booked_at": "2024-03-01", "amount": {"value": [1], "currency": "EUR"}},'
        b" 7]}}"
    )
    result = run(JSON_PLAN, body)
    assert [(e.path, e.code, e.row, e.column) for e in result.errors] == [
        ("$.columns.amount", "wrong_type", 1, "$.amount.value"),
        ("$.source.records", "wrong_type", 2, None),
    ]
    assert only_error(run(JSON_PLAN, b'{"data": {}}'))["code"] == "unparseable_file"
    assert only_error(run(JSON_PLAN, b'{"data": NaN}'))["code"] == "unparseable_file"
    assert only_error(run(JSON_PLAN, b'{"a": 1, "a": 2}'))["code"] == "unparseable_file"


def test_json_plans_refuse_csv_options_and_column_numbers() -> None:
    plan = copy.deepcopy(JSON_PLAN)
    plan["source"]["delimiter"] = ";"
    plan["columns"]["memo"] = 3
    assert codes(validate_plan(plan)) == [
        ("$.source.delimiter", "invalid_value"),
        ("$.columns.memo", "invalid_value"),
    ]
    del plan["source"]["records"]
    assert ("$.source.records", "missing_key") in codes(validate_plan(plan))


# --------------------------------------------------------------------------------------------
# The csv_file normaliser
# --------------------------------------------------------------------------------------------

STATEMENT = (
    "Date,Description,Amount,Balance\n"
    "2025-12-01,Salary,2000.00,2100.00\n"
    "2025-12-02,Rent,-950.00,1150.00\n"
)


def csv_envelope(
    content: bytes | str,
    plan: dict[str, Any],
    *,
    account: dict[str, Any] | None = None,
    kind: str = "csv_file",
    content_b64: str | None = None,
) -> ConnectEnvelope:
    raw = content.encode() if isinstance(content, str) else content
    payload: dict[str, Any] = {
        "filename": "statement.csv",
        "content_b64": content_b64 or base64.b64encode(raw).decode("ascii"),
        "plan": plan,
    }
    if account is not None:
        payload["account"] = account
    return ConnectEnvelope.model_validate(
        {
            "tenant_id": "t1",
            "profile_id": "p1",
            "provider": "csv",
            "connection_id": "upload-7",
            "sync_id": "file-42",
            "received_at": "2026-01-02T09:00:00Z",
            "kind": kind,
            "page": 0,
            "payload": payload,
        }
    )


def test_normaliser_returns_the_account_then_the_transactions() -> None:
    envelope = csv_envelope(
        STATEMENT,
        plan_with(columns=columns(balance="Balance")),
        account={"provider_account_id": "acct-1", "name": "Everyday", "type": "DEPOSITORY"},
    )
    accounts, page = mapping.normalise(envelope, DecodeLimits())
    assert isinstance(accounts, AccountsObserved)
    assert isinstance(page, TransactionsObserved)
    assert accounts.context == page.context
    context = page.context
    assert (context.provider, context.connection_id, context.sync_id) == (
        "csv",
        "upload-7",
        "file-42",
    )
    assert (context.page, context.last_page, context.tenant_id, context.profile_id) == (
        0,
        True,
        "t1",
        "p1",
    )
    assert context.received_at == dt.datetime(2026, 1, 2, 9, tzinfo=dt.UTC)
    (account,) = accounts.accounts
    assert account.account_id == derived_id("acc", "csv", "acct-1")
    assert (account.name, account.currency, account.balances.current_minor) == (
        "Everyday",
        "GBP",
        115000,
    )
    assert account.connection_id == "upload-7"
    assert page.removed == ()
    assert [u.modified for u in page.upserts] == [True, True]
    salary = page.upserts[0].transaction
    assert salary.transaction_id == derived_id(
        "txn", "csv", "acct-1", salary.provider_transaction_id
    )
    assert (salary.amount_minor, salary.balance_after_minor) == (200000, 210000)


def test_normaliser_without_a_balance_returns_only_transactions_under_the_plan_name() -> None:
    (page,) = mapping.normalise(csv_envelope(COFFEES, BASE), DecodeLimits())
    assert isinstance(page, TransactionsObserved)
    assert {u.transaction.provider_account_id for u in page.upserts} == {"test-bank"}
    assert {u.transaction.account_id for u in page.upserts} == {
        derived_id("acc", "csv", "test-bank")
    }


def test_normaliser_output_is_byte_identical_across_runs() -> None:
    envelope = csv_envelope(STATEMENT, plan_with(columns=columns(balance="Balance")))

    def dump() -> bytes:
        observed = mapping.normalise(envelope, DecodeLimits())
        docs: list[Any] = []
        for item in observed:
            if isinstance(item, AccountsObserved):
                docs.append([a.model_dump(mode="json") for a in item.accounts])
            else:
                docs.append([u.transaction.model_dump(mode="json") for u in item.upserts])
        return canonical_json(docs)

    assert dump() == dump()


def _rejected(envelope: ConnectEnvelope) -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        mapping.normalise(envelope, DecodeLimits())
    return caught.value


def test_normaliser_rejects_an_invalid_plan_with_its_structured_errors() -> None:
    rejected = _rejected(csv_envelope(STATEMENT, plan_with(date_format="MM/DD/YYYY")))
    assert rejected.reason is Reason.INVALID_PLAN
    assert rejected.field == "payload.plan.date_format"
    assert '"code":"bad_date_format"' in rejected.message
    assert '"path":"$.date_format"' in rejected.message


def test_normaliser_rejects_a_plan_whose_column_is_not_in_the_header() -> None:
    rejected = _rejected(csv_envelope(STATEMENT, plan_with(columns=columns(amount="Amt"))))
    assert rejected.reason is Reason.INVALID_PLAN
    assert '"code":"unknown_column"' in rejected.message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Date,Description,Amount\n2025-13-01,A,1.00\n", Reason.INVALID_DATE),
        ("Date,Description,Amount\n2025-12-01,A,1.0.0\n", Reason.INVALID_AMOUNT),
        ("Date,Description,Amount\n2025-12-01,A,1.001\n", Reason.EXCESS_PRECISION),
        ("Date,Description,Amount\n2025-12-01,A\n", Reason.UNPARSEABLE_FILE),
        ("Date,Description,Amount\n2026-01-10,A,1.00\n", Reason.FUTURE_DATE),
        ("Date,Description,Amount\n2025-12-01,A,\n", Reason.MISSING_FIELD),
        (b"Date,Description,Amount\n2025-12-01,\xff,1\n", Reason.INVALID_ENCODING),
    ],
)
def test_normaliser_rejects_a_file_with_the_first_row_errors_reason(
    text: str | bytes, reason: Reason
) -> None:
    rejected = _rejected(csv_envelope(text, BASE))
    assert rejected.reason is reason
    assert rejected.field == "payload.content_b64"
    assert '"row":2' in rejected.message
    assert rejected.message.startswith("statement.csv: ")


def test_normaliser_rejects_bad_payloads() -> None:
    assert _rejected(csv_envelope("", BASE, content_b64="%%%")).reason is Reason.INVALID_ENCODING
    bad_currency = csv_envelope(STATEMENT, BASE, account={"currency": "usd"})
    rejected = _rejected(bad_currency)
    assert (rejected.reason, rejected.field) == (
        Reason.UNKNOWN_CURRENCY,
        "payload.account.currency",
    )
    wrong_kind = _rejected(csv_envelope(STATEMENT, BASE, kind="accounts"))
    assert wrong_kind.reason is Reason.UNSUPPORTED_KIND
    envelope = csv_envelope(STATEMENT, BASE)
    missing = envelope.model_copy(update={"payload": {"filename": "x.csv", "plan": BASE}})
    assert _rejected(missing).reason is Reason.MISSING_FIELD
