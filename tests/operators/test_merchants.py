"""Merchant cleaning and resolution: the labelled descriptors, properties and the dictionary."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from operators.merchant_dictionary import DICTIONARY_VERSION, MERCHANTS, MerchantEntry
from operators.merchants import (
    DEFAULT,
    MerchantDictionary,
    MerchantMatch,
    clean_descriptor,
    display_name,
    resolve_merchant,
)

DESCRIPTORS = Path(__file__).parent / "data" / "descriptors.csv"


def labelled_rows() -> list[tuple[str, str]]:
    with DESCRIPTORS.open(newline="", encoding="utf-8") as handle:
        return [(row["raw"], row["expected_clean_name"]) for row in csv.DictReader(handle)]


# --------------------------------------------------------------------------------------------
# The labelled set
# --------------------------------------------------------------------------------------------


def test_labelled_descriptors_resolve_accurately() -> None:
    rows = labelled_rows()
    assert len(rows) >= 300
    misses = [
        (raw, resolve_merchant(raw).clean_name, expected)
        for raw, expected in rows
        if resolve_merchant(raw).clean_name != expected
    ]
    accuracy = 1 - len(misses) / len(rows)
    listing = "\n".join(f"{raw!r}: got {got!r}, expected {want!r}" for raw, got, want in misses)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f}; misses:\n{listing}"


def test_labelled_set_mixes_known_and_unknown_merchants() -> None:
    rows = labelled_rows()
    unknown = [raw for raw, _ in rows if not resolve_merchant(raw).known]
    assert len(unknown) >= 40
    assert sum(1 for raw, _ in rows if len(raw) == 22) >= 20


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

DESCRIPTOR_ALPHABET = st.sampled_from(
    list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789 *#/.&-+'’,_()@:%$\t\n\x00\x1f")
    + ["É", "ß", "ǰ", "ﬀ", "İ", "ı", "Ω", "東", "٣", "²", "\u0301", "\u200b", "\u3000", "Ⅻ"]
)
BANKISH_TEXT = st.text(DESCRIPTOR_ALPHABET, max_size=500)
ANY_TEXT = st.text(max_size=500)


@settings(max_examples=400, deadline=None)
@given(st.one_of(ANY_TEXT, BANKISH_TEXT))
@example("#.A")
@example("X #.A -#B")
@example("ǰ ß ﬀ İ ı Ⅻ ٣²")
@example("POS " * 120)
@example("12 " * 160)
def test_cleaning_is_idempotent_and_never_raises(raw: str) -> None:
    cleaned = clean_descriptor(raw)
    assert clean_descriptor(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned


@settings(max_examples=400, deadline=None)
@given(st.one_of(ANY_TEXT, BANKISH_TEXT))
def test_resolution_is_deterministic_and_depends_on_the_cleaned_text(raw: str) -> None:
    first = resolve_merchant(raw)
    assert resolve_merchant(raw) == first
    assert resolve_merchant(clean_descriptor(raw)).clean_name == first.clean_name
    assert first.dictionary_version == DICTIONARY_VERSION
    if not first.known:
        assert (first.entity_id, first.website, first.category) == (None, None, ())


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([entry for entry in MERCHANTS if entry.aliases]),
    st.sampled_from(["", "POS ", "SQ *", "PAYPAL *", "CARD PURCHASE ", "DD "]),
    st.sampled_from(["", " 0412", " #1827 SEATTLE WA", " LONDON GB", " *2K4L91", " 12/03"]),
)
def test_aliases_survive_bank_decoration(entry: MerchantEntry, prefix: str, suffix: str) -> None:
    alias = max(entry.aliases, key=len)
    match = resolve_merchant(prefix + alias + suffix)
    assert match.entity_id == entry.entity_id, (prefix + alias + suffix, match)


# --------------------------------------------------------------------------------------------
# The brief's examples and specific cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "entity_id", "name"),
    [
        ("AMZN MKTPL SEATTLE WA", "amazon", "Amazon"),
        ("TFL TRAVEL CH", "tfl", "Transport for London"),
        ("SQ *BLUE BOTTLE COFFEE", "blue_bottle", "Blue Bottle Coffee"),
        ("PAYPAL *NETFLIX", "netflix", "Netflix"),
        ("STARBUCKS STORE 1827", "starbucks", "Starbucks"),
        ("UBER   *TRIP HELP.UBER.COM", "uber", "Uber"),
        ("POS 4412 TESCO STORES 3296 LONDON GB", "tesco", "Tesco"),
        ("AMAZON.CO.UK*2K4L91 AMAZON.CO.UK", "amazon", "Amazon"),
        ("STARBUCKS COFFEE COMPA", "starbucks", "Starbucks"),
        ("APPLE.COM/BILL", "apple", "Apple"),
        # Apple's own billing marker, from a bank CSV fixture.
        ("APL*ITUNES.COM/BILL", "apple", "Apple"),
        ("UBER *EATS PENDING", "uber_eats", "Uber Eats"),
    ],
)
def test_brief_examples(raw: str, entity_id: str, name: str) -> None:
    match = resolve_merchant(raw)
    assert (match.entity_id, match.clean_name, match.known) == (entity_id, name, True)
    assert match.website
    assert match.category


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("AMZN MKTPL SEATTLE WA", "AMZN MKTPL"),
        ("TFL TRAVEL CH", "TFL TRAVEL"),
        ("CRV*CORNER COFFEE 0412", "CORNER COFFEE"),
        ("SQ *BLUE BOTTLE COFFEE", "BLUE BOTTLE COFFEE"),
        ("STARBUCKS STORE 1827", "STARBUCKS"),
        ("UBER   *TRIP HELP.UBER.COM", "UBER TRIP"),
        ("POS 4412 TESCO STORES 3296 LONDON GB", "TESCO STORES"),
        ("AMAZON.CO.UK*2K4L91 AMAZON.CO.UK", "AMAZON"),
        ("VISA DEBIT PURCHASE XXXX1234 SHELL 12/03", "SHELL"),
        ("COSTA COFFEE ON 12 MAR CLP", "COSTA COFFEE"),
        ("JOES DINER SMALLVILLE KS", "JOES DINER"),
        ("BLUE BOTTLE COFFEE CA", "BLUE BOTTLE COFFEE"),
        ("TRANSPORT FOR LONDON", "TRANSPORT FOR LONDON"),
        ("café   crème", "CAFE CREME"),
        ("", ""),
        ("POS", "POS"),
    ],
)
def test_clean_descriptor(raw: str, cleaned: str) -> None:
    assert clean_descriptor(raw) == cleaned


def test_unknown_merchant_keeps_its_cleaned_name() -> None:
    match = resolve_merchant("CRV*CORNER COFFEE 0412")
    assert match == MerchantMatch(
        clean_name="Corner Coffee",
        known=False,
        entity_id=None,
        website=None,
        logo_url=None,
        category=(),
        dictionary_version=DICTIONARY_VERSION,
        rule="none",
    )


@pytest.mark.parametrize(
    "raw",
    [
        "SKY BAR & GRILL 0412",
        "NEXT DOOR CAFE",
        "BOLT HARDWARE SUPPLY",
        "STAR CAFE",
        "THREE CROWNS",
        "GUSTO ITALIAN 0412",
        "MORRISON PLUMBING",
        "THE GYM BOX",
        "APPLE TREE NURSERY",
        "ADMIRAL DUNCAN PUB LONDON",
        "COSTA RICA GRILL",
    ],
)
def test_everyday_words_do_not_claim_a_merchant(raw: str) -> None:
    match = resolve_merchant(raw)
    assert not match.known
    assert match.website is None


def test_rules_are_reported() -> None:
    assert resolve_merchant("NETFLIX.COM").rule == "alias"
    assert resolve_merchant("TESCO PETROL 1234").rule == "pattern"
    assert resolve_merchant("LIME RIDE PASS").rule == "prefix"
    assert resolve_merchant("POS TRANSPORT FOR LOND").rule == "prefix"
    assert resolve_merchant("CORNER COFFEE").rule == "none"


def test_display_name() -> None:
    assert display_name("CORNER COFFEE") == "Corner Coffee"
    assert display_name("MUSEUM OF LONDON SHOP") == "Museum of London Shop"
    assert display_name("MCDONALDS") == "McDonalds"
    assert display_name("SMITH & SONS B&Q KFC") == "Smith & Sons B&Q KFC"
    assert display_name("ST JOHNS CO-OP") == "St Johns Co-Op"
    assert display_name("") == ""


def test_every_match_carries_the_dictionary_version() -> None:
    assert resolve_merchant("NETFLIX").dictionary_version == DICTIONARY_VERSION
    assert resolve_merchant("ZZZ UNHEARD OF").dictionary_version == DICTIONARY_VERSION
    custom = MerchantDictionary.from_entries(MERCHANTS[:3], "test-1")
    assert resolve_merchant("TESCO", custom).dictionary_version == "test-1"


# --------------------------------------------------------------------------------------------
# The dictionary
# --------------------------------------------------------------------------------------------


def test_dictionary_is_well_formed() -> None:
    assert len(MERCHANTS) >= 150
    ids = [entry.entity_id for entry in MERCHANTS]
    assert len(ids) == len(set(ids))
    owners: dict[str, str] = {}
    for entry in MERCHANTS:
        assert entry.clean_name and entry.category
        for pattern in entry.patterns:
            assert pattern.startswith("^"), (entry.entity_id, pattern)
            re.compile(pattern)
        for alias in entry.aliases:
            assert alias == alias.upper(), alias
            # An alias must be what the cleaner prints, or it could never match exactly.
            assert clean_descriptor(alias) == alias, (alias, clean_descriptor(alias))
            assert owners.setdefault(alias, entry.entity_id) == entry.entity_id, alias
        if entry.website is not None:
            assert not entry.website.startswith(("http", "www.")), entry.website


def test_every_alias_resolves_to_its_own_entry() -> None:
    for entry in MERCHANTS:
        for alias in entry.aliases:
            match = DEFAULT.resolve_cleaned(alias)
            assert (match.entity_id, match.rule) == (entry.entity_id, "alias"), alias


def test_shared_aliases_are_refused() -> None:
    first = MerchantEntry("a", "A", None, None, ("SAME",), (), ("Shopping",))
    second = MerchantEntry("b", "B", None, None, ("SAME",), (), ("Shopping",))
    with pytest.raises(ValueError, match="already names"):
        MerchantDictionary.from_entries([first, second], "x")
    with pytest.raises(ValueError, match="unique"):
        MerchantDictionary.from_entries([first, first._replace(aliases=())], "x")
