"""``fintra demo``: generated syncs through the whole pipeline, then a summary per profile.

The generator knows what every profile should end with, so the demo checks the twin
against it and says so, instead of asking the reader to trust the numbers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from api.auth import mint_token
from fintra import api_server, stack
from fintra.ingest import publish, read_lines
from fintra.profiles import event_counts, list_profiles
from fintra.runner import run
from fintra.samples import ProfileTruth, SampleSpec, generate, write_jsonl
from fintra.settings import CONNECT_SYNC_TOPIC, DLQ_TOPIC, Settings
from fintra.topics import message_count
from schemas.money import format_minor


def run_demo(  # noqa: PLR0913 - the demo's knobs, all keyword-only
    settings: Settings,
    *,
    seed: int,
    tenants: int,
    profiles: int,
    months: int,
    api_port: int | None = api_server.DEFAULT_PORT,
) -> int:
    """Run the demo; return 0 when every profile matches what the generator expects."""
    print("starting the embedded broker and database …", flush=True)
    info = stack.up(settings)
    sample = generate(
        SampleSpec(seed=seed, tenants=tenants, profiles_per_tenant=profiles, months=months)
    )
    path = settings.home / "demo" / f"syncs-seed{seed}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, sample.envelopes)
    topic = settings.topic(CONNECT_SYNC_TOPIC)
    published = publish(info.kafka_brokers, topic, read_lines([path]))
    print(f"published {published} Plaid sync envelopes ({path})", flush=True)
    started = time.perf_counter()
    run(settings, info, until_idle=True)
    elapsed = time.perf_counter() - started
    docs = list_profiles(info.database_url, settings.db_schema)
    counts = event_counts(info.database_url, settings.db_schema)
    dead = message_count(info.kafka_brokers, settings.topic(DLQ_TOPIC))
    print(
        f"processed in {elapsed:.1f}s: {sum(counts.values())} events in the log "
        f"({_describe(counts)}), {dead} dead letters\n"
    )
    mismatches = 0
    for doc in docs:
        truth = sample.truth.get((doc["tenant_id"], doc["profile_id"]))
        ok = truth is not None and _matches(doc, truth)
        mismatches += 0 if ok else 1
        print(_summary(doc, ok))
    verdict = "every profile matches" if mismatches == 0 else f"{mismatches} profiles differ"
    print(f"\n{len(docs)} profiles; {verdict} the generator's expected balances and counts.")
    program = _program()
    if not docs:
        print("No profiles were produced.")
        return 1
    first = docs[0]
    print(f"Inspect one: {program} profile {first['tenant_id']} {first['profile_id']}")
    if api_port is not None:
        _print_page_link(settings, first["tenant_id"], first["profile_id"], api_port)
    print(f"Stop the embedded stack with: {program} down")
    return 0 if mismatches == 0 else 1


def _print_page_link(settings: Settings, tenant_id: str, profile_id: str, port: int) -> None:
    """Start the API in the background and print the live page's address with a token."""
    api = api_server.start_background(settings, port=port)
    token = mint_token(
        api_server.local_keys(settings).private_pem,
        tenant_id=tenant_id,
        profile_id=profile_id,
        scopes=("profile:read", "commands:write", "stream:read"),
        ttl_seconds=12 * 3600,
    )
    print(f"API: {api.url} (OpenAPI at {api.url}/docs)")
    print(f"Live page for {tenant_id}:{profile_id}: {api.url}/#token={token}")


def _program() -> str:
    """How the user can call this command again (``.venv/bin/fintra`` after ``make demo``)."""
    invoked = Path(sys.argv[0])
    if invoked.name != "fintra":
        return "fintra"
    try:
        return str(invoked.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked)


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))


def _money_text(value: Any) -> str:
    if value is None:
        return "n/a"
    items = value if isinstance(value, list) else [value]
    return " + ".join(f"{item['value']} {item['currency']}" for item in items)


def _summary(doc: dict[str, Any], ok: bool) -> str:
    mark = "ok " if ok else "DIFF"
    return (
        f"[{mark}] {doc['tenant_id']}:{doc['profile_id']:<8} "
        f"accounts {len(doc['accounts'])}  transactions {doc['transaction_count']:>4}  "
        f"net worth {_money_text(doc['net_worth']):>16}  "
        f"debt {_money_text(doc['total_debt']):>14}  v{doc['version']}"
    )


def _matches(doc: dict[str, Any], truth: ProfileTruth) -> bool:
    balances = {
        account["provider_account_id"]: account["balances"]["current"]["value"]
        for account in doc["accounts"]
    }
    expected = {
        account_id: format_minor(amount, truth.currency)
        for account_id, amount in truth.balances_minor.items()
    }
    net_worth = doc["net_worth"]
    return (
        balances == expected
        and doc["transaction_count"] == truth.transaction_count
        and isinstance(net_worth, dict)
        and net_worth["value"] == format_minor(truth.net_worth_minor, truth.currency)
        and doc["total_debt"]["value"] == format_minor(truth.total_debt_minor, truth.currency)
    )
