"""The FOS category taxonomy and the vendor, MCC and keyword mappings into it."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from operators import merchant_dictionary
from operators.categories import (
    CATCH_ALL_LABELS,
    KEYWORD_RULES,
    KEYWORDS_VERSION,
    MCC_CODES,
    MCC_RANGES,
    MCC_VERSION,
    PLAID_LEGACY,
    PLAID_PFC,
    TAXONOMY,
    TAXONOMY_VERSION,
    UNCATEGORISED,
    VENDOR_LABELS,
    keyword_category,
    mcc_category,
    vendor_category,
)
from operators.merchant_dictionary import MERCHANTS

LEVEL_ONE = (
    "Income",
    "Transfers",
    "Food and Drink",
    "Shopping",
    "Transport",
    "Travel",
    "Bills",
    "Housing",
    "Entertainment",
    "Health",
    "Personal Care",
    "Education",
    "Government",
    "Loans",
    "Bank Fees",
    "Cash",
    "Charity",
    "Other",
)

PFC_PRIMARIES = (
    "BANK_FEES",
    "ENTERTAINMENT",
    "FOOD_AND_DRINK",
    "GENERAL_MERCHANDISE",
    "GENERAL_SERVICES",
    "GOVERNMENT_AND_NON_PROFIT",
    "HOME_IMPROVEMENT",
    "INCOME",
    "LOAN_PAYMENTS",
    "MEDICAL",
    "PERSONAL_CARE",
    "RENT_AND_UTILITIES",
    "TRANSFER_IN",
    "TRANSFER_OUT",
    "TRANSPORTATION",
    "TRAVEL",
)


# --------------------------------------------------------------------------------------------
# The taxonomy
# --------------------------------------------------------------------------------------------


def test_versions_are_set() -> None:
    assert TAXONOMY_VERSION == MCC_VERSION == KEYWORDS_VERSION == "2026.11.1"


def test_level_one_is_exactly_the_documented_list() -> None:
    assert {path for path in TAXONOMY if len(path) == 1} == {(name,) for name in LEVEL_ONE}


def test_every_path_has_one_or_two_levels_and_its_parent_is_valid() -> None:
    for path in TAXONOMY:
        assert 1 <= len(path) <= 2
        assert all(level and level == level.strip() for level in path)
        assert path[:1] in TAXONOMY


def test_uncategorised_is_a_valid_path() -> None:
    assert UNCATEGORISED == ("Other", "Uncategorised")
    assert UNCATEGORISED in TAXONOMY


@pytest.mark.parametrize(
    "path",
    [
        ("Income", "Salary"),
        ("Income", "Benefits"),
        ("Income", "Interest"),
        ("Income", "Dividends"),
        ("Income", "Refunds"),
        ("Income", "Other Income"),
        ("Transfers", "Between Own Accounts"),
        ("Transfers", "Payment Services"),
        ("Transfers", "Outgoing"),
        ("Transfers", "Incoming"),
        ("Transfers", "Credit Card Payment"),
        ("Transfers", "Loan Payment"),
        ("Housing", "Rent"),
        ("Housing", "Mortgage"),
        ("Housing", "Home Maintenance"),
        ("Cash", "ATM Withdrawal"),
        ("Cash", "Cash Deposit"),
        ("Bank Fees", "Interest Charged"),
        ("Bank Fees", "Overdraft"),
        ("Bank Fees", "ATM"),
        ("Bank Fees", "Account Fees"),
        ("Bank Fees", "Foreign Transaction"),
        ("Bank Fees", "Late Payment"),
    ],
)
def test_documented_level_two_paths_exist(path: tuple[str, ...]) -> None:
    assert path in TAXONOMY


def test_every_merchant_dictionary_category_is_in_the_taxonomy() -> None:
    missing = {entry.category for entry in MERCHANTS} - TAXONOMY
    assert not missing


def test_every_merchant_dictionary_category_constant_is_in_the_taxonomy() -> None:
    constants = [
        value
        for name, value in vars(merchant_dictionary).items()
        if name.isupper()
        and isinstance(value, tuple)
        and value
        and all(isinstance(level, str) for level in value)
    ]
    assert len(constants) >= 40
    assert not set(constants) - TAXONOMY


def test_every_table_target_is_in_the_taxonomy() -> None:
    targets = [
        *PLAID_LEGACY.values(),
        *PLAID_PFC.values(),
        *VENDOR_LABELS.values(),
        *CATCH_ALL_LABELS.values(),
        *MCC_CODES.values(),
        *(path for _, _, path in MCC_RANGES),
        *(rule.category for rule in KEYWORD_RULES),
    ]
    assert not [path for path in targets if path not in TAXONOMY]


# --------------------------------------------------------------------------------------------
# Vendor categories
# --------------------------------------------------------------------------------------------


def test_every_plaid_legacy_hierarchy_maps_to_its_entry() -> None:
    for hierarchy, path in PLAID_LEGACY.items():
        assert vendor_category(list(hierarchy)) == path, hierarchy


def test_plaid_legacy_covers_every_top_level_plaid_uses() -> None:
    tops = {hierarchy[0] for hierarchy in PLAID_LEGACY}
    assert tops == {
        "Bank Fees",
        "Cash Advance",
        "Community",
        "Food and Drink",
        "Healthcare",
        "Interest",
        "Payment",
        "Recreation",
        "Service",
        "Shops",
        "Tax",
        "Transfer",
        "Travel",
    }


def test_every_plaid_pfc_code_and_vendor_label_maps_alone_to_its_entry() -> None:
    # This also proves that no two tables give one label, once normalised, different paths.
    for table in (PLAID_PFC, VENDOR_LABELS, CATCH_ALL_LABELS):
        for label, path in table.items():
            assert vendor_category([label]) == path, label


def test_plaid_pfc_has_every_primary_and_most_detailed_codes() -> None:
    # The second version of the taxonomy added one primary, for loans received.
    primaries = (*PFC_PRIMARIES, "LOAN_DISBURSEMENTS")
    assert set(primaries) <= set(PLAID_PFC)
    detailed = [code for code in PLAID_PFC if code not in primaries]
    assert len(detailed) >= 80
    for code in detailed:
        assert any(code.startswith(primary + "_") for primary in primaries), code


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Plaid legacy hierarchies.
        (["Food and Drink", "Restaurants", "Coffee Shop"], ("Food and Drink", "Coffee")),
        (["Food and Drink", "Restaurants"], ("Food and Drink", "Restaurants")),
        (["Shops", "Supermarkets and Groceries"], ("Food and Drink", "Groceries")),
        (["Travel", "Taxi"], ("Transport", "Taxis and Ride Sharing")),
        (["Travel", "Gas Stations"], ("Transport", "Fuel")),
        (["Shops", "Pharmacies"], ("Health", "Pharmacy")),
        (["Recreation", "Arts and Entertainment"], ("Entertainment",)),
        (["Travel", "Lodging"], ("Travel", "Accommodation")),
        (["Service", "Subscription"], ("Bills", "Software and Subscriptions")),
        (["Recreation", "Gyms and Fitness Centers"], ("Health", "Gyms and Fitness")),
        (["Service", "Utilities"], ("Bills", "Utilities")),
        (["Transfer", "Payroll"], ("Income", "Salary")),
        (["Payment", "Rent"], ("Housing", "Rent")),
        (["Payment", "Credit Card"], ("Transfers", "Credit Card Payment")),
        (["Payment", "Loan"], ("Transfers", "Loan Payment")),
        (["Transfer", "Internal Account Transfer"], ("Transfers", "Between Own Accounts")),
        (["Interest", "Interest Charged"], ("Bank Fees", "Interest Charged")),
        (["Interest", "Interest Earned"], ("Income", "Interest")),
        (["Shops"], ("Shopping",)),
        (["Travel", "Airlines and Aviation Services"], ("Travel", "Flights")),
        (["Transfer", "Debit"], ("Transfers", "Outgoing")),
        (["Transfer", "Credit"], ("Transfers", "Incoming")),
        (["Transfer", "Deposit"], ("Transfers", "Incoming")),
        (["Transfer", "Deposit", "ATM"], ("Cash", "Cash Deposit")),
        (["Transfer", "Withdrawal", "ATM"], ("Cash", "ATM Withdrawal")),
        (["Bank Fees", "Overdraft"], ("Bank Fees", "Overdraft")),
        (["Bank Fees", "ATM"], ("Bank Fees", "ATM")),
        (["Tax", "Refund"], ("Income", "Tax Refund")),
        (["Tax", "Payment"], ("Government", "Taxes")),
        (["Healthcare", "Physicians", "Cardiologists"], ("Health", "Doctors")),
        (["Healthcare", "Healthcare Services", "Dentists"], ("Health", "Dentists")),
        (["Community", "Education"], ("Education",)),
        (
            ["Community", "Education", "Colleges and Universities"],
            ("Education", "Schools and Universities"),
        ),
        (["Cash Advance"], ("Loans", "Cash Advance")),
        (["Service", "Financial", "Taxes"], ("Government", "Taxes")),
        (["Transfer", "Third Party", "Venmo"], ("Transfers", "Payment Services")),
        # An unknown deeper level falls back to the deepest known one.
        (["Shops", "Clothing and Accessories", "Women's Store"], ("Shopping", "Clothing")),
        (["Travel", "Some New Plaid Level"], ("Travel",)),
        # Plaid personal finance categories.
        (["FOOD_AND_DRINK_COFFEE"], ("Food and Drink", "Coffee")),
        (["FOOD_AND_DRINK", "FOOD_AND_DRINK_COFFEE"], ("Food and Drink", "Coffee")),
        (["FOOD_AND_DRINK"], ("Food and Drink",)),
        (["TRANSPORTATION_PUBLIC_TRANSIT"], ("Transport", "Public Transport")),
        (["GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"], ("Shopping", "Online Marketplaces")),
        (["INCOME", "INCOME_WAGES"], ("Income", "Salary")),
        (["TRANSFER_IN_ACCOUNT_TRANSFER"], ("Transfers", "Incoming")),
        (["LOAN_PAYMENTS_CREDIT_CARD_PAYMENT"], ("Transfers", "Credit Card Payment")),
        (["RENT_AND_UTILITIES_RENT"], ("Housing", "Rent")),
        (["BANK_FEES_OVERDRAFT_FEES"], ("Bank Fees", "Overdraft")),
        (["ENTERTAINMENT_TV_AND_MOVIES"], ("Entertainment", "Streaming")),
        (["MEDICAL_PHARMACIES_AND_SUPPLEMENTS"], ("Health", "Pharmacy")),
        (["TRAVEL", "TRAVEL_FLIGHTS"], ("Travel", "Flights")),
        (["TRAVEL_LODGING"], ("Travel", "Accommodation")),
        (["PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS"], ("Health", "Gyms and Fitness")),
        (["GOVERNMENT_AND_NON_PROFIT_DONATIONS"], ("Charity", "Donations")),
        (["TRANSFER_OUT_WITHDRAWAL"], ("Cash", "ATM Withdrawal")),
        (["LOAN_PAYMENTS_MORTGAGE_PAYMENT"], ("Housing", "Mortgage")),
        # A detailed code not in the table still names its primary.
        (["FOOD_AND_DRINK_SOMETHING_NEW"], ("Food and Drink",)),
        (["TRANSFER_OUT_SOMETHING_NEW"], ("Transfers", "Outgoing")),
        (["FOOD_AND_DRINK", "FOOD_AND_DRINK_SOMETHING_NEW"], ("Food and Drink",)),
        # Yapily labels and free text.
        (["FOOD_AND_DRINK"], ("Food and Drink",)),
        (["FOOD_AND_DRINK", "COFFEE"], ("Food and Drink", "Coffee")),
        (["TRANSPORT"], ("Transport",)),
        (["SHOPPING"], ("Shopping",)),
        (["BILLS_AND_SERVICES"], ("Bills",)),
        (["SALARY"], ("Income", "Salary")),
        (["TRANSFERS"], ("Transfers",)),
        (["ENTERTAINMENT"], ("Entertainment",)),
        (["CASH"], ("Cash",)),
        (["GROCERIES"], ("Food and Drink", "Groceries")),
        (["EATING_OUT"], ("Food and Drink", "Restaurants")),
        (["TRAVEL"], ("Travel",)),
        (["HEALTH"], ("Health",)),
        (["GENERAL"], ("Other",)),
        (["Groceries"], ("Food and Drink", "Groceries")),
        (["Eating out"], ("Food and Drink", "Restaurants")),
        (["Transport"], ("Transport",)),
        (["Bills"], ("Bills",)),
        (["Food & Drink"], ("Food and Drink",)),
        (["intra account transfer"], ("Transfers", "Between Own Accounts")),
        (["ATM/bank deposit"], ("Cash", "Cash Deposit")),
        (["Not enough information"], ("Other", "Uncategorised")),
        # A catch-all label only counts when nothing else is known.
        (["FOOD_AND_DRINK", "GENERAL"], ("Food and Drink",)),
        (["GENERAL", "GROCERIES"], ("Food and Drink", "Groceries")),
        # Yapily's tiered labels arrive in one string.
        (["debit - food and drink - groceries"], ("Food and Drink", "Groceries")),
    ],
)
def test_vendor_category(path: list[str], expected: tuple[str, ...]) -> None:
    assert vendor_category(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        [],
        [""],
        ["   "],
        ["nonsense"],
        ["Interest"],
        ["Some", "Unknown", "Thing"],
        ["FOOD"],
        ["food_and_drink_coffee_but_lower_case_unknown"],
        ["credit - commerce - something new"],
    ],
)
def test_unknown_vendor_categories_map_to_nothing(path: list[str]) -> None:
    assert vendor_category(path) is None


def test_vendor_labels_are_case_insensitive() -> None:
    expected = ("Food and Drink", "Restaurants")
    for spelling in ("EATING_OUT", "eating_out", "Eating Out", "eating-out", " eating  out "):
        assert vendor_category([spelling]) == expected
    assert vendor_category(["shops", "SUPERMARKETS AND GROCERIES"]) == (
        "Food and Drink",
        "Groceries",
    )


def test_a_bare_string_is_one_level_and_any_sequence_type_works() -> None:
    assert vendor_category("GROCERIES") == ("Food and Drink", "Groceries")
    hierarchy = ["Food and Drink", "Restaurants", "Coffee Shop"]
    assert (
        vendor_category(hierarchy)
        == vendor_category(tuple(hierarchy))
        == ("Food and Drink", "Coffee")
    )


# --------------------------------------------------------------------------------------------
# Merchant Category Codes
# --------------------------------------------------------------------------------------------


def test_mcc_table_is_large_and_well_formed() -> None:
    assert len(MCC_CODES) >= 200
    assert all(re.fullmatch(r"\d{4}", code) for code in MCC_CODES)
    assert [(low, high) for low, high, _ in MCC_RANGES] == [
        (3000, 3350),
        (3351, 3500),
        (3501, 3999),
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("5411", ("Food and Drink", "Groceries")),
        ("5812", ("Food and Drink", "Restaurants")),
        ("5814", ("Food and Drink", "Fast Food")),
        ("5462", ("Food and Drink", "Bakeries")),
        ("5499", ("Food and Drink", "Groceries")),
        ("5813", ("Food and Drink", "Bars and Pubs")),
        ("4111", ("Transport", "Public Transport")),
        ("4112", ("Transport", "Rail")),
        ("4121", ("Transport", "Taxis and Ride Sharing")),
        ("4131", ("Transport", "Public Transport")),
        ("4511", ("Travel", "Flights")),
        ("7011", ("Travel", "Accommodation")),
        ("5541", ("Transport", "Fuel")),
        ("5542", ("Transport", "Fuel")),
        ("7523", ("Transport", "Parking")),
        ("5912", ("Health", "Pharmacy")),
        ("8011", ("Health", "Doctors")),
        ("8021", ("Health", "Dentists")),
        ("8062", ("Health", "Hospitals")),
        ("5311", ("Shopping", "Department Stores")),
        ("5651", ("Shopping", "Clothing")),
        ("5691", ("Shopping", "Clothing")),
        ("5699", ("Shopping", "Clothing")),
        ("5732", ("Shopping", "Electronics")),
        ("5942", ("Shopping", "Books and Stationery")),
        ("4814", ("Bills", "Mobile Phone")),
        ("4899", ("Entertainment", "Streaming")),
        ("4900", ("Bills", "Utilities")),
        ("6300", ("Bills", "Insurance")),
        ("6011", ("Cash", "ATM Withdrawal")),
        ("6012", ("Transfers",)),
        ("8220", ("Education", "Schools and Universities")),
        ("8398", ("Charity", "Donations")),
        ("9311", ("Government", "Taxes")),
        ("9399", ("Government", "Licences and Fees")),
        ("7832", ("Entertainment", "Cinema and Theatre")),
        ("7997", ("Health", "Gyms and Fitness")),
        ("5815", ("Entertainment", "Digital Media")),
        ("5816", ("Entertainment", "Games")),
        ("5817", ("Bills", "Software and Subscriptions")),
        ("5818", ("Entertainment", "Digital Media")),
        ("5734", ("Bills", "Software and Subscriptions")),
        ("5999", ("Shopping",)),
        ("7230", ("Personal Care", "Hair and Beauty")),
        ("5977", ("Personal Care", "Cosmetics")),
        ("0742", ("Health", "Veterinary")),
        # The airline, car rental and hotel ranges.
        ("3000", ("Travel", "Flights")),
        ("3005", ("Travel", "Flights")),
        ("3350", ("Travel", "Flights")),
        ("3351", ("Travel", "Car Hire")),
        ("3390", ("Travel", "Car Hire")),
        ("3500", ("Travel", "Car Hire")),
        ("3501", ("Travel", "Accommodation")),
        ("3650", ("Travel", "Accommodation")),
        ("3999", ("Travel", "Accommodation")),
        # Surrounding whitespace is stripped.
        (" 5411 ", ("Food and Drink", "Groceries")),
        ("5411\n", ("Food and Drink", "Groceries")),
    ],
)
def test_mcc_category(code: str, expected: tuple[str, ...]) -> None:
    assert mcc_category(code) == expected


@pytest.mark.parametrize(
    "code",
    [
        None,
        "",
        " ",
        "54",
        "abcd",
        "54111",
        "541",
        "5 411",
        "54.1",
        "-541",
        "+541",
        # Arabic-Indic digits are digits, but not an MCC.
        "\u0665\u0664\u0661\u0661",
        "0000",
        "2999",
    ],
)
def test_malformed_or_unknown_mccs_map_to_nothing(code: str | None) -> None:
    assert mcc_category(code) is None


# --------------------------------------------------------------------------------------------
# Keywords
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACME LTD SALARY", ("Income", "Salary")),
        ("BGC PAYROLL ACME", ("Income", "Salary")),
        ("WAGES JUNE", ("Income", "Salary")),
        ("RENT JULY FLAT 2", ("Housing", "Rent")),
        ("NATIONWIDE MORTGAGE", ("Housing", "Mortgage")),
        ("MORTGAGE INTEREST", ("Housing", "Mortgage")),
        ("LINK ATM 12:03 LONDON", ("Cash", "ATM Withdrawal")),
        ("CASH WITHDRAWAL BARCLAYS", ("Cash", "ATM Withdrawal")),
        ("CASHPOINT HIGH ST", ("Cash", "ATM Withdrawal")),
        ("ATM FEE", ("Bank Fees", "ATM")),
        ("CASH DEPOSIT BRANCH", ("Cash", "Cash Deposit")),
        ("GROSS INTEREST", ("Income", "Interest")),
        ("INTEREST PAID", ("Income", "Interest")),
        ("INTEREST CHARGED", ("Bank Fees", "Interest Charged")),
        ("PURCHASE INTEREST", ("Bank Fees", "Interest Charged")),
        ("OVERDRAFT FEE", ("Bank Fees", "Overdraft")),
        ("NON-STERLING TRANSACTION FEE", ("Bank Fees", "Foreign Transaction")),
        ("MONTHLY ACCOUNT FEE", ("Bank Fees", "Account Fees")),
        ("LATE PAYMENT FEE", ("Bank Fees", "Late Payment")),
        ("DIRECT DEBIT OCTOPUS ENERGY", ("Bills", "Utilities")),
        ("THAMES WATER DD", ("Bills", "Utilities")),
        ("SCOTTISH POWER ELECTRICITY", ("Bills", "Utilities")),
        ("BRITISH GAS DD", ("Bills", "Utilities")),
        ("COUNCIL TAX LAMBETH", ("Government", "Taxes")),
        ("HMRC SELF ASSESSMENT", ("Government", "Taxes")),
        ("IRS USATAXPYMT", ("Government", "Taxes")),
        ("IRS TREAS 310 TAX REF", ("Income", "Tax Refund")),
        ("TFL TRAVEL CH", ("Transport", "Public Transport")),
        ("METRO TRANSIT", ("Transport", "Public Transport")),
        ("FIRST BUS", ("Transport", "Public Transport")),
        ("TRAINLINE", ("Transport", "Rail")),
        ("ABC TAXI CO", ("Transport", "Taxis and Ride Sharing")),
        ("YELLOW CAB", ("Transport", "Taxis and Ride Sharing")),
        ("NCP CAR PARK", ("Transport", "Parking")),
        ("PARKING METER", ("Transport", "Parking")),
        ("PARKING FINE", ("Government", "Courts and Fines")),
        ("TESCO PFS 3803", ("Transport", "Fuel")),
        ("BOOTS PHARMACY", ("Health", "Pharmacy")),
        ("HIGH ST CHEMIST", ("Health", "Pharmacy")),
        ("SMILE DENTAL CARE", ("Health", "Dentists")),
        ("CITY CLINIC", ("Health", "Medical Services")),
        ("ST THOMAS HOSPITAL", ("Health", "Hospitals")),
        ("PUREGYM", None),
        ("THE GYM GROUP", ("Health", "Gyms and Fitness")),
        ("ANYTIME FITNESS", ("Health", "Gyms and Fitness")),
        ("COSTA COFFEE", ("Food and Drink", "Coffee")),
        ("CAFE NERO", ("Food and Drink", "Coffee")),
        ("Café de Flore", ("Food and Drink", "Coffee")),
        ("ESPRESSO BAR", ("Food and Drink", "Coffee")),
        ("LUIGIS PIZZA", ("Food and Drink", "Restaurants")),
        ("YO SUSHI", ("Food and Drink", "Restaurants")),
        ("THE GRILL ON THE ALLEY", ("Food and Drink", "Restaurants")),
        ("BISTRO 21", ("Food and Drink", "Restaurants")),
        ("DISHOOM KITCHEN", ("Food and Drink", "Restaurants")),
        ("THE RED LION PUB", ("Food and Drink", "Bars and Pubs")),
        ("SPORTS BAR", ("Food and Drink", "Bars and Pubs")),
        ("OLD TAVERN", ("Food and Drink", "Bars and Pubs")),
        ("CAMDEN BREWERY", ("Food and Drink", "Bars and Pubs")),
        ("LOCAL SUPERMARKET", ("Food and Drink", "Groceries")),
        ("CORNER GROCER", ("Food and Drink", "Groceries")),
        ("BOROUGH MARKET", ("Food and Drink", "Groceries")),
        ("GAILS BAKERY", ("Food and Drink", "Bakeries")),
        ("PREMIER INN", ("Travel", "Accommodation")),
        ("HILTON HOTEL", ("Travel", "Accommodation")),
        ("YHA HOSTEL", ("Travel", "Accommodation")),
        ("BRITISH AIRWAYS", ("Travel", "Flights")),
        ("AIR FRANCE", ("Travel", "Flights")),
        ("UNITED AIRLINES", ("Travel", "Flights")),
        ("FPO J SMITH", ("Transfers", "Outgoing")),
        ("STANDING ORDER J SMITH", ("Transfers", "Outgoing")),
        ("FPI J SMITH", ("Transfers", "Incoming")),
        ("TFR 12345678", ("Transfers",)),
        ("TRANSFER TO SAVINGS", ("Transfers", "Between Own Accounts")),
        ("AMAZON REFUND", ("Income", "Refunds")),
        ("BRITISH RED CROSS DONATION", ("Charity", "Donations")),
        ("OXFAM CHARITY SHOP", ("Shopping",)),
        ("KINGS COLLEGE TUITION", ("Education", "Schools and Universities")),
        ("UNIVERSITY OF LEEDS", ("Education", "Schools and Universities")),
        ("HAPPY DAYS DAY NURSERY", ("Education", "Childcare")),
        ("DIRECT LINE INSURANCE", ("Bills", "Insurance")),
        ("STUDENT LOANS CO", ("Loans", "Student Loans")),
        ("PERSONAL LOAN REPAYMENT", ("Loans",)),
        ("CREDIT CARD PAYMENT", ("Transfers", "Credit Card Payment")),
        ("ENTERPRISE RENT-A-CAR", ("Travel", "Car Hire")),
        ("DVLA", ("Government", "Licences and Fees")),
        ("DVLA VEHICLE TAX", ("Government", "Taxes")),
        ("ODEON CINEMA", ("Entertainment", "Cinema and Theatre")),
        ("NATIONAL LOTTERY TICKET", ("Entertainment", "Gambling")),
        ("ROYAL MAIL", ("Other", "Postage and Shipping")),
        ("KEVINS BARBERS", ("Personal Care", "Hair and Beauty")),
        ("NAIL BAR", ("Personal Care", "Hair and Beauty")),
        ("ST MARYS CHURCH", ("Charity", "Religious Organisations")),
    ],
)
def test_keyword_category(text: str, expected: tuple[str, ...] | None) -> None:
    assert keyword_category(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "CARD PAYMENT TO ACME",
        "DIRECT DEBIT",
        # Bare "INTEREST" says nothing about direction.
        "INTEREST",
        # A shop and a bank, not the metro.
        "TESCO METRO",
        "METRO BANK",
        # "AIR" alone is not a flight.
        "AIR CON SERVICES",
        # A juice bar is not a bar.
        "JUICE BAR",
        # Word boundaries: these only contain keywords inside longer words.
        "CURRENT ACCOUNT",
        "BARCLAYS",
        "RENTOKIL",
        "MARKETING LTD",
        "BUSINESS",
        "CABLESHOP",
        "GASTRONOMY",
    ],
)
def test_unknown_keywords_map_to_nothing(text: str | None) -> None:
    assert keyword_category(text) is None


def test_keywords_are_case_insensitive() -> None:
    for text in ("salary", "Salary", "SALARY", "sAlArY"):
        assert keyword_category(f"acme {text} june") == ("Income", "Salary")


def test_every_keyword_rule_matches_whole_words_only() -> None:
    for rule in KEYWORD_RULES:
        assert rule.pattern.pattern.startswith(r"\b")
        assert rule.pattern.pattern.endswith(r"\b")


def naive_keyword_category(text: str | None) -> tuple[str, ...] | None:
    """Every rule tried in order, with no index: what the index must agree with."""
    if not text:
        return None
    folded = text.casefold()
    for rule in KEYWORD_RULES:
        if rule.pattern.search(folded):
            return rule.category
    return None


KEYWORD_WORDS = sorted(
    {word for rule in KEYWORD_RULES for word in re.findall(r"[a-z]{2,}", rule.pattern.pattern)}
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(KEYWORD_WORDS), st.text(max_size=8)),
        max_size=6,
    ).map(" ".join)
)
@example("TESCO METRO CAFE")
@example("ATM-FEE")
@example("\u017falary")
def test_the_rule_index_agrees_with_trying_every_rule(text: str) -> None:
    assert keyword_category(text) == naive_keyword_category(text)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

VENDOR_VOCABULARY = sorted(
    {level for hierarchy in PLAID_LEGACY for level in hierarchy}
    | set(PLAID_PFC)
    | set(VENDOR_LABELS)
    | set(CATCH_ALL_LABELS)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from(VENDOR_VOCABULARY)), max_size=5))
def test_vendor_category_never_raises_and_returns_a_valid_path(path: list[str]) -> None:
    result = vendor_category(path)
    assert result is None or result in TAXONOMY


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_vendor_category_of_arbitrary_text_is_none_or_valid(text: str) -> None:
    result = vendor_category([text])
    assert result is None or result in TAXONOMY


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=8)))
def test_mcc_category_never_raises_and_returns_a_valid_path(code: str | None) -> None:
    result = mcc_category(code)
    assert result is None or result in TAXONOMY
    if result is not None:
        assert code is not None
        assert re.fullmatch(r"\d{4}", code.strip(), flags=re.ASCII)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.none(), st.text()))
def test_keyword_category_never_raises_and_returns_a_valid_path(text: str | None) -> None:
    result = keyword_category(text)
    assert result is None or result in TAXONOMY
