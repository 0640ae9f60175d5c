"""Deterministic mapping plans: bank CSV exports and JSON payloads into FOS transactions.

A plan is a JSON document (FOS §3.1) that says how to pull records and fields out of a file
and turn them into ``UnifiedTransaction``s and, when the file carries a running balance, the
account's closing balance. ``PLAN_FORMAT`` below is the contract a plan is written against.

Nothing is guessed. The plan states the encoding, the delimiter, the date format, the decimal
and thousands separators and where the sign comes from; a value that does not match is an
error naming the row and column, never a best effort. Validation is structured
(``PlanError``: path, code, message, row, column) so that a program, or a model that proposed
the plan, can repair it without reading prose.

Applying a plan is pure: bytes, plan and context in; the same inputs always yield the same
transactions, ids and errors, in file order.

Ids. A transaction's ``provider_transaction_id`` is the file's own id when the plan maps
``columns.transaction_id``. Otherwise it is a content hash of the row's date (and time, when
the plan reads one), amount, currency, payee, description, memo and check number, followed by
an occurrence index among rows with that same content, in file order: ``:0``, ``:1`` … Two
identical coffees on one day are therefore two transactions, re-importing a file gives the
same ids, and an export whose rows come in another order gives the same set of ids, because
only rows that are indistinguishable share a hash. Status, category, type and running
balance are left out of the hash: they describe a transaction rather than identify it.

Closing balance. When ``columns.balance`` is mapped, the account's balance is the running
balance after the latest transaction, found by these rules in turn:

1. the latest moment (date, or date and time when the plan reads times) is held by one row;
2. of the rows at that moment, exactly one ends the balance chain: no other tied row starts
   from its balance (a row starts from ``balance - amount``);
3. the file's dates run one way only: the last tied row of an ascending file, the first of a
   descending one;
4. every row has the same moment: the file is read in the order written, so the last row.

If the dates run both ways and the chain does not settle it, no balance is reported.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from operators.decode import DecodeLimits, validate_model
from operators.exceptions import RejectedInput, unsupported_kind
from operators.observations import (
    AccountsObserved,
    Observation,
    SyncContext,
    TransactionsObserved,
    TransactionUpsert,
)
from schemas.canonical import canonical_json, content_hash, derived_id
from schemas.envelopes import ConnectEnvelope, SyncKind
from schemas.fos import (
    AccountBalances,
    AccountType,
    Enrichment,
    Merchant,
    TransactionDates,
    TransactionDetails,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedTransaction,
)
from schemas.iso4217 import CURRENCY_EXPONENTS
from schemas.money import MoneyError, currency_exponent, parse_minor
from schemas.records import Reason

PROVIDER: Final = "csv"

_E = TypeVar("_E", TransactionStatus, TransactionType)

PLAN_FORMAT: Final = """\
A mapping plan is one JSON object. Keys not listed here are errors.

{
  "name": string, required, [a-z0-9][a-z0-9._-]{0,63}; the provider_account_id when
          nothing else names the account
  "description": string
  "source": {                                  how to read the bytes; every key optional
    "format": "csv" | "json"                   default "csv"
    "encoding": "utf-8" | "utf-8-sig" | "latin-1" | "iso-8859-1" | "iso-8859-15"
                | "windows-1252" | "cp1252"    default "utf-8"; a UTF-8 BOM is dropped
    "delimiter": "," | ";" | "\\t" | "|"       csv, default ","
    "quote": "\\"" | "'" | null                csv, default "\\""; null reads quotes as text
    "header": boolean                          csv, default true; false: columns by number
    "skip_leading_lines": integer >= 0         csv, preamble lines before the header
    "skip_trailing_lines": integer >= 0        csv, footer lines (trailing blank lines are
                                               dropped first)
    "records": "$" | "$.a.b[0].c"              json, required: the array of records
  }
  "columns": { field: column }, required. A column is a header name or a 1-based column
          number (csv), or a key or "$.a.b" path inside a record (json). Fields marked []
          also take a list of columns, joined with a space (category: one level each).
    "date"             posted date, required
    "time"             time of day, when it has its own column
    "timezone"         UTC offset of the row's time ("UTC", "+01:00")
    "authorised_date"  when the purchase happened
    "amount"           sign.mode "signed", "inverted" or "indicator"
    "debit", "credit"  sign.mode "debit_credit": money out / money in, read by magnitude
    "indicator"        sign.mode "indicator": the D/C (debit/credit) column
    "currency"         ISO 4217 code per row, any case
    "balance"          running balance after the row
    "transaction_id"   the provider's id (else a content hash, see the module docs)
    "account"          the provider account id; every row must agree
    "payee" [], "description" [], "memo" []   merchant.raw_name is the first non-empty
    "check_number", "category" [], "status", "type"
  "date_format": string, required. Tokens yyyy yy mm m dd d mon (month abbreviation, in
          English); any other letter is an error and anything else is literal. Or "iso"
          (yyyy-mm-dd, optionally followed by an ISO time and offset). yy is 1969..2068.
  "authorised_date_format": string, default date_format
  "time_format": string. Tokens HH H (0-23), hh h (1-12, needs AM/PM), mm, ss, AM/PM, Z
          (offset: Z, +01:00, +0100), or "iso". Required with columns.time; without that
          column the time follows the date in the date column after spaces or "T".
  "timezone": "UTC" | "+01:00" | "-0500" | "UTC+2", default UTC; only orders rows, the
          dates kept are the ones printed
  "amount_format": {"decimal": "." | ",", "thousands": [any of "," "." "'" " "]}
          default {"decimal": ".", "thousands": []}; groups of three digits; "'" also
          matches U+2019, " " also no-break spaces. Currency symbols or codes before or
          after the number, a leading or trailing minus and parentheses are understood.
  "sign": {
    "mode": "signed" | "inverted" | "debit_credit" | "indicator", default "signed";
          "inverted": positive amounts leave the account (card statements)
    "debit_values": [string], "credit_values": [string]   indicator mode, any case
    "invert_balance": boolean, default false: the balance column counts what is owed
  }
  "currency": ISO 4217 code, used when no currency column is mapped
  "status_map": { value: "POSTED" | "PENDING" }, required with columns.status;
          values match in any case; "*" maps every other value. Without columns.status
          every row is POSTED.
  "type_map": { value: "PAYMENT" | "TRANSFER" | "FEE" | "INTEREST" | "INCOME" | "REFUND"
          | "OTHER" }, required with columns.type; "*" as above. Default PAYMENT.
  "account": {"provider_account_id": string, "name": string,
              "type": "DEPOSITORY" | "CREDIT" | "LOAN" | "INVESTMENT" | "PROPERTY" | "OTHER",
              "subtype": string}
}

Errors are {"path", "code", "message", "row", "column"}. Plan codes: wrong_type,
unknown_key, missing_key, invalid_value, bad_date_format, bad_time_format,
conflicting_sign_rules, unknown_currency, unknown_column, ambiguous_column. File and row
codes: invalid_encoding, unparseable_file, missing_field, wrong_type, invalid_date,
invalid_amount, unknown_currency, excess_precision, future_date, duplicate_key,
unmapped_value, mixed_accounts. Rows count from 1 at the file's first line (json: the
record's position in the array); a column is the plan's name or number for it.
"""

# A file with more errors than this is reported by its first ones: enough to repair from.
MAX_ERRORS: Final = 50

_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ENCODINGS: Final = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso-8859-15": "iso8859-15",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}
_DELIMITERS: Final = (",", ";", "\t", "|")
_QUOTES: Final = ('"', "'")
_THOUSANDS: Final = (",", ".", "'", " ")
_SIGN_MODES: Final = ("signed", "inverted", "debit_credit", "indicator")
_LIST_FIELDS: Final = frozenset({"payee", "description", "memo", "category"})
_FIELDS: Final = (
    "date",
    "time",
    "timezone",
    "authorised_date",
    "amount",
    "debit",
    "credit",
    "indicator",
    "currency",
    "balance",
    "transaction_id",
    "account",
    "payee",
    "description",
    "memo",
    "check_number",
    "category",
    "status",
    "type",
)
_TOP_KEYS: Final = (
    "name",
    "description",
    "source",
    "columns",
    "date_format",
    "authorised_date_format",
    "time_format",
    "timezone",
    "amount_format",
    "sign",
    "currency",
    "status_map",
    "type_map",
    "account",
)
_SOURCE_KEYS: Final = (
    "format",
    "encoding",
    "delimiter",
    "quote",
    "header",
    "skip_leading_lines",
    "skip_trailing_lines",
    "records",
)
_CSV_ONLY: Final = ("delimiter", "quote", "header", "skip_leading_lines", "skip_trailing_lines")

# Row and file error codes that are reasons of their own; the rest are the plan's fault.
_FILE_REASONS: Final = {
    "invalid_encoding": Reason.INVALID_ENCODING,
    "unparseable_file": Reason.UNPARSEABLE_FILE,
    "missing_field": Reason.MISSING_FIELD,
    "wrong_type": Reason.WRONG_TYPE,
    "invalid_date": Reason.INVALID_DATE,
    "invalid_amount": Reason.INVALID_AMOUNT,
    "unknown_currency": Reason.UNKNOWN_CURRENCY,
    "excess_precision": Reason.EXCESS_PRECISION,
    "future_date": Reason.FUTURE_DATE,
    "duplicate_key": Reason.DUPLICATE_KEY,
    "mixed_accounts": Reason.UNPARSEABLE_FILE,
}
_FILE_LEVEL_CODES: Final = frozenset({"invalid_encoding", "unparseable_file"})


# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanError:
    """One thing wrong with a plan, or with a file read through it.

    Attributes:
        path: Where in the plan to repair, e.g. ``$.columns.amount``.
        code: A stable machine-readable code (see ``PLAN_FORMAT``).
        message: A sentence naming the offending value.
        row: The 1-based line of the file (json: record) the error is on, or None.
        column: The plan's column name or number involved, or None.
    """

    path: str
    code: str
    message: str
    row: int | None = None
    column: str | int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-ready document."""
        return {
            "path": self.path,
            "code": self.code,
            "message": self.message,
            "row": self.row,
            "column": self.column,
        }

    @property
    def reason(self) -> Reason:
        """The dead-letter reason this error stands for."""
        if self.row is None and self.code not in _FILE_LEVEL_CODES:
            return Reason.INVALID_PLAN
        return _FILE_REASONS.get(self.code, Reason.INVALID_PLAN)


@dataclass(frozen=True, slots=True)
class AccountOverrides:
    """What the sender knows about the account better than the plan or the file.

    ``currency`` is the rows' currency when neither the plan nor the file names one; the
    account's own currency is always that of the balance it reports.
    """

    provider_account_id: str | None = None
    name: str | None = None
    type: AccountType | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class PlanContext:
    """Everything apart from the plan and the bytes that applying a plan depends on.

    Attributes:
        tenant_id: Whose data the file is.
        profile_id: The profile the file belongs to.
        received_at: When the file arrived; with ``future_tolerance_days`` it bounds dates.
        connection_id: The connection the account is reported under.
        account: Overrides for the account's id, name, type and currency.
        future_tolerance_days: Dates later than ``received_at`` plus this many days are
            errors; None accepts any date.
    """

    tenant_id: str
    profile_id: str
    received_at: dt.datetime
    connection_id: str = ""
    account: AccountOverrides = field(default_factory=AccountOverrides)
    future_tolerance_days: int | None = None


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What a plan made of a file.

    When ``errors`` is not empty, ``transactions`` holds the rows that could be read and
    ``account`` is None, since a closing balance read past a bad row cannot be trusted.

    Attributes:
        transactions: The rows as FOS transactions, in file order.
        account: The account with its closing balance, when the file gives one.
        errors: Plan, file and row errors, in the order found.
        balance_date: The date of the row the closing balance was taken from.
    """

    transactions: tuple[UnifiedTransaction, ...]
    account: UnifiedAccount | None
    errors: tuple[PlanError, ...]
    balance_date: dt.date | None = None


def validate_plan(plan: Mapping[str, Any]) -> list[PlanError]:
    """Return every error in a plan document; an empty list means it can be applied.

    Checks what can be checked without a file: keys, types, formats, sign rules and
    currency. Column names are checked against the header when the plan is applied.
    """
    return _compile(plan)[1]


def apply_plan(plan: Mapping[str, Any], content: bytes, context: PlanContext) -> PlanResult:
    """Read ``content`` through ``plan`` into FOS transactions and, if known, the account."""
    compiled, errors = _compile(plan)
    if compiled is None:
        return PlanResult((), None, tuple(errors))
    if "currency" not in compiled.columns and not (compiled.currency or context.account.currency):
        msg = "the plan names no currency: map columns.currency or set $.currency"
        return PlanResult((), None, (PlanError("$.currency", "missing_key", msg),))
    try:
        records = _read(compiled, content)
    except _FileError as exc:
        return PlanResult((), None, tuple(exc.errors))
    rows, errors = _parse_rows(compiled, records, context)
    errors += _file_checks(compiled, rows)
    account_key = _provider_account_id(compiled, rows, context)
    transactions = _transactions(rows, account_key)
    if errors:
        return PlanResult(transactions, None, tuple(errors[:MAX_ERRORS]))
    closing = _closing_row(rows)
    if closing is None:
        return PlanResult(transactions, None, ())
    account = _account(compiled, closing, account_key, context)
    return PlanResult(transactions, account, (), closing[0].date)


# --------------------------------------------------------------------------------------------
# Plan compilation: the validated, ready-to-run form of a plan document
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    ref: str | int
    path: str


@dataclass(frozen=True, slots=True)
class _Source:
    kind: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str | None = '"'
    header: bool = True
    skip_leading_lines: int = 0
    skip_trailing_lines: int = 0
    records: tuple[str | int, ...] = ()


@dataclass(frozen=True, slots=True)
class _AccountSpec:
    provider_account_id: str | None = None
    name: str | None = None
    type: AccountType | None = None
    subtype: str | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    source: _Source
    columns: Mapping[str, tuple[_Column, ...]]
    date_value: re.Pattern[str]
    authorised_value: re.Pattern[str]
    time_value: re.Pattern[str] | None
    reads_time: bool
    zone: dt.tzinfo | None
    decimal: str
    thousands: frozenset[str]
    sign: str
    debit_values: frozenset[str]
    credit_values: frozenset[str]
    invert_balance: bool
    currency: str | None
    status_map: Mapping[str, TransactionStatus]
    type_map: Mapping[str, TransactionType]
    account: _AccountSpec


class _Checker:
    """Collects plan errors while a plan document is read."""

    def __init__(self) -> None:
        self.errors: list[PlanError] = []

    def add(self, path: str, code: str, message: str, column: str | int | None = None) -> None:
        self.errors.append(PlanError(path, code, message, None, column))

    def obj(
        self, value: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> Mapping[str, Any] | None:
        """Check that ``value`` is an object with only ``allowed`` and all ``required`` keys."""
        if not isinstance(value, Mapping):
            self.add(path, "wrong_type", f"{path} must be an object, not {_json_type(value)}")
            return None
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                also = f" (did you mean {hint[0]!r}?)" if hint else ""
                msg = f"{path} has no key {key!r}{also}; allowed: {', '.join(allowed) or 'none'}"
                self.add(f"{path}.{key}", "unknown_key", msg)
        for key in required:
            if key not in value:
                self.add(f"{path}.{key}", "missing_key", f"{path}.{key} is required")
        return value

    def text(
        self,
        doc: Mapping[str, Any],
        key: str,
        path: str,
        default: str | None = None,
        choices: Sequence[str] | None = None,
    ) -> str | None:
        """Return a string member, checking its type and, if given, its allowed values."""
        if key not in doc:
            return default
        value = doc[key]
        if not isinstance(value, str) or not value:
            self.add(f"{path}.{key}", "wrong_type", f"{path}.{key} must be a non-empty string")
            return default
        if choices is not None and value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            msg = f"{path}.{key} is {value!r}; it must be one of {allowed}"
            self.add(f"{path}.{key}", "invalid_value", msg)
            return default
        return value

    def integer(self, doc: Mapping[str, Any], key: str, path: str) -> int:
        """Return a non-negative integer member, 0 when absent."""
        value = doc.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            msg = f"{path}.{key} must be a whole number of at least 0, not {value!r}"
            self.add(f"{path}.{key}", "wrong_type", msg)
            return 0
        return value

    def boolean(self, doc: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        """Return a boolean member, ``default`` when absent."""
        value = doc.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", "wrong_type", f"{path}.{key} must be true or false")
            return default
        return value

    def strings(self, doc: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        """Return a list-of-strings member, empty when absent."""
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            msg = f"{path}.{key} must be a list of non-empty strings"
            self.add(f"{path}.{key}", "wrong_type", msg)
            return ()
        return tuple(value)


def _compile(plan: Mapping[str, Any]) -> tuple[_Plan | None, list[PlanError]]:
    """Validate a plan document and, when it has no error, return its compiled form."""
    check = _Checker()
    doc = check.obj(plan, "$", _TOP_KEYS, ("name", "columns", "date_format"))
    if doc is None:
        return None, check.errors
    name = _plan_name(check, doc)
    check.text(doc, "description", "$")
    source = _source(check, doc.get("source", {}))
    columns = _columns(check, doc["columns"], source) if "columns" in doc else {}
    dates = _date_patterns(check, doc)
    zone = _plan_zone(check, doc)
    decimal, thousands = _amount_format(check, doc.get("amount_format", {}))
    sign = _sign(check, doc)
    currency = _plan_currency(check, doc)
    status_map = _value_map(check, doc, "status_map", "status", TransactionStatus)
    type_map = _value_map(check, doc, "type_map", "type", TransactionType)
    account = _account_spec(check, doc.get("account", {}))
    if check.errors or dates is None or sign is None:
        return None, check.errors
    date_value, authorised_value, time_value, reads_time = dates
    mode, debit_values, credit_values, invert_balance = sign
    compiled = _Plan(
        name=name,
        source=source,
        columns=columns,
        date_value=date_value,
        authorised_value=authorised_value,
        time_value=time_value,
        reads_time=reads_time,
        zone=zone,
        decimal=decimal,
        thousands=thousands,
        sign=mode,
        debit_values=debit_values,
        credit_values=credit_values,
        invert_balance=invert_balance,
        currency=currency,
        status_map=status_map,
        type_map=type_map,
        account=account,
    )
    return compiled, []


def _raw_columns(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The plan's columns object as written, or an empty one; used to cross-check keys."""
    columns = doc.get("columns")
    return columns if isinstance(columns, Mapping) else {}


def _plan_name(check: _Checker, doc: Mapping[str, Any]) -> str:
    name = check.text(doc, "name", "$")
    if name is not None and _NAME.fullmatch(name) is None:
        msg = f"$.name {name!r} must match [a-z0-9][a-z0-9._-]{{0,63}}"
        check.add("$.name", "invalid_value", msg)
    return name or ""


def _source(check: _Checker, value: Any) -> _Source:
    doc = check.obj(value, "$.source", _SOURCE_KEYS)
    if doc is None:
        return _Source()
    kind = check.text(doc, "format", "$.source", "csv", ("csv", "json")) or "csv"
    encoding = check.text(doc, "encoding", "$.source", "utf-8", tuple(_ENCODINGS)) or "utf-8"
    if kind == "json":
        for key in _CSV_ONLY:
            if key in doc:
                check.add(f"$.source.{key}", "invalid_value", f"$.source.{key} is for csv only")
        return _Source(kind, _ENCODINGS[encoding], records=_records_path(check, doc))
    if "records" in doc:
        check.add("$.source.records", "invalid_value", "$.source.records is for json only")
    quote: str | None = '"'
    if "quote" in doc:
        quote = None if doc["quote"] is None else check.text(doc, "quote", "$.source", '"', _QUOTES)
    return _Source(
        kind="csv",
        encoding=_ENCODINGS[encoding],
        delimiter=check.text(doc, "delimiter", "$.source", ",", _DELIMITERS) or ",",
        quote=quote,
        header=check.boolean(doc, "header", "$.source", default=True),
        skip_leading_lines=check.integer(doc, "skip_leading_lines", "$.source"),
        skip_trailing_lines=check.integer(doc, "skip_trailing_lines", "$.source"),
    )


def _records_path(check: _Checker, doc: Mapping[str, Any]) -> tuple[str | int, ...]:
    if "records" not in doc:
        check.add("$.source.records", "missing_key", "$.source.records is required for json")
        return ()
    text = check.text(doc, "records", "$.source")
    steps = _json_path(text) if text is not None else None
    if steps is None:
        msg = f'$.source.records {text!r} is not a path such as "$.data.items"'
        check.add("$.source.records", "invalid_value", msg)
        return ()
    return steps


_PATH: Final = re.compile(r"\$((?:\.[^.\[\]]+|\[[0-9]+\])*)")
_PATH_STEP: Final = re.compile(r"\.([^.\[\]]+)|\[([0-9]+)\]")


def _json_path(text: str) -> tuple[str | int, ...] | None:
    """Split ``$.a.b[0]`` into ``("a", "b", 0)``; None if it is not such a path."""
    match = _PATH.fullmatch(text)
    if match is None:
        return None
    return tuple(key if key else int(index) for key, index in _PATH_STEP.findall(match.group(1)))


def _columns(check: _Checker, value: Any, source: _Source) -> dict[str, tuple[_Column, ...]]:
    doc = check.obj(value, "$.columns", _FIELDS, ("date",))
    if doc is None:
        return {}
    columns: dict[str, tuple[_Column, ...]] = {}
    for name in _FIELDS:
        if name not in doc:
            continue
        path = f"$.columns.{name}"
        raw = doc[name]
        if isinstance(raw, list) and name in _LIST_FIELDS:
            refs = [(ref, f"{path}[{i}]") for i, ref in enumerate(raw)]
            if not refs:
                check.add(path, "wrong_type", f"{path} must name at least one column")
        else:
            refs = [(raw, path)]
        checked = tuple(_column(check, ref, at, source) for ref, at in refs)
        columns[name] = tuple(c for c in checked if c is not None)
    return columns


def _column(check: _Checker, ref: Any, path: str, source: _Source) -> _Column | None:
    problem = _column_problem(ref, path, source)
    if problem is not None:
        code, msg = problem
        shown = ref if isinstance(ref, str | int) and not isinstance(ref, bool) else None
        check.add(path, code, msg, shown)
        return None
    if isinstance(ref, str) and source.kind == "csv":
        ref = ref.strip()
    return _Column(ref, path)


def _column_problem(ref: Any, path: str, source: _Source) -> tuple[str, str] | None:
    """Return the code and message of what is wrong with a column reference, if anything."""
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return "wrong_type", f"{path} must be a column name or number, not {_json_type(ref)}"
    problem = None
    if isinstance(ref, int):
        if source.kind == "json" or ref < 1:
            msg = f"{path} is {ref}; csv columns count from 1, json goes by key"
            problem = "invalid_value", msg
    elif not ref.strip():
        problem = "wrong_type", f"{path} must not be blank"
    elif source.kind == "json":
        if ref.startswith("$") and _json_path(ref) is None:
            problem = "invalid_value", f'{path} {ref!r} is not a path such as "$.a.b"'
    elif not source.header:
        problem = (
            "unknown_column",
            f"{path} names {ref!r}, but the file has no header; use a number",
        )
    return problem


def _plan_currency(check: _Checker, doc: Mapping[str, Any]) -> str | None:
    code = check.text(doc, "currency", "$")
    if code is None:
        return None
    try:
        currency_exponent(code)
    except MoneyError as exc:
        check.add("$.currency", "unknown_currency", f"$.currency: {exc.message}")
        return None
    return code


def _value_map(
    check: _Checker, doc: Mapping[str, Any], key: str, column: str, enum: type[_E]
) -> dict[str, _E]:
    path = f"$.{key}"
    mapped = column in _raw_columns(doc)
    if key not in doc:
        if mapped:
            check.add(path, "missing_key", f"{path} is required when columns.{column} is mapped")
        return {}
    if not mapped:
        check.add(path, "invalid_value", f"{path} needs columns.{column} to read values from")
    raw = doc[key]
    if not isinstance(raw, Mapping):
        check.add(path, "wrong_type", f"{path} must be an object, not {_json_type(raw)}")
        return {}
    result: dict[str, _E] = {}
    allowed = [member.value for member in enum]
    for value, target in raw.items():
        if target not in allowed:
            msg = f"{path}[{value!r}] is {target!r}; it must be one of {', '.join(allowed)}"
            check.add(f"{path}.{value}", "invalid_value", msg)
            continue
        folded = value.strip().casefold()
        if folded in result:
            check.add(f"{path}.{value}", "invalid_value", f"{path} maps {value!r} twice")
        result[folded] = enum(target)
    return result


def _account_spec(check: _Checker, value: Any) -> _AccountSpec:
    keys = ("provider_account_id", "name", "type", "subtype")
    doc = check.obj(value, "$.account", keys)
    if doc is None:
        return _AccountSpec()
    kind = check.text(doc, "type", "$.account", None, [t.value for t in AccountType])
    return _AccountSpec(
        provider_account_id=check.text(doc, "provider_account_id", "$.account"),
        name=check.text(doc, "name", "$.account"),
        type=AccountType(kind) if kind else None,
        subtype=check.text(doc, "subtype", "$.account"),
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a number"


# --------------------------------------------------------------------------------------------
# Sign rules and amount format
# --------------------------------------------------------------------------------------------

_Sign = tuple[str, frozenset[str], frozenset[str], bool]
_COLUMNS_OF_MODE: Final = {
    "signed": ("amount",),
    "inverted": ("amount",),
    "debit_credit": ("debit", "credit"),
    "indicator": ("amount", "indicator"),
}


def _sign(check: _Checker, plan: Mapping[str, Any]) -> _Sign | None:
    keys = ("mode", "debit_values", "credit_values", "invert_balance")
    doc = check.obj(plan.get("sign", {}), "$.sign", keys)
    if doc is None:
        return None
    mode = check.text(doc, "mode", "$.sign", "signed", _SIGN_MODES) or "signed"
    debit = frozenset(v.strip().casefold() for v in check.strings(doc, "debit_values", "$.sign"))
    credit = frozenset(v.strip().casefold() for v in check.strings(doc, "credit_values", "$.sign"))
    invert_balance = check.boolean(doc, "invert_balance", "$.sign", default=False)
    errors_before = len(check.errors)
    if "columns" in plan:
        _check_sign_columns(check, mode, _raw_columns(plan))
    _check_indicator_values(check, mode, debit, credit)
    if len(check.errors) > errors_before:
        return None
    return mode, debit, credit, invert_balance


def _check_sign_columns(check: _Checker, mode: str, columns: Mapping[str, Any]) -> None:
    needed = _COLUMNS_OF_MODE[mode]
    for name in ("amount", "debit", "credit", "indicator"):
        path = f"$.columns.{name}"
        if name in needed and name not in columns:
            msg = f"sign.mode {mode!r} reads columns.{name}, which is not mapped"
            check.add(path, "missing_key", msg)
        elif name not in needed and name in columns:
            modes = [m for m, names in _COLUMNS_OF_MODE.items() if name in names]
            msg = (
                f"columns.{name} is mapped but sign.mode is {mode!r}, which does not read it; "
                f"use sign.mode {' or '.join(repr(m) for m in modes)}, or drop the column"
            )
            check.add(path, "conflicting_sign_rules", msg)


def _check_indicator_values(
    check: _Checker, mode: str, debit: frozenset[str], credit: frozenset[str]
) -> None:
    if mode != "indicator":
        for key, values in (("debit_values", debit), ("credit_values", credit)):
            if values:
                msg = f"sign.{key} is only read when sign.mode is 'indicator', not {mode!r}"
                check.add(f"$.sign.{key}", "conflicting_sign_rules", msg)
        return
    for key, values in (("debit_values", debit), ("credit_values", credit)):
        if not values:
            check.add(f"$.sign.{key}", "missing_key", f"sign.mode 'indicator' needs sign.{key}")
    both = sorted(debit & credit)
    if both:
        msg = f"{', '.join(repr(v) for v in both)} would mean both debit and credit"
        check.add("$.sign.credit_values", "conflicting_sign_rules", msg)


def _amount_format(check: _Checker, value: Any) -> tuple[str, frozenset[str]]:
    doc = check.obj(value, "$.amount_format", ("decimal", "thousands"))
    if doc is None:
        return ".", frozenset()
    decimal = check.text(doc, "decimal", "$.amount_format", ".", (".", ",")) or "."
    thousands = check.strings(doc, "thousands", "$.amount_format")
    for sep in thousands:
        path = "$.amount_format.thousands"
        if sep not in _THOUSANDS:
            allowed = " ".join(repr(s) for s in _THOUSANDS)
            check.add(path, "invalid_value", f"{sep!r} is not a thousands separator: {allowed}")
        elif sep == decimal:
            msg = f"{sep!r} cannot separate both thousands and decimals"
            check.add(path, "invalid_value", msg)
    return decimal, frozenset(thousands)


# --------------------------------------------------------------------------------------------
# Date and time formats
# --------------------------------------------------------------------------------------------

_DATE_PIECES: Final = {
    "yyyy": r"(?P<year>[0-9]{4})",
    "yy": r"(?P<year2>[0-9]{2})",
    "mon": r"(?P<mon>[A-Za-z]{3})",
    "mm": r"(?P<month>[0-9]{2})",
    "m": r"(?P<month>[0-9]{1,2})",
    "dd": r"(?P<day>[0-9]{2})",
    "d": r"(?P<day>[0-9]{1,2})",
}
_TIME_PIECES: Final = {
    "AM/PM": r"(?P<ampm>[AaPp][Mm])",
    "HH": r"(?P<hour>[0-9]{2})",
    "H": r"(?P<hour>[0-9]{1,2})",
    "hh": r"(?P<hour12>[0-9]{2})",
    "h": r"(?P<hour12>[0-9]{1,2})",
    "mm": r"(?P<minute>[0-9]{2})",
    "ss": r"(?P<second>[0-9]{2})",
    "Z": r"(?P<offset>Z|[+-][0-9]{2}:?[0-9]{2})",
}
_VARIABLE_WIDTH: Final = frozenset({"m", "d", "H", "h"})
_NUMERIC_PIECES: Final = frozenset({"yyyy", "yy", "mm", "m", "dd", "d", "HH", "H", "hh", "h"})
_ISO_DATE: Final = r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
_ISO_TIME: Final = (
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?"
    r"(?P<offset>Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATE_TIME_GAP: Final = r"(?:\s+|T)"
_MONTHS: Final = tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())


class _FormatError(ValueError):
    """A date or time format that cannot be compiled."""


def _date_patterns(
    check: _Checker, doc: Mapping[str, Any]
) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None, bool] | None:
    """Compile the date column's, the authorised column's and the time column's patterns."""
    date_src = _format_source(check, doc, "date_format", _date_source)
    time_src = _format_source(check, doc, "time_format", _time_source)
    auth_src = _format_source(check, doc, "authorised_date_format", _date_source)
    has_time_column = "time" in _raw_columns(doc)
    if has_time_column and "time_format" not in doc:
        check.add("$.time_format", "missing_key", "$.time_format is required with columns.time")
    if date_src is None or (has_time_column and time_src is None):
        return None
    time_value = re.compile(time_src) if has_time_column and time_src else None
    if has_time_column or (time_src is None and doc.get("date_format") != "iso"):
        date_value = date_src
    elif time_src is not None:
        date_value = f"{date_src}{_DATE_TIME_GAP}{time_src}"
    else:
        date_value = f"{date_src}(?:{_DATE_TIME_GAP}{_ISO_TIME})?"
    if auth_src is None:
        auth_value = date_value
    elif doc.get("authorised_date_format") == "iso":
        auth_value = f"{auth_src}(?:{_DATE_TIME_GAP}{_ISO_TIME})?"
    else:
        auth_value = auth_src
    reads_time = time_src is not None or doc.get("date_format") == "iso"
    return re.compile(date_value), re.compile(auth_value), time_value, reads_time


def _format_source(
    check: _Checker, doc: Mapping[str, Any], key: str, compile_source: Callable[[str], str]
) -> str | None:
    text = check.text(doc, key, "$")
    if text is None:
        return None
    code = "bad_time_format" if key == "time_format" else "bad_date_format"
    try:
        source = compile_source(text)
    except _FormatError as exc:
        check.add(f"$.{key}", code, f"$.{key} {text!r}: {exc}")
        return None
    return source


def _date_source(text: str) -> str:
    if text == "iso":
        return _ISO_DATE
    parts = _split_format(text, _DATE_PIECES)
    names = [part for is_piece, part in parts if is_piece]
    for group, pieces in (
        ("year", ("yyyy", "yy")),
        ("month", ("mm", "m", "mon")),
        ("day", ("dd", "d")),
    ):
        count = sum(name in pieces for name in names)
        if count != 1:
            msg = f"needs one {group} token ({' or '.join(pieces)}), found {count}"
            raise _FormatError(msg)
    return _pattern_source(parts, _DATE_PIECES)


def _time_source(text: str) -> str:
    if text == "iso":
        return _ISO_TIME
    parts = _split_format(text, _TIME_PIECES)
    names = [part for is_piece, part in parts if is_piece]
    hours = [n for n in names if n in {"HH", "H", "hh", "h"}]
    if len(hours) != 1 or names.count("mm") != 1:
        msg = "needs one hour token (HH, H, hh or h) and one minute token (mm)"
        raise _FormatError(msg)
    if any(names.count(n) > 1 for n in ("ss", "Z", "AM/PM")):
        msg = "repeats a token"
        raise _FormatError(msg)
    if (hours[0] in {"hh", "h"}) != ("AM/PM" in names):
        msg = "12-hour tokens (hh, h) and AM/PM go together; 24-hour tokens are HH and H"
        raise _FormatError(msg)
    return _pattern_source(parts, _TIME_PIECES)


def _split_format(text: str, pieces: Mapping[str, str]) -> list[tuple[bool, str]]:
    """Split a format into tokens and literals, longest token first."""
    names = sorted(pieces, key=len, reverse=True)
    parts: list[tuple[bool, str]] = []
    index = 0
    while index < len(text):
        name = next((n for n in names if text.startswith(n, index)), None)
        if name is not None:
            parts.append((True, name))
            index += len(name)
            continue
        char = text[index]
        if char.isalpha():
            msg = f"{char!r} at position {index + 1} is not a token; tokens are {' '.join(pieces)}"
            raise _FormatError(msg)
        parts.append((False, char))
        index += 1
    for (first_piece, first), (second_piece, second) in zip(parts, parts[1:], strict=False):
        if first_piece and second_piece and first in _VARIABLE_WIDTH and second in _NUMERIC_PIECES:
            msg = f"{first}{second} is ambiguous: {first} has one or two digits; separate them"
            raise _FormatError(msg)
    return parts


def _pattern_source(parts: list[tuple[bool, str]], pieces: Mapping[str, str]) -> str:
    out: list[str] = []
    for is_piece, part in parts:
        if is_piece:
            out.append(pieces[part])
        elif part.isspace():
            if not out or out[-1] != r"\s+":
                out.append(r"\s+")
        else:
            out.append(re.escape(part))
    return "".join(out)


def _plan_zone(check: _Checker, doc: Mapping[str, Any]) -> dt.tzinfo | None:
    text = check.text(doc, "timezone", "$")
    if text is None:
        return None
    zone = _zone(text)
    if zone is None:
        msg = f"$.timezone {text!r} is not UTC or an offset such as +01:00"
        check.add("$.timezone", "invalid_value", msg)
    return zone


_ZONE: Final = re.compile(
    r"(?:UTC|GMT)?(?P<sign>[+-])(?P<hours>[0-9]{1,2})(?::?(?P<minutes>[0-9]{2}))?"
)


def _zone(text: str) -> dt.tzinfo | None:
    """Read ``UTC``, ``Z``, ``+01:00``, ``-0500`` or ``UTC+2``; None if it is none of those.

    Named zones (Europe/Paris) are refused on purpose: their rules come from the tz
    database installed on the machine, so the same file could be read differently on two.
    """
    cleaned = text.strip().upper()
    if cleaned in {"UTC", "GMT", "Z"}:
        return dt.UTC
    match = _ZONE.fullmatch(cleaned)
    if match is None:
        return None
    minutes = int(match["hours"]) * 60 + int(match["minutes"] or 0)
    if minutes >= 24 * 60:
        return None
    sign = -1 if match["sign"] == "-" else 1
    return dt.timezone(dt.timedelta(minutes=sign * minutes))


# --------------------------------------------------------------------------------------------
# Reading the bytes into records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    """One record: its 1-based row and the text of each mapped column, per field."""

    row: int
    values: Mapping[str, tuple[str, ...]]


class _FileError(Exception):
    """The file as a whole cannot be read through the plan."""

    def __init__(self, errors: list[PlanError]) -> None:
        super().__init__(errors[0].message)
        self.errors = errors


class _LineFeed:
    """Hands lines to the csv reader and remembers the number of the last one handed out."""

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self._lines = lines
        self.last = lines[0][0] - 1 if lines else 0

    def __iter__(self) -> Iterator[str]:
        for number, line in self._lines:
            self.last = number
            yield line


def _read(plan: _Plan, content: bytes) -> list[_Record | PlanError]:
    text = _decode(content, plan.source.encoding)
    if plan.source.kind == "json":
        return _json_records(plan, text)
    return _csv_records(plan, _lines(text, plan.source))


def _decode(content: bytes, encoding: str) -> str:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        row = len(re.findall(rb"\r\n|\r|\n", content[: exc.start])) + 1
        msg = f"byte {exc.start} (0x{content[exc.start]:02x}) on line {row} is not {encoding}"
        raise _FileError([PlanError("$.source.encoding", "invalid_encoding", msg, row)]) from exc
    return text.removeprefix("\ufeff")


def _lines(text: str, source: _Source) -> list[tuple[int, str]]:
    """Number the physical lines (CR, LF or CRLF) and drop the preamble and footer."""
    # newline="" splits on all three line ends and keeps them, which the csv module needs to
    # read quoted fields that span lines.
    lines = list(enumerate(io.StringIO(text, newline=""), start=1))
    while lines and not lines[-1][1].strip():
        lines.pop()
    end = len(lines) - source.skip_trailing_lines
    return lines[source.skip_leading_lines : max(end, source.skip_leading_lines)]


def _csv_records(plan: _Plan, lines: list[tuple[int, str]]) -> list[_Record | PlanError]:
    rows = list(_csv_rows(plan.source, lines))
    if plan.source.header:
        if not rows:
            msg = "the file has no header line"
            raise _FileError([PlanError("$.source.header", "unparseable_file", msg, None)])
        _, header = rows.pop(0)
        indexes = _resolve_header(plan, [cell.strip() for cell in header])
        width = len(header)
    elif rows:
        width = len(rows[0][1])
        indexes = _resolve_numbers(plan, width)
    else:
        return []
    return [_csv_record(number, cells, indexes, width) for number, cells in rows]


def _csv_rows(source: _Source, lines: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    feed = _LineFeed(lines)
    reader = csv.reader(
        feed,
        delimiter=source.delimiter,
        quotechar=source.quote or '"',
        quoting=csv.QUOTE_MINIMAL if source.quote else csv.QUOTE_NONE,
        strict=True,
    )
    while True:
        start = feed.last + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            msg = f"line {start} is not valid csv: {exc}"
            raise _FileError([PlanError("$.source", "unparseable_file", msg, start)]) from exc
        if any(cell.strip() for cell in cells):
            yield start, cells


def _resolve_header(plan: _Plan, header: list[str]) -> dict[str, tuple[int, ...]]:
    counts = Counter(header)
    errors: list[PlanError] = []
    indexes: dict[str, tuple[int, ...]] = {}
    for name, columns in plan.columns.items():
        found: list[int] = []
        for column in columns:
            index = _header_index(column, header, counts, errors)
            if index is not None:
                found.append(index)
        indexes[name] = tuple(found)
    if errors:
        raise _FileError(errors)
    return indexes


def _header_index(
    column: _Column, header: list[str], counts: Counter[str], errors: list[PlanError]
) -> int | None:
    ref = column.ref
    if isinstance(ref, int):
        if ref > len(header):
            msg = f"{column.path} is column {ref}, but the header has {len(header)} columns"
            errors.append(PlanError(column.path, "unknown_column", msg, None, ref))
            return None
        return ref - 1
    if counts[ref] == 1:
        return header.index(ref)
    if counts[ref] > 1:
        msg = f"{column.path}: the header has {counts[ref]} columns named {ref!r}; use a number"
        errors.append(PlanError(column.path, "ambiguous_column", msg, None, ref))
        return None
    hint = difflib.get_close_matches(ref, header, n=1)
    also = f" Did you mean {hint[0]!r}?" if hint else ""
    listed = ", ".join(repr(h) for h in header)
    msg = f"{column.path}: the header has no column {ref!r}.{also} It has: {listed}"
    errors.append(PlanError(column.path, "unknown_column", msg, None, ref))
    return None


def _resolve_numbers(plan: _Plan, width: int) -> dict[str, tuple[int, ...]]:
    errors = [
        PlanError(
            column.path,
            "unknown_column",
            f"{column.path} is column {column.ref}, but the rows have {width} columns",
            None,
            column.ref,
        )
        for columns in plan.columns.values()
        for column in columns
        if isinstance(column.ref, int) and column.ref > width
    ]
    if errors:
        raise _FileError(errors)
    return {
        name: tuple(int(column.ref) - 1 for column in columns)
        for name, columns in plan.columns.items()
    }


def _csv_record(
    number: int, cells: list[str], indexes: Mapping[str, tuple[int, ...]], width: int
) -> _Record | PlanError:
    if len(cells) != width:
        # A row of another width has usually lost a quote or gained a delimiter, so its cells
        # no longer sit under their headings.
        msg = f"line {number} has {len(cells)} cells where the file has {width}"
        return PlanError("$.source", "unparseable_file", msg, number)
    values = {name: tuple(cells[i].strip() for i in found) for name, found in indexes.items()}
    return _Record(number, values)


def _json_records(plan: _Plan, text: str) -> list[_Record | PlanError]:
    try:
        document = json.loads(
            text,
            parse_float=str,
            parse_int=str,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_object,
        )
    except (ValueError, RecursionError) as exc:
        msg = f"the file is not valid JSON: {exc}"
        raise _FileError([PlanError("$.source", "unparseable_file", msg)]) from exc
    found = _walk(document, plan.source.records)
    if not isinstance(found, list):
        msg = "$.source.records does not lead to a list in the file"
        raise _FileError([PlanError("$.source.records", "unparseable_file", msg)])
    return [_json_record(plan, index, item) for index, item in enumerate(found, start=1)]


def _json_record(plan: _Plan, row: int, item: Any) -> _Record | PlanError:
    if not isinstance(item, dict):
        msg = f"record {row} is {_json_type(item)}, not an object"
        return PlanError("$.source.records", "wrong_type", msg, row)
    values: dict[str, tuple[str, ...]] = {}
    for name, columns in plan.columns.items():
        texts: list[str] = []
        for column in columns:
            ref = str(column.ref)
            value = _walk(item, _json_path(ref) or ()) if ref.startswith("$") else item.get(ref)
            if isinstance(value, dict | list):
                msg = f"record {row}: {ref} is {_json_type(value)}, not a value"
                return PlanError(column.path, "wrong_type", msg, row, column.ref)
            texts.append(_json_text(value))
        values[name] = tuple(texts)
    return _Record(row, values)


def _walk(document: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict):
            document = document.get(step)
        else:
            return None
    return document


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _refuse_constant(name: str) -> Any:
    msg = f"{name} is not a number"
    raise ValueError(msg)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            msg = f"an object repeats the key {key!r}"
            raise ValueError(msg)
        result[key] = value
    return result


# --------------------------------------------------------------------------------------------
# Parsing one record
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """A record read into exact values."""

    row: int
    date: dt.date
    instant: dt.datetime
    stamp: str
    authorised: dt.date | None
    amount_minor: int
    currency: str
    balance_minor: int | None
    status: TransactionStatus
    kind: TransactionType
    texts: tuple[str, str, str]
    check_number: str
    category: tuple[str, ...]
    provider_id: str
    account: str


class _CellError(Exception):
    """A value that cannot be read; becomes a row error for the field's column."""

    def __init__(self, message: str, code: str, name: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message


def _parse_rows(
    plan: _Plan, records: list[_Record | PlanError], context: PlanContext
) -> tuple[list[_Row], list[PlanError]]:
    latest = None
    if context.future_tolerance_days is not None:
        latest = context.received_at.date() + dt.timedelta(days=context.future_tolerance_days)
    rows: list[_Row] = []
    errors: list[PlanError] = []
    for record in records:
        if isinstance(record, PlanError):
            errors.append(record)
            continue
        try:
            rows.append(_parse_row(plan, record, context.account.currency, latest))
        except _CellError as exc:
            columns = plan.columns.get(exc.name, ())
            path, ref = (columns[0].path, columns[0].ref) if columns else (f"$.{exc.name}", None)
            errors.append(PlanError(path, exc.code, exc.message, record.row, ref))
    return rows, errors


def _parse_row(
    plan: _Plan, record: _Record, fallback_currency: str | None, latest: dt.date | None
) -> _Row:
    currency = _row_currency(plan, record, fallback_currency)
    day, instant = _row_moment(plan, record)
    authorised = _authorised(plan, record)
    for name, value in (("date", day), ("authorised_date", authorised)):
        if latest is not None and value is not None and value > latest:
            msg = f"row {record.row}: {name} {value.isoformat()} is later than {latest}"
            raise _CellError(msg, "future_date", name)
    balance = _optional_amount(plan, record, "balance", currency)
    return _Row(
        row=record.row,
        date=day,
        instant=instant,
        stamp=instant.isoformat() if plan.reads_time else day.isoformat(),
        authorised=authorised,
        amount_minor=_row_amount(plan, record, currency),
        currency=currency,
        balance_minor=-balance if balance is not None and plan.invert_balance else balance,
        status=_mapped(plan.status_map, record, "status", TransactionStatus.POSTED),
        kind=_mapped(plan.type_map, record, "type", TransactionType.PAYMENT),
        texts=(_text(record, "payee"), _text(record, "description"), _text(record, "memo")),
        check_number=_text(record, "check_number"),
        category=tuple(v for v in record.values.get("category", ()) if v),
        provider_id=_text(record, "transaction_id"),
        account=_text(record, "account"),
    )


def _text(record: _Record, name: str) -> str:
    return " ".join(v for v in record.values.get(name, ()) if v)


def _cell(record: _Record, name: str, *, required: bool) -> str:
    values = record.values.get(name, ())
    value = values[0] if values else ""
    if required and not value:
        msg = f"row {record.row}: {name} is empty"
        raise _CellError(msg, "missing_field", name)
    return value


def _row_currency(plan: _Plan, record: _Record, fallback: str | None) -> str:
    if "currency" in plan.columns:
        code = _cell(record, "currency", required=True).upper()
    else:
        code = plan.currency or fallback or ""
    try:
        currency_exponent(code)
    except MoneyError as exc:
        msg = f"row {record.row}: {exc.message}"
        raise _CellError(msg, "unknown_currency", "currency") from exc
    return code


def _mapped(table: Mapping[str, _E], record: _Record, name: str, default: _E) -> _E:
    if not table:
        return default
    value = _cell(record, name, required=False)
    found = table.get(value.casefold(), table.get("*"))
    if found is None:
        known = ", ".join(repr(k) for k in table)
        msg = f"row {record.row}: {name} {value!r} is not in {name}_map ({known})"
        raise _CellError(msg, "unmapped_value", name)
    return found


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _row_moment(plan: _Plan, record: _Record) -> tuple[dt.date, dt.datetime]:
    """Return the printed date and the instant used to order rows (UTC)."""
    text = _cell(record, "date", required=True)
    groups = _match(plan.date_value, text, record, "date")
    day = _date_of(groups, record, "date")
    if plan.time_value is not None:
        time_text = _cell(record, "time", required=True)
        groups = _match(plan.time_value, time_text, record, "time")
    clock = _time_of(groups, record, "time" if plan.time_value is not None else "date")
    zone = _row_zone(plan, record, groups)
    return day, dt.datetime.combine(day, clock, tzinfo=zone).astimezone(dt.UTC)


def _authorised(plan: _Plan, record: _Record) -> dt.date | None:
    text = _cell(record, "authorised_date", required=False)
    if not text:
        return None
    groups = _match(plan.authorised_value, text, record, "authorised_date")
    return _date_of(groups, record, "authorised_date")


def _match(pattern: re.Pattern[str], text: str, record: _Record, name: str) -> dict[str, str]:
    match = pattern.fullmatch(text)
    if match is None:
        msg = f"row {record.row}: {name} {text!r} does not match the plan's format"
        raise _CellError(msg, "invalid_date", name)
    return {key: value for key, value in match.groupdict().items() if value is not None}


def _date_of(groups: Mapping[str, str], record: _Record, name: str) -> dt.date:
    if "year" in groups:
        year = int(groups["year"])
    else:
        # The POSIX pivot, as strptime's %y: 69-99 are 1969-1999, 00-68 are 2000-2068.
        short = int(groups["year2"])
        year = short + (1900 if short >= 69 else 2000)
    month = _month(groups)
    try:
        return dt.date(year, month, int(groups["day"]))
    except ValueError as exc:
        msg = f"row {record.row}: {name} is not a calendar date ({exc})"
        raise _CellError(msg, "invalid_date", name) from exc


def _month(groups: Mapping[str, str]) -> int:
    if "mon" in groups:
        name = groups["mon"].casefold()
        return _MONTHS.index(name) + 1 if name in _MONTHS else 0
    return int(groups["month"])


def _time_of(groups: Mapping[str, str], record: _Record, name: str) -> dt.time:
    if "hour12" in groups:
        hour = int(groups["hour12"])
        if not 1 <= hour <= 12:
            msg = f"row {record.row}: {name} has hour {hour} on a 12-hour clock"
            raise _CellError(msg, "invalid_date", name)
        hour = hour % 12 + (12 if groups["ampm"].upper() == "PM" else 0)
    elif "hour" in groups:
        hour = int(groups["hour"])
    else:
        return dt.time()
    micros = int(groups.get("fraction", "0").ljust(6, "0"))
    try:
        return dt.time(hour, int(groups["minute"]), int(groups.get("second", 0)), micros)
    except ValueError as exc:
        msg = f"row {record.row}: {name} is not a time of day ({exc})"
        raise _CellError(msg, "invalid_date", name) from exc


def _row_zone(plan: _Plan, record: _Record, groups: Mapping[str, str]) -> dt.tzinfo:
    if "offset" in groups:
        zone = _zone(groups["offset"])
    elif "timezone" in plan.columns:
        zone = _zone(_cell(record, "timezone", required=True))
    else:
        zone = plan.zone or dt.UTC
    if zone is None:
        msg = f"row {record.row}: the time zone is not UTC or an offset such as +01:00"
        name = "timezone" if "timezone" in plan.columns and "offset" not in groups else "date"
        raise _CellError(msg, "invalid_date", name)
    return zone


# --------------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------------

_MARK: Final = r"[^\s0-9.,'\u2019()+\-\u2212]+"
_LEFT: Final = re.compile(rf"\s*(?:(?P<sign>[+\-\u2212])|(?P<open>\()|(?P<mark>{_MARK}))\s*")
_RIGHT: Final = re.compile(rf"\s*(?:(?P<sign>[+\-\u2212])|(?P<close>\))|(?P<mark>{_MARK}))\s*$")
_SYMBOLS: Final = frozenset(
    {"$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫", "₱", "฿", "₴", "₦", "₣", "R$"}
    | {"US$", "CA$", "C$", "A$", "AU$", "NZ$", "HK$", "S$", "MX$", "kr", "zł", "Kč", "Ft"}
)
_DIGITS: Final = re.compile(r"[0-9]+")
_GROUPED: Final = re.compile(r"[0-9]{1,3}(?:(?P<sep>[,.' ])[0-9]{3})(?:(?P=sep)[0-9]{3})*")


def _row_amount(plan: _Plan, record: _Record, currency: str) -> int:
    if plan.sign == "debit_credit":
        return _debit_credit(plan, record, currency)
    amount = _amount(plan, _cell(record, "amount", required=True), currency, record, "amount")
    if plan.sign == "inverted":
        return -amount
    if plan.sign == "indicator":
        return _indicated(plan, record, abs(amount))
    return amount


def _optional_amount(plan: _Plan, record: _Record, name: str, currency: str) -> int | None:
    text = _cell(record, name, required=False)
    return _amount(plan, text, currency, record, name) if text else None


def _debit_credit(plan: _Plan, record: _Record, currency: str) -> int:
    debit = _optional_amount(plan, record, "debit", currency)
    credit = _optional_amount(plan, record, "credit", currency)
    if debit is None and credit is None:
        msg = f"row {record.row}: both debit and credit are empty"
        raise _CellError(msg, "missing_field", "debit")
    if debit and credit:
        msg = f"row {record.row}: both debit and credit hold an amount"
        raise _CellError(msg, "invalid_amount", "debit")
    # Banks print withdrawals in the debit column with or without a minus; either way the
    # column, not the sign, says which way the money went.
    return abs(credit or 0) - abs(debit or 0)


def _indicated(plan: _Plan, record: _Record, magnitude: int) -> int:
    value = _cell(record, "indicator", required=True)
    folded = value.casefold()
    if folded in plan.debit_values:
        return -magnitude
    if folded in plan.credit_values:
        return magnitude
    msg = f"row {record.row}: indicator {value!r} is in neither debit_values nor credit_values"
    raise _CellError(msg, "invalid_amount", "indicator")


def _amount(plan: _Plan, text: str, currency: str, record: _Record, name: str) -> int:
    """Read a formatted amount (symbols, separators, minus or parentheses) into minor units."""
    try:
        negative, body = _strip_amount(text, currency)
        digits = _plain_number(body, plan.decimal, plan.thousands)
        return parse_minor(("-" if negative else "") + digits, currency)
    except ValueError as exc:
        code = exc.code if isinstance(exc, MoneyError) else "invalid_amount"
        detail = exc.message if isinstance(exc, MoneyError) else str(exc)
        msg = f"row {record.row}: {name} {text!r}: {detail}"
        raise _CellError(msg, code, name) from exc


def _strip_amount(text: str, currency: str) -> tuple[bool, str]:
    """Take parentheses, sign and currency marker off an amount; return (negative, number)."""
    body = text.strip()
    found: dict[str, list[str]] = {"sign": [], "open": [], "close": [], "mark": []}
    # Each match consumes at least one character, so both loops end.
    while (match := _LEFT.match(body)) is not None:
        _note(match, found)
        body = body[match.end() :]
    while (match := _RIGHT.search(body)) is not None:
        _note(match, found)
        body = body[: match.start()]
    parentheses = len(found["open"])
    if parentheses != len(found["close"]) or parentheses + len(found["sign"]) > 1:
        msg = "has unbalanced parentheses or more than one sign"
        raise ValueError(msg)
    if len(found["mark"]) > 1:
        msg = "has more than one currency marker"
        raise ValueError(msg)
    if found["mark"]:
        _check_marker(found["mark"][0], currency)
    return bool(parentheses) or any(sign in "-\u2212" for sign in found["sign"]), body


def _note(match: re.Match[str], found: dict[str, list[str]]) -> None:
    kind = next(name for name, value in match.groupdict().items() if value is not None)
    found[kind].append(match[kind])


def _check_marker(mark: str, currency: str) -> None:
    if mark in _SYMBOLS:
        return
    code = mark.upper()
    if code not in CURRENCY_EXPONENTS:
        msg = f"{mark!r} is not a currency symbol or code"
        raise ValueError(msg)
    if code != currency:
        msg = f"says {code} but the row's currency is {currency}"
        raise ValueError(msg)


def _plain_number(body: str, decimal: str, thousands: frozenset[str]) -> str:
    """Turn ``1'234.50`` or ``1.234,50`` into ``1234.50`` under the plan's separators."""
    if " " in thousands:
        body = body.replace("\u00a0", " ").replace("\u202f", " ")
    if "'" in thousands:
        body = body.replace("\u2019", "'")
    whole, point, fraction = body.partition(decimal)
    if point and _DIGITS.fullmatch(fraction) is None:
        msg = f"has no digits after the decimal separator {decimal!r}"
        raise ValueError(msg)
    if not whole and point:
        whole = "0"
    if _DIGITS.fullmatch(whole) is None:
        grouped = _GROUPED.fullmatch(whole)
        if grouped is None or grouped["sep"] not in thousands:
            msg = f"is not a number with decimal {decimal!r} and thousands {sorted(thousands)}"
            raise ValueError(msg)
        whole = whole.replace(grouped["sep"], "")
    return f"{whole}.{fraction}" if point else whole


# --------------------------------------------------------------------------------------------
# Whole-file checks, ids, transactions and the closing balance
# --------------------------------------------------------------------------------------------


def _file_checks(plan: _Plan, rows: list[_Row]) -> list[PlanError]:
    errors: list[PlanError] = []
    if "transaction_id" in plan.columns:
        column = plan.columns["transaction_id"][0]
        first_row: dict[str, int] = {}
        for row in rows:
            if not row.provider_id:
                msg = f"row {row.row}: transaction_id is empty"
                errors.append(PlanError(column.path, "missing_field", msg, row.row, column.ref))
            elif row.provider_id in first_row:
                msg = f"row {row.row}: transaction_id {row.provider_id!r} is also on row "
                msg += str(first_row[row.provider_id])
                errors.append(PlanError(column.path, "duplicate_key", msg, row.row, column.ref))
            first_row.setdefault(row.provider_id, row.row)
    if "account" in plan.columns and rows:
        column = plan.columns["account"][0]
        for row in rows:
            if row.account != rows[0].account:
                msg = f"row {row.row}: account {row.account!r} differs from {rows[0].account!r}"
                errors.append(PlanError(column.path, "mixed_accounts", msg, row.row, column.ref))
    return errors


def _provider_account_id(plan: _Plan, rows: list[_Row], context: PlanContext) -> str:
    from_file = rows[0].account if rows else ""
    return (
        context.account.provider_account_id
        or plan.account.provider_account_id
        or from_file
        or plan.name
    )


def _transactions(rows: list[_Row], account_key: str) -> tuple[UnifiedTransaction, ...]:
    seen: Counter[str] = Counter()
    return tuple(_transaction(row, account_key, _provider_id(row, seen)) for row in rows)


def _provider_id(row: _Row, seen: Counter[str]) -> str:
    """Return the file's id, or the content hash plus the occurrence index of identical rows."""
    if row.provider_id:
        return row.provider_id
    digest = content_hash(
        [row.stamp, row.amount_minor, row.currency, *row.texts, row.check_number]
    )[:32]
    occurrence = seen[digest]
    seen[digest] += 1
    return f"{digest}:{occurrence}"


def _transaction(row: _Row, account_key: str, provider_id: str) -> UnifiedTransaction:
    pending = row.status is TransactionStatus.PENDING
    return UnifiedTransaction(
        transaction_id=derived_id("txn", PROVIDER, account_key, provider_id),
        account_id=derived_id("acc", PROVIDER, account_key),
        provider=PROVIDER,
        provider_account_id=account_key,
        provider_transaction_id=provider_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        status=row.status,
        dates=TransactionDates(
            posted=None if pending else row.date,
            authorised=row.authorised or (row.date if pending else None),
        ),
        details=TransactionDetails(type=row.kind),
        merchant=Merchant(raw_name=next((t for t in row.texts if t), "")),
        enrichment=Enrichment(vendor_category=row.category),
        balance_after_minor=row.balance_minor,
    )


def _closing_row(rows: list[_Row]) -> tuple[_Row, int] | None:
    """Pick the row whose running balance closes the file (see the module docs)."""
    candidates = [(row, row.balance_minor) for row in rows if row.balance_minor is not None]
    if not candidates:
        return None
    latest = max(row.instant for row, _ in candidates)
    tied = [(row, balance) for row, balance in candidates if row.instant == latest]
    if len(tied) == 1:
        return tied[0]
    # A row starts from balance - amount; the last row of the day is the one no other tied
    # row starts from.
    starts = Counter(balance - row.amount_minor for row, balance in tied)
    ends = [
        (row, balance) for row, balance in tied if starts[balance] - (row.amount_minor == 0) == 0
    ]
    if len(ends) == 1:
        return ends[0]
    direction = _direction([row for row, _ in candidates])
    if direction is None:
        return None
    return tied[0] if direction < 0 else tied[-1]


def _direction(rows: list[_Row]) -> int | None:
    """Return 1 if the moments only rise, -1 if they only fall, 0 if all equal, else None."""
    steps = {
        (later.instant > earlier.instant) - (later.instant < earlier.instant)
        for earlier, later in zip(rows, rows[1:], strict=False)
    } - {0}
    if len(steps) > 1:
        return None
    return steps.pop() if steps else 0


def _account(
    plan: _Plan, closing: tuple[_Row, int], account_key: str, context: PlanContext
) -> UnifiedAccount:
    row, balance = closing
    overrides = context.account
    return UnifiedAccount(
        account_id=derived_id("acc", PROVIDER, account_key),
        provider=PROVIDER,
        provider_account_id=account_key,
        connection_id=context.connection_id,
        type=overrides.type or plan.account.type or AccountType.DEPOSITORY,
        subtype=plan.account.subtype,
        name=overrides.name or plan.account.name or plan.name,
        currency=row.currency,
        balances=AccountBalances(current_minor=balance),
    )


# --------------------------------------------------------------------------------------------
# The csv_file normaliser
# --------------------------------------------------------------------------------------------


class _AccountHint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider_account_id: str | None = Field(default=None, min_length=1, max_length=256)
    name: str | None = Field(default=None, min_length=1)
    type: AccountType | None = None
    currency: str | None = None


class _CsvFilePayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str
    content_b64: str
    plan: dict[str, Any]
    account: _AccountHint | None = None


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Normalise a ``csv_file`` envelope: the file read through the plan it carries.

    Returns the account (when the file gives its balance) followed by one page of
    transaction upserts; a file is one whole sync.

    Raises:
        RejectedInput: INVALID_PLAN for a plan with errors; the first row error's reason
            (UNPARSEABLE_FILE, INVALID_DATE, INVALID_AMOUNT, FUTURE_DATE …) for a file the
            plan cannot read; the message carries the structured errors.
    """
    if envelope.kind is not SyncKind.CSV_FILE:
        raise unsupported_kind(envelope)
    payload = validate_model(_CsvFilePayload, envelope.payload, prefix="payload")
    content = _content(payload.content_b64)
    errors = validate_plan(payload.plan)
    if errors:
        raise _rejection(errors, payload, "payload.plan" + errors[0].path.removeprefix("$"))
    result = apply_plan(payload.plan, content, _plan_context(envelope, payload, limits))
    if result.errors:
        raise _rejection(list(result.errors), payload, "payload.content_b64")
    context = SyncContext(
        tenant_id=envelope.tenant_id,
        profile_id=envelope.profile_id,
        provider=PROVIDER,
        connection_id=envelope.connection_id,
        sync_id=envelope.sync_id,
        page=0,
        last_page=True,
        received_at=envelope.received_at,
    )
    # An export lists each row as it stands now: a row that changed since an earlier export
    # (pending to posted, a new category) is an update of the same transaction, not a conflict.
    upserts = tuple(TransactionUpsert(t, modified=True) for t in result.transactions)
    observed: list[Observation] = []
    if result.account is not None:
        observed.append(AccountsObserved(context=context, accounts=(result.account,)))
    observed.append(TransactionsObserved(context=context, upserts=upserts, removed=()))
    return tuple(observed)


def _content(content_b64: str) -> bytes:
    try:
        return base64.b64decode(content_b64, validate=True)
    except binascii.Error as exc:
        msg = f"payload.content_b64 is not base64: {exc}"
        raise RejectedInput(Reason.INVALID_ENCODING, "payload.content_b64", msg) from exc


def _plan_context(
    envelope: ConnectEnvelope, payload: _CsvFilePayload, limits: DecodeLimits
) -> PlanContext:
    hint = payload.account or _AccountHint()
    if hint.currency is not None:
        try:
            currency_exponent(hint.currency)
        except MoneyError as exc:
            field_path = "payload.account.currency"
            raise RejectedInput(Reason.UNKNOWN_CURRENCY, field_path, exc.message) from exc
    return PlanContext(
        tenant_id=envelope.tenant_id,
        profile_id=envelope.profile_id,
        received_at=envelope.received_at,
        connection_id=envelope.connection_id,
        account=AccountOverrides(hint.provider_account_id, hint.name, hint.type, hint.currency),
        future_tolerance_days=limits.future_tolerance_days,
    )


def _rejection(errors: list[PlanError], payload: _CsvFilePayload, where: str) -> RejectedInput:
    shown = canonical_json([error.to_dict() for error in errors[:10]]).decode()
    more = f" and {len(errors) - 10} more" if len(errors) > 10 else ""
    msg = f"{payload.filename}: {errors[0].message}; errors: {shown}{more}"
    return RejectedInput(errors[0].reason, where, msg)
