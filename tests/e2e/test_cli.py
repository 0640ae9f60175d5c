"""The ``fintra`` command as a user runs it, on the session's broker and database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest

from fintra.api_server import api_database_url
from fintra.embedded import StackInfo
from fintra.topics import read_all
from flows.metrics import BYTEWAX_METRICS
from tests.support.envelopes import FIXTURES, envelope, plaid_fixture, plaid_txn, sync_page

pytestmark = pytest.mark.e2e


def _fintra(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fintra.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_up_ingest_run_profile(cli_env: dict[str, str], stack: StackInfo, tmp_path: Path) -> None:
    up = _fintra(cli_env, "up")
    assert up.returncode == 0, up.stderr
    status = _fintra(cli_env, "status", "--json")
    assert json.loads(status.stdout) == {
        "kafka_brokers": stack.kafka_brokers,
        "database_url": stack.database_url,
        "embedded": False,
    }
    syncs = tmp_path / "syncs.jsonl"
    lines = [
        envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts"),
        envelope(
            sync_page(
                added=[
                    plaid_txn(
                        "a",
                        12.5,
                        account_id="BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp",
                        currency="USD",
                    )
                ]
            )
        ),
    ]
    syncs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    ingest = _fintra(cli_env, "ingest", str(syncs))
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.startswith("published 2 envelopes")

    ran = _fintra(cli_env, "run", "--until-idle")
    assert ran.returncode == 0, ran.stderr

    shown = _fintra(cli_env, "profile", "t1", "p1")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["tenant_id"], doc["profile_id"]) == ("t1", "p1")
    assert doc["transaction_count"] == 1
    assert doc["net_worth"] == {
        "value": "-65562.00",
        "currency": "USD",
        "source_event_id": doc["net_worth"]["source_event_id"],
        "version": 3,
        "at": "2026-01-02T00:00:00Z",
    }
    assert doc["base_currency"] == "USD"
    assert doc["unpriced_assets"] == []
    assert doc["total_debt"]["value"] == "65672.00"
    checking = next(a for a in doc["accounts"] if a["name"] == "Plaid Checking")
    assert checking["balances"]["current"] == {"value": "110.00", "currency": "USD"}
    # Three accounts, one transaction with its enrichment, and the sync's summary.
    assert doc["version"] == 6

    missing = _fintra(cli_env, "profile", "t1", "nobody")
    assert missing.returncode == 1
    assert "no profile t1:nobody" in missing.stderr

    sent = _fintra(
        cli_env,
        "command",
        "t1",
        "p1",
        "SetBaseCurrency",
        "--id",
        "c-eur",
        "--payload",
        '{"base_currency": "EUR"}',
    )
    assert sent.stdout.strip() == "c-eur", sent.stderr
    assert _fintra(cli_env, "run", "--until-idle").returncode == 0
    doc = json.loads(_fintra(cli_env, "profile", "t1", "p1").stdout)
    assert doc["base_currency"] == "EUR"
    assert {item["reason"] for item in doc["unpriced_assets"]} == {"no_fx_rate"}


def test_ingest_of_a_missing_file_says_so(cli_env: dict[str, str]) -> None:
    result = _fintra(cli_env, "ingest", "/nonexistent/syncs.jsonl")
    assert result.returncode == 1
    assert "no such file: /nonexistent/syncs.jsonl" in result.stderr


def test_bank_exports_take_the_same_path_as_syncs(cli_env: dict[str, str]) -> None:
    assert _fintra(cli_env, "up").returncode == 0
    schwab = FIXTURES / "csv2ofx" / "schwab-checking-baltest-case3.csv"
    result = _fintra(
        cli_env,
        "ingest",
        "--provider",
        "csv",
        "--plan",
        "schwab-checking",
        "--tenant",
        "banks",
        "--profile",
        "schwab",
        str(schwab),
    )
    assert result.stdout.startswith("published 1 csv files"), result.stderr
    ofx = [
        FIXTURES / "ofxparse" / "checking.ofx",
        FIXTURES / "ofxparse" / "fail_nice" / "decimal_error.ofx",
    ]
    result = _fintra(
        cli_env,
        "ingest",
        "--provider",
        "ofx",
        "--tenant",
        "banks",
        "--profile",
        "ofx",
        *map(str, ofx),
    )
    assert result.stdout.startswith("published 2 ofx files"), result.stderr
    assert _fintra(cli_env, "run", "--until-idle").returncode == 0

    shown = json.loads(_fintra(cli_env, "profile", "banks", "schwab").stdout)
    (account,) = shown["accounts"]
    assert account["balances"]["current"] == {"value": "878.47", "currency": "USD"}
    assert shown["transaction_count"] == 4
    assert json.loads(_fintra(cli_env, "profile", "banks", "ofx").stdout)["transaction_count"] == 3
    listed = json.loads(_fintra(cli_env, "dlq", "ls", "--json").stdout)
    assert [x["reason"] for x in listed] == ["invalid_amount"]
    missing_plan = _fintra(
        cli_env, "ingest", "--provider", "csv", "--tenant", "banks", "--profile", "x", str(schwab)
    )
    assert missing_plan.returncode == 1
    assert "--plan" in missing_plan.stderr


def test_mapping_commands(cli_env: dict[str, str]) -> None:
    listed = _fintra(cli_env, "mapping", "list", "--json")
    assert "schwab-checking" in json.loads(listed.stdout)
    fixture = str(FIXTURES / "csv2ofx" / "schwab-checking-baltest-case5.csv")
    validated = _fintra(cli_env, "mapping", "validate", "schwab-checking", fixture)
    assert validated.returncode == 0, validated.stderr
    assert json.loads(validated.stdout)["closing_balance"] == {
        "value": "878.47",
        "currency": "USD",
        "date": "2022-08-17",
    }
    preview = _fintra(
        cli_env,
        "mapping",
        "preview",
        "ingesp",
        str(FIXTURES / "csv2ofx" / "ingesp.csv"),
        "--rows",
        "2",
    )
    assert len(json.loads(preview.stdout)["transactions"]) == 2
    wrong = _fintra(cli_env, "mapping", "validate", "gls", fixture)
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout)["errors"][0]["code"]
    unknown = _fintra(cli_env, "mapping", "validate", "no-such-bank", fixture)
    assert unknown.returncode == 1
    assert "schwab-checking" in unknown.stderr


def test_ingest_market_publishes_ticks_keyed_by_instrument(
    cli_env: dict[str, str], stack: StackInfo, tmp_path: Path
) -> None:
    assert _fintra(cli_env, "up").returncode == 0
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text(
        '{"type": "FX", "base": "USD", "quote": "GBP", "rate": "0.80",'
        ' "as_of": "2026-10-01T00:00:00Z", "source": "ecb"}\n'
        '{"type": "PRICE", "security_id": "sec-1", "quote_symbol": "AAPL", "price": "176.19",'
        ' "currency": "USD", "as_of": "2026-10-01T00:00:00Z", "source": "feed"}\n'
        '{"type": "PRICE", "price": "1"}\n'
    )
    result = _fintra(cli_env, "ingest", "--market", str(ticks))
    assert result.stdout.startswith("published 3 market ticks"), result.stderr
    topic = cli_env["FINTRA_TOPIC_PREFIX"] + "marketstream.price_updated.v1"
    keys = sorted((m.key() or b"-") for m in read_all(stack.kafka_brokers, topic))
    assert keys == [b"-", b"FX:USD/GBP", b"SEC:sec-1"]
    assert _fintra(cli_env, "run", "--until-idle").returncode == 0
    listed = json.loads(_fintra(cli_env, "dlq", "ls", "--json").stdout)
    assert [x["reason"] for x in listed] == ["missing_field"]


def test_run_serves_prometheus_metrics(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert _fintra(cli_env, "up").returncode == 0
    syncs = tmp_path / "syncs.jsonl"
    syncs.write_text(
        json.dumps(envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts"))
        + "\n{broken\n"
    )
    assert _fintra(cli_env, "ingest", str(syncs)).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = subprocess.Popen(
        [sys.executable, "-m", "fintra.cli", "run", "--metrics-port", str(port)],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        text = ""
        deadline = time.monotonic() + 60
        expected = (
            'fintra_inputs_total{outcome="accepted"',
            'fintra_dead_letters_total{reason="missing_key"} 1.0',
            'fintra_events_total{type="AccountCreated"} 3.0',
            # The dataflow's own, on the same endpoint: recovery snapshots were written.
            "bytewax_partd_write_duration_seconds_count",
            "bytewax_snapshot_duration_seconds_count",
        )
        # The flow keeps running: poll until it has counted both inputs, or give up.
        while not all(e in text for e in expected) and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as page:  # noqa: S310
                    text = page.read().decode()
            except OSError:
                continue
        assert 'fintra_inputs_total{outcome="accepted"' in text
        assert 'fintra_dead_letters_total{reason="missing_key"} 1.0' in text
        assert 'fintra_events_total{type="AccountCreated"} 3.0' in text
        assert all(name in text for name in BYTEWAX_METRICS), BYTEWAX_METRICS
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_demo_leaves_the_api_running_with_a_token_link(
    cli_env: dict[str, str], stack: StackInfo
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**cli_env, "FINTRA_API_DATABASE_URL": api_database_url(stack)}
    demo = _fintra(
        env, "demo", "--tenants", "1", "--profiles", "2", "--months", "2", "--api-port", str(port)
    )
    try:
        assert demo.returncode == 0, demo.stdout + demo.stderr
        link = next(
            line.split(": ", 1)[1] for line in demo.stdout.splitlines() if "#token=" in line
        )
        base, token = link.split("/#token=")
        assert base == f"http://127.0.0.1:{port}"
        doc = _profile_me(base, token)
        assert (doc["tenant_id"], doc["profile_id"]) == ("t_001", "p_0001")
        minted = _fintra(env, "token", "--tenant", "t_001", "--profile", "p_0002")
        assert minted.returncode == 0, minted.stderr
        assert minted.stdout.count("\n") == 1
        assert minted.stdout.count(".") == 2
        assert _profile_me(base, minted.stdout.strip())["profile_id"] == "p_0002"
    finally:
        down = _fintra(env, "down")
    assert "API stopped" in down.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def _profile_me(base: str, token: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/v1/profile/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def test_replay_from_the_beginning_a_position_or_a_time_adds_nothing(
    cli_env: dict[str, str], stack: StackInfo, tmp_path: Path
) -> None:
    syncs = tmp_path / "syncs.jsonl"
    lines = [
        envelope(plaid_fixture("accounts_balance_get.json"), kind="accounts"),
        envelope(sync_page(added=[plaid_txn("a", 5), plaid_txn("b", 7)]), sync_id="s2"),
    ]
    syncs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert _fintra(cli_env, "ingest", str(syncs)).returncode == 0
    assert _fintra(cli_env, "run", "--until-idle").returncode == 0
    profile = _fintra(cli_env, "profile", "t1", "p1").stdout
    for start in ("beginning", "connect.sync_completed.v1:0:0", "2000-01-01T00:00:00Z"):
        replayed = _fintra(cli_env, "replay", "--from", start, "--run")
        assert replayed.returncode == 0, replayed.stderr
        assert "(0 new)" in replayed.stdout, replayed.stdout
        assert _fintra(cli_env, "profile", "t1", "p1").stdout == profile
    topic = cli_env["FINTRA_TOPIC_PREFIX"] + "connect.sync_completed.v1"
    replays = [
        message
        for message in read_all(stack.kafka_brokers, topic)
        if any(name == "fintra-replay-of" for name, _ in message.headers() or [])
    ]
    # Partition 0 from offset 0 (whatever it held), then both messages again by time.
    assert len(replays) >= 2
    bad = _fintra(cli_env, "replay", "--from", "yesterday")
    assert bad.returncode == 1
    assert "is not 'beginning'" in bad.stderr
