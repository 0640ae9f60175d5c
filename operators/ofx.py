"""OFX/QFX statement files → FOS: bank, credit-card and investment accounts.

The markup is read by ofxtools' tag parser, which takes OFX 1 (SGML, end tags optional) and
OFX 2 (XML) alike; what the tags mean is read here, leniently where real exports break the
specification and never by guessing at money. OFX's conventions are owned here:

* ``TRNAMT`` is signed from the account holder's side: negative is money out, as in FOS, so
  amounts are taken as they are;
* balances are from the holder's side too: a card's ``LEDGERBAL`` is negative while money is
  owed (``anzcc.ofx`` reports -123.45 owed beside an ``AVAILBAL`` of 123.45 of credit left),
  which is the FOS sign for liabilities, so neither balance is flipped;
* ``CURDEF`` is each statement's currency; a transaction with its own ``CURRENCY`` aggregate
  is stated in that currency instead (``ORIGCURRENCY`` only records a conversion already made);
* dates are the bank's calendar dates: ``20170508000000[+10:AEST]`` is posted on 8 May, so the
  date is read from the digits as written rather than moved to UTC;
* ``FITID`` is the bank's id of a transaction within its account.

Files are taken whole or refused whole, so that a statement is never half applied:

* a bank or card statement without ``LEDGERBAL`` yields its transactions but no account
  (FOS accounts carry a current balance); a ``LEDGERBAL`` or ``AVAILBAL`` that is present but
  empty is a broken file and is refused (``missing_field``);
* a ``FITID`` repeated within one account with the same content is taken once; repeated
  with other content it is refused (``idempotency_conflict``), as the twin does across files;
* investment statements yield their account (type INVESTMENT) with the total the file
  states (``INV401KBAL/TOTAL``) or else its cash (``INVBAL/AVAILCASH``) as the current
  balance, and that cash as the available balance. Positions (``INVPOSLIST``), investment
  transactions (``INVTRANLIST``, including the cash movements in ``INVBANKTRAN``) and the
  security list are not normalised yet: holdings will take them;
* a file from which nothing can be taken (a sign-on reply, an account listing, a transfer
  reply, or investment statements without any balance) is refused (``missing_field``), so
  that it waits in the dead-letter topic rather than vanishing;
* an error ``STATUS`` in the sign-on or a statement response is refused as
  ``provider_error`` with the bank's code and message.

``CHECKNUM`` is kept on :class:`OfxTransaction`; FOS transactions have no field for it yet.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import hashlib
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from xml.sax.saxutils import escape

from ofxtools.models.base import Aggregate
from ofxtools.Parser import ParseError, TreeBuilder
from ofxtools.Types import DateTime
from pydantic import BaseModel, ConfigDict

from operators.decode import DecodeLimits, validate_model
from operators.exceptions import RejectedInput, unsupported_kind
from operators.observations import (
    AccountsObserved,
    Observation,
    SyncContext,
    TransactionsObserved,
    TransactionUpsert,
)
from schemas.canonical import derived_id
from schemas.envelopes import ConnectEnvelope, Provider, SyncKind
from schemas.fos import (
    AccountBalances,
    AccountType,
    Channel,
    Merchant,
    TransactionDates,
    TransactionDetails,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedTransaction,
)
from schemas.money import MoneyError, currency_exponent, parse_minor
from schemas.records import Reason

PROVIDER: Final = Provider.OFX.value
CONTENT_FIELD: Final = "payload.content_b64"


class StatementKind(StrEnum):
    """Which OFX statement response an account came from."""

    BANK = "STMTRS"
    CREDIT_CARD = "CCSTMTRS"
    INVESTMENT = "INVSTMTRS"


@dataclass(frozen=True, slots=True)
class OfxTransaction:
    """One ``STMTTRN`` as the file states it, amounts already in minor units.

    ``name`` is what FOS takes as the merchant's raw name; ``memo`` is kept beside it.
    """

    fitid: str
    trntype: str | None
    posted: dt.date
    user_date: dt.date | None
    amount_minor: int
    currency: str
    name: str
    memo: str
    check_number: str | None
    path: str


@dataclass(frozen=True, slots=True)
class OfxStatement:
    """One statement response: its account, balances and bank-style transactions.

    ``provider_account_id`` qualifies the account number by its institution (BANKID and
    BRANCHID, or BROKERID), so that two banks' account numbers never collide; a card number
    is unique on its own.
    """

    kind: StatementKind
    provider_account_id: str
    acct_id: str
    acct_type: str | None
    currency: str
    current_minor: int | None
    available_minor: int | None
    transactions: tuple[OfxTransaction, ...]
    path: str


class _FilePayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    filename: str
    content_b64: str


_STATEMENT_WRAPPERS: Final = {
    "STMTTRNRS": StatementKind.BANK,
    "CCSTMTTRNRS": StatementKind.CREDIT_CARD,
    "INVSTMTTRNRS": StatementKind.INVESTMENT,
}
_ACCOUNT_TAGS: Final = {
    StatementKind.BANK: "BANKACCTFROM",
    StatementKind.CREDIT_CARD: "CCACCTFROM",
    StatementKind.INVESTMENT: "INVACCTFROM",
}
# OFX BANKACCTFROM/ACCTTYPE → (FOS type, subtype in the upper snake case Plaid uses).
_BANK_ACCOUNT_TYPES: Final = {
    "CHECKING": (AccountType.DEPOSITORY, "CHECKING"),
    "SAVINGS": (AccountType.DEPOSITORY, "SAVINGS"),
    "MONEYMRKT": (AccountType.DEPOSITORY, "MONEY_MARKET"),
    "CD": (AccountType.DEPOSITORY, "CD"),
    "CREDITLINE": (AccountType.CREDIT, "LINE_OF_CREDIT"),
}
_TRANSACTION_TYPES: Final = {
    "CREDIT": TransactionType.PAYMENT,
    "DEBIT": TransactionType.PAYMENT,
    "POS": TransactionType.PAYMENT,
    "ATM": TransactionType.PAYMENT,
    "CHECK": TransactionType.PAYMENT,
    "PAYMENT": TransactionType.PAYMENT,
    "CASH": TransactionType.PAYMENT,
    "DEP": TransactionType.PAYMENT,
    "DIRECTDEBIT": TransactionType.PAYMENT,
    "REPEATPMT": TransactionType.PAYMENT,
    "FEE": TransactionType.FEE,
    "SRVCHG": TransactionType.FEE,
    "INT": TransactionType.INTEREST,
    "DIV": TransactionType.INCOME,
    "DIRECTDEP": TransactionType.INCOME,
    "XFER": TransactionType.TRANSFER,
}

_CDATA: Final = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_DECLARED_CHARSET: Final = re.compile(rb"(?:CHARSET:[ \t]*|encoding=[\"'])([A-Za-z0-9_-]+)")
_NOT_SINGLE_BYTE: Final = frozenset({"NONE", "UTF-8", "UTF8", "USASCII", "US-ASCII", "ASCII"})
_ENTITY: Final = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_AMOUNT: Final = re.compile(r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:[.,](?P<fraction>[0-9]*))?")
_OFX_DATETIME: Final = DateTime()
# OFX 1 limits NAME to 32 characters; banks cut it there and repeat the full text in MEMO.
_NAME_LIMIT: Final = 32


def account_id(provider_account_id: str) -> str:
    """Return the FOS account id of an OFX account."""
    return derived_id("acc", PROVIDER, provider_account_id)


def transaction_id(provider_account_id: str, fitid: str) -> str:
    """Return the FOS transaction id of an OFX transaction."""
    return derived_id("txn", PROVIDER, provider_account_id, fitid)


def normalise(envelope: ConnectEnvelope, limits: DecodeLimits) -> tuple[Observation, ...]:
    """Normalise one OFX/QFX file envelope into FOS observations.

    Returns an AccountsObserved for the accounts that state a balance and a
    TransactionsObserved for every transaction, each left out when it would be empty.

    Raises:
        RejectedInput: when the file cannot be taken whole (see the module docstring), or
            for a kind other than ``ofx_file``.
    """
    if envelope.kind is not SyncKind.OFX_FILE:
        raise unsupported_kind(envelope)
    payload = validate_model(_FilePayload, envelope.payload, prefix="payload")
    statements = parse_ofx(_decode_base64(payload.content_b64))
    latest = envelope.received_at.date() + dt.timedelta(days=limits.future_tolerance_days)
    accounts = _accounts(statements, envelope.connection_id)
    upserts = _upserts(statements, latest)
    if not accounts and not upserts:
        raise _nothing_to_take(statements)
    context = SyncContext(
        tenant_id=envelope.tenant_id,
        profile_id=envelope.profile_id,
        provider=PROVIDER,
        connection_id=envelope.connection_id,
        sync_id=envelope.sync_id,
        # A file is one complete page, whatever page number the envelope carries.
        page=0,
        last_page=True,
        received_at=envelope.received_at,
    )
    observed: list[Observation] = []
    if accounts:
        observed.append(AccountsObserved(context=context, accounts=accounts))
    if upserts:
        observed.append(TransactionsObserved(context=context, upserts=upserts, removed=()))
    return tuple(observed)


def parse_ofx(content: bytes) -> tuple[OfxStatement, ...]:
    """Read the statements of an OFX/QFX file, in file order.

    Pure: reads nothing but ``content``. A file without statements yields an empty tuple.

    Raises:
        RejectedInput: ``unparseable_file`` or ``invalid_encoding`` when the markup cannot be
            read, ``provider_error`` for an error status, and the reason of the first field
            that cannot be taken exactly (``missing_field``, ``missing_id``,
            ``invalid_amount``, ``invalid_date``, ``unknown_currency``, ...).
    """
    root = _parse_tree(content)
    _check_status(root.find("SIGNONMSGSRSV1/SONRS"), "SIGNONMSGSRSV1.SONRS")
    return tuple(
        _statement(response, StatementKind(response.tag), f"{response.tag}[{index}]")
        for index, response in enumerate(_statement_responses(root))
    )


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        msg = f"{CONTENT_FIELD} is not valid base64: {exc}"
        raise RejectedInput(Reason.INVALID_ENCODING, CONTENT_FIELD, msg) from exc


# Reading the markup
# ------------------
# ofxtools' own header reader insists on the complete nine-line OFX 1 header (or the OFX 2
# processing instruction), skips at most 8 blank lines before it and spells CHARSET its own
# way. Real exports break each of these: csv2ofx writes only DATA and ENCODING, some files
# have no header at all, some start with a dozen blank lines, and some write "8859-1". The
# header says nothing this module needs beyond the character set, so it is read for that and
# the body from <OFX> on is handed to ofxtools' tag parser.


def _parse_tree(content: bytes) -> ET.Element:
    start = content.find(b"<OFX>")
    if start < 0:
        msg = "the file has no <OFX> element, so it is not an OFX or QFX file"
        raise RejectedInput(Reason.UNPARSEABLE_FILE, CONTENT_FIELD, msg)
    text = _decode_body(content[:start], content[start:])
    # ofxtools' pattern for CDATA is greedy, so two CDATA values on one line merge into one
    # and break the parse; CDATA becomes ordinary escaped text first, which parses the same.
    text = _CDATA.sub(lambda match: escape(match.group(1)), text)
    builder = _SgmlTreeBuilder()
    try:
        builder.feed(text)
        root = builder.close()
    except (ParseError, IndexError, ValueError) as exc:
        msg = f"the OFX markup cannot be parsed: {_shorten(str(exc))}"
        raise RejectedInput(Reason.UNPARSEABLE_FILE, CONTENT_FIELD, msg) from exc
    if root is None or root.tag != "OFX":
        msg = "the OFX markup cannot be parsed: no <OFX> element was read"
        raise RejectedInput(Reason.UNPARSEABLE_FILE, CONTENT_FIELD, msg)
    return root


def _decode_body(header: bytes, body: bytes) -> str:
    """Decode the body as UTF-8 when it is valid UTF-8, else by the declared charset.

    Exporters often label UTF-8 output CHARSET:1252, while text in a single-byte charset
    with any accented letter is practically never valid UTF-8, so valid UTF-8 is taken as
    UTF-8 whatever the label says.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _single_byte_codec(header)
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        msg = f"the file is neither UTF-8 nor {codec}: byte {exc.start} cannot be decoded"
        raise RejectedInput(Reason.INVALID_ENCODING, CONTENT_FIELD, msg) from exc


def _single_byte_codec(header: bytes) -> str:
    """Return the codec of a declared single-byte charset; windows-1252 by default.

    ISO-8859-1 labels are read as windows-1252, as browsers do (WHATWG Encoding Standard):
    files so labelled carry its € and curly quotes in bytes 0x80-0x9F.
    """
    match = _DECLARED_CHARSET.search(header)
    name = match.group(1).decode("ascii").upper() if match else "NONE"
    if name in _NOT_SINGLE_BYTE or name.removeprefix("ISO-") in {"8859-1", "LATIN1"}:
        return "cp1252"
    if name.isdigit():
        name = f"cp{name}"
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        msg = f"the file is not UTF-8 and declares the unknown charset {name!r}"
        raise RejectedInput(Reason.INVALID_ENCODING, CONTENT_FIELD, msg) from exc


def _data_element_tags() -> frozenset[str]:
    """Return the tags ofxtools' models know as data elements (leaves), not aggregates."""
    tags: set[str] = set()
    aggregates: set[str] = set()
    pending: list[type[Aggregate]] = [Aggregate]
    while pending:
        model = pending.pop()
        aggregates.add(model.__name__.upper())
        tags.update(name.upper() for name in model.elements)
        pending.extend(model.__subclasses__())
    return frozenset(tags - aggregates)


_DATA_ELEMENTS: Final = _data_element_tags()


class _SgmlTreeBuilder(TreeBuilder):
    """ofxtools' parser with SGML's rules for elements left open.

    OFX 1 lets an element's end tag be left out. ofxtools closes a data element when text
    follows its start tag, but an empty one left open (``<NAME><MEMO>...``) would become
    the parent of everything after it, and every later transaction would be nested in the
    previous one and silently missed. Here a data element that is still open when the next
    tag starts is closed as empty, and an end tag closes every element opened after its
    start tag, as in SGML. A file that ends with elements still open was cut short, and is
    refused rather than read in part.
    """

    def __init__(self) -> None:
        super().__init__()
        self._open: list[str] = []
        self._closed: ET.Element | None = None

    def start(self, tag: str, attrs: dict[str, str], /) -> ET.Element:
        if self._open and self._open[-1] in _DATA_ELEMENTS:
            self._close_top()
        self._open.append(tag)
        return super().start(tag, attrs)

    def end(self, tag: str, /) -> ET.Element:
        if tag not in self._open:
            if tag in _DATA_ELEMENTS and self._closed is not None:
                # The end tag of an empty data element that was closed when the next began.
                return self._closed
            msg = f"</{tag}> closes no open element"
            raise ParseError(msg)
        while True:
            closing = self._open[-1]
            element = self._close_top()
            if closing == tag:
                return element

    def close(self) -> ET.Element:
        if self._open:
            msg = f"the file ends inside <{self._open[-1]}>, so it was probably cut short"
            raise ParseError(msg)
        return super().close()

    def _close_top(self) -> ET.Element:
        self._closed = super().end(self._open.pop())
        return self._closed


def _statement_responses(root: ET.Element) -> Iterator[ET.Element]:
    """Yield every statement response, after checking its transaction wrapper's status."""
    counts = dict.fromkeys(_STATEMENT_WRAPPERS, 0)
    for wrapper in root.iter():
        kind = _STATEMENT_WRAPPERS.get(wrapper.tag)
        if kind is None:
            continue
        _check_status(wrapper, f"{wrapper.tag}[{counts[wrapper.tag]}]")
        counts[wrapper.tag] += 1
        yield from wrapper.iterfind(kind.value)


def _check_status(response: ET.Element | None, where: str) -> None:
    status = None if response is None else response.find("STATUS")
    if status is None:
        return
    code = _present(status, "CODE") or "0"
    severity = (_present(status, "SEVERITY") or "").upper()
    if severity == "ERROR" or (not severity and code != "0"):
        message = _clean(_present(status, "MESSAGE") or "no message")
        msg = f"{where} reports error {code}: {message}"
        raise RejectedInput(Reason.PROVIDER_ERROR, f"{where}.STATUS", msg)


# Reading statements
# ------------------


def _statement(response: ET.Element, kind: StatementKind, path: str) -> OfxStatement:
    provider_account, acct_id, acct_type = _account_identity(response, kind, path)
    currency = _currency(_required(response, "CURDEF", path), f"{path}.CURDEF")
    if kind is StatementKind.INVESTMENT:
        current, available = _investment_balances(response, currency, path)
        transactions: tuple[OfxTransaction, ...] = ()
    else:
        current = _balance(response, "LEDGERBAL", currency, path)
        available = _balance(response, "AVAILBAL", currency, path)
        transactions = tuple(
            _transaction(raw, currency, f"{path}.BANKTRANLIST.STMTTRN[{index}]")
            for index, raw in enumerate(response.iterfind("BANKTRANLIST/STMTTRN"))
        )
    return OfxStatement(
        kind=kind,
        provider_account_id=provider_account,
        acct_id=acct_id,
        acct_type=acct_type,
        currency=currency,
        current_minor=current,
        available_minor=available,
        transactions=transactions,
        path=path,
    )


def _account_identity(
    response: ET.Element, kind: StatementKind, path: str
) -> tuple[str, str, str | None]:
    """Return the provider account id, the ACCTID and the ACCTTYPE of a statement.

    Account and card numbers are personal data: the provider account id is a one-way token
    of the qualified number, stable across files, and only the last four digits (the mask)
    are kept in the clear.
    """
    tag = _ACCOUNT_TAGS[kind]
    acct_id = _required(response, f"{tag}/ACCTID", path, Reason.MISSING_ID)
    if kind is StatementKind.CREDIT_CARD:
        return _token("card", acct_id), acct_id, None
    if kind is StatementKind.INVESTMENT:
        broker = _required(response, f"{tag}/BROKERID", path)
        return _token("inv", f"{broker}/{acct_id}"), acct_id, None
    bank = _required(response, f"{tag}/BANKID", path)
    branch = _present(response, f"{tag}/BRANCHID") or ""
    acct_type = _present(response, f"{tag}/ACCTTYPE")
    token = _token("bank", f"{bank}/{branch}/{acct_id}")
    return token, acct_id, acct_type.upper() if acct_type else None


def _token(kind: str, number: str) -> str:
    return f"{kind}-{hashlib.sha256(number.encode()).hexdigest()[:20]}"


def _balance(response: ET.Element, tag: str, currency: str, path: str) -> int | None:
    """Return BALAMT of a LEDGERBAL/AVAILBAL aggregate; None when the aggregate is absent."""
    if response.find(tag) is None:
        return None
    return _amount(_required(response, f"{tag}/BALAMT", path), currency, f"{path}.{tag}.BALAMT")


def _investment_balances(
    response: ET.Element, currency: str, path: str
) -> tuple[int | None, int | None]:
    """Return (current, available): the stated total or else the cash, and the cash."""
    cash = _optional_amount(response, "INVBAL/AVAILCASH", currency, path)
    total = _optional_amount(response, "INV401KBAL/TOTAL", currency, path)
    cash_401k = _optional_amount(response, "INV401KBAL/CASHBAL", currency, path)
    if total is not None:
        return total, cash
    return (cash if cash is not None else cash_401k), cash


def _transaction(raw: ET.Element, currency: str, path: str) -> OfxTransaction:
    fitid = _required(raw, "FITID", path, Reason.MISSING_ID)
    own_currency = _present(raw, "CURRENCY/CURSYM")
    if own_currency:
        currency = _currency(own_currency, f"{path}.CURRENCY.CURSYM")
    amount = _amount(_required(raw, "TRNAMT", path), currency, f"{path}.TRNAMT")
    posted = _date(_required(raw, "DTPOSTED", path), f"{path}.DTPOSTED")
    user_text = _present(raw, "DTUSER")
    trntype = _present(raw, "TRNTYPE")
    memo = _clean(_present(raw, "MEMO") or "")
    return OfxTransaction(
        fitid=fitid,
        trntype=trntype.upper() if trntype else None,
        posted=posted,
        user_date=_date(user_text, f"{path}.DTUSER") if user_text else None,
        amount_minor=amount,
        currency=currency,
        name=_transaction_name(raw, memo),
        memo=memo,
        check_number=_present(raw, "CHECKNUM") or None,
        path=path,
    )


def _transaction_name(raw: ET.Element, memo: str) -> str:
    """Return NAME (or PAYEE/NAME), or MEMO where NAME is missing or cut short."""
    name = _clean(_present(raw, "NAME") or _present(raw, "PAYEE/NAME") or "")
    if not name or (len(name) >= _NAME_LIMIT and memo.startswith(name)):
        return memo
    return name


# Reading values
# --------------


def _present(parent: ET.Element, path: str) -> str | None:
    """Return the stripped text at ``path``: None when absent, "" when empty."""
    text = parent.findtext(path)
    return None if text is None else text.strip()


def _required(
    parent: ET.Element, path: str, where: str, reason: Reason = Reason.MISSING_FIELD
) -> str:
    text = _present(parent, path)
    field = f"{where}.{path.replace('/', '.')}"
    if text is None:
        raise RejectedInput(reason, field, f"{field} is required")
    if not text:
        raise RejectedInput(reason, field, f"{field} is empty")
    return text


def _optional_amount(parent: ET.Element, path: str, currency: str, where: str) -> int | None:
    if parent.find(path) is None:
        return None
    return _amount(_required(parent, path, where), currency, f"{where}.{path.replace('/', '.')}")


def _amount(text: str, currency: str, field: str) -> int:
    """Return an OFX amount in minor units, exactly.

    OFX allows a decimal comma, and banks write ``-.50`` and trailing zeros
    (``-3.77000``); anything else, a thousands separator or a currency sign included, is
    refused rather than guessed at.
    """
    match = _AMOUNT.fullmatch(text)
    if match is None or not (match["whole"] or match["fraction"]):
        msg = f"{field} {_shorten(text)!r} is not a decimal amount of {currency}"
        raise RejectedInput(Reason.INVALID_AMOUNT, field, msg)
    plain = f"{match['sign']}{match['whole'] or '0'}.{match['fraction'] or '0'}"
    try:
        return parse_minor(plain, currency)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), field, f"{field}: {exc.message}") from exc


def _currency(text: str, field: str) -> str:
    # ISO 4217 codes are upper case, so "cad" (as csv2ofx copies it from Stripe) can only
    # mean CAD.
    code = text.upper()
    try:
        currency_exponent(code)
    except MoneyError as exc:
        raise RejectedInput(Reason(exc.code), field, f"{field}: {exc.message}") from exc
    return code


def _date(text: str, field: str) -> dt.date:
    """Return the calendar date an OFX datetime was written on, after checking its form."""
    try:
        _OFX_DATETIME.convert(text)
    except (ValueError, OverflowError) as exc:
        msg = f"{field} {_shorten(text)!r} is not a valid OFX date: {exc}"
        raise RejectedInput(Reason.INVALID_DATE, field, msg) from exc
    return dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def _clean(text: str) -> str:
    """Undo entity escaping, twice at most, and trim.

    Some banks escape twice (``&amp;lt;DEFTPYMT&amp;gt;`` for ``<DEFTPYMT>``). Only complete
    entities with their semicolon are replaced, so "AT&T" and "Ben&notary" stay as written.
    """
    for _ in range(2):
        text = _ENTITY.sub(lambda match: html.unescape(match.group()), text)
    return text.strip()


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# To FOS
# ------


def _accounts(
    statements: tuple[OfxStatement, ...], connection_id: str
) -> tuple[UnifiedAccount, ...]:
    accounts: dict[str, UnifiedAccount] = {}
    for statement in statements:
        if statement.current_minor is None:
            continue
        account = _account(statement, statement.current_minor, connection_id)
        earlier = accounts.setdefault(account.account_id, account)
        if earlier != account:
            msg = (
                f"{statement.path} reports account {statement.provider_account_id} "
                "again with other details or balances"
            )
            raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, statement.path, msg)
    return tuple(accounts.values())


def _account(statement: OfxStatement, current: int, connection_id: str) -> UnifiedAccount:
    kind, subtype = _account_kind(statement)
    mask = statement.acct_id[-4:]
    label = (subtype or kind.value).replace("_", " ").capitalize()
    return UnifiedAccount(
        account_id=account_id(statement.provider_account_id),
        provider=PROVIDER,
        provider_account_id=statement.provider_account_id,
        connection_id=connection_id,
        type=kind,
        subtype=subtype,
        name=f"{label} {mask}",
        mask=mask,
        currency=statement.currency,
        balances=AccountBalances(current_minor=current, available_minor=statement.available_minor),
    )


def _account_kind(statement: OfxStatement) -> tuple[AccountType, str | None]:
    if statement.kind is StatementKind.CREDIT_CARD:
        return AccountType.CREDIT, "CREDIT_CARD"
    if statement.kind is StatementKind.INVESTMENT:
        return AccountType.INVESTMENT, None
    if statement.acct_type is None:
        return AccountType.DEPOSITORY, None
    return _BANK_ACCOUNT_TYPES.get(
        statement.acct_type, (AccountType.DEPOSITORY, statement.acct_type)
    )


def _upserts(
    statements: tuple[OfxStatement, ...], latest: dt.date
) -> tuple[TransactionUpsert, ...]:
    upserts: dict[str, TransactionUpsert] = {}
    for statement in statements:
        for raw in statement.transactions:
            txn = _unified(raw, statement.provider_account_id, latest)
            earlier = upserts.setdefault(txn.transaction_id, TransactionUpsert(txn, modified=False))
            if earlier.transaction != txn:
                msg = f"{raw.path} repeats FITID {raw.fitid!r} with other content"
                raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, f"{raw.path}.FITID", msg)
    return tuple(upserts.values())


def _unified(raw: OfxTransaction, provider_account: str, latest: dt.date) -> UnifiedTransaction:
    for name, day in (("DTPOSTED", raw.posted), ("DTUSER", raw.user_date)):
        if day is not None and day > latest:
            msg = f"{raw.path}.{name} {day.isoformat()} is later than {latest.isoformat()}"
            raise RejectedInput(Reason.FUTURE_DATE, f"{raw.path}.{name}", msg)
    kind = _TRANSACTION_TYPES.get(raw.trntype or "", TransactionType.OTHER)
    return UnifiedTransaction(
        transaction_id=transaction_id(provider_account, raw.fitid),
        account_id=account_id(provider_account),
        provider=PROVIDER,
        provider_account_id=provider_account,
        provider_transaction_id=raw.fitid,
        amount_minor=raw.amount_minor,
        currency=raw.currency,
        status=TransactionStatus.POSTED,
        dates=TransactionDates(posted=raw.posted, authorised=raw.user_date),
        details=TransactionDetails(
            type=kind, channel=Channel.IN_STORE if raw.trntype == "POS" else Channel.OTHER
        ),
        merchant=Merchant(raw_name=raw.name),
    )


def _nothing_to_take(statements: tuple[OfxStatement, ...]) -> RejectedInput:
    if not statements:
        msg = (
            "the file holds no bank, credit-card or investment statement "
            "(STMTRS, CCSTMTRS or INVSTMTRS)"
        )
        return RejectedInput(Reason.MISSING_FIELD, "STMTRS", msg)
    first = statements[0]
    wanted = "INVBAL" if first.kind is StatementKind.INVESTMENT else "LEDGERBAL"
    msg = (
        f"{', '.join(s.path for s in statements)} state neither a balance nor a bank "
        "transaction; positions and investment transactions are not taken yet"
    )
    return RejectedInput(Reason.MISSING_FIELD, f"{first.path}.{wanted}", msg)
