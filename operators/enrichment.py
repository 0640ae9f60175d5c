"""Transaction enrichment: a clean merchant and a FOS category, with where each came from.

The category is decided by the first source that knows one, in this order: the user's own
override, the vendor's category (Plaid, Yapily, a bank file's column), the ISO 18245 MCC,
the merchant dictionary, keyword rules on the descriptor, the bank's own kind of movement
(a transfer, a fee, interest); a transaction none of them recognise is
``Other / Uncategorised``. Every result names its source and the versions of
the tables that produced it, so a number can be traced and re-derived after a change.
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

USER_OVERRIDE: Final = "USER_OVERRIDE"
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


def enrich(doc: Mapping[str, Any], override: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The ``TransactionEnriched`` payload of a FOS transaction document."""
    merchant = doc["merchant"]
    raw_name = merchant.get("raw_name") or ""
    match = resolve_merchant(raw_name)
    category, source = _category(doc, match.category, raw_name, override)
    return {
        "transaction_id": doc["transaction_id"],
        "merchant": {
            "clean_name": merchant.get("clean_name") or match.clean_name or None,
            "known": match.known,
            "entity_id": match.entity_id,
            "website": match.website,
            "logo_url": match.logo_url,
        },
        "category": list(category),
        "category_source": source,
        "versions": dict(VERSIONS),
    }


def _category(
    doc: Mapping[str, Any],
    dictionary_category: tuple[str, ...],
    raw_name: str,
    override: tuple[str, ...] | None,
) -> tuple[tuple[str, ...], str]:
    """The first source, in the documented order, that knows the transaction's category."""
    vendor = (doc.get("enrichment") or {}).get("vendor_category") or ()
    decisions: tuple[tuple[str, Callable[[], tuple[str, ...] | None]], ...] = (
        (USER_OVERRIDE, lambda: override or None),
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
