"""Merchant resolution: raw bank descriptors cleaned and matched to merchant entities.

Cleaning. ``clean_descriptor`` turns what a bank prints (``POS 4412 TESCO STORES 3296 LONDON
GB``) into the merchant's name as the bank spelled it (``TESCO STORES``). Characters are folded
first: accents dropped, letters upper-cased, apostrophes removed and other punctuation turned
into spaces, except ``* # / . & - +``, which carry meaning. The text is then cut into tokens
and pruned until nothing more can go: transaction-type and payment-processor prefixes at the
start (``POS``, ``CARD PURCHASE``, ``DD``, ``SQ *``, ``PAYPAL *``), card masks, dates, times,
store and terminal numbers, reference codes (after a ``*`` or mixing letters and digits) and
phone numbers anywhere after the first token, web addresses (a leading one becomes its name:
``APPLE.COM/BILL`` is ``APPLE``), and at the end countries, currencies, legal forms, bank
markers, postcodes, known cities and US states. Nothing is ever pruned down to nothing: a
descriptor that is all noise keeps one of its tokens. Every step only shortens the text and
the pruning runs to a fixed point, so cleaning is idempotent.

Resolution. A cleaned descriptor is looked up in a ``MerchantDictionary``: an exact alias
first, then the entries' anchored patterns (the longest match wins, so ``UBER EATS`` beats
``UBER``), then the longest alias the descriptor starts with at a word boundary. Banks cut
descriptors at 22 characters, so a long descriptor that is the start of aliases of exactly one
merchant (``TRANSPORT FOR LOND``) resolves to it too. Anything else is unknown and keeps its
cleaned text, title-cased, as its name: resolution never invents a merchant, website or
category.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Final, NamedTuple

from operators.merchant_dictionary import DICTIONARY_VERSION, MERCHANTS, MerchantEntry

# --------------------------------------------------------------------------------------------
# Character folding
# --------------------------------------------------------------------------------------------

_KEPT_PUNCTUATION: Final = frozenset("*#/.&-+")
_APOSTROPHES: Final = frozenset("'`\u2018\u2019\u02bc\u00b4")


def _ascii_table() -> dict[int, str | None]:
    """How each ASCII character is folded once the text is upper-cased."""
    table: dict[int, str | None] = {}
    for code in range(128):
        char = chr(code)
        if char in _APOSTROPHES:
            table[code] = None
        elif not (char.isalnum() or char in _KEPT_PUNCTUATION):
            table[code] = " "
    return table


_ASCII_TABLE: Final = _ascii_table()


def _without_marks(text: str) -> str:
    """The compatibility decomposition of ``text`` without its combining marks."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))


@functools.lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character folded; what it returns folds to itself, which keeps folding idempotent."""
    if char.isascii():
        return char.upper().translate(_ASCII_TABLE)
    if char in _APOSTROPHES:
        return ""
    folded = []
    for part in _without_marks(_without_marks(char).upper()):
        if part.isascii():
            folded.append(part.upper().translate(_ASCII_TABLE))
        elif part.isalnum() and part.upper() == part and _without_marks(part) == part:
            folded.append(part)
        else:
            # Letters with no stable upper-case form are dropped rather than kept in a form
            # that would fold differently a second time.
            folded.append(" ")
    return "".join(folded)


def _fold(raw: str) -> str:
    """Upper-case ``raw``, drop accents and apostrophes, and blank meaningless punctuation."""
    if raw.isascii():
        return raw.upper().translate(_ASCII_TABLE)
    return "".join(_fold_char(char) for char in raw)


# --------------------------------------------------------------------------------------------
# Vocabulary of the noise banks add
# --------------------------------------------------------------------------------------------

_STARS: Final = re.compile(r"\*+")
_TOKEN_EDGES: Final = re.compile(r"(?<!\S)[.\-/#]+|[.\-/]+(?!\S)")
# A number hyphenated to a word is a store number ("STORES-3296"); after a single letter it is
# a store code ("T-1865") and stays whole to be dropped as one.
_LETTER_HYPHEN_DIGIT: Final = re.compile(r"(?<=[A-Z]{2})-(?=\d)")
_NUMBER: Final = re.compile(r"\+?\d[\d/.:\-]*")
_DATE: Final = re.compile(
    r"\d{1,2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?:\d{2}|\d{4})?"
)
_TIME: Final = re.compile(r"\d{1,2}(?::\d{2})?(?:AM|PM)")
_CARD_MASK: Final = re.compile(r"[\dX-]*X{4}[\dX-]*")
_CODE: Final = re.compile(r"(?=(?:\D*\d){2})(?=.*[A-Z])[A-Z0-9-]+")
_DOMAIN: Final = re.compile(
    r"(?:WWW\.)?((?:[A-Z0-9-]+\.)*?)([A-Z0-9-]+)\."
    r"(?:CO\.UK|ORG\.UK|GOV\.UK|AC\.UK|COM\.AU|COM|NET|ORG|GOV|EDU|IO|CO|UK|EU|DE|FR|NL|IE|ES"
    r"|IT|BE|LU|SE|DK|AT|CH|US|CA|TV|ME|AI|APP|INFO|BIZ|SHOP|ENERGY)(/\S*)?"
)
_OUTWARD_POSTCODE: Final = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?")
_INWARD_POSTCODE: Final = re.compile(r"\d[A-Z]{2}")

_MONTHS: Final = frozenset(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)

_LEADING_PHRASES: Final = (
    "POS",
    "POS PURCHASE",
    "POS DEBIT",
    "POS TRANSACTION",
    "VIS",
    "VISA PURCHASE",
    "VISA DEBIT",
    "VISA DEBIT PURCHASE",
    "CARD PURCHASE",
    "CARD PURCHASE WITH PIN",
    "RECURRING CARD PURCHASE",
    "CARD PAYMENT",
    "CARD PAYMENT TO",
    "DEBIT CARD",
    "DEBIT CARD PURCHASE",
    "DEBIT PURCHASE",
    "PURCHASE AUTHORIZED ON",
    "RECURRING PAYMENT AUTHORIZED ON",
    "CHECKCARD",
    "CONTACTLESS",
    "CONTACTLESS PAYMENT",
    "CNP",
    "DD",
    "DDR",
    "DIRECT DEBIT",
    "DIRECT DEBIT TO",
    "DIRECT DEBIT PAYMENT TO",
    "SO",
    "STANDING ORDER",
    "STANDING ORDER TO",
    "BGC",
    "BANK GIRO CREDIT",
    "FPI",
    "FPO",
    "FASTER PAYMENT",
    "FASTER PAYMENTS",
    "FASTER PAYMENT RECEIPT",
    "FASTER PAYMENT TO",
    "DEB",
    "ACH",
    "ACH DEBIT",
    "ACH CREDIT",
    "APPLE PAY",
    # Payment processors and platforms that put their own marker before the merchant.
    "SQ *",
    "SQU *",
    "TST *",
    "CRV *",
    "PAYPAL *",
    "PP *",
    "SP *",
    "SP",
    "IZ *",
    "IZETTLE *",
    "ZETTLE *",
    "SUMUP *",
    "SUMUP",
    "SUM UP *",
    "ZTL *",
    "CKO *",
    "STRIPE *",
    "GOOGLE *",
    "APL *",
    "WPY *",
    "FS *",
    "LS *",
)


def _phrase_index(phrases: Iterable[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Phrases as token tuples, grouped by first token, longest first."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        tokens = tuple(phrase.split())
        index.setdefault(tokens[0], []).append(tokens)
    return {first: tuple(sorted(group, key=len, reverse=True)) for first, group in index.items()}


_LEADING: Final = _phrase_index(_LEADING_PHRASES)
# Plain words that may begin leading noise; any other plain word begins the name.
_LEADING_WORDS: Final = frozenset((*_LEADING, "CARD", "CD"))

# Labels a bank puts before a number: the label goes with the number, if that number is at
# least this long. A short number after STORE may well be part of a name ("CORNER STORE 12").
_NUMBER_LABELS: Final = {
    "STORE": 3,
    "STR": 3,
    "CARD": 4,
    "CD": 4,
    "NO": 1,
    "TERMINAL": 1,
    "TERM": 1,
    "TID": 1,
    "BRANCH": 1,
}

_STREET_SUFFIXES: Final = frozenset(
    ("ST", "STREET", "AVE", "AVENUE", "RD", "ROAD", "BLVD", "LN", "LANE", "HWY", "PKWY", "WAY")
)

_TRAILING_WORDS: Final = frozenset(
    (
        # Countries, as ISO codes and the odd name.
        *("GB", "GBR", "UK", "US", "USA", "IE", "IRL", "IRELAND", "FR", "FRA", "DE", "DEU"),
        *("NL", "NLD", "ES", "ESP", "IT", "ITA", "BE", "BEL", "LU", "LUX", "PT", "PRT", "AT"),
        *("AUT", "SE", "SWE", "DK", "DNK", "FI", "FIN", "PL", "POL", "CH", "CHE", "NOR", "EU"),
        # Currencies.
        *("GBP", "USD", "EUR"),
        # Legal forms.
        *("LTD", "LIMITED", "PLC", "INC", "LLC", "LLP", "CORP", "GMBH", "SARL", "BV", "NV"),
        *("SA", "SAS", "AG", "S.A", "S.L"),
        # Transaction-type markers some banks print after the name.
        *("DD", "DDR", "SO", "BGC", "FPI", "FPO", "CLP", "VIS", "POS", "CNP", "CONTACTLESS"),
        *("*", "&"),
    )
)

_US_STATES: Final = frozenset(
    (
        *("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL"),
        *("IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE"),
        *("NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD"),
        *("TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"),
    )
)

# State codes that are also everyday words; they are only trusted after a known city.
_AMBIGUOUS_STATES: Final = frozenset(
    ("AL", "CO", "DE", "GA", "HI", "ID", "IN", "LA", "MA", "ME", "MO", "MS", "MT", "NE", "OH")
    + ("OK", "OR", "PA")
)

_CITY_NAMES: Final = (
    # United Kingdom and Ireland.
    *("LONDON", "MANCHESTER", "BIRMINGHAM", "LEEDS", "GLASGOW", "EDINBURGH", "LIVERPOOL"),
    *("BRISTOL", "SHEFFIELD", "NEWCASTLE", "NOTTINGHAM", "LEICESTER", "CARDIFF", "BELFAST"),
    *("BRIGHTON", "OXFORD", "CAMBRIDGE", "YORK", "SOUTHAMPTON", "PORTSMOUTH", "COVENTRY"),
    *("PLYMOUTH", "ABERDEEN", "DUNDEE", "SWANSEA", "NORWICH", "EXETER", "MILTON KEYNES"),
    *("LUTON", "CROYDON", "WATFORD", "STOCKPORT", "SALFORD", "BOLTON", "DERBY", "WOLVERHAMPTON"),
    *("SUNDERLAND", "BRADFORD", "HULL", "IPSWICH", "GLOUCESTER", "CHELTENHAM", "GUILDFORD"),
    *("WOKING", "SLOUGH", "HARROW", "ILFORD", "ROMFORD", "KINGSTON", "WIMBLEDON", "STRATFORD"),
    *("CAMDEN", "ISLINGTON", "HACKNEY", "BRIXTON", "CLAPHAM", "SHOREDITCH", "SOHO"),
    *("WESTMINSTER", "CANARY WHARF", "LONDON BRIDGE", "HEATHROW", "GATWICK", "STANSTED"),
    *("DUBLIN", "CORK", "BATTERSEA", "HAMMERSMITH", "CHISWICK", "PECKHAM", "LEWISHAM"),
    # United States.
    *("SEATTLE", "NEW YORK", "BROOKLYN", "QUEENS", "BRONX", "MANHATTAN", "SAN FRANCISCO"),
    *("LOS ANGELES", "CHICAGO", "HOUSTON", "PHOENIX", "PHILADELPHIA", "SAN ANTONIO"),
    *("SAN DIEGO", "DALLAS", "SAN JOSE", "AUSTIN", "JACKSONVILLE", "COLUMBUS", "CHARLOTTE"),
    *("INDIANAPOLIS", "DENVER", "WASHINGTON", "BOSTON", "NASHVILLE", "DETROIT", "PORTLAND"),
    *("LAS VEGAS", "MEMPHIS", "LOUISVILLE", "BALTIMORE", "MILWAUKEE", "ALBUQUERQUE"),
    *("TUCSON", "FRESNO", "SACRAMENTO", "KANSAS CITY", "ATLANTA", "MIAMI", "OAKLAND"),
    *("MINNEAPOLIS", "TULSA", "CLEVELAND", "NEW ORLEANS", "TAMPA", "ORLANDO", "PITTSBURGH"),
    *("CINCINNATI", "ST LOUIS", "SALT LAKE CITY", "RALEIGH", "HONOLULU", "ANCHORAGE"),
    *("BERKELEY", "PALO ALTO", "MOUNTAIN VIEW", "SUNNYVALE", "CUPERTINO", "SANTA MONICA"),
    *("PASADENA", "IRVINE", "SANTA CLARA", "REDMOND", "BELLEVUE", "ARLINGTON", "JERSEY CITY"),
    *("HOBOKEN", "NEWARK", "RICHMOND", "MADISON", "BOULDER", "SCOTTSDALE", "TEMPE", "PLANO"),
    *("IRVING", "FORT WORTH", "EL PASO", "OMAHA", "DES MOINES", "BOISE", "SPOKANE", "TACOMA"),
    *("EVANSTON", "ANN ARBOR", "PROVIDENCE", "HARTFORD", "BUFFALO", "ROCHESTER", "ALBANY"),
    *("MENLO PARK", "SAN MATEO", "SANTA BARBARA", "LONG BEACH", "SAN JOSE", "ST PAUL"),
    *("MINNEAPOLI", "SAN FRANCISC", "PHILADELPHI", "WASHINGTON DC", "NEW YORK CITY"),
    # Continental Europe.
    *("PARIS", "BERLIN", "MADRID", "BARCELONA", "ROME", "ROMA", "MILAN", "MILANO"),
    *("AMSTERDAM", "LISBON", "LISBOA", "BRUSSELS", "BRUXELLES", "MUNICH", "MUNCHEN"),
    *("HAMBURG", "FRANKFURT", "VIENNA", "WIEN", "PRAGUE", "COPENHAGEN", "STOCKHOLM"),
    *("LUXEMBOURG", "ROTTERDAM", "UTRECHT", "LYON", "KOLN", "ZURICH", "GENEVA", "OSLO"),
    *("HELSINKI", "WARSAW", "ATHENS", "TALLINN", "RIGA", "VILNIUS", "BUDAPEST", "BUCHAREST"),
    *("SOFIA", "ZAGREB", "LJUBLJANA", "BRATISLAVA", "VALLETTA", "NICOSIA", "REYKJAVIK"),
)
_CITIES: Final = frozenset(tuple(name.split()) for name in _CITY_NAMES)
_LONGEST_CITY: Final = max(len(city) for city in _CITIES)
_CITY_ENDINGS: Final = frozenset(city[-1] for city in _CITIES)

# Words before which a city is part of a name ("TRANSPORT FOR LONDON", "MUSEUM OF LONDON").
_CONNECTORS: Final = frozenset(("OF", "FOR", "IN", "AT", "THE", "&", "AND", "DE", "LA", "TO"))

# Words that end a business name and so are never taken for an unnamed city.
_BUSINESS_WORDS: Final = frozenset(
    (
        *("COFFEE", "CAFE", "SHOP", "STORE", "STORES", "MARKET", "MART", "DELI", "BAKERY"),
        *("BAR", "GRILL", "PIZZA", "PIZZERIA", "KITCHEN", "RESTAURANT", "DINER", "TAVERN", "PUB"),
        *("INN", "HOTEL", "SALON", "SPA", "GYM", "FITNESS", "AUTO", "MOTORS", "GARAGE"),
        *("PHARMACY", "BOOKS", "FLOWERS", "FLORIST", "TACOS", "TAQUERIA", "BURGER", "BURGERS"),
        *("SUSHI", "THAI", "TEA", "HOUSE", "CO", "CLEANERS", "LAUNDRY", "WINE", "WINES"),
        *("LIQUOR", "SPIRITS", "GROCERY", "FOOD", "FOODS", "BREWING", "BREWERY", "ROASTERS"),
        *("SUPPLY", "HARDWARE", "CLINIC", "DENTAL", "SERVICES", "SERVICE", "STUDIO", "BISTRO"),
        *("CANTINA", "NOODLES", "BAGELS", "DONUTS", "CREAMERY", "CYCLES", "BIKES", "OUTFITTERS"),
    )
)

# --------------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------------


def _is_leading_number(token: str) -> bool:
    """Whether ``token`` is a terminal, card or date number a bank prints before the name.

    Short plain numbers stay: they start names like "24 HOUR FITNESS".
    """
    if _CARD_MASK.fullmatch(token) or _DATE.fullmatch(token) or _TIME.fullmatch(token):
        return True
    return _NUMBER.fullmatch(token) is not None and (not token.isdigit() or len(token) >= 4)


def _is_reference(word: str) -> bool:
    """Whether ``word`` reads as a reference code or a long number rather than a name."""
    return _CODE.fullmatch(word) is not None or (word.isdigit() and len(word) >= 4)


def _leading_width(tokens: list[str], start: int) -> int:
    """How many tokens of noise begin at ``start``, leaving at least one token after them."""
    first = tokens[start]
    if first.isalpha() and first not in _LEADING_WORDS and "XXXX" not in first:
        return 0
    remaining = len(tokens) - start
    for phrase in _LEADING.get(first, ()):
        width = len(phrase)
        if width < remaining and tuple(tokens[start : start + width]) == phrase:
            # A processor's marker before a bare reference ("PAYPAL *2K4L91") is the only name.
            if phrase[-1] == "*" and _is_reference(tokens[start + width]):
                continue
            return width
    if first in ("*", "&") or _is_leading_number(first):
        return 1
    if first in ("CARD", "CD") and remaining > 2 and _is_leading_number(tokens[start + 1]):
        return 2
    return 0


def _strip_leading(tokens: list[str]) -> list[str]:
    """Drop transaction-type and processor prefixes and leading numbers."""
    start = 0
    while start < len(tokens) - 1:
        width = _leading_width(tokens, start)
        if not width:
            break
        start += width
    return tokens[start:]


def _rewrite_domains(tokens: list[str]) -> list[str]:
    """Replace a web address by its name when it is the name, and drop it when it follows one.

    A bare domain right after the first word completes the name ("JUST EAT.CO.UK"); any other
    address after a name is a help or billing link ("HELP.UBER.COM").
    """
    if "." not in "".join(tokens):
        return tokens
    rewritten: list[str] = []
    for index, word in enumerate(tokens):
        match = _DOMAIN.fullmatch(word) if "." in word else None
        if match is None:
            rewritten.append(word)
            continue
        subdomains, label, path = match.groups()
        completes_name = index == 1 and not subdomains and path is None and rewritten[:1] != [label]
        if index == 0 or completes_name:
            trimmed = label.rstrip("-").lstrip("-")
            if trimmed:
                rewritten.append(trimmed)
    return rewritten


def _is_dated(tokens: list[str], index: int, width: int) -> bool:
    """Whether the ``width`` tokens dropped at ``index`` were a date."""
    word = tokens[index]
    if width == 2:
        return tokens[index + 1] in _MONTHS
    return _DATE.fullmatch(word) is not None or any(c in "/-." for c in word)


def _street_width(tokens: list[str], index: int) -> int:
    """How many tokens a street address starting with a house number at ``index`` takes."""
    for width in range(2, min(4, len(tokens) - index) + 1):
        if tokens[index + width - 1] in _STREET_SUFFIXES:
            return width
    return 0


def _labels_value(word: str, following: str) -> bool:
    """Whether ``word`` is a label ("STORE", "REF", "RATE") whose value is ``following``."""
    if word == "REF":
        return True
    if word == "RATE":
        return any(c.isdigit() for c in following)
    digits = _NUMBER_LABELS.get(word)
    return digits is not None and following.isdigit() and len(following) >= digits


_WORD_LABELS: Final = frozenset(("REF", "RATE", *_NUMBER_LABELS))
_HAS_DIGIT: Final = 1
_DIGITS: Final = 2
_NUMERIC: Final = 4
_JUNK: Final = 8


@functools.lru_cache(maxsize=16384)
def _token_kind(token: str) -> int:
    """What a token is, as flags: it has a digit, is all digits, a number, or other noise."""
    kind = 0
    if any(c.isdigit() for c in token):
        kind |= _HAS_DIGIT
    if token.isdigit():
        kind |= _DIGITS
    if _NUMBER.fullmatch(token):
        kind |= _NUMERIC
    elif (
        _DATE.fullmatch(token)
        or _TIME.fullmatch(token)
        or _CARD_MASK.fullmatch(token)
        or _CODE.fullmatch(token)
    ):
        kind |= _JUNK
    return kind


def _digit_run_width(tokens: list[str], index: int) -> int:
    """How many tokens a day and month ("12 MAR") or a street address starting at ``index`` take."""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following in _MONTHS and len(tokens[index]) <= 2:
        return 2
    return _street_width(tokens, index)


def _noise_width(tokens: list[str], index: int) -> int:
    """How many tokens of noise begin at ``index``, which is never the first kept token."""
    word = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is not None and _labels_value(word, following):
        return 2
    if word.isdigit():
        kind = _HAS_DIGIT | _DIGITS | _NUMERIC
    else:
        kind = 0 if word.isalpha() and "XXXX" not in word else _token_kind(word)
    if kind & _HAS_DIGIT and tokens[index - 1] == "*":
        return 1
    width = _digit_run_width(tokens, index) if kind & _DIGITS else 0
    if width:
        return width
    if kind & _NUMERIC:
        # A lone digit inside a name is part of it ("TIME 4 COFFEE"); at the end it is noise.
        return 0 if len(word) == 1 and following is not None else 1
    return 1 if kind & _JUNK else 0


def _drop_noise(tokens: list[str]) -> list[str]:
    """Drop numbers, dates, card masks and reference codes after the first token."""
    kept = tokens[:1]
    index = 1
    while index < len(tokens):
        word = tokens[index]
        # Plain words other than labels and card masks are never noise, and most tokens are
        # plain words: they skip the full check.
        plain = word.isalpha() and word not in _WORD_LABELS and "XXXX" not in word
        width = 0 if plain else _noise_width(tokens, index)
        if not width:
            kept.append(word)
            index += 1
            continue
        if len(kept) > 1 and kept[-1] == "ON" and _is_dated(tokens, index, width):
            kept.pop()
        index += width
    return kept


def _city_width(tokens: list[str], end: int) -> int:
    """How many tokens before ``end`` name a known city, leaving a name before it."""
    if tokens[end - 1] not in _CITY_ENDINGS:
        return 0
    for width in range(min(_LONGEST_CITY, end - 1), 0, -1):
        if tuple(tokens[end - width : end]) in _CITIES and tokens[end - width - 1] not in (
            _CONNECTORS
        ):
            return width
    return 0


def _is_unnamed_city(tokens: list[str], end: int) -> bool:
    """Whether the token before ``end`` reads as a city missing from the list.

    It must follow a name of at least two words and not be a word that ends business names,
    so "JOES DINER SMALLVILLE KS" loses its city but "BLUE BOTTLE COFFEE CA" keeps its coffee.
    """
    if end < 3:
        return False
    candidate, before = tokens[end - 1], tokens[end - 3 : end - 1]
    return (
        candidate.isalpha()
        and candidate not in _BUSINESS_WORDS
        and candidate not in _CONNECTORS
        and all(word.isalpha() for word in before)
    )


def _state_width(tokens: list[str], end: int) -> int:
    """How many tokens a US state code at ``end - 1`` takes with its city."""
    city = _city_width(tokens, end - 1)
    if city:
        return city + 1
    if tokens[end - 1] in _AMBIGUOUS_STATES:
        return 0
    return 2 if _is_unnamed_city(tokens, end - 1) else 1


def _postcode_width(tokens: list[str], end: int) -> int:
    """How many tokens a UK postcode ending at ``end`` takes.

    A full postcode always goes; a district alone only after a known city ("LONDON W1").
    """
    last = tokens[end - 1]
    if (
        end >= 3
        and last[:1].isdigit()
        and _INWARD_POSTCODE.fullmatch(last)
        and _OUTWARD_POSTCODE.fullmatch(tokens[end - 2])
    ):
        return 2
    return 1 if _OUTWARD_POSTCODE.fullmatch(last) and _city_width(tokens, end - 1) else 0


def _trailing_width(tokens: list[str], end: int) -> int:
    """How many tokens of noise end at ``end``; the caller keeps at least one token."""
    last = tokens[end - 1]
    if last in _TRAILING_WORDS:
        return 1
    city = _city_width(tokens, end)
    if city:
        return city
    if last in _US_STATES:
        return _state_width(tokens, end)
    return 0 if last.isalpha() else _postcode_width(tokens, end)


def _strip_trailing(tokens: list[str]) -> list[str]:
    """Drop places, countries, currencies, legal forms and bank markers at the end."""
    end = len(tokens)
    while end > 1:
        width = _trailing_width(tokens, end)
        if not width or width >= end:
            break
        end -= width
    return tokens[:end]


def _one_pass(tokens: list[str]) -> list[str]:
    """One round of pruning; every change it makes shortens the text.

    Tokens arrive without separators at their ends, and every step only drops whole tokens or
    trims what it rewrites, so they stay that way.
    """
    return _strip_trailing(_drop_noise(_rewrite_domains(_strip_leading(tokens))))


def _settle(tokens: list[str]) -> list[str]:
    """Prune until a round changes nothing; it ends because every change shortens the text."""
    pruned = _one_pass(tokens)
    if pruned == tokens:
        return tokens
    return list(_settled(tuple(pruned)))


@functools.lru_cache(maxsize=65536)
def _settled(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Prune after a first round until a round changes nothing.

    After the first round, descriptors of one merchant mostly differ no more (their store
    numbers, dates and references are gone), so the rounds that remain are shared.
    """
    current = list(tokens)
    while True:
        pruned = _one_pass(current)
        if pruned == current:
            return tuple(current)
        current = pruned


@functools.lru_cache(maxsize=65536)
def clean_descriptor(raw: str) -> str:
    """The merchant name inside a raw bank descriptor, upper-case and free of bank noise.

    Deterministic and idempotent. Stars separate a processor or a reference code from the
    name, so they take part in the first round of pruning and are dropped before the last.
    """
    text = _fold(raw)
    if "*" in text:
        text = _STARS.sub(" * ", text)
    if "-" in text:
        text = _LETTER_HYPHEN_DIGIT.sub(" ", text)
    text = text.replace("#", " #")
    # Separators at the ends of a token are noise; so is a lone "+".
    tokens = [word for word in _TOKEN_EDGES.sub("", text).split() if word != "+"]
    tokens = _settle(tokens)
    if "*" in tokens:
        tokens = _settle([kept for kept in tokens if kept != "*"])
    return " ".join(tokens)


# --------------------------------------------------------------------------------------------
# Display names
# --------------------------------------------------------------------------------------------

_LOWER_WORDS: Final = frozenset(
    ("A", "AND", "OF", "THE", "AT", "ON", "IN", "FOR", "BY", "TO", "DE", "LA", "LE", "DU", "DA")
    + ("DI", "DEL", "VAN", "VON", "Y")
)
_VOWELS: Final = frozenset("AEIOUY")
# Abbreviations without vowels that are words, not initialisms.
_ABBREVIATIONS: Final = frozenset(
    ("ST", "DR", "MR", "MRS", "MS", "JR", "SR", "LTD", "MGMT", "BROS")
)


def _display_part(part: str) -> str:
    """One hyphen-separated part of a word, capitalised, with "Mc" names kept as such."""
    if len(part) > 3 and part.startswith("MC") and part.isalpha():
        return "Mc" + part[2] + part[3:].lower()
    return part[:1] + part[1:].lower()


def _display_word(word: str, first: bool) -> str:
    """One word of a display name."""
    if not first and word in _LOWER_WORDS:
        return word.lower()
    if "&" in word or (
        len(word) <= 3
        and word.isalpha()
        and word not in _ABBREVIATIONS
        and not _VOWELS.intersection(word)
    ):
        # Initialisms ("B&Q", "KFC", "JD") read wrongly in title case.
        return word
    return "-".join(_display_part(part) for part in word.split("-"))


def display_name(cleaned: str) -> str:
    """A readable name for a cleaned descriptor: "CORNER COFFEE" becomes "Corner Coffee".

    Used for merchants the dictionary does not know. Short words without vowels stay
    upper-case, and small joining words after the first are lower-case.
    """
    return " ".join(_display_word(word, i == 0) for i, word in enumerate(cleaned.split()))


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------

# Only aliases of several words and at least this long are matched as the start of a longer
# descriptor: single words are often everyday words ("NEXT", "ADMIRAL", "ORANGE") that begin
# unrelated names, and the families of single-word merchants are their patterns' job.
_MIN_PREFIX_ALIAS: Final = 6
# A descriptor is only matched as the cut-off start of an alias from this length on.
_MIN_TRUNCATED: Final = 8

_LITERAL_START: Final = re.compile(r"\^([A-Z0-9 &'-]+)")
# Patterns are grouped by the first characters they need, so a descriptor is only tried
# against the few patterns that could match it.
_PATTERN_KEY: Final = 2


class MerchantMatch(NamedTuple):
    """What a descriptor resolved to.

    Attributes:
        clean_name: The merchant's name, or the cleaned descriptor title-cased when unknown.
        known: Whether the dictionary knows the merchant.
        entity_id: The dictionary entry's id; ``None`` when unknown.
        website: The merchant's main domain; ``None`` when unknown or it has none.
        logo_url: A checked logo address; usually ``None``.
        category: FOS category path; empty when unknown.
        dictionary_version: Version of the dictionary that resolved the descriptor.
        rule: Which rule matched: "alias", "pattern", "prefix" or "none".
    """

    clean_name: str
    known: bool
    entity_id: str | None
    website: str | None
    logo_url: str | None
    category: tuple[str, ...]
    dictionary_version: str
    rule: str


def _has_top_level_alternative(source: str) -> bool:
    """Whether a pattern's source has a ``|`` outside every group and character class."""
    depth = 0
    position = 0
    while position < len(source):
        char = source[position]
        if char == "\\":
            position += 1
        elif char == "[":
            # A "]" right after the opening "[" or "[^" belongs to the class.
            position += 2 if source[position + 1 : position + 2] == "^" else 1
            position = source.find("]", position + 1)
            if position < 0:
                return True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return True
        position += 1
    return False


def _literal_prefix(source: str) -> str:
    """The text every match of an anchored pattern starts with, as far as its source shows.

    Empty when the pattern is not anchored, or has an alternative at its top level.
    """
    if _has_top_level_alternative(source):
        return ""
    match = _LITERAL_START.match(source)
    if match is None:
        return ""
    literal = match.group(1)
    # The last character is not certain when a quantifier follows it.
    if source[1 + len(literal) : 2 + len(literal)] in ("?", "*", "{"):
        literal = literal[:-1]
    return literal


def _alias_owners(entries: tuple[MerchantEntry, ...]) -> dict[str, int]:
    """Each alias, as the cleaner would print it, mapped to the index of its entry."""
    owners: dict[str, int] = {}
    for index, entry in enumerate(entries):
        for alias in entry.aliases:
            key = clean_descriptor(alias)
            if key and owners.setdefault(key, index) != index:
                msg = f"alias {alias!r} of {entry.entity_id!r} already names another merchant"
                raise ValueError(msg)
    return owners


class MerchantDictionary:
    """Merchant entries with their aliases and patterns compiled for resolution.

    Build it once with ``from_entries`` and share it: resolution only reads it.
    """

    __slots__ = (
        "_aliases",
        "_matches",
        "_patterns",
        "_prefix_aliases",
        "_sorted_aliases",
        "entries",
        "version",
    )

    def __init__(self, entries: tuple[MerchantEntry, ...], version: str) -> None:
        ids = [entry.entity_id for entry in entries]
        if len(set(ids)) != len(ids):
            msg = "entity ids must be unique"
            raise ValueError(msg)
        self.entries = entries
        self.version = version
        self._aliases = _alias_owners(entries)
        self._prefix_aliases = {
            alias: owner
            for alias, owner in self._aliases.items()
            if len(alias) >= _MIN_PREFIX_ALIAS and " " in alias
        }
        self._sorted_aliases = sorted(self._aliases)
        self._patterns = _pattern_index(entries)
        self._matches = [
            {rule: _known_match(entry, version, rule) for rule in ("alias", "pattern", "prefix")}
            for entry in entries
        ]

    @classmethod
    def from_entries(cls, entries: Iterable[MerchantEntry], version: str) -> MerchantDictionary:
        """A dictionary of ``entries``; raises ``ValueError`` on shared aliases or ids."""
        return cls(tuple(entries), version)

    def resolve_cleaned(self, cleaned: str) -> MerchantMatch:
        """Resolve a descriptor already passed through ``clean_descriptor``."""
        owner = self._aliases.get(cleaned)
        if owner is not None:
            return self._matches[owner]["alias"]
        owner = self._by_pattern(cleaned)
        if owner is not None:
            return self._matches[owner]["pattern"]
        owner = self._by_prefix(cleaned)
        if owner is None:
            owner = self._by_truncation(cleaned)
        if owner is not None:
            return self._matches[owner]["prefix"]
        return MerchantMatch(
            display_name(cleaned), False, None, None, None, (), self.version, "none"
        )

    def _by_pattern(self, cleaned: str) -> int | None:
        """The entry whose pattern matches the longest start; the earlier entry on a tie."""
        best: int | None = None
        best_end = -1
        for key in ("", cleaned[:1], cleaned[:_PATTERN_KEY]):
            for index, prefix, pattern in self._patterns.get(key, ()):
                match = pattern.match(cleaned) if cleaned.startswith(prefix) else None
                if match is None:
                    continue
                end = match.end()
                if end > best_end or (end == best_end and best is not None and index < best):
                    best, best_end = index, end
        return best

    def _by_prefix(self, cleaned: str) -> int | None:
        """The entry of the longest alias ``cleaned`` starts with, up to a space."""
        cut = cleaned.rfind(" ")
        while cut > 0:
            owner = self._prefix_aliases.get(cleaned[:cut])
            if owner is not None:
                return owner
            cut = cleaned.rfind(" ", 0, cut)
        return None

    def _by_truncation(self, cleaned: str) -> int | None:
        """The one entry with aliases that start with ``cleaned``, when it looks cut off."""
        if len(cleaned) < _MIN_TRUNCATED:
            return None
        owners = set()
        position = bisect.bisect_left(self._sorted_aliases, cleaned)
        while position < len(self._sorted_aliases):
            alias = self._sorted_aliases[position]
            if not alias.startswith(cleaned):
                break
            owners.add(self._aliases[alias])
            position += 1
        return owners.pop() if len(owners) == 1 else None


_IndexedPattern = tuple[int, str, re.Pattern[str]]


def _pattern_index(entries: tuple[MerchantEntry, ...]) -> dict[str, list[_IndexedPattern]]:
    """Compiled patterns keyed by up to two characters every match starts with.

    Each comes with its entry's index and the literal text its matches start with.
    """
    index: dict[str, list[_IndexedPattern]] = {}
    for position, entry in enumerate(entries):
        for source in entry.patterns:
            prefix = _literal_prefix(source)
            key = prefix[:_PATTERN_KEY]
            index.setdefault(key, []).append((position, prefix, re.compile(source)))
    return index


def _known_match(entry: MerchantEntry, version: str, rule: str) -> MerchantMatch:
    """The match an entry yields under ``rule``."""
    return MerchantMatch(
        entry.clean_name,
        True,
        entry.entity_id,
        entry.website,
        entry.logo_url,
        entry.category,
        version,
        rule,
    )


DEFAULT: Final = MerchantDictionary.from_entries(MERCHANTS, DICTIONARY_VERSION)


def resolve_merchant(raw: str, dictionary: MerchantDictionary = DEFAULT) -> MerchantMatch:
    """Clean a raw bank descriptor and resolve it to a merchant of ``dictionary``."""
    if dictionary is DEFAULT:
        return _resolve_default(raw)
    return dictionary.resolve_cleaned(clean_descriptor(raw))


@functools.lru_cache(maxsize=1 << 16)
def _resolve_default(raw: str) -> MerchantMatch:
    """Resolve against the built-in dictionary, remembered: a customer's merchants repeat."""
    return DEFAULT.resolve_cleaned(clean_descriptor(raw))
