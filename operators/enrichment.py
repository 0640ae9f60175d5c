"""Transaction enrichment: a clean merchant and a FOS category, with where each came from.

The category is decided by the first source that knows one, in this order: the user's own
override, the tenant's rules (which may also name the merchant), the vendor's category
(Plaid, Yapily, a bank file's column), the ISO 18245 MCC, the merchant dictionary, keyword
rules on the descriptor, the bank's own kind of movement (a transfer, a fee, interest); a
transaction none of them recognise is ``Other / Uncategorised``. Every result names its
source and the versions of the tables that produced it, so a number can be traced and
re-derived after a change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from operators.categories import (
    BANK_FEES,
    INCOME,
    INTEREST_EARNED,
    KEYWORDS_VERSION,
    MCC_VERSION,
    REFUNDS,
    TAXONOMY_VERSION,
    TRANSFERS,
    UNCATEGORISED,
    keyword_category,
    mcc_category,
    vendor_category,
)
from operators.merchant_dictionary import DICTIONARY_VERSION, INTEREST_CHARGED
from operators.merchants import resolve_merchant
from operators.tenant_rules import RuleSet, first_match, parse_rules, rule_input

USER_OVERRIDE: Final = "USER_OVERRIDE"
TENANT_RULE: Final = "TENANT_RULE"
VENDOR: Final = "VENDOR"
MCC: Final = "MCC"
MERCHANT_DICTIONARY: Final = "MERCHANT_DICTIONARY"
KEYWORD: Final = "KEYWORD"
TRANSACTION_TYPE: Final = "TRANSACTION_TYPE"
DEFAULT: Final = "DEFAULT"

_BY_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "TRANSFER": TRANSFERS,
    "INCOME": INCOME,
    "FEE": BANK_FEES,
    "REFUND": REFUNDS,
}

#: The tables an enrichment was derived with; stored with every result.
VERSIONS: Final = {
    "merchants": DICTIONARY_VERSION,
    "taxonomy": TAXONOMY_VERSION,
    "mcc": MCC_VERSION,
    "keywords": KEYWORDS_VERSION,
}


def enrich(
    doc: Mapping[str, Any],
    override: tuple[str, ...] | None = None,
    rules: RuleSet | None = None,
) -> dict[str, Any]:
    """The ``TransactionEnriched`` payload of a FOS transaction document.

    ``rules`` are the tenant's: the first that matches may set the category (second only
    to the user's override) and the merchant's name. A payload names the rule it applied.
    """
    merchant = doc["merchant"]
    raw_name = merchant.get("raw_name") or ""
    match = resolve_merchant(raw_name)
    clean_name = merchant.get("clean_name") or match.clean_name or None
    entity = {
        "clean_name": clean_name,
        "known": match.known,
        "entity_id": match.entity_id,
        "website": match.website,
        "logo_url": match.logo_url,
    }
    hit = None if rules is None else first_match(rules, rule_input(doc, clean_name))
    if hit is not None and hit.merchant is not None:
        # The tenant names the merchant itself: the dictionary's entity no longer applies.
        entity = {"clean_name": hit.merchant, "known": False, "entity_id": None}
        entity |= {"website": None, "logo_url": None}
    ruled = None if hit is None else hit.category
    category, source = _category(doc, match.category, raw_name, override, ruled)
    versions = dict(VERSIONS) if rules is None else {**VERSIONS, "rules": rules.version}
    return {
        "transaction_id": doc["transaction_id"],
        "merchant": entity,
        "category": list(category),
        "category_source": source,
        "rule_id": None if hit is None else hit.rule_id,
        "versions": versions,
    }


def rule_set(rules: Mapping[str, Any] | None) -> RuleSet | None:
    """The compiled tenant rules of a twin's rules document.

    Every transaction asks, so the compiled rules are kept by the digest that names their
    content: one parse per rule set and worker, then a dictionary lookup.
    """
    if rules is None:
        return None
    digest = str(rules["digest"])
    compiled = _RULE_SETS.get(digest)
    if compiled is None:
        if len(_RULE_SETS) >= _MAX_RULE_SETS:
            _RULE_SETS.pop(next(iter(_RULE_SETS)))
        compiled = parse_rules({k: v for k, v in rules.items() if k != "digest"})
        _RULE_SETS[digest] = compiled
    return compiled


_RULE_SETS: Final[dict[str, RuleSet]] = {}
_MAX_RULE_SETS: Final = 256


def _category(
    doc: Mapping[str, Any],
    dictionary_category: tuple[str, ...],
    raw_name: str,
    override: tuple[str, ...] | None,
    ruled: tuple[str, ...] | None,
) -> tuple[tuple[str, ...], str]:
    """The first source, in the documented order, that knows the transaction's category."""
    vendor = (doc.get("enrichment") or {}).get("vendor_category") or ()
    decisions: tuple[tuple[str, Callable[[], tuple[str, ...] | None]], ...] = (
        (USER_OVERRIDE, lambda: override or None),
        (TENANT_RULE, lambda: ruled or None),
        (VENDOR, lambda: vendor_category(vendor)),
        (MCC, lambda: mcc_category(doc["merchant"].get("category_code"))),
        (MERCHANT_DICTIONARY, lambda: dictionary_category or None),
        (KEYWORD, lambda: keyword_category(raw_name)),
        (TRANSACTION_TYPE, lambda: _by_type(doc)),
    )
    for source, decide in decisions:
        found = decide()
        if found:
            return tuple(found), source
    return UNCATEGORISED, DEFAULT


def _by_type(doc: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The broad category the bank's own kind of movement implies, when nothing says more."""
    kind = (doc.get("details") or {}).get("type")
    if kind == "INTEREST":
        return INTEREST_EARNED if doc["amount_minor"] > 0 else INTEREST_CHARGED
    return _BY_TYPE.get(kind or "")
