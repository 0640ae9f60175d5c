"""Deterministic, Plaid-shaped sample data: Connect envelopes plus the expected end state.

Every profile is one Plaid Item with a checking account, usually a savings account, a credit
card and sometimes a student or auto loan, all in the tenant's currency (tenants are mostly
USD, some GBP, and the third tenant is EUR). Over ``months`` months each profile earns a salary,
pays rent, subscriptions, utilities, its card bill and its loan, shops with card and debit, and
now and then gets a refund. Card and debit purchases authorise as pending and post one to five
days later (restaurant tips raise the posted amount); some holds are cancelled instead.

Delivery follows Plaid. A profile's stream is:

1. an ``accounts`` envelope with the balances at the first sync;
2. the initial ``transactions_sync`` with the history (the first half of the months);
3. an ``accounts`` envelope with the same balances;
4. per later month, a ``transactions_sync`` with that month, then a fresh ``accounts``
   envelope.

The balances of every ``accounts`` envelope count each transaction that has posted by then,
history included, and no pending one; ``available`` on checking and on the card also
subtracts the pending outflows of that moment, and the last envelope matches the truth.

A pending transaction seen by one sync is settled by a later sync: the posted version gets
a new ``transaction_id`` that names the pending one in ``pending_transaction_id``, and the
pending id is in that sync's ``removed``; a cancelled hold is only removed. Transactions
delivered without their merchant name get it in the next sync's ``modified``.

Each sync is split into pages of ``page_size`` items (``added``, then ``modified``, then
``removed``); the pages share ``sync_id`` and ``received_at`` and carry a 0-based ``page``,
which ``accounts`` envelopes carry too, always 0.

Money is integer minor units throughout; the only floats are the Plaid amounts and balances
in payloads, made once from whole cents so that none has more than two decimals. Everything
is drawn from ``random.Random`` seeded per profile with the spec's seed, so the output does not
depend on the clock, and adding tenants or profiles leaves the existing ones unchanged.
"""

from __future__ import annotations

import calendar
import gc
import random
from binascii import b2a_base64
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Any, Final, NamedTuple

import orjson

# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSpec:
    """What to generate.

    Attributes:
        seed: Root seed; every profile derives its own generator from it.
        tenants: Number of tenants, ``t_001`` upwards.
        profiles_per_tenant: Profiles per tenant, ``p_0001`` upwards within each tenant.
        months: Months of activity from ``start``; the first half arrives as history.
        start: First day of activity; syncs run on the same day of later months.
        page_size: Most items (``added`` + ``modified`` + ``removed``) per sync page.
        transactions_per_month: Rough number of transactions per profile and month, across
            its accounts. The recurring ones (about a dozen) are always generated.
    """

    seed: int = 7
    tenants: int = 2
    profiles_per_tenant: int = 3
    months: int = 6
    start: date = date(2026, 1, 1)
    page_size: int = 100
    transactions_per_month: int = 40


@dataclass(frozen=True)
class ProfileTruth:
    """The state a correct engine holds for one profile after all envelopes.

    Attributes:
        tenant_id: Tenant of the profile.
        profile_id: Profile id, unique within the tenant.
        currency: ISO 4217 code shared by all the profile's accounts.
        transaction_count: Live transactions: posted ones plus pending ones not yet settled
            or cancelled.
        balances_minor: Plaid ``account_id`` to current balance in FOS convention (minor
            units, liabilities negative), counting posted transactions only.
        net_worth_minor: Sum of ``balances_minor``.
        total_debt_minor: Amount owed on credit and loan accounts, positive; an account in
            credit adds nothing.
    """

    tenant_id: str
    profile_id: str
    currency: str
    transaction_count: int
    balances_minor: Mapping[str, int]
    net_worth_minor: int
    total_debt_minor: int


@dataclass(frozen=True)
class Sample:
    """Generated envelopes and the expected end state per ``(tenant_id, profile_id)``."""

    envelopes: list[dict[str, Any]]
    truth: Mapping[tuple[str, str], ProfileTruth]


def generate(spec: SampleSpec) -> Sample:
    """Generate the envelopes and ground truth that ``spec`` describes.

    Envelopes are ordered by ``received_at``, then tenant, profile and page, so each profile's
    stream is in delivery order and profiles interleave.

    Raises:
        ValueError: If a count in ``spec`` is out of range (all but
            ``transactions_per_month`` must be positive).
    """
    _check(spec)
    with _gc_paused():
        return _generate(spec)


def _generate(spec: SampleSpec) -> Sample:
    cal = _Calendar.build(spec)
    envelopes: list[dict[str, Any]] = []
    truth: dict[tuple[str, str], ProfileTruth] = {}
    for tenant in range(spec.tenants):
        tenant_id = f"t_{tenant + 1:03d}"
        region = _region_of(tenant)
        for profile in range(spec.profiles_per_tenant):
            profile_id = f"p_{profile + 1:04d}"
            rng = random.Random(f"{spec.seed}:{tenant_id}:{profile_id}")  # noqa: S311
            built = _ProfileBuilder(
                spec, cal, region=region, rng=rng, tenant_id=tenant_id, profile_id=profile_id
            ).run()
            envelopes.extend(built.envelopes)
            truth[(tenant_id, profile_id)] = built.truth
    envelopes.sort(key=_order)
    return Sample(envelopes=envelopes, truth=truth)


def spec_for_transactions(
    total: int, tenants: int = 10, profiles_per_tenant: int = 100, seed: int = 7
) -> SampleSpec:
    """Return a spec whose syncs add about ``total`` transactions, pending versions included.

    Picks at least two months (so pending transactions settle across syncs) and about 30
    transactions per profile and month. Totals below roughly 25 per profile overshoot,
    because the recurring transactions are always generated.
    """
    profiles = max(1, tenants * profiles_per_tenant)
    per_profile = max(1.0, total / profiles / _ADDED_PER_TRANSACTION)
    months = max(2, min(_MAX_AUTO_MONTHS, round(per_profile / _AUTO_PER_MONTH)))
    return SampleSpec(
        seed=seed,
        tenants=tenants,
        profiles_per_tenant=profiles_per_tenant,
        months=months,
        transactions_per_month=max(1, round(per_profile / months)),
    )


def write_jsonl(path: Path, envelopes: Iterable[Mapping[str, Any]]) -> int:
    """Write one compact JSON object per line to ``path`` and return how many were written."""
    count = 0
    with path.open("wb") as out:
        for envelope in envelopes:
            out.write(orjson.dumps(envelope, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count


def count_transactions(envelopes: Iterable[Mapping[str, Any]]) -> int:
    """Count the ``added`` items of all ``transactions_sync`` envelopes.

    A pending transaction that later posts counts twice: once pending, once posted.
    """
    return sum(
        len(envelope["payload"]["added"])
        for envelope in envelopes
        if envelope["kind"] == "transactions_sync"
    )


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

_Category = tuple[tuple[str, ...], str]

# Plaid legacy categories (hierarchy, category_id) by kind of spending.
_CATEGORIES: Final[dict[str, _Category]] = {
    "groceries": (("Shops", "Supermarkets and Groceries"), "19047000"),
    "coffee": (("Food and Drink", "Restaurants", "Coffee Shop"), "13005043"),
    "restaurants": (("Food and Drink", "Restaurants"), "13005000"),
    "shopping": (("Shops",), "19000000"),
    "transport": (("Travel", "Taxi"), "22016000"),
    "fuel": (("Travel", "Gas Stations"), "22009000"),
    "pharmacy": (("Shops", "Pharmacies"), "19043000"),
    "entertainment": (("Recreation", "Arts and Entertainment"), "17001000"),
    "hotel": (("Travel", "Lodging"), "22012000"),
    "subscription": (("Service", "Subscription"), "18061000"),
    "gym": (("Recreation", "Gyms and Fitness Centers"), "17018000"),
    "utilities": (("Service", "Utilities"), "18068000"),
    "payroll": (("Transfer", "Payroll"), "21009000"),
    "rent": (("Payment", "Rent"), "16002000"),
    "card_payment": (("Payment", "Credit Card"), "16001000"),
    "loan_payment": (("Payment", "Loan"), "16003000"),
    "transfer": (("Transfer", "Internal Account Transfer"), "21001000"),
    "interest_charged": (("Interest", "Interest Charged"), "15002000"),
    "interest_earned": (("Interest", "Interest Earned"), "15001000"),
}

# Spending kinds: relative weight and amount range in minor units before scaling.
_SPEND: Final[dict[str, tuple[int, int, int]]] = {
    "groceries": (22, 1500, 12000),
    "coffee": (22, 250, 750),
    "restaurants": (14, 1200, 7000),
    "shopping": (12, 800, 15000),
    "transport": (10, 600, 4500),
    "fuel": (6, 2500, 7000),
    "pharmacy": (7, 400, 4000),
    "entertainment": (7, 1000, 4000),
}

# A merchant template: (kind, descriptor format, merchant name, channel).
# Descriptors may use {store} (a store number) and {city} (upper-case city).
_MerchantTemplate = tuple[str, str, str, str]
# A subscription: (kind, descriptor, merchant name, exact monthly amount in minor units).
_Subscription = tuple[str, str, str, int]
# A utility: (descriptor, merchant name, lowest, highest monthly bill in minor units).
_Utility = tuple[str, str, int, int]
# A card hold: (kind, descriptor format, merchant name, held amount in minor units).
_Hold = tuple[str, str, str, int]


@dataclass(frozen=True)
class _Region:
    """Everything local about a tenant: currency, places, employers and merchants."""

    currency: str
    country: str
    cities: tuple[tuple[str, str | None], ...]
    institutions: tuple[tuple[str, str], ...]  # (institution_id, bank name in descriptors)
    employers: tuple[str, ...]
    payroll: str  # format with {employer}
    salary: tuple[int, int]
    landlords: tuple[str, ...]
    rent: str  # format with {landlord}
    rent_range: tuple[int, int]
    subscriptions: tuple[_Subscription, ...]
    gyms: tuple[_Subscription, ...]
    utilities: tuple[_Utility, ...]
    merchants: tuple[_MerchantTemplate, ...]
    holds: tuple[_Hold, ...]
    card_payment: str  # checking side, format with {bank}
    card_credit: str  # card side
    loans: Mapping[str, tuple[str, str]]  # subtype -> (descriptor, lender)
    loan_credit: str
    to_savings: str  # format with {mask}
    from_checking: str  # format with {mask}
    account_names: Mapping[str, tuple[str, str]]  # role -> (name, official_name)


_US: Final = _Region(
    currency="USD",
    country="US",
    cities=(("San Francisco", "CA"), ("Austin", "TX"), ("Chicago", "IL"), ("Seattle", "WA")),
    institutions=(("ins_3", "CHASE"), ("ins_4", "WELLS FARGO"), ("ins_5", "CITI")),
    employers=("ACME", "GLOBEX", "INITECH", "UMBRELLA HEALTH", "HOOLI"),
    payroll="{employer} PAYROLL",
    salary=(380000, 950000),
    landlords=("GREYSTAR", "OAKWOOD", "EQUITY RESIDENTIAL"),
    rent="{landlord} RENT PAYMENT",
    rent_range=(120000, 280000),
    subscriptions=(
        ("subscription", "NETFLIX.COM", "Netflix", 1549),
        ("subscription", "SPOTIFY USA", "Spotify", 1199),
    ),
    gyms=(
        ("gym", "PLANET FITNESS", "Planet Fitness", 2499),
        ("gym", "24 HOUR FITNESS", "24 Hour Fitness", 4499),
    ),
    utilities=(
        ("PGANDE WEB ONLINE", "PG&E", 6000, 18000),
        ("COMCAST XFINITY", "Xfinity", 7999, 8999),
    ),
    merchants=(
        ("groceries", "WHOLEFDS MKT {store}", "Whole Foods Market", "in store"),
        ("groceries", "TRADER JOE S #{store}", "Trader Joe's", "in store"),
        ("groceries", "SAFEWAY {store}", "Safeway", "in store"),
        ("coffee", "STARBUCKS STORE {store}", "Starbucks", "in store"),
        ("coffee", "SQ *BLUE BOTTLE COFFEE", "Blue Bottle Coffee", "in store"),
        ("restaurants", "CHIPOTLE {store}", "Chipotle Mexican Grill", "in store"),
        ("restaurants", "TST* JOE'S PIZZA", "Joe's Pizza", "in store"),
        ("restaurants", "DOORDASH*THAI BASIL", "DoorDash", "online"),
        ("shopping", "AMAZON.COM*{store}", "Amazon", "online"),
        ("shopping", "TARGET {store}", "Target", "in store"),
        ("transport", "UBER *TRIP", "Uber", "online"),
        ("transport", "LYFT *RIDE", "Lyft", "online"),
        ("fuel", "SHELL OIL {store}", "Shell", "in store"),
        ("pharmacy", "CVS/PHARMACY #{store}", "CVS Pharmacy", "in store"),
        ("entertainment", "AMC {store}", "AMC Theatres", "in store"),
        ("entertainment", "STEAMGAMES.COM", "Steam", "online"),
    ),
    holds=(
        ("fuel", "SHELL OIL {store}", "Shell", 17500),
        ("hotel", "MARRIOTT {city}", "Marriott", 25000),
    ),
    card_payment="{bank} CREDIT CRD AUTOPAY",
    card_credit="AUTOMATIC PAYMENT - THANK YOU",
    loans={
        "student": ("NAVIENT PAYMENT", "Navient"),
        "auto": ("TOYOTA FINANCIAL PMT", "Toyota Financial Services"),
    },
    loan_credit="PAYMENT RECEIVED - THANK YOU",
    to_savings="ONLINE TRANSFER TO SAV ...{mask}",
    from_checking="ONLINE TRANSFER FROM CHK ...{mask}",
    account_names={
        "checking": ("Checking", "Total Checking"),
        "savings": ("Savings", "Premier Savings"),
        "credit": ("Credit Card", "Freedom Unlimited Visa"),
        "student": ("Student Loan", "Direct Unsubsidized Loan"),
        "auto": ("Auto Loan", "Auto Finance Loan"),
    },
)

_GB: Final = _Region(
    currency="GBP",
    country="GB",
    cities=(("London", None), ("Manchester", None), ("Bristol", None), ("Leeds", None)),
    institutions=(("ins_117650", "BARCLAYCARD"), ("ins_118923", "NATWEST"), ("ins_120016", "HSBC")),
    employers=("ACME LTD", "BRITANNIA WIDGETS PLC", "THAMES ANALYTICS LTD", "NORTHERN RAIL LTD"),
    payroll="{employer} SALARY",
    salary=(240000, 600000),
    landlords=("FOXTONS", "KFH", "GRAINGER"),
    rent="{landlord} LETTINGS RENT",
    rent_range=(90000, 220000),
    subscriptions=(
        ("subscription", "NETFLIX.COM", "Netflix", 1099),
        ("subscription", "SPOTIFY UK", "Spotify", 1199),
    ),
    gyms=(
        ("gym", "PUREGYM", "PureGym", 2499),
        ("gym", "THE GYM GROUP", "The Gym Group", 2299),
    ),
    utilities=(
        ("OCTOPUS ENERGY", "Octopus Energy", 6000, 15000),
        ("THAMES WATER", "Thames Water", 3000, 4500),
        ("BT GROUP PLC", "BT", 3500, 4500),
    ),
    merchants=(
        ("groceries", "TESCO STORES {store} {city}", "Tesco", "in store"),
        ("groceries", "SAINSBURYS S/MKTS {store}", "Sainsbury's", "in store"),
        ("groceries", "LIDL GB {city}", "Lidl", "in store"),
        ("coffee", "PRET A MANGER {city}", "Pret A Manger", "in store"),
        ("coffee", "COSTA COFFEE {store}", "Costa Coffee", "in store"),
        ("restaurants", "NANDOS {city}", "Nando's", "in store"),
        ("restaurants", "WAGAMAMA {city}", "Wagamama", "in store"),
        ("restaurants", "DELIVEROO", "Deliveroo", "online"),
        ("shopping", "AMAZON.CO.UK*{store}", "Amazon", "online"),
        ("shopping", "ARGOS LTD", "Argos", "in store"),
        ("transport", "TFL TRAVEL CH", "Transport for London", "online"),
        ("transport", "UBER *TRIP", "Uber", "online"),
        ("fuel", "SHELL {store}", "Shell", "in store"),
        ("pharmacy", "BOOTS {store}", "Boots", "in store"),
        ("entertainment", "ODEON CINEMAS", "Odeon", "in store"),
        ("entertainment", "STEAMGAMES.COM", "Steam", "online"),
    ),
    holds=(
        ("fuel", "SHELL {store}", "Shell", 9900),
        ("hotel", "PREMIER INN {city}", "Premier Inn", 15000),
    ),
    card_payment="{bank} PAYMENT",
    card_credit="PAYMENT RECEIVED - THANK YOU",
    loans={
        "student": ("STUDENT LOANS CO", "Student Loans Company"),
        "auto": ("BLACK HORSE FINANCE", "Black Horse"),
    },
    loan_credit="PAYMENT RECEIVED - THANK YOU",
    to_savings="TRANSFER TO SAVINGS {mask}",
    from_checking="TRANSFER FROM CURRENT ACCOUNT {mask}",
    account_names={
        "checking": ("Current Account", "Classic Current Account"),
        "savings": ("Easy Saver", "Instant Access Saver"),
        "credit": ("Credit Card", "Platinum Cashback Mastercard"),
        "student": ("Student Loan", "Plan 2 Student Loan"),
        "auto": ("Car Finance", "Hire Purchase Agreement"),
    },
)

_EU: Final = _Region(
    currency="EUR",
    country="DE",
    cities=(("Berlin", None), ("Hamburg", None), ("Munich", None), ("Cologne", None)),
    institutions=(("ins_119001", "DKB"), ("ins_119502", "COMMERZBANK"), ("ins_120311", "ING")),
    employers=("ACME GMBH", "NORDWIND AG", "RHEINTECH GMBH"),
    payroll="{employer} GEHALT",
    salary=(300000, 650000),
    landlords=("VONOVIA SE", "DEUTSCHE WOHNEN", "LEG IMMOBILIEN"),
    rent="{landlord} MIETE",
    rent_range=(80000, 180000),
    subscriptions=(
        ("subscription", "NETFLIX.COM", "Netflix", 1399),
        ("subscription", "SPOTIFY AB", "Spotify", 1099),
    ),
    gyms=(
        ("gym", "MCFIT", "McFit", 2990),
        ("gym", "FITX", "FitX", 2499),
    ),
    utilities=(
        ("VATTENFALL EUROPE", "Vattenfall", 6000, 14000),
        ("TELEKOM DEUTSCHLAND", "Telekom", 3999, 4999),
    ),
    merchants=(
        ("groceries", "REWE MARKT {store}", "REWE", "in store"),
        ("groceries", "EDEKA {store} {city}", "EDEKA", "in store"),
        ("groceries", "LIDL DIENSTL {store}", "Lidl", "in store"),
        ("coffee", "BALZAC COFFEE {city}", "Balzac Coffee", "in store"),
        ("coffee", "EINSTEIN KAFFEE", "Einstein Kaffee", "in store"),
        ("restaurants", "VAPIANO {city}", "Vapiano", "in store"),
        ("restaurants", "LIEFERANDO.DE", "Lieferando", "online"),
        ("shopping", "AMAZON.DE*{store}", "Amazon", "online"),
        ("shopping", "ZALANDO SE", "Zalando", "online"),
        ("transport", "DB VERTRIEB GMBH", "Deutsche Bahn", "online"),
        ("transport", "BVG TICKET", "BVG", "in store"),
        ("fuel", "ARAL STATION {store}", "Aral", "in store"),
        ("pharmacy", "DM DROGERIE MARKT {store}", "dm", "in store"),
        ("entertainment", "CINEMAXX {city}", "CinemaxX", "in store"),
    ),
    holds=(
        ("fuel", "ARAL STATION {store}", "Aral", 15000),
        ("hotel", "MOTEL ONE {city}", "Motel One", 18000),
    ),
    card_payment="{bank} KREDITKARTENABRECHNUNG",
    card_credit="PAYMENT RECEIVED - THANK YOU",
    loans={
        "student": ("KFW STUDIENKREDIT", "KfW"),
        "auto": ("VW FINANCIAL SERVICES", "Volkswagen Financial Services"),
    },
    loan_credit="PAYMENT RECEIVED - THANK YOU",
    to_savings="UMBUCHUNG TAGESGELD {mask}",
    from_checking="UMBUCHUNG GIROKONTO {mask}",
    account_names={
        "checking": ("Girokonto", "Girokonto Plus"),
        "savings": ("Tagesgeld", "Tagesgeldkonto"),
        "credit": ("Kreditkarte", "Visa Gold"),
        "student": ("Studienkredit", "KfW-Studienkredit"),
        "auto": ("Autokredit", "Autokredit Classic"),
    },
)

# Tuning. Probabilities are per purchase unless said otherwise.
_HISTORY_SHARE: Final = 2  # the initial sync carries months // 2 months (at least one)
_HOLD_RATE: Final = 0.04  # authorisations that are cancelled instead of posting
_PENDING_RATE: Final = 0.9  # purchases that authorise before they post
_TIP_RATE: Final = 0.7  # in-store restaurant bills that post with a tip
_REFUND_RATE: Final = 0.1  # shopping that is refunded later
_UNENRICHED_RATE: Final = 0.05  # purchases first delivered without a merchant name
_SETTLE_DAYS: Final = 5  # a purchase posts 1 to this many days after authorisation
_CARD_SHARE: Final = (0.45, 0.8)  # range of the share of purchases paid by card
_SPEND_SCALE_COUNT: Final = 30  # above this many purchases a month, amounts shrink
_ADDED_PER_TRANSACTION: Final = 1.02  # pending versions on top of live transactions
_AUTO_PER_MONTH: Final = 30  # transactions per month that spec_for_transactions aims at
_MAX_AUTO_MONTHS: Final = 24
_TOKEN_FIX: Final = bytes.maketrans(b"+/", b"xQ")  # base64 to alphanumerics


def _region_of(tenant: int) -> _Region:
    # Fixed by tenant index so that the currency mix does not depend on the seed.
    if tenant == 2:
        return _EU
    return _GB if tenant % 4 == 1 else _US


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _check(spec: SampleSpec) -> None:
    for name in ("tenants", "profiles_per_tenant", "months", "page_size"):
        if getattr(spec, name) < 1:
            msg = f"SampleSpec.{name} must be positive"
            raise ValueError(msg)
    if spec.transactions_per_month < 0:
        msg = "SampleSpec.transactions_per_month must not be negative"
        raise ValueError(msg)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Generation allocates hundreds of thousands of small acyclic containers; the cycle
    # collector would rescan them again and again, doubling the run time to find nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _token(rng: random.Random, length: int) -> str:
    """Return ``length`` random alphanumerics (cheap: one draw and a base64 encoding)."""
    size = 3 * ((length + 3) // 4)  # whole base64 quanta, so there is no padding
    raw = rng.getrandbits(8 * size).to_bytes(size, "little")
    return b2a_base64(raw, newline=False).translate(_TOKEN_FIX)[:length].decode("ascii")


def _below(rng: random.Random, bound: int) -> int:
    """Return a uniform int in ``[0, bound)``; a fraction of the cost of ``randrange``."""
    return int(rng.random() * bound)


def _money(minor: int) -> float:
    # Dividing the exact integer once gives the float nearest to the two-decimal value, whose
    # shortest repr is that value.
    return int(minor) / 100


def _order(envelope: Mapping[str, Any]) -> tuple[str, str, str, int]:
    return (
        envelope["received_at"],
        envelope["tenant_id"],
        envelope["profile_id"],
        envelope["page"],
    )


def _stamp(day: str, seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{day}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


# --------------------------------------------------------------------------------------------
# Calendar shared by all profiles
# --------------------------------------------------------------------------------------------

_DAY_MARGIN: Final = 16  # days after the end that settlement dates can reach


@dataclass(frozen=True)
class _Calendar:
    """Month starts, sync days and per-day lookups, as date ordinals.

    Attributes:
        origin: Ordinal of ``spec.start``; lookups are indexed by ``day - origin``.
        month_first: First day of each month, plus the end (exclusive) as the last entry.
        syncs: Day of each sync; sync ``k`` delivers what happened before ``syncs[k]``.
        window: Per day, the index of the sync that first sees it (``len(syncs)`` if none).
        iso: Per day, its ISO 8601 text.
    """

    origin: int
    month_first: tuple[int, ...]
    syncs: tuple[int, ...]
    window: tuple[int, ...]
    iso: tuple[str, ...]

    @classmethod
    def build(cls, spec: SampleSpec) -> _Calendar:
        firsts = tuple(_add_months(spec.start, m).toordinal() for m in range(spec.months + 1))
        history = max(1, spec.months // _HISTORY_SHARE)
        syncs = firsts[history:]
        origin = firsts[0]
        days = range(origin, firsts[-1] + _DAY_MARGIN)
        window: list[int] = []
        k = 0
        for day in days:
            while k < len(syncs) and syncs[k] <= day:
                k += 1
            window.append(k)
        iso = tuple(date.fromordinal(day).isoformat() for day in days)
        return cls(origin, firsts, syncs, tuple(window), iso)

    @property
    def end(self) -> int:
        """First day after the generated activity."""
        return self.month_first[-1]


# --------------------------------------------------------------------------------------------
# Per-profile model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    """A Plaid account; ``opening`` is the FOS balance before the first day (minor units)."""

    account_id: str
    role: str  # checking, savings, credit, student, auto
    type: str
    subtype: str
    mask: str
    opening: int
    limit: int | None

    @property
    def liability(self) -> bool:
        """Whether Plaid reports this account's balance as an amount owed."""
        return self.type in ("credit", "loan")


_TRANSACTION_TYPES: Final = {"in store": "place", "online": "digital"}


class _Merchant(NamedTuple):
    """How a counterparty shows up on a transaction (a tuple: profiles build dozens)."""

    kind: str
    name: str
    merchant_name: str | None
    channel: str
    transaction_type: str
    category: tuple[str, ...]
    category_id: str
    location: Mapping[str, Any]


def _merchant_of(
    kind: str, name: str, merchant_name: str | None, channel: str, location: Mapping[str, Any]
) -> _Merchant:
    category, category_id = _CATEGORIES[kind]
    transaction_type = _TRANSACTION_TYPES.get(channel, "special")
    return _Merchant(
        kind, name, merchant_name, channel, transaction_type, category, category_id, location
    )


class _Txn(NamedTuple):
    """A planned transaction, amounts in Plaid sign and minor units, days as ordinals.

    ``post`` is the settlement day, or the cancellation day of a cancelled hold;
    ``pending_amount`` is what the authorisation showed (a tip can raise the posted amount).
    """

    account: int
    merchant: _Merchant
    amount: int
    auth: int
    post: int
    pending_amount: int = 0
    pends: bool = False
    cancelled: bool = False
    unenriched: bool = False


class _Ids:
    """Plaid-like 37-character ids, drawn from the generator 64 at a time.

    Batching turns one draw and one encoding per id into a list pop, which matters at
    hundreds of thousands of transactions.
    """

    _BATCH: Final = 64
    _CHUNK: Final = 30  # random bytes per id: 40 base64 characters, 37 of them kept

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._ready: list[str] = []

    def take(self) -> str:
        """Return the next id."""
        if not self._ready:
            self._refill()
        return self._ready.pop()

    def _refill(self) -> None:
        size = self._CHUNK * self._BATCH
        raw = self._rng.getrandbits(8 * size).to_bytes(size, "little")
        text = b2a_base64(raw, newline=False).translate(_TOKEN_FIX).decode("ascii")
        step = self._CHUNK * 4 // 3
        self._ready = [text[i : i + 37] for i in range(0, len(text), step)]


@dataclass
class _SyncBuffer:
    """What one sync delivers, before paging."""

    added: list[dict[str, Any]] = field(default_factory=list)
    modified: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Built:
    envelopes: list[dict[str, Any]]
    truth: ProfileTruth


def _location(
    country: str, city: str | None, region: str | None, store: str | None
) -> dict[str, Any]:
    """Return a Plaid ``location``; coordinates stay null so payloads carry no other floats."""
    return {
        "address": None,
        "city": city,
        "region": region,
        "postal_code": None,
        "country": country if city else None,
        "lat": None,
        "lon": None,
        "store_number": store,
    }


_NO_LOCATION: Final = _location("", None, None, None)


class _ProfileBuilder:
    """Plans, delivers and packages one profile's data from its own random generator."""

    def __init__(
        self,
        spec: SampleSpec,
        cal: _Calendar,
        *,
        region: _Region,
        rng: random.Random,
        tenant_id: str,
        profile_id: str,
    ) -> None:
        self.spec = spec
        self.cal = cal
        self.region = region
        self.rng = rng
        self.tenant_id = tenant_id
        self.profile_id = profile_id
        self.item_id = _token(rng, 37)
        self.institution, self.bank = rng.choice(region.institutions)
        self.city, self.state = rng.choice(region.cities)
        self.accounts = self._open_accounts()
        self.account_ids = [acct.account_id for acct in self.accounts]
        self.ids = _Ids(rng)
        self.roles = {acct.role: index for index, acct in enumerate(self.accounts)}
        self.card = self.roles["credit"]
        self.txns: list[_Txn] = []
        self._setup_budget()
        self._setup_merchants()

    # ---- setup -------------------------------------------------------------------------

    def _open_accounts(self) -> list[_Account]:
        rng = self.rng
        accounts = [self._account("checking", "depository", "checking", rng.randint(80000, 600000))]
        if rng.random() < 0.7:
            accounts.append(
                self._account("savings", "depository", "savings", rng.randint(100000, 2500000))
            )
        limit = rng.randrange(200000, 1500001, 50000)
        card = self._account("credit", "credit", "credit card", -rng.randint(0, 150000), limit)
        accounts.append(card)
        if rng.random() < 0.5:
            subtype = rng.choice(("student", "auto"))
            accounts.append(self._account(subtype, "loan", subtype, -rng.randint(500000, 3000000)))
        return accounts

    def _account(
        self, role: str, kind: str, subtype: str, opening: int, limit: int | None = None
    ) -> _Account:
        mask = f"{self.rng.randrange(10000):04d}"
        return _Account(_token(self.rng, 37), role, kind, subtype, mask, opening, limit)

    def _setup_budget(self) -> None:
        rng, region = self.rng, self.region
        self.salary = rng.randrange(*region.salary, 500)
        self.payday = rng.choice((0, 14, 24, 27))
        # Rent stays under 40% of pay so that checking does not drift negative.
        self.rent = min(rng.randrange(*region.rent_range, 500), self.salary * 2 // 5)
        self.card_share = rng.uniform(*_CARD_SHARE)
        self.card_due = -self.accounts[self.roles["credit"]].opening
        self.loan_owed = self._setup_loan()
        self.savings = self._setup_savings()
        self.offset = 6 * 3600 + rng.randrange(240) * 60

    def _setup_loan(self) -> int:
        self.loan_apr_bp = self.rng.randint(350, 900)
        self.loan_payment = self.rng.randrange(15000, 60001, 100)
        loan = self._loan_account()
        return 0 if loan is None else -loan.opening

    def _loan_account(self) -> _Account | None:
        return next((acct for acct in self.accounts if acct.type == "loan"), None)

    def _setup_savings(self) -> int:
        index = self.roles.get("savings")
        if index is None:
            return 0
        self.saving_amount = self.rng.randrange(10000, 80001, 5000)
        self.savings_apy_bp = self.rng.randint(50, 450)
        return self.accounts[index].opening

    def _setup_merchants(self) -> None:
        region, rng = self.region, self.rng
        self.pool = self._weighted_pool()
        self.holds = [
            (self._merchant((kind, fmt, name, "in store")), amount)
            for kind, fmt, name, amount in region.holds
        ]
        subs = [*region.subscriptions, rng.choice(region.gyms)]
        self.subscriptions = [
            (self._fixed(kind, name, merchant, "online"), amount, rng.randrange(28))
            for kind, name, merchant, amount in subs
            if rng.random() < 0.8
        ]
        self.utilities = [
            (self._fixed("utilities", name, merchant, "online"), lo, hi, rng.randrange(5, 25))
            for name, merchant, lo, hi in region.utilities
        ]
        self._setup_transfers()

    def _weighted_pool(self) -> list[_Merchant]:
        """Return the profile's merchants, each repeated by its share of its kind's weight.

        One uniform draw from the list then picks a merchant with the right odds.
        """
        per_kind = Counter(template[0] for template in self.region.merchants)
        pool: list[_Merchant] = []
        for template in self.region.merchants:
            # 6 is divisible by any number of merchants per kind used in the tables (1 to 3).
            copies = _SPEND[template[0]][0] * 6 // per_kind[template[0]]
            pool.extend([self._merchant(template)] * copies)
        return pool

    def _setup_transfers(self) -> None:
        region, rng = self.region, self.rng
        employer = rng.choice(region.employers)
        landlord = rng.choice(region.landlords)
        self.m_salary = self._fixed("payroll", region.payroll.format(employer=employer), None)
        self.m_rent = self._fixed("rent", region.rent.format(landlord=landlord), None)
        self.m_card_out = self._fixed("card_payment", region.card_payment.format(bank=self.bank))
        self.m_card_in = self._fixed("card_payment", region.card_credit)
        self.m_interest_charged = self._fixed("interest_charged", "INTEREST CHARGED")
        self.m_interest_earned = self._fixed("interest_earned", "INTEREST PAYMENT")
        loan = self._loan_account()
        if loan is not None:
            name, lender = region.loans[loan.role]
            self.m_loan_out = self._fixed("loan_payment", name, lender)
            self.m_loan_in = self._fixed("loan_payment", region.loan_credit)
        savings = self.roles.get("savings")
        if savings is not None:
            self.m_to_savings = self._fixed(
                "transfer", region.to_savings.format(mask=self.accounts[savings].mask)
            )
            self.m_from_checking = self._fixed(
                "transfer", region.from_checking.format(mask=self.accounts[0].mask)
            )

    def _merchant(self, template: _MerchantTemplate) -> _Merchant:
        kind, fmt, merchant_name, channel = template
        store = str(100 + _below(self.rng, 9900))
        name = fmt.format(store=store, city=self.city.upper())
        if channel == "online":
            return _merchant_of(kind, name, merchant_name, channel, _NO_LOCATION)
        has_store = "{store}" in fmt
        location = _location(
            self.region.country, self.city, self.state, store if has_store else None
        )
        return _merchant_of(kind, name, merchant_name, channel, location)

    def _fixed(
        self, kind: str, name: str, merchant_name: str | None = None, channel: str = "other"
    ) -> _Merchant:
        return _merchant_of(kind, name, merchant_name, channel, _NO_LOCATION)

    # ---- planning ----------------------------------------------------------------------

    def _plan(self) -> None:
        for month in range(self.spec.months):
            first = self.cal.month_first[month]
            days = self.cal.month_first[month + 1] - first
            before = len(self.txns)
            self._card_payment(first + min(19, days - 1))
            self._income_and_bills(first, days)
            self._loan(first + min(9, days - 1))
            self._savings(first, days)
            recurring = len(self.txns) - before
            self._purchases(first, days, max(0, self.spec.transactions_per_month - recurring))
        # Delivery walks authorisations in time order so each sync lists them chronologically.
        self.txns.sort(key=attrgetter("auth"))

    def _post(self, role: str, merchant: _Merchant, amount: int, day: int) -> None:
        self.txns.append(_Txn(self.roles[role], merchant, amount, day, day))

    def _income_and_bills(self, first: int, days: int) -> None:
        self._post("checking", self.m_salary, -self.salary, first + min(self.payday, days - 1))
        self._post("checking", self.m_rent, self.rent, first)
        for merchant, amount, day in self.subscriptions:
            self._post("credit", merchant, amount, first + min(day, days - 1))
            self.card_due += amount
        for merchant, lo, hi, day in self.utilities:
            self._post("checking", merchant, lo + _below(self.rng, hi - lo + 1), first + day)

    def _card_payment(self, day: int) -> None:
        # Pays the previous month's charges in full, so the card balance stays bounded.
        if self.card_due <= 0:
            return
        self._post("checking", self.m_card_out, self.card_due, day)
        self._post("credit", self.m_card_in, -self.card_due, day)
        self.card_due = 0

    def _loan(self, day: int) -> None:
        loan = self._loan_account()
        if loan is None or self.loan_owed <= 0:
            return
        role = loan.role
        interest = self.loan_owed * self.loan_apr_bp // 120000
        if interest > 0:
            self._post(role, self.m_interest_charged, interest, day)
        payment = min(self.loan_payment, self.loan_owed + interest)
        self.loan_owed += interest - payment
        self._post("checking", self.m_loan_out, payment, day)
        self._post(role, self.m_loan_in, -payment, day)

    def _savings(self, first: int, days: int) -> None:
        if "savings" not in self.roles:
            return
        day = first + min(self.payday + 1, days - 1)
        self._post("checking", self.m_to_savings, self.saving_amount, day)
        self._post("savings", self.m_from_checking, -self.saving_amount, day)
        self.savings += self.saving_amount
        interest = self.savings * self.savings_apy_bp // 120000
        if interest > 0:
            self._post("savings", self.m_interest_earned, -interest, first + days - 1)
            self.savings += interest

    def _purchases(self, first: int, days: int, count: int) -> None:
        # Many purchases a month means smaller ones, so balances stay plausible.
        scale = min(100, _SPEND_SCALE_COUNT * 100 // max(1, count))
        for _ in range(count):
            day = first + _below(self.rng, days)
            if self.rng.random() < _HOLD_RATE:
                self._hold(day)
            else:
                self._purchase(day, scale)

    def _hold(self, day: int) -> None:
        merchant, amount = self.rng.choice(self.holds)
        account = self.card if self.rng.random() < 0.5 else 0
        cancel = day + 2 + _below(self.rng, 6)
        self.txns.append(_Txn(account, merchant, amount, day, cancel, amount, True, True))

    def _purchase(self, day: int, scale: int) -> None:
        rand = self.rng.random  # the hot loop: plain random() instead of randint()
        merchant = self.pool[int(rand() * len(self.pool))]
        _, lo, hi = _SPEND[merchant.kind]
        amount = max(50, (lo + int(rand() * (hi - lo + 1))) * scale // 100)
        account = self.card if rand() < self.card_share else 0
        unenriched = rand() < _UNENRICHED_RATE
        if rand() < _PENDING_RATE:
            posted = amount + self._tip(merchant, amount)
            settle = day + 1 + int(rand() * _SETTLE_DAYS)
            txn = _Txn(account, merchant, posted, day, settle, amount, True, False, unenriched)
        else:
            txn = _Txn(account, merchant, amount, day, day, 0, False, False, unenriched)
        self.txns.append(txn)
        if account == self.card:
            self.card_due += txn.amount
        if merchant.kind == "shopping" and rand() < _REFUND_RATE:
            self._refund(txn)

    def _tip(self, merchant: _Merchant, amount: int) -> int:
        if merchant.kind != "restaurants" or merchant.channel != "in store":
            return 0
        if self.rng.random() >= _TIP_RATE:
            return 0
        return amount * (10 + _below(self.rng, 11)) // 100

    def _refund(self, purchase: _Txn) -> None:
        day = purchase.post + 5 + _below(self.rng, 16)
        if day >= self.cal.end:
            return
        amount = -purchase.amount if self.rng.random() < 0.7 else -(purchase.amount // 2)
        self.txns.append(_Txn(purchase.account, purchase.merchant, amount, day, day))
        if purchase.account == self.card:
            self.card_due += amount

    # ---- delivery ----------------------------------------------------------------------

    def _deliver(self) -> None:
        """Assign every planned transaction to the syncs that see it, as Plaid would."""
        n = len(self.cal.syncs)
        self.buffers = [_SyncBuffer() for _ in range(n)]
        self.deltas = [[0] * len(self.accounts) for _ in range(n)]
        self.holds_at = [[0] * len(self.accounts) for _ in range(n)]
        self.live = 0
        window, origin = self.cal.window, self.cal.origin
        for txn in self.txns:
            seen = window[txn.auth - origin]
            settled = window[txn.post - origin]
            if not txn.pends or seen == settled:
                # Settled before any sync saw the authorisation: only the posted version shows.
                if not txn.cancelled:
                    self._deliver_posted(txn, settled, None)
            else:
                self._deliver_settlement(txn, settled, self._deliver_pending(txn, seen, settled))

    def _deliver_settlement(self, txn: _Txn, settled: int, pending_id: str) -> None:
        if settled == len(self.buffers):
            self.live += 1  # still pending after the last sync
            return
        removal = {"transaction_id": pending_id, "account_id": self.account_ids[txn.account]}
        self.buffers[settled].removed.append(removal)
        if not txn.cancelled:
            self._deliver_posted(txn, settled, pending_id)

    def _deliver_posted(self, txn: _Txn, sync: int, pending_id: str | None) -> None:
        body = self._transaction(txn, txn.amount, txn.post, pending_id)
        self.buffers[sync].added.append(body)
        self.deltas[sync][txn.account] -= txn.amount
        self.live += 1
        if txn.unenriched and sync + 1 < len(self.buffers):
            # Plaid re-sends the transaction once its merchant has been recognised.
            enriched = {**body, "merchant_name": txn.merchant.merchant_name}
            enriched["category"] = list(body["category"])
            enriched["location"] = dict(body["location"])
            self.buffers[sync + 1].modified.append(enriched)

    def _deliver_pending(self, txn: _Txn, seen: int, settled: int) -> str:
        body = self._transaction(txn, txn.pending_amount, txn.auth, None, pending=True)
        self.buffers[seen].added.append(body)
        if txn.pending_amount > 0:
            for sync in range(seen, min(settled, len(self.buffers))):
                self.holds_at[sync][txn.account] += txn.pending_amount
        return str(body["transaction_id"])

    def _transaction(
        self, txn: _Txn, amount: int, day: int, pending_id: str | None, *, pending: bool = False
    ) -> dict[str, Any]:
        merchant = txn.merchant
        iso, origin = self.cal.iso, self.cal.origin
        return {
            "transaction_id": self.ids.take(),
            "account_id": self.account_ids[txn.account],
            "amount": _money(amount),
            "iso_currency_code": self.region.currency,
            "unofficial_currency_code": None,
            "date": iso[day - origin],
            "authorized_date": iso[txn.auth - origin],
            "name": merchant.name,
            "merchant_name": None if txn.unenriched else merchant.merchant_name,
            "payment_channel": merchant.channel,
            "pending": pending,
            "pending_transaction_id": pending_id,
            "category": list(merchant.category),
            "category_id": merchant.category_id,
            "transaction_type": merchant.transaction_type,
            "transaction_code": None,
            "location": dict(merchant.location),
        }

    # ---- packaging ---------------------------------------------------------------------

    def run(self) -> _Built:
        """Plan, deliver and package the profile."""
        self._plan()
        self._deliver()
        balances = self._balances()
        envelopes = [self._accounts_envelope(0, balances[0], self.offset)]
        for sync, buffer in enumerate(self.buffers):
            envelopes.extend(self._sync_envelopes(sync, buffer))
            envelopes.append(self._accounts_envelope(sync, balances[sync], self.offset + 120))
        return _Built(envelopes, self._truth(balances[-1]))

    def _balances(self) -> list[list[int]]:
        """Return the FOS balance of every account as each sync completes."""
        running = [acct.opening for acct in self.accounts]
        out: list[list[int]] = []
        for delta in self.deltas:
            running = [balance + change for balance, change in zip(running, delta, strict=True)]
            out.append(running)
        return out

    def _envelope(self, sync: int, seconds: int, kind: str, page: int) -> dict[str, Any]:
        day = self.cal.iso[self.cal.syncs[sync] - self.cal.origin]
        return {
            "tenant_id": self.tenant_id,
            "profile_id": self.profile_id,
            "provider": "plaid",
            "connection_id": self.item_id,
            "sync_id": "",
            "received_at": _stamp(day, seconds),
            "kind": kind,
            "page": page,
        }

    def _accounts_envelope(self, sync: int, balances: list[int], seconds: int) -> dict[str, Any]:
        envelope = self._envelope(sync, seconds, "accounts", 0)
        envelope["sync_id"] = f"acc-{_token(self.rng, 24)}"
        envelope["payload"] = {
            "accounts": [
                self._account_body(acct, balance, self.holds_at[sync][index])
                for index, (acct, balance) in enumerate(zip(self.accounts, balances, strict=True))
            ],
            "item": {"item_id": self.item_id, "institution_id": self.institution},
            "request_id": _token(self.rng, 15),
        }
        return envelope

    def _account_body(self, acct: _Account, balance: int, held: int) -> dict[str, Any]:
        # Plaid reports liabilities as the positive amount owed; FOS keeps them negative.
        current = -balance if acct.liability else balance
        available: int | None = current
        if acct.type == "credit" and acct.limit is not None:
            available = acct.limit - current - held
        elif acct.type == "loan":
            available = None
        elif acct.role == "checking":
            available = current - held
        name, official = self.region.account_names[acct.role]
        return {
            "account_id": acct.account_id,
            "balances": {
                "available": None if available is None else _money(available),
                "current": _money(current),
                "limit": None if acct.limit is None else _money(acct.limit),
                "iso_currency_code": self.region.currency,
                "unofficial_currency_code": None,
            },
            "mask": acct.mask,
            "name": name,
            "official_name": official,
            "subtype": acct.subtype,
            "type": acct.type,
        }

    def _sync_envelopes(self, sync: int, buffer: _SyncBuffer) -> list[dict[str, Any]]:
        items = (buffer.added, buffer.modified, buffer.removed)
        size = self.spec.page_size
        pages = max(1, -(-sum(len(part) for part in items) // size))
        sync_id = f"sync-{_token(self.rng, 24)}"
        out = []
        for page in range(pages):
            envelope = self._envelope(sync, self.offset + 60, "transactions_sync", page)
            envelope["sync_id"] = sync_id
            envelope["payload"] = self._page(items, page * size, size, last=page == pages - 1)
            out.append(envelope)
        return out

    def _page(
        self, items: tuple[list[dict[str, Any]], ...], start: int, size: int, *, last: bool
    ) -> dict[str, Any]:
        # The pages cut one sequence: added, then modified, then removed.
        parts: list[list[dict[str, Any]]] = []
        for part in items:
            lo, hi = max(0, start), max(0, start + size)
            parts.append(part[lo:hi])
            start -= len(part)
        return {
            "added": parts[0],
            "modified": parts[1],
            "removed": parts[2],
            "next_cursor": _token(self.rng, 44),
            "has_more": not last,
            "request_id": _token(self.rng, 15),
        }

    def _truth(self, balances: list[int]) -> ProfileTruth:
        debt = sum(
            max(0, -balance)
            for acct, balance in zip(self.accounts, balances, strict=True)
            if acct.liability
        )
        return ProfileTruth(
            tenant_id=self.tenant_id,
            profile_id=self.profile_id,
            currency=self.region.currency,
            transaction_count=self.live,
            balances_minor={
                acct.account_id: balance
                for acct, balance in zip(self.accounts, balances, strict=True)
            },
            net_worth_minor=sum(balances),
            total_debt_minor=debt,
        )
