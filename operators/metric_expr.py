"""Tenant metric definitions (FOS §4): parse, type-check and evaluate them per profile.

A definition's ``logic`` has three parts. The ``filter`` is a small boolean language over
the fields of a transaction::

    expr := or
    or   := and ('OR' and)*
    and  := not ('AND' not)*
    not  := 'NOT' not | cmp
    cmp  := '(' expr ')' | field op value | field 'IN' list | field 'NOT' 'IN' list
    op   := '==' | '!=' | '<' | '<=' | '>' | '>='
    list := '[' value (',' value)* ']'
    value := 'single' | "double" | -12.50 | TRUE | FALSE

Keywords and field names are case-insensitive. Strings escape their quote and the backslash
with a backslash. Numbers are kept as ``Decimal``. A list is non-empty and holds one kind
of value. The text is read by a hand-written tokenizer and recursive-descent parser, and
every comparison is checked against the field's type when the metric is registered, so a
compiled metric cannot fail to evaluate on a well-formed transaction.

The ``aggregation`` is one of ``SUM``, ``AVG``, ``MIN`` or ``MAX`` of ``amount`` or
``abs_amount``, ``COUNT(*)``, ``COUNT(DISTINCT merchant)`` or ``COUNT(DISTINCT day)``. The
``window`` is a count and a unit (``90d``, ``12w``, ``6m``, ``1y``) ending on, and
including, the evaluation date.

Money stays in integer minor units throughout. A filter compares ``amount`` with a decimal
literal in the major units of the transaction's own currency, exactly; money aggregations
count only transactions in the profile's base currency.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, NamedTuple, TypeVar

import orjson

from schemas.canonical import canonical_json
from schemas.money import MoneyError, currency_exponent, format_minor

MAX_FILTER_CHARS: Final = 2000
MAX_DEPTH: Final = 32
MAX_WINDOW_DAYS: Final = 3660

SYNTAX_ERROR: Final = "syntax_error"
UNKNOWN_FIELD: Final = "unknown_field"
TYPE_MISMATCH: Final = "type_mismatch"
OPERATOR_NOT_ALLOWED: Final = "operator_not_allowed"
FUNCTION_NOT_ALLOWED: Final = "function_not_allowed"
UNKNOWN_AGGREGATION: Final = "unknown_aggregation"
BAD_WINDOW: Final = "bad_window"
INCOMPATIBLE_RETURN_TYPE: Final = "incompatible_return_type"
TOO_COMPLEX: Final = "too_complex"

RETURN_TYPES: Final = ("CURRENCY", "NUMBER", "PERCENTAGE", "BOOLEAN")
STATUSES: Final = frozenset({"PENDING", "POSTED"})
TRANSACTION_TYPES: Final = frozenset(
    {"PAYMENT", "TRANSFER", "FEE", "INTEREST", "INCOME", "REFUND", "OTHER"}
)

MONEY_FUNCTIONS: Final = frozenset({"SUM", "AVG", "MIN", "MAX"})
MONEY_FIELDS: Final = frozenset({"amount", "abs_amount"})
DISTINCT_FIELDS: Final = frozenset({"merchant", "day"})

_T = TypeVar("_T")

# How much of an offending token an error message repeats.
_SHOWN_CHARS: Final = 40
# A window longer than this many characters cannot be valid, and refusing it early keeps
# int() away from arbitrarily long digit strings.
_MAX_WINDOW_CHARS: Final = 8


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a metric definition.

    Attributes:
        code: A stable reason, one of the module's ``*_ERROR``-style constants.
        field: The part of ``logic`` at fault: ``filter``, ``aggregation``, ``window`` or
            ``return_type``.
        message: A sentence saying what is wrong and, where it helps, what is accepted.
        position: The 0-based character offset in that part's text, when one applies.
    """

    code: str
    field: str
    message: str
    position: int | None


class MetricDefinitionError(ValueError):
    """A metric definition that cannot be compiled; ``problems`` lists every part at fault."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__("; ".join(_describe_problem(problem) for problem in problems))
        self.problems = problems

    def __reduce__(self) -> tuple[type[MetricDefinitionError], tuple[tuple[Problem, ...]]]:
        # The default reduction replays only the message, which would not rebuild the problems.
        return (type(self), (self.problems,))


def _describe_problem(problem: Problem) -> str:
    where = "" if problem.position is None else f" at position {problem.position}"
    return f"{problem.field}{where}: {problem.message} ({problem.code})"


Value = Decimal | str | bool | int | dt.date


@dataclass(frozen=True)
class Comparison:
    """``field op value``, with ``value`` already in the form the field is compared in.

    That is a Decimal for ``amount`` and ``abs_amount``, a date for ``date``, a bool for
    ``is_recurring``, ``date.weekday()`` for ``day_of_week``, a casefolded string for
    ``category`` and ``merchant``, an upper-case string for ``currency``, ``status`` and
    ``type``, and the string as written for ``account_id``.
    """

    field: str
    op: str
    value: Value
    position: int


@dataclass(frozen=True)
class Membership:
    """``field IN [...]``, or ``field NOT IN [...]`` when ``negated``."""

    field: str
    values: tuple[Value, ...]
    negated: bool
    position: int


@dataclass(frozen=True)
class Not:
    """The negation of ``operand``."""

    operand: Node


@dataclass(frozen=True)
class And:
    """True when every operand is; holds two or more operands."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """True when any operand is; holds two or more operands."""

    operands: tuple[Node, ...]


Node = Comparison | Membership | Not | And | Or


@dataclass(frozen=True)
class Aggregation:
    """What is computed over the matching transactions.

    Attributes:
        function: ``SUM``, ``AVG``, ``MIN``, ``MAX`` or ``COUNT``.
        argument: ``amount`` or ``abs_amount`` for money functions; ``*``, ``merchant`` or
            ``day`` for ``COUNT``.
        distinct: True for ``COUNT(DISTINCT ...)``.
    """

    function: str
    argument: str
    distinct: bool = False

    @property
    def is_money(self) -> bool:
        """Whether the result is an amount of money rather than a count."""
        return self.function in MONEY_FUNCTIONS


@dataclass(frozen=True)
class Window:
    """A span of days ending on, and including, the evaluation date.

    Attributes:
        count: How many units; at least 1, and at most 3660 days' worth.
        unit: ``d`` (days), ``w`` (weeks), ``m`` (calendar months) or ``y`` (years).
    """

    count: int
    unit: str

    def start(self, as_of: dt.date) -> dt.date:
        """Return the first date inside the window that ends on ``as_of``.

        ``Nd`` covers the N days ending on ``as_of`` and ``Nw`` the 7N days. ``Nm`` starts
        the day after the same day N months earlier, clamped to that month's end, so that
        ``1m`` on 31 May is May itself and consecutive windows never overlap; ``Ny`` is
        12N months. A window reaching before the first representable date starts there.
        """
        try:
            if self.unit in ("d", "w"):
                days = self.count * (7 if self.unit == "w" else 1)
                return as_of - dt.timedelta(days=days - 1)
            months = self.count * (12 if self.unit == "y" else 1)
            return _months_before(as_of, months) + dt.timedelta(days=1)
        except OverflowError:
            return dt.date.min


def _months_before(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` earlier, clamped to the end of a shorter month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    if year < dt.MINYEAR:
        msg = f"{months} months before {day.isoformat()} is before the first date"
        raise OverflowError(msg)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


@dataclass(frozen=True)
class CompiledMetric:
    """A metric definition that parsed and type-checked, ready to evaluate.

    Attributes:
        source: The ``logic`` mapping the metric was compiled from, as given.
    """

    metric_id: str
    filter_ast: Node
    aggregation: Aggregation
    window: Window
    return_type: str
    source: dict[str, Any]


class TxView(NamedTuple):
    """The fields of one FOS transaction that a metric filter can see.

    Attributes:
        amount_minor: Signed minor units of ``currency``; negative when money leaves.
        category: The category path, broadest level first; may be empty.
        merchant: The clean merchant name, if enrichment found one.
        status: ``PENDING`` or ``POSTED``.
        type: ``PAYMENT``, ``TRANSFER``, ``FEE``, ``INTEREST``, ``INCOME``, ``REFUND`` or
            ``OTHER``.
    """

    amount_minor: int
    currency: str
    day: dt.date
    category: tuple[str, ...]
    merchant: str | None
    account_id: str
    status: str
    type: str
    is_recurring: bool


class MetricValue(NamedTuple):
    """A metric's value for one profile on one date.

    Attributes:
        value: Decimal text in major units for money, a count as integer text, a
            percentage with two decimals, a bool for BOOLEAN metrics, or None when an
            AVG, MIN or MAX has nothing to aggregate or a PERCENTAGE has no transaction
            in its window.
        value_minor: The amount in minor units, for CURRENCY metrics only.
        currency: The base currency, for CURRENCY metrics only.
        matched: How many transactions the value was computed from.
        window_start: The first date of the window.
        window_end: The last date of the window: the evaluation date.
        skipped_currency: Matching transactions a money aggregation left out because they
            are not in the base currency.
    """

    value: str | bool | None
    value_minor: int | None
    currency: str | None
    matched: int
    window_start: dt.date
    window_end: dt.date
    skipped_currency: int


# Tokens ---------------------------------------------------------------------------------


class _ParseError(Exception):
    """The first problem found in one part of a definition; the caller names the part."""

    def __init__(self, code: str, message: str, position: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position


class _Token(NamedTuple):
    """One lexical unit. ``text`` is the decoded value for strings, the message for errors."""

    kind: str
    text: str
    position: int


_IDENT_START: Final = frozenset(string.ascii_letters + "_")
_IDENT_CHARS: Final = _IDENT_START | frozenset(string.digits)
_DIGITS: Final = frozenset(string.digits)
_SPACE: Final = frozenset(" \t\r\n")
_PUNCTUATION: Final = frozenset("()[],*")
_TWO_CHAR_OPS: Final = frozenset({"==", "!=", "<=", ">="})
_ESCAPABLE: Final = frozenset("\\'\"")
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "TRUE", "FALSE"})


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, ending with an ``end`` token.

    A lexical error does not raise here: it becomes a final ``error`` token, so that the
    parser reports whichever problem comes first in the text.
    """
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        try:
            if char in _SPACE:
                index += 1
                continue
            if char in _IDENT_START:
                end = _scan(text, index, _IDENT_CHARS)
                token = _Token("ident", text[index:end], index)
            elif char in _DIGITS or char == "-":
                token, end = _scan_number(text, index)
            elif char in ("'", '"'):
                token, end = _scan_string(text, index)
            elif char in _PUNCTUATION:
                token, end = _Token(char, char, index), index + 1
            else:
                token, end = _scan_operator(text, index)
        except _ParseError as error:
            tokens.append(_Token("error", error.message, error.position or 0))
            return tokens
        tokens.append(token)
        index = end
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _scan(text: str, index: int, allowed: frozenset[str]) -> int:
    while index < len(text) and text[index] in allowed:
        index += 1
    return index


def _scan_number(text: str, start: int) -> tuple[_Token, int]:
    digits = start + 1 if text[start] == "-" else start
    end = _scan(text, digits, _DIGITS)
    if end == digits:
        msg = "a minus sign must be followed directly by digits"
        raise _ParseError(SYNTAX_ERROR, msg, start)
    if end < len(text) and text[end] == ".":
        fraction_end = _scan(text, end + 1, _DIGITS)
        if fraction_end == end + 1:
            msg = "a decimal point must be followed by digits"
            raise _ParseError(SYNTAX_ERROR, msg, end)
        end = fraction_end
    if end < len(text) and (text[end] in _IDENT_CHARS or text[end] == "."):
        msg = f"unexpected character {text[end]!r} in a number"
        raise _ParseError(SYNTAX_ERROR, msg, end)
    return _Token("number", text[start:end], start), end


def _scan_string(text: str, start: int) -> tuple[_Token, int]:
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return _Token("string", "".join(chars), start), index + 1
        if char == "\\":
            if index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
                chars.append(text[index + 1])
                index += 2
                continue
            msg = "a backslash may only escape a quote or another backslash"
            raise _ParseError(SYNTAX_ERROR, msg, index)
        chars.append(char)
        index += 1
    msg = "the string starting here is never closed"
    raise _ParseError(SYNTAX_ERROR, msg, start)


def _scan_operator(text: str, start: int) -> tuple[_Token, int]:
    pair = text[start : start + 2]
    if pair in _TWO_CHAR_OPS:
        return _Token("op", pair, start), start + 2
    char = text[start]
    if char in ("<", ">"):
        return _Token("op", char, start), start + 1
    if char == "=":
        msg = "use == to compare for equality"
    elif char == ".":
        msg = "'.' is not allowed: fields have no attributes"
    else:
        msg = f"unexpected character {char!r}"
    raise _ParseError(SYNTAX_ERROR, msg, start)


def _keyword(token: _Token) -> str | None:
    if token.kind == "ident" and token.text.upper() in _KEYWORDS:
        return token.text.upper()
    return None


def _shown(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the text"
    if token.kind == "string":
        return f"the string {token.text[:_SHOWN_CHARS]!r}"
    return repr(token.text[:_SHOWN_CHARS])


# Fields ---------------------------------------------------------------------------------

Raw = Decimal | str | bool


def _raw_kind(raw: Raw) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, Decimal):
        return "a number"
    return "a string"


def _mismatch(field: str, expected: str, raw: Raw, position: int) -> _ParseError:
    shown = str(raw)[:_SHOWN_CHARS]
    msg = f"{field} compares with {expected}, not {_raw_kind(raw)} ({shown!r})"
    return _ParseError(TYPE_MISMATCH, msg, position)


def _need_string(field: str, expected: str, raw: Raw, position: int) -> str:
    if not isinstance(raw, str):
        raise _mismatch(field, expected, raw, position)
    return raw


def _as_money(field: str, raw: Raw, position: int) -> Value:
    if not isinstance(raw, Decimal):
        raise _mismatch(field, "a number in major units such as -12.50", raw, position)
    return raw


def _as_text(field: str, raw: Raw, position: int) -> Value:
    return _need_string(field, "a string", raw, position)


def _as_folded(field: str, raw: Raw, position: int) -> Value:
    return _need_string(field, "a string", raw, position).casefold()


def _as_currency(field: str, raw: Raw, position: int) -> Value:
    code = _need_string(field, "an ISO 4217 code", raw, position).upper()
    try:
        currency_exponent(code)
    except MoneyError:
        raise _mismatch(field, "an ISO 4217 code", raw, position) from None
    return code


def _enum_converter(allowed: frozenset[str]) -> Callable[[str, Raw, int], Value]:
    expected = "one of " + ", ".join(sorted(allowed))

    def convert(field: str, raw: Raw, position: int) -> Value:
        value = _need_string(field, expected, raw, position).upper()
        if value not in allowed:
            raise _mismatch(field, expected, raw, position)
        return value

    return convert


_WEEKDAYS: Final = {
    name: index
    for index, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    for name in (full, full[:3])
}


def _as_weekday(field: str, raw: Raw, position: int) -> Value:
    expected = "a day such as 'Sat' or 'Saturday'"
    index = _WEEKDAYS.get(_need_string(field, expected, raw, position).casefold())
    if index is None:
        raise _mismatch(field, expected, raw, position)
    return index


def _as_date(field: str, raw: Raw, position: int) -> Value:
    expected = "an ISO date 'YYYY-MM-DD'"
    text = _need_string(field, expected, raw, position)
    # date.fromisoformat also accepts week dates and compact forms, so the shape is checked
    # by hand before the calendar check.
    shape_ok = len(text) == 10 and text[4] == "-" and text[7] == "-"  # noqa: PLR2004
    parts = (text[0:4], text[5:7], text[8:10])
    if not shape_ok or not all(part and set(part) <= _DIGITS for part in parts):
        raise _mismatch(field, expected, raw, position)
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise _mismatch(field, expected, raw, position) from None


def _as_boolean(field: str, raw: Raw, position: int) -> Value:
    if not isinstance(raw, bool):
        raise _mismatch(field, "TRUE or FALSE", raw, position)
    return raw


class _FieldSpec(NamedTuple):
    ordered: bool
    convert: Callable[[str, Raw, int], Value]


# Each converter checks a literal against its field's type and returns it in the form the
# evaluator compares, so that case folding and parsing happen once, at registration.
_FIELDS: Final[Mapping[str, _FieldSpec]] = {
    "amount": _FieldSpec(ordered=True, convert=_as_money),
    "abs_amount": _FieldSpec(ordered=True, convert=_as_money),
    "currency": _FieldSpec(ordered=False, convert=_as_currency),
    "category": _FieldSpec(ordered=False, convert=_as_folded),
    "merchant": _FieldSpec(ordered=False, convert=_as_folded),
    "account_id": _FieldSpec(ordered=False, convert=_as_text),
    "status": _FieldSpec(ordered=False, convert=_enum_converter(STATUSES)),
    "type": _FieldSpec(ordered=False, convert=_enum_converter(TRANSACTION_TYPES)),
    "day_of_week": _FieldSpec(ordered=False, convert=_as_weekday),
    "date": _FieldSpec(ordered=True, convert=_as_date),
    "is_recurring": _FieldSpec(ordered=False, convert=_as_boolean),
}


# Filter parser ----------------------------------------------------------------------------


class _FilterParser:
    """Recursive descent over the filter grammar, type-checking each comparison as it goes."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.kind != "end":
            msg = f"unexpected {_shown(token)} after a complete condition"
            raise _ParseError(SYNTAX_ERROR, msg, token.position)
        return node

    def _peek(self) -> _Token:
        token = self._tokens[min(self._index, len(self._tokens) - 1)]
        if token.kind == "error":
            raise _ParseError(SYNTAX_ERROR, token.text, token.position)
        return token

    def _advance(self) -> _Token:
        token = self._peek()
        self._index += 1
        return token

    def _accept(self, keyword: str) -> bool:
        if _keyword(self._peek()) == keyword:
            self._index += 1
            return True
        return False

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            msg = f"conditions may nest at most {MAX_DEPTH} deep (parentheses and NOT)"
            raise _ParseError(TOO_COMPLEX, msg, token.position)

    def _or(self) -> Node:
        operands = [self._and()]
        while self._accept("OR"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._accept("AND"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _not(self) -> Node:
        token = self._peek()
        if _keyword(token) == "NOT":
            self._enter(token)
            self._index += 1
            node = Not(self._not())
            self._depth -= 1
            return node
        return self._cmp()

    def _cmp(self) -> Node:
        token = self._peek()
        if token.kind != "(":
            return self._predicate()
        self._enter(token)
        self._index += 1
        node = self._or()
        closing = self._advance()
        if closing.kind != ")":
            msg = f"expected ')' to close the '(' at position {token.position}, "
            msg += f"found {_shown(closing)}"
            raise _ParseError(SYNTAX_ERROR, msg, closing.position)
        self._depth -= 1
        return node

    def _predicate(self) -> Node:
        token = self._advance()
        if token.kind != "ident" or _keyword(token) is not None:
            msg = f"expected a field name, found {_shown(token)}"
            raise _ParseError(SYNTAX_ERROR, msg, token.position)
        self._refuse_call(token)
        field = token.text.lower()
        spec = _FIELDS.get(field)
        if spec is None:
            msg = f"unknown field {token.text!r}; fields are " + ", ".join(_FIELDS)
            raise _ParseError(UNKNOWN_FIELD, msg, token.position)
        operator = self._advance()
        keyword = _keyword(operator)
        if keyword in ("IN", "NOT"):
            return self._membership(field, spec, token, negated=keyword == "NOT")
        if operator.kind != "op":
            msg = f"expected a comparison, IN or NOT IN after {field}, found {_shown(operator)}"
            raise _ParseError(SYNTAX_ERROR, msg, operator.position)
        if operator.text not in ("==", "!=") and not spec.ordered:
            msg = f"{field} cannot be ordered; use ==, !=, IN or NOT IN"
            raise _ParseError(OPERATOR_NOT_ALLOWED, msg, operator.position)
        raw, value_token = self._literal()
        value = spec.convert(field, raw, value_token.position)
        return Comparison(field, operator.text, value, token.position)

    def _membership(self, field: str, spec: _FieldSpec, token: _Token, *, negated: bool) -> Node:
        if negated:
            following = self._advance()
            if _keyword(following) != "IN":
                msg = f"expected IN after NOT, found {_shown(following)}"
                raise _ParseError(SYNTAX_ERROR, msg, following.position)
        return Membership(field, self._list(field, spec), negated, token.position)

    def _refuse_call(self, token: _Token) -> None:
        # A lexical error after the name is reported later, when the parser reaches it.
        if self._tokens[self._index].kind == "(":
            msg = f"{token.text}(...) is a function call; filters only compare fields"
            raise _ParseError(FUNCTION_NOT_ALLOWED, msg, token.position)

    def _literal(self) -> tuple[Raw, _Token]:
        token = self._advance()
        if token.kind == "string":
            return token.text, token
        if token.kind == "number":
            return Decimal(token.text), token
        keyword = _keyword(token)
        if keyword in ("TRUE", "FALSE"):
            return keyword == "TRUE", token
        if token.kind == "ident" and keyword is None:
            self._refuse_call(token)
        msg = f"expected a value (a quoted string, a number, TRUE or FALSE), found {_shown(token)}"
        raise _ParseError(SYNTAX_ERROR, msg, token.position)

    def _list(self, field: str, spec: _FieldSpec) -> tuple[Value, ...]:
        opening = self._advance()
        if opening.kind != "[":
            msg = f"expected '[' to start the list, found {_shown(opening)}"
            raise _ParseError(SYNTAX_ERROR, msg, opening.position)
        if self._peek().kind == "]":
            msg = "a list needs at least one value"
            raise _ParseError(SYNTAX_ERROR, msg, self._peek().position)
        values: list[Value] = []
        first_kind = ""
        while True:
            raw, token = self._literal()
            first_kind = first_kind or _raw_kind(raw)
            if _raw_kind(raw) != first_kind:
                msg = f"a list holds one kind of value: {first_kind}, not {_raw_kind(raw)}"
                raise _ParseError(TYPE_MISMATCH, msg, token.position)
            values.append(spec.convert(field, raw, token.position))
            separator = self._advance()
            if separator.kind == "]":
                return tuple(values)
            if separator.kind != ",":
                msg = f"expected ',' or ']' in the list, found {_shown(separator)}"
                raise _ParseError(SYNTAX_ERROR, msg, separator.position)


def parse_filter(text: object) -> Node:
    """Parse and type-check a filter expression.

    Raises:
        MetricDefinitionError: with one ``filter`` problem: the first one in the text.
    """
    try:
        return _parse_filter(text)
    except _ParseError as error:
        problem = Problem(error.code, "filter", error.message, error.position)
        raise MetricDefinitionError((problem,)) from None


def _parse_filter(text: object) -> Node:
    if not isinstance(text, str):
        msg = "the filter must be a string expression"
        raise _ParseError(SYNTAX_ERROR, msg, None)
    if len(text) > MAX_FILTER_CHARS:
        msg = f"the filter is {len(text)} characters; at most {MAX_FILTER_CHARS} are allowed"
        raise _ParseError(TOO_COMPLEX, msg, None)
    if not text.strip():
        msg = "the filter is empty; it needs at least one comparison"
        raise _ParseError(SYNTAX_ERROR, msg, 0)
    return _FilterParser(_tokenize(text)).parse()


# Aggregation and window -----------------------------------------------------------------


def parse_aggregation(text: object) -> Aggregation:
    """Parse an aggregation such as ``AVG(amount)`` or ``COUNT(DISTINCT merchant)``.

    Function names, ``DISTINCT`` and field names are case-insensitive.

    Raises:
        MetricDefinitionError: with one ``aggregation`` problem.
    """
    try:
        return _parse_aggregation(text)
    except _ParseError as error:
        problem = Problem(error.code, "aggregation", error.message, error.position)
        raise MetricDefinitionError((problem,)) from None


_SUPPORTED_AGGREGATIONS: Final = (
    "SUM, AVG, MIN or MAX of amount or abs_amount, COUNT(*), "
    "COUNT(DISTINCT merchant) or COUNT(DISTINCT day)"
)


def _parse_aggregation(text: object) -> Aggregation:
    if not isinstance(text, str):
        msg = f"the aggregation must be a string: {_SUPPORTED_AGGREGATIONS}"
        raise _ParseError(SYNTAX_ERROR, msg, None)
    if len(text) > MAX_FILTER_CHARS:
        msg = f"the aggregation is {len(text)} characters; at most {MAX_FILTER_CHARS} are allowed"
        raise _ParseError(TOO_COMPLEX, msg, None)
    tokens = _tokenize(text)
    for token in tokens:
        if token.kind == "error":
            raise _ParseError(SYNTAX_ERROR, token.text, token.position)
    name = tokens[0]
    if name.kind != "ident" or _at(tokens, 1).kind != "(":
        msg = f"expected a function call such as AVG(amount), found {_shown(name)}"
        raise _ParseError(SYNTAX_ERROR, msg, name.position)
    function = name.text.upper()
    if function not in MONEY_FUNCTIONS and function != "COUNT":
        msg = f"{name.text} is not an aggregation; use {_SUPPORTED_AGGREGATIONS}"
        raise _ParseError(UNKNOWN_AGGREGATION, msg, name.position)
    # Every index below is in range: the list ends with an "end" token, and each step reads
    # one past a token that was checked not to be it.
    distinct = tokens[2].kind == "ident" and tokens[2].text.upper() == "DISTINCT"
    argument_at = 3 if distinct else 2
    argument = _aggregation_argument(tokens, argument_at)
    closing = tokens[argument_at + 1]
    if closing.kind != ")":
        msg = f"expected ')' to close {name.text}(, found {_shown(closing)}"
        raise _ParseError(SYNTAX_ERROR, msg, closing.position)
    trailing = tokens[argument_at + 2]
    if trailing.kind != "end":
        msg = f"unexpected {_shown(trailing)} after the aggregation"
        raise _ParseError(SYNTAX_ERROR, msg, trailing.position)
    supported = (
        (function in MONEY_FUNCTIONS and not distinct and argument in MONEY_FIELDS)
        or (function == "COUNT" and not distinct and argument == "*")
        or (function == "COUNT" and distinct and argument in DISTINCT_FIELDS)
    )
    if not supported:
        msg = f"{text.strip()[:_SHOWN_CHARS]} is not supported; use {_SUPPORTED_AGGREGATIONS}"
        raise _ParseError(UNKNOWN_AGGREGATION, msg, name.position)
    return Aggregation(function, argument, distinct)


def _aggregation_argument(tokens: list[_Token], index: int) -> str:
    """Return the argument at ``index``: ``*`` or a lower-case field name."""
    token = _at(tokens, index)
    if token.kind == "*":
        return "*"
    if token.kind != "ident":
        msg = f"expected a field name or *, found {_shown(token)}"
        raise _ParseError(SYNTAX_ERROR, msg, token.position)
    if tokens[index + 1].kind == "(":
        msg = f"{token.text}(...) cannot be nested inside an aggregation"
        raise _ParseError(FUNCTION_NOT_ALLOWED, msg, token.position)
    field = token.text.lower()
    if field not in _FIELDS and field not in DISTINCT_FIELDS:
        msg = f"unknown field {token.text!r}"
        raise _ParseError(UNKNOWN_FIELD, msg, token.position)
    return field


def _at(tokens: list[_Token], index: int) -> _Token:
    """Return the token at ``index``, or the final ``end`` token past it."""
    return tokens[min(index, len(tokens) - 1)]


_WINDOW_UNITS: Final = frozenset("dwmy")
# Months and years vary in length; these bounds are the largest counts that never exceed
# MAX_WINDOW_DAYS (120 months and 10 years are at most 3653 days).
_WINDOW_MAX_COUNT: Final = {"d": MAX_WINDOW_DAYS, "w": MAX_WINDOW_DAYS // 7, "m": 120, "y": 10}


def parse_window(text: object) -> Window:
    """Parse a window such as ``90d``, ``12w``, ``6m`` or ``1y`` (units are lower case).

    Raises:
        MetricDefinitionError: with one ``bad_window`` problem.
    """
    usage = "a window is a whole number and a unit d, w, m or y, such as 90d"
    if not isinstance(text, str):
        problem = Problem(BAD_WINDOW, "window", usage, None)
        raise MetricDefinitionError((problem,))
    count_text, unit = text[:-1], text[-1:]
    well_formed = (
        len(text) <= _MAX_WINDOW_CHARS
        and unit in _WINDOW_UNITS
        and bool(count_text)
        and set(count_text) <= _DIGITS
    )
    if not well_formed:
        msg = f"{text[:_SHOWN_CHARS]!r} is not a window; {usage}"
        raise MetricDefinitionError((Problem(BAD_WINDOW, "window", msg, None),))
    count = int(count_text)
    largest = _WINDOW_MAX_COUNT[unit]
    if not 1 <= count <= largest:
        msg = f"{text!r} is out of range: the count must be 1 to {largest} for unit {unit!r}"
        raise MetricDefinitionError((Problem(BAD_WINDOW, "window", msg, None),))
    return Window(count, unit)


def _return_type_problem(return_type: object, aggregation: Aggregation | None) -> Problem | None:
    if return_type not in RETURN_TYPES:
        msg = f"return_type must be one of {', '.join(RETURN_TYPES)}, not {return_type!r}"
        return Problem(INCOMPATIBLE_RETURN_TYPE, "return_type", msg, None)
    if aggregation is None:
        return None
    count_all = aggregation == Aggregation("COUNT", "*")
    if return_type == "CURRENCY" and not aggregation.is_money:
        msg = "CURRENCY needs SUM, AVG, MIN or MAX of amount or abs_amount"
    elif return_type in ("PERCENTAGE", "BOOLEAN") and not count_all:
        msg = f"{return_type} needs COUNT(*)"
    else:
        return None
    return Problem(INCOMPATIBLE_RETURN_TYPE, "return_type", msg, None)


def compile_metric(metric_id: str, logic: Mapping[str, Any], return_type: str) -> CompiledMetric:
    """Parse and type-check a metric's ``logic`` against its ``return_type``.

    ``logic`` needs ``filter``, ``aggregation`` and ``window``; other keys are ignored.
    CURRENCY takes a money aggregation, NUMBER any aggregation, PERCENTAGE and BOOLEAN
    ``COUNT(*)``.

    Raises:
        MetricDefinitionError: listing a problem for each part at fault; within the filter,
            only the first.
    """
    source = dict(logic) if isinstance(logic, Mapping) else {}
    problems: list[Problem] = []
    filter_ast = _collect(problems, parse_filter, source.get("filter"))
    aggregation = _collect(problems, parse_aggregation, source.get("aggregation"))
    window = _collect(problems, parse_window, source.get("window"))
    problem = _return_type_problem(return_type, aggregation)
    if problem is not None:
        problems.append(problem)
    if filter_ast is None or aggregation is None or window is None or problems:
        raise MetricDefinitionError(tuple(problems))
    return CompiledMetric(metric_id, filter_ast, aggregation, window, return_type, source)


def compiled_metric(metric_id: str, logic: object, return_type: str) -> CompiledMetric:
    """``compile_metric``, cached by the definition's canonical text.

    Every profile of a tenant evaluates the same definitions: they share one compiled copy.

    Raises:
        MetricDefinitionError: as ``compile_metric``.
    """
    return _compiled(metric_id, canonical_json(logic), return_type)


@functools.lru_cache(maxsize=1024)
def _compiled(metric_id: str, logic: bytes, return_type: str) -> CompiledMetric:
    return compile_metric(metric_id, orjson.loads(logic), return_type)


def _collect(problems: list[Problem], parse: Callable[[object], _T], text: object) -> _T | None:
    try:
        return parse(text)
    except MetricDefinitionError as error:
        problems.extend(error.problems)
        return None


# Evaluation -------------------------------------------------------------------------------


def evaluate(
    metric: CompiledMetric,
    transactions: Iterable[TxView],
    as_of: dt.date,
    base_currency: str,
) -> MetricValue:
    """Evaluate ``metric`` over one profile's transactions as of a date.

    Transactions dated inside the window are filtered; the rest are ignored. Money
    aggregations count only matches in ``base_currency``; AVG rounds half to even to whole
    minor units. COUNT and PERCENTAGE count matches in every currency; the percentage is
    matches over all transactions in the window, times 100, rounded half to even to two
    decimals. The result does not depend on the order of ``transactions``.

    Raises:
        MoneyError: ``unknown_currency`` if ``base_currency`` (for a money aggregation) or
            the currency of a transaction whose amount the filter compares is not an ISO
            4217 currency with minor units.
        TypeError: if ``as_of`` is a datetime rather than a date.
    """
    if isinstance(as_of, dt.datetime):
        msg = "as_of must be a date, not a datetime"
        raise TypeError(msg)
    start = metric.window.start(as_of)
    in_window = 0
    matches: list[TxView] = []
    for tx in transactions:
        if start <= tx.day <= as_of:
            in_window += 1
            if matches_filter(metric.filter_ast, tx):
                matches.append(tx)
    aggregation = metric.aggregation
    if aggregation.is_money:
        return _money_value(metric, matches, start, as_of, base_currency)
    count = _count(aggregation, matches)
    value: str | bool | None = str(count)
    if metric.return_type == "BOOLEAN":
        value = count > 0
    elif metric.return_type == "PERCENTAGE":
        value = None if in_window == 0 else _percentage(count, in_window)
    return MetricValue(value, None, None, len(matches), start, as_of, 0)


def _count(aggregation: Aggregation, matches: list[TxView]) -> int:
    if not aggregation.distinct:
        return len(matches)
    if aggregation.argument == "day":
        return len({tx.day for tx in matches})
    # Merchants compare case-insensitively in filters, so they are counted the same way.
    return len({tx.merchant.casefold() for tx in matches if tx.merchant is not None})


def _percentage(part: int, whole: int) -> str:
    """Return ``100 * part / whole`` with two decimals, rounded half to even."""
    hundredths, remainder = divmod(part * 10_000, whole)
    if 2 * remainder > whole or (2 * remainder == whole and hundredths % 2 == 1):
        hundredths += 1
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _money_value(
    metric: CompiledMetric,
    matches: list[TxView],
    start: dt.date,
    as_of: dt.date,
    base_currency: str,
) -> MetricValue:
    currency_exponent(base_currency)
    absolute = metric.aggregation.argument == "abs_amount"
    amounts = [
        abs(tx.amount_minor) if absolute else tx.amount_minor
        for tx in matches
        if tx.currency == base_currency
    ]
    skipped = len(matches) - len(amounts)
    minor = _aggregate_minor(metric.aggregation.function, amounts)
    text = None if minor is None else format_minor(minor, base_currency)
    if metric.return_type == "CURRENCY":
        return MetricValue(text, minor, base_currency, len(amounts), start, as_of, skipped)
    return MetricValue(text, None, None, len(amounts), start, as_of, skipped)


def _aggregate_minor(function: str, amounts: list[int]) -> int | None:
    if function == "SUM":
        return sum(amounts)
    if not amounts:
        return None
    if function == "MIN":
        return min(amounts)
    if function == "MAX":
        return max(amounts)
    # Floor division leaves a remainder in [0, n) whatever the sign of the total, so one
    # comparison rounds half to even for negative averages too.
    quotient, remainder = divmod(sum(amounts), len(amounts))
    if 2 * remainder > len(amounts) or (2 * remainder == len(amounts) and quotient % 2 == 1):
        quotient += 1
    return quotient


def matches_filter(node: Node, tx: TxView) -> bool:
    """Return whether a transaction satisfies a parsed filter."""
    if isinstance(node, Comparison):
        return _compare(node, tx)
    if isinstance(node, Membership):
        found = any(_equals(node.field, tx, value) for value in node.values)
        return found != node.negated
    if isinstance(node, Not):
        return not matches_filter(node.operand, tx)
    if isinstance(node, And):
        return all(matches_filter(operand, tx) for operand in node.operands)
    return any(matches_filter(operand, tx) for operand in node.operands)


def _compare(node: Comparison, tx: TxView) -> bool:
    if node.op == "==":
        return _equals(node.field, tx, node.value)
    if node.op == "!=":
        return not _equals(node.field, tx, node.value)
    order = _order(node.field, tx, node.value)
    if node.op == "<":
        return order < 0
    if node.op == "<=":
        return order <= 0
    if node.op == ">":
        return order > 0
    return order >= 0


def _order(field: str, tx: TxView, value: Value) -> int:
    """Compare an ordered field with a value: negative, zero or positive."""
    if isinstance(value, Decimal):
        amount = abs(tx.amount_minor) if field == "abs_amount" else tx.amount_minor
        # amount / 10**exponent against numerator / denominator, cross-multiplied so that no
        # digit of either side is ever rounded.
        numerator, denominator = value.as_integer_ratio()
        scale: int = 10 ** currency_exponent(tx.currency)
        left = amount * denominator
        right = numerator * scale
        return (left > right) - (left < right)
    if isinstance(value, dt.date):
        return (tx.day > value) - (tx.day < value)
    # Compilation stores a Decimal for every money field and a date for the date field.
    msg = f"{field} holds {value!r}, which has no order"
    raise TypeError(msg)


_PLAIN_FIELDS: Final[Mapping[str, Callable[[TxView], object]]] = {
    "currency": lambda tx: tx.currency,
    "account_id": lambda tx: tx.account_id,
    "status": lambda tx: tx.status,
    "type": lambda tx: tx.type,
    "day_of_week": lambda tx: tx.day.weekday(),
    "is_recurring": lambda tx: tx.is_recurring,
}


def _equals(field: str, tx: TxView, value: Value) -> bool:
    if field in MONEY_FIELDS or field == "date":
        return _order(field, tx, value) == 0
    if field == "category":
        return any(level.casefold() == value for level in tx.category)
    if field == "merchant":
        return tx.merchant is not None and tx.merchant.casefold() == value
    return _PLAIN_FIELDS[field](tx) == value
