"""Every shipped mapping plan's bank export, and OFX files, through the real flow."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from fintra.files import file_envelope
from fintra.plans import load_plan
from fintra.profiles import load_profile
from schemas.envelopes import Provider
from tests.integration.conftest import Core
from tests.support.envelopes import FIXTURES

pytestmark = pytest.mark.integration

CSV_FILES = {
    "csv2ofx/capitalone.csv": "capitalone",
    "csv2ofx/creditunion.csv": "creditunion",
    "csv2ofx/gls.csv": "gls",
    "csv2ofx/ingesp.csv": "ingesp",
    "csv2ofx/mint.csv": "mint",
    "csv2ofx/mint_headerless.csv": "mint-headerless",
    "csv2ofx/n26-fr.csv": "n26-fr",
    "csv2ofx/outbank.csv": "outbank",
    "csv2ofx/payoneer.csv": "payoneer",
    "csv2ofx/pcmastercard.csv": "pcmastercard",
    "csv2ofx/schwab-checking.csv": "schwab-checking",
    "csv2ofx/stripe-default.csv": "stripe-default",
    "csv2ofx/ubs-ch-fr_trimmed.csv": "ubs-ch-fr",
    "actualbudget/windows-1252-euro.csv": "windows-1252-euro",
    **{f"csv2ofx/schwab-checking-baltest-case{n}.csv": "schwab-checking" for n in range(2, 8)},
}
RECEIVED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _profile(name: str) -> str:
    return name.split("/")[1].rsplit(".", 1)[0].replace("_", "-")


def test_every_shipped_plan_reads_its_export_through_the_flow(core: Core) -> None:
    envelopes = [
        orjson.dumps(
            file_envelope(
                Provider.CSV,
                "banks",
                _profile(name),
                FIXTURES / name,
                RECEIVED,
                plan=load_plan(plan),
            )
        )
        for name, plan in sorted(CSV_FILES.items())
    ]
    assert core.ingest(envelopes) == len(CSV_FILES)
    core.run_until_idle()
    assert core.dead_letters() == []
    for case in range(2, 8):
        doc = load_profile(
            core.info.database_url,
            core.settings.db_schema,
            "banks",
            f"schwab-checking-baltest-case{case}",
        )
        assert doc is not None
        (account,) = doc["accounts"]
        assert account["balances"]["current"] == {"value": "878.47", "currency": "USD"}
    ubs = load_profile(
        core.info.database_url, core.settings.db_schema, "banks", "ubs-ch-fr-trimmed"
    )
    assert ubs is not None
    assert ubs["accounts"][0]["currency"] == "CHF"
    profiles = core.query("SELECT count(DISTINCT profile_id) FROM core_events")
    assert profiles == [(len(CSV_FILES),)]

    # The same files again: every row is already known, nothing new is recorded.
    before = core.query("SELECT count(*) FROM core_events")
    core.ingest(envelopes)
    core.run_until_idle()
    assert core.query("SELECT count(*) FROM core_events") == before


def test_ofx_files_normalise_or_dead_letter_with_a_reason(core: Core) -> None:
    names = sorted(
        p.relative_to(FIXTURES).as_posix()
        for folder in ("ofxparse", "actualbudget")
        for p in (FIXTURES / folder).rglob("*")
        if p.suffix.lower() in {".ofx", ".qfx"}
    )
    envelopes = [
        orjson.dumps(file_envelope(Provider.OFX, "banks", f"ofx-{i}", FIXTURES / name, RECEIVED))
        for i, name in enumerate(names)
    ]
    core.ingest(envelopes)
    core.run_until_idle()
    letters = core.dead_letters()
    reasons = {x["reason"] for x in letters}
    assert reasons <= {"provider_error", "missing_field", "invalid_amount"}
    assert {"provider_error", "missing_field", "invalid_amount"} <= reasons
    accepted = core.query("SELECT count(DISTINCT profile_id) FROM core_events")[0][0]
    assert accepted + len(letters) == len(names)
