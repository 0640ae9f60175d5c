"""The shipped mapping plans, applied to the real exports they were written for."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from fintra.plans import PlanNotFoundError, list_plans, load_plan
from operators import mapping
from operators.decode import DecodeLimits
from operators.mapping import PlanContext, PlanResult, apply_plan, validate_plan
from operators.observations import AccountsObserved, TransactionsObserved
from schemas.canonical import derived_id
from schemas.envelopes import ConnectEnvelope
from schemas.fos import AccountType, TransactionStatus, TransactionType, UnifiedTransaction
from tests.support.envelopes import FIXTURES

CSV2OFX = FIXTURES / "csv2ofx"
CONVERTED = CSV2OFX / "converted"

# Each shipped plan, the export it reads and how many transactions that export holds.
FIXTURE_OF_PLAN = {
    "capitalone": (CSV2OFX / "capitalone.csv", 2),
    "creditunion": (CSV2OFX / "creditunion.csv", 8),
    "gls": (CSV2OFX / "gls.csv", 1),
    "ingesp": (CSV2OFX / "ingesp.csv", 10),
    "mint": (CSV2OFX / "mint.csv", 4),
    "mint-headerless": (CSV2OFX / "mint_headerless.csv", 4),
    "n26-fr": (CSV2OFX / "n26-fr.csv", 2),
    "outbank": (CSV2OFX / "outbank.csv", 4),
    "payoneer": (CSV2OFX / "payoneer.csv", 2),
    "pcmastercard": (CSV2OFX / "pcmastercard.csv", 2),
    "schwab-checking": (CSV2OFX / "schwab-checking.csv", 4),
    "stripe-default": (CSV2OFX / "stripe-default.csv", 5),
    "ubs-ch-fr": (CSV2OFX / "ubs-ch-fr_trimmed.csv", 3),
    "windows-1252-euro": (FIXTURES / "actualbudget" / "windows-1252-euro.csv", 1),
}

CONTEXT = PlanContext(
    tenant_id="t1",
    profile_id="p1",
    received_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    connection_id="conn-1",
    future_tolerance_days=7,
)


def _apply(plan_name: str, path: Path | None = None) -> PlanResult:
    source = path if path is not None else FIXTURE_OF_PLAN[plan_name][0]
    return apply_plan(load_plan(plan_name), source.read_bytes(), CONTEXT)


def _summary(txn: UnifiedTransaction) -> tuple[object, ...]:
    return (txn.dates.posted, txn.amount_minor, txn.currency, txn.merchant.raw_name)


def _ofx_transactions(name: str) -> list[tuple[str, int]]:
    """Return (yyyymmdd, amount in cents) of each STMTTRN in a csv2ofx reference OFX."""
    text = (CONVERTED / name).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"<STMTTRN>(.*?)</STMTTRN>", text, flags=re.S):
        posted = re.search(r"<DTPOSTED>(\d{8})", block)
        assert posted is not None
        (amount,) = _ofx_amounts(block)
        found.append((posted.group(1), amount))
    return found


def _ofx_amounts(text: str) -> list[int]:
    """Return every TRNAMT in OFX text, in cents."""
    return [
        (-1 if sign else 1) * (int(units) * 100 + int(cents))
        for sign, units, cents in re.findall(r"<TRNAMT>(-?)(\d+)\.(\d\d)<", text)
    ]


def _ofx_ledger_balance(name: str) -> tuple[int, str] | None:
    text = (CONVERTED / name).read_text(encoding="utf-8")
    match = re.search(
        r"<LEDGERBAL>\s*<BALAMT>(\d+)\.(\d\d)</BALAMT>\s*<DTASOF>(\d{8})", text, flags=re.S
    )
    if match is None:
        return None
    return int(match.group(1)) * 100 + int(match.group(2)), match.group(3)


# --------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------


def test_list_plans_names_every_shipped_plan() -> None:
    assert list_plans() == sorted(FIXTURE_OF_PLAN)


def test_load_plan_by_name_and_by_path_give_the_same_document(tmp_path: Path) -> None:
    plan = load_plan("schwab-checking")
    assert plan["name"] == "schwab-checking"
    copy = tmp_path / "mine.json"
    copy.write_text(json.dumps(plan), encoding="utf-8")
    assert load_plan(str(copy)) == plan


def test_unknown_plan_names_the_shipped_ones() -> None:
    with pytest.raises(PlanNotFoundError) as caught:
        load_plan("barclays")
    message = str(caught.value)
    assert "'barclays'" in message
    assert "schwab-checking" in message
    assert "windows-1252-euro" in message


def test_a_plan_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="must be a JSON object, not list"):
        load_plan(str(path))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_plan(str(broken))


# --------------------------------------------------------------------------------------------
# Every plan: valid, and reads its export without a row error
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURE_OF_PLAN))
def test_shipped_plan_validates_and_describes_itself(name: str) -> None:
    plan = load_plan(name)
    assert validate_plan(plan) == []
    assert plan["name"] == name
    assert len(plan["description"]) > 40


@pytest.mark.parametrize("name", sorted(FIXTURE_OF_PLAN))
def test_shipped_plan_reads_its_export_without_errors(name: str) -> None:
    result = _apply(name)
    assert result.errors == ()
    assert len(result.transactions) == FIXTURE_OF_PLAN[name][1]
    ids = [t.transaction_id for t in result.transactions]
    assert len(set(ids)) == len(ids)
    assert _apply(name).transactions == result.transactions


# --------------------------------------------------------------------------------------------
# Schwab: the closing balance whatever the row order
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [2, 3, 4, 5, 6, 7])
def test_schwab_baltest_cases_close_at_878_47_on_17_august(case: int) -> None:
    result = _apply("schwab-checking", CSV2OFX / f"schwab-checking-baltest-case{case}.csv")
    assert result.errors == ()
    assert result.account is not None
    assert result.account.balances.current_minor == 87847
    assert result.account.currency == "USD"
    assert result.balance_date == dt.date(2022, 8, 17)


@pytest.mark.parametrize("case", [3, 4, 5, 6])
def test_schwab_baltest_agrees_with_csv2ofx_where_it_reports_a_ledger_balance(case: int) -> None:
    result = _apply("schwab-checking", CSV2OFX / f"schwab-checking-baltest-case{case}.csv")
    assert result.account is not None
    assert _ofx_ledger_balance(f"schwab-checking-baltest-case{case}.ofx") == (
        result.account.balances.current_minor,
        "20220817",
    )


@pytest.mark.parametrize("case", [2, 7])
def test_schwab_baltest_cases_csv2ofx_leaves_open_are_settled_here(case: int) -> None:
    # csv2ofx gives up on case 2 (dates both rise and fall) and case 7 (two rows, one day,
    # balances consistent in either order); the chain and file-order rules settle them.
    assert _ofx_ledger_balance(f"schwab-checking-baltest-case{case}.ofx") is None
    result = _apply("schwab-checking", CSV2OFX / f"schwab-checking-baltest-case{case}.csv")
    assert result.account is not None
    assert result.account.balances.current_minor == 87847


def test_schwab_checking_matches_its_converted_ofx() -> None:
    result = _apply("schwab-checking")
    assert _ofx_ledger_balance("schwab-checking.ofx") == (87847, "20220817")
    assert result.account is not None
    assert result.account.balances.current_minor == 87847
    assert result.balance_date == dt.date(2022, 8, 17)
    ours = [(t.dates.posted.strftime("%Y%m%d"), t.amount_minor) for t in result.transactions]
    assert ours == _ofx_transactions("schwab-checking.ofx")


def test_schwab_checking_transactions_account_and_balances() -> None:
    result = _apply("schwab-checking")
    assert [_summary(t) for t in result.transactions] == [
        (dt.date(2022, 8, 17), 2000, "USD", "Deposit Mobile Banking"),
        (dt.date(2022, 8, 14), -10300, "USD", "BMO HARRIS BANK"),
        (dt.date(2022, 8, 9), -7500, "USD", "Check Paid #558"),
        (dt.date(2022, 8, 4), -5727, "USD", "PAYPAL INST XFER 220803~ Tran: ACHDW"),
    ]
    assert [t.balance_after_minor for t in result.transactions] == [87847, 85847, 96147, 103647]
    assert {t.status for t in result.transactions} == {TransactionStatus.POSTED}
    account = result.account
    assert account is not None
    assert account.account_id == derived_id("acc", "csv", "schwab-checking")
    assert (account.name, account.type, account.subtype) == (
        "Schwab Checking",
        AccountType.DEPOSITORY,
        "CHECKING",
    )
    assert account.connection_id == "conn-1"


# --------------------------------------------------------------------------------------------
# Concrete values of the other exports
# --------------------------------------------------------------------------------------------


def test_capitalone_debit_is_a_charge_and_credit_a_payment() -> None:
    result = _apply("capitalone")
    charge, payment = result.transactions
    assert (charge.amount_minor, payment.amount_minor) == (-100000, 100000)
    assert charge.dates.posted == dt.date(2016, 1, 2)
    assert charge.dates.authorised == dt.date(2015, 12, 31)
    assert charge.merchant.raw_name == "Airplanes R Us"
    assert charge.enrichment.vendor_category == ("Other Travel",)
    assert charge.provider_account_id == "1234"
    assert result.account is None


def test_creditunion_cr_only_file_with_exotic_payees_and_whole_amounts() -> None:
    result = _apply("creditunion")
    first, last = result.transactions[0], result.transactions[-1]
    assert _summary(first) == (dt.date(2015, 2, 8), 5000000, "USD", "Ằdøłƥh Noƴa")
    assert _summary(last) == (dt.date(2015, 3, 25), 5000000, "USD", "Ƣunȡuƙi Chairman")
    assert sum(t.amount_minor for t in result.transactions) == 46500000


def test_gls_cp1252_decimal_comma_and_closing_balance() -> None:
    result = _apply("gls")
    (txn,) = result.transactions
    assert _summary(txn) == (dt.date(2017, 10, 10), -9876, "EUR", "Drillisch Online AG")
    assert txn.balance_after_minor == 123456
    assert result.account is not None
    assert result.account.provider_account_id == "1234567890"
    assert (result.account.balances.current_minor, result.account.currency) == (123456, "EUR")
    assert _ofx_transactions("gls.ofx") == [("20171010", -9876)]


def test_ingesp_reads_day_first_dates_and_closes_on_the_latest_row() -> None:
    result = _apply("ingesp")
    second = result.transactions[1]
    assert second.dates.posted == dt.date(2022, 4, 8)
    assert second.enrichment.vendor_category == ("Ventajas ING", "Otras Ventajas ING")
    assert _summary(result.transactions[-1]) == (
        dt.date(2022, 11, 13),
        50000,
        "EUR",
        "Traspaso recibido Cuenta Nómina",
    )
    assert result.transactions[-1].balance_after_minor == -12619
    assert result.account is not None
    assert result.account.balances.current_minor == 31888
    assert result.balance_date == dt.date(2022, 12, 31)


def test_ingesp_differs_from_csv2ofx_only_where_it_guessed_month_first() -> None:
    ours = Counter(
        (t.dates.posted.strftime("%Y%m%d"), t.amount_minor) for t in _apply("ingesp").transactions
    )
    theirs = Counter(_ofx_transactions("ingesp.ofx"))
    # 08/04/2022 is 8 April in an ING Spain export; csv2ofx read it month first.
    assert ours - theirs == Counter({("20220408", 269): 1})
    assert theirs - ours == Counter({("20220804", 269): 1})


@pytest.mark.parametrize("name", ["mint", "mint-headerless"])
def test_mint_sign_comes_from_the_transaction_type_column(name: str) -> None:
    result = _apply(name)
    assert [(t.dates.posted, t.amount_minor) for t in result.transactions] == [
        (dt.date(2015, 6, 12), -100000),
        (dt.date(2015, 6, 12), -150000),
        (dt.date(2015, 6, 13), 200000),
        (dt.date(2015, 6, 14), -250000),
    ]
    assert result.transactions[0].merchant.raw_name == "Transfer from Checking"
    assert result.transactions[0].enrichment.vendor_category == ("Checking",)
    # csv2ofx writes Mint's rows as transfers between the two accounts, not as STMTTRNs.
    reference = _ofx_amounts((CONVERTED / "mint.ofx").read_text(encoding="utf-8"))
    assert Counter(t.amount_minor for t in result.transactions) == Counter(reference)


def test_mint_with_and_without_header_give_the_same_ids_under_one_account() -> None:
    with_header = _apply("mint").transactions
    headerless = _apply("mint-headerless").transactions
    assert [t.provider_transaction_id for t in with_header] == [
        t.provider_transaction_id for t in headerless
    ]


def test_n26_space_transfer_pair_is_two_transfers() -> None:
    result = _apply("n26-fr")
    pair = [(t.amount_minor, t.details.type) for t in result.transactions]
    assert pair == [(32800, TransactionType.TRANSFER), (-32800, TransactionType.TRANSFER)]
    assert {t.dates.posted for t in result.transactions} == {dt.date(2020, 3, 7)}
    assert result.transactions[0].merchant.raw_name == "Compte courant"


def test_outbank_decimal_comma_iban_account_and_categories() -> None:
    result = _apply("outbank")
    assert [_summary(t) for t in result.transactions] == [
        (dt.date(2019, 2, 20), 10000, "EUR", "Jane Doe"),
        (dt.date(2019, 2, 8), -6389, "EUR", "Shell Gas"),
        (dt.date(2019, 1, 21), -4700, "EUR", "Vattenfall Europe Energy"),
        (dt.date(2019, 1, 5), -2500, "EUR", "PayPal Europe S.a.r.l. et Cie S.C.A"),
    ]
    assert result.transactions[1].enrichment.vendor_category == ("Travel", "Gas")
    assert {t.provider_account_id for t in result.transactions} == {"DE81254326973657190105"}


def test_payoneer_times_order_the_day_and_the_ids_are_payoneers() -> None:
    result = _apply("payoneer")
    debit, credit = result.transactions
    assert (debit.provider_transaction_id, debit.amount_minor) == ("123", -10000)
    assert (credit.provider_transaction_id, credit.amount_minor) == ("1234", 12000)
    assert debit.dates.posted == dt.date(2021, 5, 3)
    # Same day; 12:31:46 is after 12:08:31, so its balance closes the statement.
    assert result.account is not None
    assert result.account.balances.current_minor == 20000
    assert _ofx_ledger_balance("payoneer.ofx") == (20000, "20210503")


def test_pcmastercard_purchases_are_money_out() -> None:
    result = _apply("pcmastercard")
    assert [_summary(t) for t in result.transactions] == [
        (dt.date(2019, 1, 10), -3633, "CAD", "Mobil"),
        (dt.date(2018, 12, 15), -1398, "CAD", "APL*ITUNES.COM/BILL"),
    ]
    assert [(d, c) for d, c in _ofx_transactions("pcmastercard.ofx")] == [
        ("20190110", -3633),
        ("20181215", -1398),
    ]


def test_stripe_lower_case_currency_and_charge_ids() -> None:
    result = _apply("stripe-default")
    first, last = result.transactions[0], result.transactions[-1]
    assert first.provider_transaction_id == "ch_1IGl9SBI9JK85yVZtjcU9OLJ"
    assert _summary(first) == (
        dt.date(2021, 2, 3),
        2500,
        "CAD",
        "Entry ID: 316, Product: Big Event 2021",
    )
    assert _summary(last) == (dt.date(2021, 3, 16), 1000, "CAD", "Big Customer")
    assert sum(t.amount_minor for t in result.transactions) == 11250


def test_ubs_apostrophe_thousands_debit_credit_and_latest_balance() -> None:
    result = _apply("ubs-ch-fr")
    fee, transfer, order = result.transactions
    assert (fee.amount_minor, fee.balance_after_minor) == (-1000, 1137394)
    assert (transfer.amount_minor, transfer.balance_after_minor) == (24000, 1161394)
    assert order.provider_transaction_id == "9979360TI2115087"
    assert order.dates.posted == dt.date(2019, 4, 27)
    assert result.account is not None
    assert result.account.provider_account_id == "0123 45678901.23A"
    assert (result.account.balances.current_minor, result.account.currency) == (1141394, "CHF")


def test_windows_1252_euro_sign_is_read_from_byte_0x80() -> None:
    (txn,) = _apply("windows-1252-euro").transactions
    assert _summary(txn) == (dt.date(2025, 12, 4), 10025, "EUR", "Café €Rémy")


# --------------------------------------------------------------------------------------------
# Through the normaliser, as Connect delivers a file
# --------------------------------------------------------------------------------------------


def test_schwab_export_through_the_csv_normaliser() -> None:
    content = (CSV2OFX / "schwab-checking.csv").read_bytes()
    envelope = ConnectEnvelope.model_validate(
        {
            "tenant_id": "t1",
            "profile_id": "p1",
            "provider": "csv",
            "connection_id": "upload-1",
            "sync_id": "file-1",
            "received_at": "2026-01-02T00:00:00Z",
            "kind": "csv_file",
            "payload": {
                "filename": "schwab-checking.csv",
                "content_b64": base64.b64encode(content).decode(),
                "plan": load_plan("schwab-checking"),
                "account": {"provider_account_id": "schwab-1234"},
            },
        }
    )
    accounts, transactions = mapping.normalise(envelope, DecodeLimits())
    assert isinstance(accounts, AccountsObserved)
    assert isinstance(transactions, TransactionsObserved)
    (account,) = accounts.accounts
    assert account.account_id == derived_id("acc", "csv", "schwab-1234")
    assert account.balances.current_minor == 87847
    assert len(transactions.upserts) == 4
    assert {u.transaction.account_id for u in transactions.upserts} == {account.account_id}
