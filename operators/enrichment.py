"""Transaction enrichment: a clean merchant and a FOS category, with where each came from.

The category is decided by the first source that knows one, in this order: the user's own
override, the vendor's category (Plaid, Yapily, a bank file's column), the ISO 18245 MCC,
the merchant dictionary, keyword rules on the descriptor; a transaction none of them
recognise is ``Other / Uncategorised``. Every result names its source and the versions of
the tables that produced it, so a number can be traced and re-derived after a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from operators.categories import (
    KEYWORDS_VERSION,
    MCC_VERSION,
    TAXONOMY_VERSION,
    UNCATEGORISED,
    keyword_category,
    mcc_category,
    vendor_category,
)
from operators.merchant_dictionary import DICTIONARY_VERSION
from operators.merchants import resolve_merchant

USER_OVERRIDE: Final = "USER_OVERRIDE"
VENDOR: Final = "VENDOR"
MCC: Final = "MCC"
MERCHANT_DICTIONARY: Final = "MERCHANT_DICTIONARY"
KEYWORD: Final = "KEYWORD"
DEFAULT: Final = "DEFAULT"

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
    if override:
        return override, USER_OVERRIDE
    enrichment = doc.get("enrichment") or {}
    found = vendor_category(enrichment.get("vendor_category") or ())
    if found:
        return found, VENDOR
    found = mcc_category(doc["merchant"].get("category_code"))
    if found:
        return found, MCC
    if dictionary_category:
        return dictionary_category, MERCHANT_DICTIONARY
    found = keyword_category(raw_name)
    if found:
        return found, KEYWORD
    return UNCATEGORISED, DEFAULT
