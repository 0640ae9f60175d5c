"""The OFX normaliser on every shared OFX/QFX fixture and on hand-made edge cases."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest

from operators import ofx
from operators.decode import DecodeLimits
from operators.exceptions import RejectedInput
from operators.observations import AccountsObserved, Observation, TransactionsObserved
from schemas.canonical import derived_id, find_floats
from schemas.envelopes import ConnectEnvelope
from schemas.fos import (
    AccountType,
    Channel,
    TransactionStatus,
    TransactionType,
    UnifiedAccount,
    UnifiedTransaction,
)
from schemas.records import Reason
from tests.support.envelopes import FIXTURES

LIMITS = DecodeLimits()

# Every OFX/QFX file in the shared fixtures and what becomes of it: (accounts, transactions)
# when it normalises, or the reason it is refused for. A file added to the fixtures without
# an entry here fails test_every_fixture_file_has_an_expected_outcome.
OUTCOMES: dict[str, tuple[int, int] | Reason] = {
    "actualbudget/8859-1.qfx": (1, 1),
    "actualbudget/data-multi-decimal.ofx": (0, 2),
    "actualbudget/html-vals.qfx": (1, 2),
    "csv2ofx/converted/gls.ofx": (0, 1),
    "csv2ofx/converted/ingesp.ofx": (0, 10),
    # Intrabank transfer replies (INTRARS), not a statement.
    "csv2ofx/converted/mint.ofx": Reason.MISSING_FIELD,
    "csv2ofx/converted/n26.ofx": (0, 2),
    "csv2ofx/converted/payoneer.ofx": (1, 2),
    "csv2ofx/converted/pcmastercard.ofx": (0, 2),
    "csv2ofx/converted/schwab-checking-baltest-case2.ofx": (0, 4),
    "csv2ofx/converted/schwab-checking-baltest-case3.ofx": (1, 4),
    "csv2ofx/converted/schwab-checking-baltest-case4.ofx": (1, 4),
    "csv2ofx/converted/schwab-checking-baltest-case5.ofx": (1, 4),
    "csv2ofx/converted/schwab-checking-baltest-case6.ofx": (1, 4),
    "csv2ofx/converted/schwab-checking-baltest-case7.ofx": (0, 2),
    "csv2ofx/converted/schwab-checking.ofx": (1, 4),
    "csv2ofx/converted/stripe-default.ofx": (0, 5),
    # An account listing (ACCTINFORS) states no balance and no transaction.
    "ofxparse/account_listing_aggregation.ofx": Reason.MISSING_FIELD,
    "ofxparse/anzcc.ofx": (1, 1),
    "ofxparse/bank_medium.ofx": (1, 3),
    "ofxparse/bank_small.ofx": Reason.MISSING_FIELD,
    "ofxparse/checking.ofx": (1, 3),
    "ofxparse/error_message.ofx": Reason.PROVIDER_ERROR,
    "ofxparse/fail_nice/date_missing.ofx": Reason.MISSING_FIELD,
    "ofxparse/fail_nice/decimal_error.ofx": Reason.INVALID_AMOUNT,
    "ofxparse/fail_nice/empty_balance.ofx": Reason.MISSING_FIELD,
    # An investment statement with neither INVBAL nor INV401KBAL: nothing to take yet.
    "ofxparse/fidelity-savings.ofx": Reason.MISSING_FIELD,
    "ofxparse/fidelity.ofx": (1, 0),
    "ofxparse/investment_401k.ofx": (1, 0),
    "ofxparse/investment_medium.ofx": (1, 0),
    "ofxparse/multiple_accounts.ofx": (2, 0),
    "ofxparse/multiple_accounts2.ofx": (2, 0),
    "ofxparse/ofx-v102-empty-tags.ofx": Reason.MISSING_FIELD,
    "ofxparse/signon_fail.ofx": Reason.PROVIDER_ERROR,
    "ofxparse/signon_success.ofx": Reason.MISSING_FIELD,
    "ofxparse/signon_success_no_message.ofx": Reason.MISSING_FIELD,
    "ofxparse/suncorp.ofx": (1, 1),
    "ofxparse/td_ameritrade.ofx": (1, 0),
    "ofxparse/tiaacref.ofx": (1, 0),
    "ofxparse/vanguard.ofx": Reason.MISSING_FIELD,
    "ofxparse/vanguard401k.ofx": (1, 0),
}


def _fixture_files() -> set[str]:
    patterns = (
        "ofxparse/**/*",
        "actualbudget/*.ofx",
        "actualbudget/*.qfx",
        "csv2ofx/converted/*.ofx",
    )
    found = {path for pattern in patterns for path in FIXTURES.glob(pattern)}
    return {
        path.relative_to(FIXTURES).as_posix()
        for path in found
        if path.is_file() and path.suffix.lower() in {".ofx", ".qfx"}
    }


def _envelope(
    content: bytes,
    *,
    kind: str = "ofx_file",
    received_at: str = "2026-01-02T00:00:00Z",
    page: int = 0,
) -> ConnectEnvelope:
    return ConnectEnvelope.model_validate(
        {
            "tenant_id": "t1",
            "profile_id": "p1",
            "provider": "ofx",
            "connection_id": "upload-1",
            "sync_id": "sync-1",
            "received_at": received_at,
            "kind": kind,
            "page": page,
            "payload": {
                "filename": "statement.ofx",
                "content_b64": base64.b64encode(content).decode("ascii"),
            },
        }
    )


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _normalise(
    content: bytes, *, received_at: str = "2026-01-02T00:00:00Z", page: int = 0
) -> tuple[Observation, ...]:
    return ofx.normalise(_envelope(content, received_at=received_at, page=page), LIMITS)


def _split(
    observed: tuple[Observation, ...],
) -> tuple[tuple[UnifiedAccount, ...], tuple[UnifiedTransaction, ...]]:
    accounts = tuple(a for o in observed if isinstance(o, AccountsObserved) for a in o.accounts)
    txns = tuple(
        u.transaction for o in observed if isinstance(o, TransactionsObserved) for u in o.upserts
    )
    return accounts, txns


def _fixture(name: str) -> tuple[tuple[UnifiedAccount, ...], tuple[UnifiedTransaction, ...]]:
    return _split(_normalise(_read(name)))


def _refusal(content: bytes, *, received_at: str = "2026-01-02T00:00:00Z") -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        _normalise(content, received_at=received_at)
    return caught.value


def _txn(txns: tuple[UnifiedTransaction, ...], fitid: str) -> UnifiedTransaction:
    (found,) = (t for t in txns if t.provider_transaction_id == fitid)
    return found


def _bank_file(
    transactions: str,
    *,
    header: str = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n",
    ledger: str = "<LEDGERBAL><BALAMT>10.00<DTASOF>20240131</LEDGERBAL>",
    currency: str = "GBP",
    encoding: str = "utf-8",
) -> bytes:
    """Return an OFX 1 bank statement with the given STMTTRN markup."""
    body = (
        "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        "<DTSERVER>20240131</SONRS></SIGNONMSGSRSV1>\n"
        "<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        f"<STMTRS><CURDEF>{currency}<BANKACCTFROM><BANKID>400000<ACCTID>12345678"
        "<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        f"<BANKTRANLIST><DTSTART>20240101<DTEND>20240131\n{transactions}\n</BANKTRANLIST>"
        f"{ledger}</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    return (header + body).encode(encoding)


def _stmttrn(fitid: str, amount: str, *, posted: str = "20240115", name: str = "SHOP") -> str:
    return (
        f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{posted}<TRNAMT>{amount}"
        f"<FITID>{fitid}<NAME>{name}</STMTTRN>"
    )


# Every fixture file
# ------------------


def test_every_fixture_file_has_an_expected_outcome() -> None:
    assert _fixture_files() == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_fixture_normalises_or_is_refused_with_its_reason(name: str) -> None:
    expected = OUTCOMES[name]
    if isinstance(expected, Reason):
        refusal = _refusal(_read(name))
        assert refusal.reason is expected
        assert refusal.field
        assert refusal.message
        return
    observed = _normalise(_read(name))
    accounts, txns = _split(observed)
    assert (len(accounts), len(txns)) == expected
    for observation in observed:
        assert observation.context.provider == "ofx"
        assert (observation.context.page, observation.context.last_page) == (0, True)
        assert (observation.context.connection_id, observation.context.sync_id) == (
            "upload-1",
            "sync-1",
        )
    docs = [a.model_dump(mode="json") for a in accounts] + [t.model_dump(mode="json") for t in txns]
    assert find_floats(docs) == []


@pytest.mark.parametrize(
    "name", sorted(name for name, outcome in OUTCOMES.items() if not isinstance(outcome, Reason))
)
def test_same_bytes_twice_give_identical_observations(name: str) -> None:
    assert _normalise(_read(name)) == _normalise(_read(name))


# Bank and credit-card statements
# -------------------------------


def token(kind: str, number: str) -> str:
    """The provider account id of a qualified account number: a token, never the number."""
    return f"{kind}-{hashlib.sha256(number.encode()).hexdigest()[:20]}"


def test_checking_account_balances_and_transactions() -> None:
    (account,), txns = _fixture("ofxparse/checking.ofx")
    provider_account = token("bank", "5472369148//1452687~7")
    assert account.provider_account_id == provider_account
    assert account.account_id == derived_id("acc", "ofx", provider_account)
    assert account.connection_id == "upload-1"
    assert (account.type, account.subtype, account.currency) == (
        AccountType.DEPOSITORY,
        "CHECKING",
        "USD",
    )
    assert (account.balances.current_minor, account.balances.available_minor) == (10099, 7599)
    assert (account.name, account.mask) == ("Checking 87~7", "87~7")
    assert [t.amount_minor for t in txns] == [1, -3451, -2500]
    dividend = _txn(txns, "0000486")
    assert dividend.transaction_id == derived_id("txn", "ofx", provider_account, "0000486")
    assert dividend.account_id == account.account_id
    assert dividend.dates.posted == dt.date(2011, 3, 31)
    assert dividend.dates.authorised is None
    assert dividend.status is TransactionStatus.POSTED
    assert dividend.currency == "USD"
    # NAME stops at OFX 1's 32 characters; MEMO carries the whole text.
    assert dividend.merchant.raw_name == (
        "DIVIDEND EARNED FOR PERIOD OF 03/01/2011 THROUGH 03/31/2011 "
        "ANNUAL PERCENTAGE YIELD EARNED IS 0.05%"
    )
    check = _txn(txns, "0000488")
    assert (check.dates.posted, check.amount_minor) == (dt.date(2011, 4, 7), -2500)
    assert check.merchant.raw_name == "RETURNED CHECK FEE, CHECK # 319"
    assert check.details.type is TransactionType.PAYMENT


def test_check_number_is_kept_at_the_parse_level() -> None:
    (statement,) = ofx.parse_ofx(_read("ofxparse/checking.ofx"))
    assert [t.check_number for t in statement.transactions] == [None, None, "319"]
    assert statement.transactions[2].trntype == "CHECK"


def test_credit_card_owed_balance_stays_negative_and_available_credit_positive() -> None:
    (card,), (txn,) = _fixture("ofxparse/anzcc.ofx")
    assert (card.type, card.subtype, card.currency) == (AccountType.CREDIT, "CREDIT_CARD", "AUD")
    assert card.provider_account_id == token("card", "1234123412341234")
    assert "1234123412341234" not in card.model_dump_json()
    assert (card.balances.current_minor, card.balances.available_minor) == (-12345, 12345)
    assert txn.provider_transaction_id == "201705080001"
    assert (txn.amount_minor, txn.currency) == (-550, "AUD")
    assert (txn.dates.posted, txn.dates.authorised) == (dt.date(2017, 5, 8), dt.date(2017, 5, 8))
    assert txn.merchant.raw_name == "SOME MEMO"


def test_bank_medium_branch_id_is_part_of_the_account_and_pos_is_in_store() -> None:
    (account,), txns = _fixture("ofxparse/bank_medium.ofx")
    assert account.provider_account_id == token("bank", "160000100/00/12300 000012345678")
    assert (account.currency, account.balances.current_minor) == ("CAD", 38234)
    assert account.balances.available_minor == 68234
    mcdonalds = _txn(txns, "0000123456782009040100001")
    assert (mcdonalds.amount_minor, mcdonalds.dates.posted) == (-660, dt.date(2009, 4, 1))
    assert mcdonalds.merchant.raw_name == "MCDONALD'S #112"
    assert mcdonalds.details.channel is Channel.IN_STORE
    assert _txn(txns, "0000123456782009040200004").amount_minor == -31667


def test_two_statements_in_one_file_are_two_accounts() -> None:
    accounts, txns = _fixture("ofxparse/multiple_accounts.ofx")
    assert txns == ()
    by_id = {a.provider_account_id: a for a in accounts}
    first, second = token("bank", "123/00/9100"), token("bank", "123/00/9200")
    assert sorted(by_id) == sorted([first, second])
    assert by_id[first].balances.current_minor == 11100
    assert by_id[second].balances.current_minor == 22200
    assert by_id[second].subtype == "SAVINGS"
    assert by_id[first].account_id != by_id[second].account_id


def test_suncorp_xml_with_cdata_names() -> None:
    (account,), (txn,) = _fixture("ofxparse/suncorp.ofx")
    assert (account.currency, account.balances.current_minor) == ("AUD", 123412)
    assert txn.merchant.raw_name == "EFTPOS WDL HANDYWAY ALDI STORE"
    assert (txn.amount_minor, txn.dates.posted) == (-1685, dt.date(2013, 12, 15))


def test_statement_without_ledger_balance_yields_transactions_only() -> None:
    observed = _normalise(_read("actualbudget/data-multi-decimal.ofx"))
    (page,) = observed
    assert isinstance(page, TransactionsObserved)
    txns = tuple(u.transaction for u in page.upserts)
    # Trailing zeros beyond the currency's two decimals are exact, so they are taken.
    assert [t.amount_minor for t in txns] == [-3000, -377]
    starbucks = _txn(txns, "00092990121-3.77019012312828.01")
    assert starbucks.merchant.raw_name == "STARBUCKS STORE 07604 01/21 PURC"
    assert (starbucks.currency, starbucks.dates.posted) == ("USD", dt.date(2019, 1, 23))


def test_csv2ofx_files_without_ofxheader_line_normalise() -> None:
    _, gls = _fixture("csv2ofx/converted/gls.ofx")
    (drillisch,) = gls
    assert (drillisch.amount_minor, drillisch.currency) == (-9876, "EUR")
    assert drillisch.dates.posted == dt.date(2017, 10, 10)
    assert drillisch.merchant.raw_name == "Drillisch Online AG"
    assert drillisch.provider_transaction_id == "5d06f9f8b0417d02d496d0e4355686b5"
    (payoneer,), txns = _fixture("csv2ofx/converted/payoneer.ofx")
    assert (payoneer.balances.current_minor, payoneer.currency) == (20000, "USD")
    assert _txn(txns, "1234").amount_minor == 12000
    assert _txn(txns, "123").merchant.raw_name == "payee"


def test_schwab_ledger_balance_and_check() -> None:
    (account,), txns = _fixture("csv2ofx/converted/schwab-checking.ofx")
    assert account.balances.current_minor == 87847
    check = _txn(txns, "558")
    assert (check.amount_minor, check.dates.posted) == (-7500, dt.date(2022, 8, 9))
    assert check.merchant.raw_name == "Check Paid #558"


def test_lower_case_currency_is_read_as_its_iso_code() -> None:
    _, txns = _fixture("csv2ofx/converted/stripe-default.ofx")
    assert {t.currency for t in txns} == {"CAD"}
    invoice = _txn(txns, "ch_1IVbR2BI9JK85yVZUofVdX4R")
    assert (invoice.amount_minor, invoice.merchant.raw_name) == (1000, "Big Customer")
    assert invoice.dates.posted == dt.date(2021, 3, 16)
    # With NAME empty, MEMO names the transaction.
    assert _txn(txns, "ch_1IGl9SBI9JK85yVZtjcU9OLJ").merchant.raw_name == (
        "Entry ID: 316, Product: Big Event 2021"
    )


def test_transactions_without_name_or_memo_have_an_empty_raw_name() -> None:
    _, txns = _fixture("csv2ofx/converted/n26.ofx")
    assert sorted(t.amount_minor for t in txns) == [-32800, 32800]
    assert {t.merchant.raw_name for t in txns} == {""}


def test_credit_line_in_a_bank_statement_is_a_credit_account() -> None:
    (statement,) = ofx.parse_ofx(_read("csv2ofx/converted/pcmastercard.ofx"))
    assert (statement.acct_type, statement.current_minor) == ("CREDITLINE", None)
    content = _read("csv2ofx/converted/pcmastercard.ofx").replace(
        b"</BANKTRANLIST>", b"</BANKTRANLIST><LEDGERBAL><BALAMT>-50.31<DTASOF>20190120</LEDGERBAL>"
    )
    (account,), txns = _split(_normalise(content))
    assert (account.type, account.subtype) == (AccountType.CREDIT, "LINE_OF_CREDIT")
    assert account.balances.current_minor == -5031
    assert sorted(t.amount_minor for t in txns) == [-3633, -1398]


def test_transaction_types_map_to_fos() -> None:
    kinds = ["FEE", "SRVCHG", "INT", "XFER", "DIV", "DIRECTDEP", "POS", "CHECK", "HOLD", "Credit"]
    markup = "".join(
        f"<STMTTRN><TRNTYPE>{kind}<DTPOSTED>20240115<TRNAMT>-1.00<FITID>{index}</STMTTRN>"
        for index, kind in enumerate(kinds)
    )
    _, txns = _split(_normalise(_bank_file(markup)))
    assert [t.details.type for t in txns] == [
        TransactionType.FEE,
        TransactionType.FEE,
        TransactionType.INTEREST,
        TransactionType.TRANSFER,
        TransactionType.INCOME,
        TransactionType.INCOME,
        TransactionType.PAYMENT,
        TransactionType.PAYMENT,
        TransactionType.OTHER,
        TransactionType.PAYMENT,
    ]


def test_transaction_in_its_own_currency() -> None:
    markup = (
        "<STMTTRN><TRNTYPE>POS<DTPOSTED>20240115<TRNAMT>-12.50<FITID>fx1<NAME>HOTEL"
        "<CURRENCY><CURRATE>0.85<CURSYM>EUR</CURRENCY></STMTTRN>"
    )
    (account,), (txn,) = _split(_normalise(_bank_file(markup)))
    assert (account.currency, txn.currency, txn.amount_minor) == ("GBP", "EUR", -1250)


# Encodings, entities and number formats
# --------------------------------------


def test_iso_8859_1_payee_decodes() -> None:
    (account,), (txn,) = _fixture("actualbudget/8859-1.qfx")
    assert txn.merchant.raw_name == "Paiement facture/Carte prépayée"
    assert (txn.amount_minor, txn.currency, txn.provider_transaction_id) == (
        -2000,
        "CAD",
        "wSoKuCS77",
    )
    assert txn.dates.posted == dt.date(2022, 10, 19)
    assert (account.balances.current_minor, account.balances.available_minor) == (999999, 999999)
    assert account.provider_account_id == token("bank", "700012345/0055666/999-12345-0055666-EOP")


def test_windows_1252_euro_sign_and_accents_decode() -> None:
    content = _bank_file(_stmttrn("eur1", "-4.20", name="Caf\xe9 \u20acR\xe9my"), encoding="cp1252")
    assert b"\x80" in content
    _, (txn,) = _split(_normalise(content))
    assert txn.merchant.raw_name == "Café €Rémy"


@pytest.mark.parametrize(
    ("charset", "codec", "name"),
    [
        ("8859-1", "cp1252", "Caf\xe9 \u20ac"),
        ("ISO-8859-1", "cp1252", "Caf\xe9 \u20ac"),
        ("1251", "cp1251", "\u041a\u0430\u0444\u0435"),
    ],
)
def test_declared_single_byte_charsets(charset: str, codec: str, name: str) -> None:
    header = f"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:{charset}\n\n"
    content = _bank_file(_stmttrn("c1", "-1.00", name=name), header=header, encoding=codec)
    _, (txn,) = _split(_normalise(content))
    assert txn.merchant.raw_name == name


def test_bytes_that_fit_no_declared_charset_are_refused() -> None:
    header = "OFXHEADER:100\nDATA:OFXSGML\nCHARSET:KLINGON\n\n"
    content = _bank_file(_stmttrn("c1", "-1.00", name="Caf\xe9"), header=header, encoding="cp1252")
    refusal = _refusal(content)
    assert (refusal.reason, refusal.field) == (Reason.INVALID_ENCODING, "payload.content_b64")
    assert "KLINGON" in refusal.message


def test_utf8_body_labelled_1252_is_read_as_utf8() -> None:
    content = _bank_file(_stmttrn("u1", "-4.20", name="Café €Rémy"), encoding="utf-8")
    _, (txn,) = _split(_normalise(content))
    assert txn.merchant.raw_name == "Café €Rémy"


def test_html_entities_are_unescaped_even_when_escaped_twice() -> None:
    (account,), txns = _fixture("actualbudget/html-vals.qfx")
    assert account.balances.current_minor == 111111
    tpay = _txn(txns, "23060061032549554596530000")
    assert tpay.merchant.raw_name == "TPAY <DEFTPYMT>"
    assert (tpay.amount_minor, tpay.currency) == (-100, "CAD")
    # [-5:EST] does not move the date: it is the bank's calendar day.
    assert _txn(txns, "23129130032333396279270000").dates.posted == dt.date(2023, 5, 9)
    (statement,) = ofx.parse_ofx(_read("actualbudget/html-vals.qfx"))
    assert statement.transactions[0].memo == (
        "PREAUTHORIZED DEBIT;B.C. HYDRO & POWER AUTHORITY;Electronic Funds Transfer"
    )


def test_ampersands_that_are_not_entities_stay_as_written() -> None:
    _, (txn,) = _split(_normalise(_bank_file(_stmttrn("a1", "-1.00", name="AT&T Ben&notary"))))
    assert txn.merchant.raw_name == "AT&T Ben&notary"


@pytest.mark.parametrize(
    ("text", "minor"),
    [("-30.000", -3000), ("-3.77000", -377), ("+00000000000115.83", 11583), ("12,34", 1234)]
    + [("-.50", -50), ("7", 700), ("7.", 700)],
)
def test_amount_formats(text: str, minor: int) -> None:
    _, (txn,) = _split(_normalise(_bank_file(_stmttrn("n1", text))))
    assert txn.amount_minor == minor


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("$120", Reason.INVALID_AMOUNT),
        ("1,234.56", Reason.INVALID_AMOUNT),
        ("12 EUR", Reason.INVALID_AMOUNT),
        ("-", Reason.INVALID_AMOUNT),
        ("1.234", Reason.EXCESS_PRECISION),
    ],
)
def test_amounts_that_are_not_exact_are_refused(text: str, reason: Reason) -> None:
    refusal = _refusal(_bank_file(_stmttrn("n1", text)))
    assert refusal.reason is reason
    assert refusal.field == "STMTRS[0].BANKTRANLIST.STMTTRN[0].TRNAMT"


def test_local_date_is_kept_even_east_of_utc() -> None:
    _, (txn,) = _split(
        _normalise(_bank_file(_stmttrn("d1", "-1.00", posted="20240115000000[+10:AEST]")))
    )
    assert txn.dates.posted == dt.date(2024, 1, 15)


def test_unknown_currency_is_refused() -> None:
    refusal = _refusal(_bank_file(_stmttrn("c1", "-1.00"), currency="XYZ"))
    assert (refusal.reason, refusal.field) == (Reason.UNKNOWN_CURRENCY, "STMTRS[0].CURDEF")


# Markup quirks
# -------------


def test_unclosed_empty_sgml_element_does_not_swallow_later_transactions() -> None:
    markup = (
        "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240115<TRNAMT>-1.00<FITID>e1<NAME><MEMO>COFFEE"
        "</STMTTRN>\n" + _stmttrn("e2", "-2.00") + "\n" + _stmttrn("e3", "-3.00")
    )
    _, txns = _split(_normalise(_bank_file(markup)))
    assert [t.provider_transaction_id for t in txns] == ["e1", "e2", "e3"]
    # The empty NAME is closed before MEMO, so MEMO stays the transaction's own.
    assert txns[0].merchant.raw_name == "COFFEE"


def test_two_cdata_values_on_one_line() -> None:
    markup = (
        "<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240115</DTPOSTED><TRNAMT>-1.00</TRNAMT>"
        "<FITID>c1</FITID><NAME><![CDATA[A < B]]></NAME><MEMO><![CDATA[MEMO]]></MEMO></STMTTRN>"
    )
    _, (txn,) = _split(_normalise(_bank_file(markup)))
    assert txn.merchant.raw_name == "A < B"


def test_file_without_any_header_and_leading_blank_lines() -> None:
    content = _bank_file(_stmttrn("h1", "-1.00"), header="\r\n" * 12)
    (account,), (txn,) = _split(_normalise(content))
    assert (account.balances.current_minor, txn.amount_minor) == (1000, -100)


def test_empty_tags_file_is_read_then_refused_for_its_empty_currency() -> None:
    refusal = _refusal(_read("ofxparse/ofx-v102-empty-tags.ofx"))
    assert (refusal.reason, refusal.field) == (Reason.MISSING_FIELD, "STMTRS[0].CURDEF")


@pytest.mark.parametrize(
    "content",
    [b"Date,Payee,Amount\n2024-01-01,Shop,1.00\n", b"", b"\x00\x01binary<OFXX>"],
)
def test_non_ofx_bytes_are_unparseable(content: bytes) -> None:
    refusal = _refusal(content)
    assert (refusal.reason, refusal.field) == (Reason.UNPARSEABLE_FILE, "payload.content_b64")
    assert "<OFX>" in refusal.message


def test_broken_markup_is_unparseable() -> None:
    content = _bank_file(_stmttrn("b1", "-1.00")).replace(b"</BANKTRANLIST>", b"</BANKTRANLST>")
    refusal = _refusal(content)
    assert refusal.reason is Reason.UNPARSEABLE_FILE
    assert "BANKTRANLST" in refusal.message


def test_truncated_file_is_unparseable_not_read_in_part() -> None:
    content = _read("ofxparse/checking.ofx")
    refusal = _refusal(content[: content.index(b"<FITID>0000488")])
    assert refusal.reason is Reason.UNPARSEABLE_FILE
    assert "cut short" in refusal.message


# Refusals
# --------


def test_fail_nice_date_missing_names_the_transaction() -> None:
    refusal = _refusal(_read("ofxparse/fail_nice/date_missing.ofx"))
    assert refusal.field == "STMTRS[0].BANKTRANLIST.STMTTRN[0].DTPOSTED"
    assert refusal.message.endswith("is required")


def test_fail_nice_decimal_error_names_the_amount() -> None:
    refusal = _refusal(_read("ofxparse/fail_nice/decimal_error.ofx"))
    assert refusal.field == "STMTRS[0].BANKTRANLIST.STMTTRN[0].TRNAMT"
    assert "'$120'" in refusal.message


def test_fail_nice_empty_balance_is_a_missing_field() -> None:
    refusal = _refusal(_read("ofxparse/fail_nice/empty_balance.ofx"))
    assert refusal.field == "STMTRS[0].LEDGERBAL.BALAMT"
    assert refusal.message.endswith("is empty")


def test_empty_dtposted_and_impossible_dates() -> None:
    empty = _refusal(_bank_file(_stmttrn("d1", "-1.00", posted="")))
    assert (empty.reason, empty.field) == (
        Reason.MISSING_FIELD,
        "STMTRS[0].BANKTRANLIST.STMTTRN[0].DTPOSTED",
    )
    for text in ("20120231", "201120000000", "2012-02-03", "00010101000000[+5:X]"):
        refusal = _refusal(_bank_file(_stmttrn("d1", "-1.00", posted=text)))
        assert refusal.reason is Reason.INVALID_DATE
        assert text in refusal.message


def test_missing_fitid_is_a_missing_id() -> None:
    markup = "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240115<TRNAMT>-1.00<NAME>X</STMTTRN>"
    refusal = _refusal(_bank_file(markup))
    assert (refusal.reason, refusal.field) == (
        Reason.MISSING_ID,
        "STMTRS[0].BANKTRANLIST.STMTTRN[0].FITID",
    )


def test_statement_error_status_carries_the_banks_code_and_message() -> None:
    refusal = _refusal(_read("ofxparse/error_message.ofx"))
    assert refusal.field == "STMTTRNRS[0].STATUS"
    assert "2000" in refusal.message
    assert "General Server Error" in refusal.message


def test_signon_error_status_carries_the_banks_code_and_message() -> None:
    refusal = _refusal(_read("ofxparse/signon_fail.ofx"))
    assert refusal.field == "SIGNONMSGSRSV1.SONRS.STATUS"
    assert "15500" in refusal.message
    assert "invalid identification code" in refusal.message


def test_file_without_statement_says_so() -> None:
    refusal = _refusal(_read("ofxparse/signon_success.ofx"))
    assert refusal.field == "STMTRS"
    assert "no bank, credit-card or investment statement" in refusal.message


def test_future_dates_are_refused() -> None:
    refusal = _refusal(_read("ofxparse/checking.ofx"), received_at="2011-03-20T00:00:00Z")
    assert refusal.reason is Reason.FUTURE_DATE
    assert refusal.field == "STMTRS[0].BANKTRANLIST.STMTTRN[0].DTPOSTED"
    # Within the tolerance (seven days by default) the file is taken.
    assert _normalise(_read("ofxparse/checking.ofx"), received_at="2011-04-01T00:00:00Z")


def test_repeated_fitid_with_the_same_content_is_taken_once() -> None:
    markup = _stmttrn("dup", "-1.00") + _stmttrn("dup", "-1.00") + _stmttrn("other", "-2.00")
    _, txns = _split(_normalise(_bank_file(markup)))
    assert [t.provider_transaction_id for t in txns] == ["dup", "other"]


def test_repeated_fitid_with_other_content_is_a_conflict() -> None:
    markup = _stmttrn("dup", "-1.00") + _stmttrn("dup", "-9.00")
    refusal = _refusal(_bank_file(markup))
    assert refusal.reason is Reason.IDEMPOTENCY_CONFLICT
    assert refusal.field == "STMTRS[0].BANKTRANLIST.STMTTRN[1].FITID"


def test_only_ofx_files_are_taken() -> None:
    envelope = _envelope(_read("ofxparse/checking.ofx"), kind="csv_file")
    with pytest.raises(RejectedInput) as caught:
        ofx.normalise(envelope, LIMITS)
    assert caught.value.reason is Reason.UNSUPPORTED_KIND


def test_payload_must_carry_base64_content() -> None:
    envelope = _envelope(b"<OFX></OFX>")
    broken = envelope.model_copy(update={"payload": {"filename": "a.ofx", "content_b64": "%%"}})
    with pytest.raises(RejectedInput) as caught:
        ofx.normalise(broken, LIMITS)
    assert (caught.value.reason, caught.value.field) == (
        Reason.INVALID_ENCODING,
        "payload.content_b64",
    )
    missing = envelope.model_copy(update={"payload": {"filename": "a.ofx"}})
    with pytest.raises(RejectedInput) as caught:
        ofx.normalise(missing, LIMITS)
    assert (caught.value.reason, caught.value.field) == (
        Reason.MISSING_FIELD,
        "payload.content_b64",
    )


def test_a_file_is_one_complete_page_whatever_the_envelope_page() -> None:
    observed = _normalise(_read("ofxparse/checking.ofx"), page=3)
    assert {(o.context.page, o.context.last_page) for o in observed} == {(0, True)}


# Investment statements
# ---------------------


def test_brokerage_cash_is_the_balance_and_positions_wait_for_holdings() -> None:
    observed = _normalise(_read("ofxparse/fidelity.ofx"))
    (accounts,) = observed
    assert isinstance(accounts, AccountsObserved)
    (account,) = accounts.accounts
    assert (account.type, account.subtype, account.currency) == (
        AccountType.INVESTMENT,
        None,
        "USD",
    )
    assert account.provider_account_id == token("inv", "fidelity.com/01234567890")
    assert (account.balances.current_minor, account.balances.available_minor) == (
        1807398,
        1807398,
    )


@pytest.mark.parametrize(
    ("name", "provider_account", "currency", "current", "available"),
    [
        ("ofxparse/investment_401k.ofx", "example.org/12345678.123456-01", "USD", 100000, None),
        ("ofxparse/investment_medium.ofx", "404/ABC123", "CAD", 100, 100),
        ("ofxparse/td_ameritrade.ofx", "ameritrade.com/121212121", "USD", 0, 0),
        ("ofxparse/tiaacref.ofx", "TIAA-CREF.ORG/111A1111 22B222 33C333", "USD", 0, 0),
        ("ofxparse/vanguard401k.ofx", "vanguard.com/0123456", "USD", 0, None),
    ],
)
def test_investment_balances(
    name: str, provider_account: str, currency: str, current: int, available: int | None
) -> None:
    (account,), txns = _fixture(name)
    assert txns == ()
    assert account.type is AccountType.INVESTMENT
    assert (account.provider_account_id, account.currency) == (
        token("inv", provider_account),
        currency,
    )
    assert (account.balances.current_minor, account.balances.available_minor) == (
        current,
        available,
    )


def test_investment_statement_without_balance_is_refused_as_nothing_to_take() -> None:
    refusal = _refusal(_read("ofxparse/vanguard.ofx"))
    assert (refusal.reason, refusal.field) == (Reason.MISSING_FIELD, "INVSTMTRS[0].INVBAL")
    assert "not taken yet" in refusal.message


def test_parse_level_reads_investment_statements_without_balance() -> None:
    (statement,) = ofx.parse_ofx(_read("ofxparse/fidelity-savings.ofx"))
    assert statement.kind is ofx.StatementKind.INVESTMENT
    assert (statement.current_minor, statement.available_minor) == (None, None)
    assert statement.transactions == ()
