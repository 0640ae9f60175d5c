r"""Tenant enrichment rules: a tenant's own overrides of a transaction's category and merchant.

A tenant uploads one JSON rule file::

    {"tenant_id": "acme", "version": "2026.11.3", "rules": [
      {"id": "coffee-corner", "match": {"merchant": "Corner Coffee"},
       "set": {"category": ["Food and Drink", "Coffee"]}},
      {"id": "big-rent",
       "match": {"description": "(?i)^rent\\b", "account_id": "acc-1",
                 "amount": {"min": "-5000.00", "max": "-500.00"}},
       "set": {"category": ["Housing", "Rent"], "merchant": "Landlord Ltd"}}]}

A rule's ``match`` holds when every condition it names holds:

- ``merchant``: the transaction's clean or raw merchant name, compared case-insensitively
  with runs of whitespace read as one space.
- ``description``: a Python regular expression, searched for in the raw descriptor.
- ``amount``: a ``min``, a ``max`` or both, inclusive, as decimal strings in major units of
  the transaction's own currency, compared exactly with its signed amount however many
  decimals they have: a ``min`` of ``"1.005"`` admits 101 pence but not 100, and 2 yen but
  not 1. Bounds are strings, never JSON numbers, which would arrive as floats.
- ``account_id`` and ``currency``: equal, exactly.

``set`` names a ``category`` path from the shipped taxonomy, a clean ``merchant`` name of at
most 100 characters, or both. The first rule in file order whose match holds is the one
applied. Rule ids are unique, ``tenant_id`` is an id as in the envelopes, ``version`` reads
``YYYY.MM.N`` and orders as a tuple of integers, a file holds at most 500 rules, and an
unknown key anywhere is an error.

Python's engine backtracks, so a pattern that can take exponential time is refused as
``unsafe_pattern``: a backreference (``\1``, ``(?P=name)``) or a conditional (``(?(1)...)``);
a group repeated by ``*``, ``+`` or ``{m,n}`` with n above 1 that itself holds a quantifier
or an alternative, as in ``(a+)+``, ``(a*)*`` and ``(a|aa)+`` (a character class says the
same safely: ``[\s-]+`` rather than ``(\s|-)+``); and verbose mode, whose comments would hide
a pattern's structure from this check. Adjacent repetitions cost time polynomial in the
descriptor's length, of a degree that grows with their number (``.*.*.*.*b`` takes seconds on
200 characters), so a pattern holds at most three quantifiers that repeat a varying number of
times (``*``, ``+``, ``{2,5}``, but not ``{4}``), and at most 200 characters.

Validation reports every problem at once, in file order, as a ``RuleSetError``. A parsed
``RuleSet`` is frozen and picklable, as Bytewax snapshots need. It carries its source, the file
as canonical JSON decodes it, and that source's content hash; parsing the source again yields
an equal ``RuleSet``.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, NamedTuple, TypeVar

import orjson

from operators.categories import TAXONOMY
from schemas.canonical import canonical_json, content_hash
from schemas.envelopes import ID_PATTERN
from schemas.money import MoneyError, currency_exponent

MAX_RULES: Final = 500
MAX_PATTERN_CHARS: Final = 200
MAX_REPEATS: Final = 3
MAX_MERCHANT_CHARS: Final = 100
RULE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

UNKNOWN_KEY: Final = "unknown_key"
MISSING_FIELD: Final = "missing_field"
BAD_TYPE: Final = "bad_type"
BAD_ID: Final = "bad_id"
BAD_VALUE: Final = "bad_value"
BAD_PATTERN: Final = "bad_pattern"
UNSAFE_PATTERN: Final = "unsafe_pattern"
BAD_AMOUNT: Final = "bad_amount"
UNKNOWN_CATEGORY: Final = "unknown_category"
DUPLICATE_ID: Final = "duplicate_id"
BAD_VERSION: Final = "bad_version"
TOO_MANY_RULES: Final = "too_many_rules"
EMPTY_MATCH: Final = "empty_match"
EMPTY_SET: Final = "empty_set"

_T = TypeVar("_T")

_VERSION: Final = re.compile(r"([0-9]{4})\.([0-9]{2})\.([0-9]{1,9})")
# Eighteen digits either side of the point is far beyond any real bound and keeps the exact
# integer comparison small.
_BOUND: Final = re.compile(r"[+-]?[0-9]{1,18}(?:\.[0-9]{1,18})?")
_SHORT_QUANTIFIERS: Final[dict[str, tuple[int, int | None]]] = {
    "*": (0, None),
    "+": (1, None),
    "?": (0, 1),
}
_BRACES: Final = re.compile(r"\{(?!\})([0-9]*)(,?)([0-9]*)\}")
_CATEGORY_LABELS: Final = sorted(" / ".join(path) for path in TAXONOMY)
_MATCH_KEYS: Final = ("merchant", "description", "amount", "account_id", "currency")
_SET_KEYS: Final = ("category", "merchant")


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rule file.

    Attributes:
        code: A stable reason, one of the module's code constants.
        path: Where, as ``rules[3].match.amount.min``; the empty string is the whole file.
        message: A sentence saying what is wrong and, where it helps, what is accepted.
    """

    code: str
    path: str
    message: str


class RuleSetError(ValueError):
    """A rule file that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: tuple[RuleProblem, ...]) -> None:
        super().__init__("; ".join(f"{p.path or 'file'}: {p.message} ({p.code})" for p in problems))
        self.problems = problems

    def __reduce__(self) -> tuple[type[RuleSetError], tuple[tuple[RuleProblem, ...]]]:
        # The default reduction replays only the message, which would not rebuild the problems.
        return (type(self), (self.problems,))


@dataclass(frozen=True)
class RuleMatch:
    """The conditions of one rule; ``None`` is a condition the rule does not set.

    ``merchant`` is kept casefolded with its whitespace collapsed, ``description`` is the
    pattern's text, and the amount bounds are in major units of the transaction's currency.
    """

    merchant: str | None
    description: str | None
    amount_min: Decimal | None
    amount_max: Decimal | None
    account_id: str | None
    currency: str | None


@dataclass(frozen=True)
class Rule:
    """One compiled rule: when ``match`` holds, the category and merchant it sets."""

    rule_id: str
    match: RuleMatch
    category: tuple[str, ...] | None
    merchant: str | None


@dataclass(frozen=True)
class RuleSet:
    """A tenant's parsed rule file.

    ``source`` is the file as canonical JSON decodes it, shared rather than copied, so it is
    not to be mutated; ``digest`` is its ``content_hash``.
    """

    tenant_id: str
    version: str
    rules: tuple[Rule, ...]
    source: dict[str, Any] = field(hash=False)
    digest: str


class RuleInput(NamedTuple):
    """What a rule can see of a transaction; ``amount_minor`` is signed, FOS-style."""

    clean_merchant: str | None
    raw_merchant: str
    description: str
    amount_minor: int
    currency: str
    account_id: str


@dataclass(frozen=True)
class RuleHit:
    """The rule that decided a transaction, what it sets and the rule file's version."""

    rule_id: str
    category: tuple[str, ...] | None
    merchant: str | None
    version: str


def version_key(version: str) -> tuple[int, ...]:
    """The order of a ``YYYY.MM.N`` version: later versions have greater keys."""
    return tuple(int(part) for part in version.split("."))


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def rule_input(doc: Mapping[str, Any], clean_merchant: str | None) -> RuleInput:
    """What the rules see of a FOS transaction document.

    A FOS transaction keeps the bank's descriptor as ``merchant.raw_name``, so that is both
    the raw merchant name and the description. The clean name is the caller's, else the
    document's own.
    """
    merchant = doc["merchant"]
    raw_name = merchant.get("raw_name") or ""
    return RuleInput(
        clean_merchant=clean_merchant or merchant.get("clean_name") or None,
        raw_merchant=raw_name,
        description=raw_name,
        amount_minor=doc["amount_minor"],
        currency=doc["currency"],
        account_id=doc["account_id"],
    )


def first_match(rules: RuleSet, tx: RuleInput) -> RuleHit | None:
    """The first rule, in file order, whose match holds for ``tx``; ``None`` if none does."""
    names = {_name_key(tx.raw_merchant)}
    if tx.clean_merchant is not None:
        names.add(_name_key(tx.clean_merchant))
    for rule in rules.rules:
        if _holds(rule.match, tx, names):
            return RuleHit(rule.rule_id, rule.category, rule.merchant, rules.version)
    return None


def _holds(match: RuleMatch, tx: RuleInput, names: set[str]) -> bool:
    # The pattern search costs most, so it runs last.
    return (
        (match.merchant is None or match.merchant in names)
        and (match.account_id is None or match.account_id == tx.account_id)
        and (match.currency is None or match.currency == tx.currency)
        and _within(match, tx)
        and (
            match.description is None
            or _compiled(match.description).search(tx.description) is not None
        )
    )


def _within(match: RuleMatch, tx: RuleInput) -> bool:
    if match.amount_min is None and match.amount_max is None:
        return True
    scale = 10 ** currency_exponent(tx.currency)
    low, high = match.amount_min, match.amount_max
    return (low is None or _compare(tx.amount_minor, scale, low) >= 0) and (
        high is None or _compare(tx.amount_minor, scale, high) <= 0
    )


def _compare(amount_minor: int, scale: int, bound: Decimal) -> int:
    """The sign of ``amount_minor / scale - bound``, in integers, so exact at any precision."""
    numerator, denominator = bound.as_integer_ratio()
    left, right = amount_minor * denominator, numerator * scale
    return (left > right) - (left < right)


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    # Rules keep the pattern's text, which pickles and compares simply; compiling is cached.
    return re.compile(pattern)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


class _Reader:
    """Collects every problem met while reading one rule file."""

    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []

    def add(self, code: str, path: str, message: str) -> None:
        self.problems.append(RuleProblem(code, path, message))

    def fields_of(
        self, value: object, path: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The known fields of a JSON object, after reporting unknown and missing ones."""
        if not isinstance(value, dict):
            self.add(BAD_TYPE, path, f"expected an object, not {_kind(value)}")
            return None
        known = (*required, *optional)
        for key in value:
            if key not in known:
                self.add(
                    UNKNOWN_KEY, _at(path, str(key)), f"unknown key; known: {', '.join(known)}"
                )
        for key in required:
            if key not in value:
                self.add(MISSING_FIELD, _at(path, key), "required field is missing")
        return {key: value[key] for key in known if key in value}

    def text(self, value: object, path: str) -> str | None:
        """A non-blank string."""
        if not isinstance(value, str):
            self.add(BAD_TYPE, path, f"expected a string, not {_kind(value)}")
            return None
        if not value.strip():
            self.add(BAD_VALUE, path, "must not be empty")
            return None
        return value

    def identifier(self, value: object, path: str, pattern: str) -> str | None:
        text = self.text(value, path)
        if text is not None and re.fullmatch(pattern, text) is None:
            self.add(BAD_ID, path, f"{text[:40]!r} does not match {pattern}")
            return None
        return text


def parse_rules(document: object) -> RuleSet:
    """Validate a tenant's rule file, as decoded from JSON, and compile it.

    Raises:
        RuleSetError: listing every problem in the file, in file order.
    """
    read = _Reader()
    fields = read.fields_of(document, "", ("tenant_id", "version", "rules"), ())
    if fields is None:
        raise RuleSetError(tuple(read.problems))
    tenant_id = _field(fields, "tenant_id", "", lambda v, p: read.identifier(v, p, ID_PATTERN))
    version = _field(fields, "version", "", lambda v, p: _version(read, v, p))
    compiled = _field(fields, "rules", "", lambda v, p: _rules(read, v, p))
    if read.problems or tenant_id is None or version is None or compiled is None:
        raise RuleSetError(tuple(read.problems))
    # The file holds only known keys by now; canonical JSON copies it away from the caller.
    source = orjson.loads(canonical_json(document))
    return RuleSet(tenant_id, version, tuple(compiled), source, content_hash(source))


def _version(read: _Reader, value: object, path: str) -> str | None:
    if not isinstance(value, str):
        read.add(BAD_TYPE, path, f"expected a string, not {_kind(value)}")
        return None
    found = _VERSION.fullmatch(value)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        read.add(BAD_VERSION, path, f"{value[:40]!r} is not a YYYY.MM.N version")
        return None
    return value


def _rules(read: _Reader, value: object, path: str) -> list[Rule] | None:
    if not isinstance(value, list):
        read.add(BAD_TYPE, path, f"expected a list of rules, not {_kind(value)}")
        return None
    if len(value) > MAX_RULES:
        # Only the first MAX_RULES are read, which bounds the work an oversized file costs.
        read.add(TOO_MANY_RULES, path, f"{len(value)} rules; at most {MAX_RULES} are allowed")
    compiled = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value[:MAX_RULES]):
        item_path = f"{path}[{index}]"
        rule = _rule(read, item, item_path)
        # Ids are compared as written, so a duplicate is reported even in a rule with other faults.
        rule_id = item.get("id") if isinstance(item, dict) else None
        first = seen.setdefault(rule_id, index) if isinstance(rule_id, str) else index
        if first != index:
            read.add(DUPLICATE_ID, _at(item_path, "id"), f"id already used by {path}[{first}]")
        if rule is not None:
            compiled.append(rule)
    return compiled


def _rule(read: _Reader, value: object, path: str) -> Rule | None:
    before = len(read.problems)
    fields = read.fields_of(value, path, ("id", "match", "set"), ())
    if fields is None:
        return None
    rule_id = _field(fields, "id", path, lambda v, p: read.identifier(v, p, RULE_ID_PATTERN))
    match = _field(fields, "match", path, lambda v, p: _match(read, v, p))
    change = _field(fields, "set", path, lambda v, p: _set(read, v, p))
    if len(read.problems) > before or rule_id is None or match is None or change is None:
        return None
    return Rule(rule_id, match, *change)


def _match(read: _Reader, value: object, path: str) -> RuleMatch | None:
    fields = read.fields_of(value, path, (), _MATCH_KEYS)
    if fields is None:
        return None
    if not fields:
        read.add(EMPTY_MATCH, path, f"a match needs at least one of {', '.join(_MATCH_KEYS)}")
        return None
    merchant = _field(fields, "merchant", path, read.text)
    pattern = _field(fields, "description", path, lambda v, p: _pattern(read, v, p))
    amount = _field(fields, "amount", path, lambda v, p: _amount(read, v, p))
    account_id = _field(fields, "account_id", path, read.text)
    currency = _field(fields, "currency", path, lambda v, p: _currency(read, v, p))
    low, high = amount or (None, None)
    merchant_key = None if merchant is None else _name_key(merchant)
    return RuleMatch(merchant_key, pattern, low, high, account_id, currency)


def _pattern(read: _Reader, value: object, path: str) -> str | None:
    text = read.text(value, path)
    if text is None:
        return None
    if len(text) > MAX_PATTERN_CHARS:
        read.add(BAD_PATTERN, path, f"{len(text)} characters; at most {MAX_PATTERN_CHARS}")
        return None
    try:
        compiled = re.compile(text)
    except (re.error, OverflowError) as exc:
        read.add(BAD_PATTERN, path, f"not a regular expression: {exc}")
        return None
    reason = "verbose mode is not accepted" if compiled.flags & re.VERBOSE else _unsafe(text)
    if reason is not None:
        read.add(UNSAFE_PATTERN, path, f"{reason}, which can make matching very slow")
        return None
    return text


def _unsafe(pattern: str) -> str | None:
    """Why a compilable, non-verbose pattern risks catastrophic backtracking, if it does.

    ``holds[-1]`` says whether the innermost open group holds a quantifier or an alternative;
    ``closed`` is what the group just closed held, while a quantifier could still follow it.
    """
    holds, closed, repeated, i = [False], False, 0, 0
    while i < len(pattern):
        char, after = pattern[i], closed
        closed = False
        if char == "\\":
            if pattern[i + 1] in "123456789":
                return "a backreference"
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
        elif pattern.startswith(("(?P=", "(?("), i):
            return "a backreference"
        elif pattern.startswith("(?#", i):
            i = _unescaped(pattern, i + 3, ")")
        elif char == "(":
            holds.append(False)
            i += 1 if pattern.startswith("(?", i) else 0
        elif char == ")":
            closed = holds.pop()
            holds[-1] = holds[-1] or closed
        elif char == "|":
            holds[-1] = True
        elif (quantifier := _quantifier(pattern, i)) is not None:
            width, least, most = quantifier
            repeats = most is None or most > 1
            # Only a choice of counts gives the engine something to backtrack over.
            holds[-1], repeated = True, repeated + (repeats and most != least)
            if after and repeats:
                return "a repeated group that holds a quantifier or an alternative"
            if repeated > MAX_REPEATS:
                return f"more than {MAX_REPEATS} quantifiers that repeat a varying number of times"
            i += width - 1
            # A lazy or possessive suffix belongs to the quantifier.
            i += 1 if pattern[i + 1 : i + 2] in ("?", "+") else 0
        i += 1
    return None


def _quantifier(pattern: str, i: int) -> tuple[int, int, int | None] | None:
    """The width, least and most counts (``None``: unbounded) of a quantifier at ``i``."""
    if pattern[i] in _SHORT_QUANTIFIERS:
        return (1, *_SHORT_QUANTIFIERS[pattern[i]])
    braces = _BRACES.match(pattern, i) if pattern[i] == "{" else None
    if braces is None:
        return None
    low, comma, high = braces.groups()
    least = int(low or "0")
    return len(braces.group()), least, int(high) if high else (None if comma else least)


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the character class opened at ``start``."""
    i = start + 1
    i += 1 if pattern[i : i + 1] == "^" else 0
    # A ``]`` first in a class is a member, not its end.
    i += 1 if pattern[i : i + 1] == "]" else 0
    return _unescaped(pattern, i, "]")


def _unescaped(pattern: str, i: int, closer: str) -> int:
    """The index of the first ``closer`` from ``i`` on that no backslash escapes."""
    while pattern[i] != closer:
        i += 2 if pattern[i] == "\\" else 1
    return i


def _amount(
    read: _Reader, value: object, path: str
) -> tuple[Decimal | None, Decimal | None] | None:
    fields = read.fields_of(value, path, (), ("min", "max"))
    if fields is None:
        return None
    if not fields:
        read.add(BAD_AMOUNT, path, "an amount needs a min, a max or both")
        return None
    low = _field(fields, "min", path, lambda v, p: _bound(read, v, p))
    high = _field(fields, "max", path, lambda v, p: _bound(read, v, p))
    if low is not None and high is not None and low > high:
        read.add(BAD_AMOUNT, path, f"min {low} is above max {high}")
        return None
    return low, high


def _bound(read: _Reader, value: object, path: str) -> Decimal | None:
    if not isinstance(value, str):
        # A JSON number would arrive as a float, and floats never hold money.
        read.add(BAD_TYPE, path, f"expected a decimal string such as '-12.50', not {_kind(value)}")
        return None
    if _BOUND.fullmatch(value) is None:
        read.add(BAD_AMOUNT, path, f"{value[:40]!r} is not a plain decimal amount")
        return None
    return Decimal(value)


def _currency(read: _Reader, value: object, path: str) -> str | None:
    text = read.text(value, path)
    if text is None:
        return None
    try:
        currency_exponent(text)
    except MoneyError as exc:
        read.add(BAD_VALUE, path, exc.message)
        return None
    return text


def _set(read: _Reader, value: object, path: str) -> tuple[tuple[str, ...] | None, str | None]:
    fields = read.fields_of(value, path, (), _SET_KEYS)
    if fields is None:
        return None, None
    if not fields:
        read.add(EMPTY_SET, path, f"a rule must set at least one of {', '.join(_SET_KEYS)}")
    category = _field(fields, "category", path, lambda v, p: _category(read, v, p))
    merchant = _field(fields, "merchant", path, read.text)
    if merchant is not None and len(merchant) > MAX_MERCHANT_CHARS:
        read.add(BAD_VALUE, _at(path, "merchant"), f"longer than {MAX_MERCHANT_CHARS} characters")
    return category, merchant


def _category(read: _Reader, value: object, path: str) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(level, str) for level in value):
        read.add(BAD_TYPE, path, f"expected a list of strings, not {_kind(value)}")
        return None
    category = tuple(value)
    if category not in TAXONOMY:
        nearest = difflib.get_close_matches(" / ".join(category), _CATEGORY_LABELS, n=1)
        hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
        read.add(UNKNOWN_CATEGORY, path, f"{' / '.join(category)!r} is not in the taxonomy{hint}")
        return None
    return category


def _field(
    fields: Mapping[str, Any], key: str, path: str, read: Callable[[object, str], _T | None]
) -> _T | None:
    """``read`` applied to a field and its path, or ``None`` when the field is absent."""
    return read(fields[key], _at(path, key)) if key in fields else None


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
