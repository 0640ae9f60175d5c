"""The ``fintra`` command: the composition root of FintraOS Core."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.auth import SCOPES, mint_token
from fintra import api_server, audit, embedded, stack
from fintra.demo import run_demo
from fintra.dlq import open_dead_letters, replay
from fintra.embedded import EmbeddedStackError, StackInfo
from fintra.enrich import EnrichError, reenrich
from fintra.files import file_envelope
from fintra.ingest import publish, publish_keyed, read_lines, tick_key
from fintra.mapping_tools import check
from fintra.migrate import migrate, set_api_password
from fintra.plans import PlanNotFoundError, list_plans, load_plan
from fintra.profiles import event_total, list_profiles, load_profile
from fintra.rebuild import rebuild
from fintra.registry import RegistryFileError, read_definitions, registry_messages
from fintra.replay import ReplayError, parse_start, republish, reset_recovery
from fintra.settings import (
    COMMANDS_TOPIC,
    CONNECT_SYNC_TOPIC,
    DLQ_TOPIC,
    ENRICH_TOPIC,
    MARKET_TOPIC,
    PLATFORM_DATA_TOPIC,
    REGISTRY_TOPIC,
    TENANTS_TOPIC,
    Settings,
    SettingsError,
    load,
)
from fintra.snapshots import rebuild_history
from fintra.supervisor import ClusterPlan, Supervisor
from fintra.topics import ensure_topics
from operators.tenant_rules import RuleSetError, parse_rules
from schemas.commands import Command
from schemas.envelopes import Provider
from schemas.money import MoneyError, currency_exponent
from schemas.platform import TenantSettings

Handler = Callable[[argparse.Namespace, Settings], int]


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 1."""


DEFAULT_SCOPES = ("profile:read", "commands:write", "stream:read")


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _require_stack(settings: Settings) -> StackInfo:
    info = stack.current(settings)
    if info is None:
        return stack.up(settings)
    return info


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start the embedded stack (or check the external one) and prepare topics and schema."""
    info = stack.up(settings)
    where = "embedded" if info.embedded else "external"
    print(f"{where} stack ready: kafka {info.kafka_brokers}, database {info.database_url}")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    """Stop the background API and the embedded stack."""
    if api_server.stop_background(settings):
        print("API stopped")
    if embedded.from_environment() is not None:
        print("external stack configured: nothing to stop")
        return 0
    embedded.stop(settings.home)
    print("embedded stack stopped")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Report where the broker and the database are."""
    info = stack.current(settings)
    if info is None:
        if args.json:
            _print_json(
                {"kafka_brokers": None, "database_url": None, "embedded": True, "running": False}
            )
        else:
            print("embedded stack is not running (start it with `fintra up`)")
        return 1
    if args.json:
        _print_json(
            {
                "kafka_brokers": info.kafka_brokers,
                "database_url": info.database_url,
                "embedded": info.embedded,
            }
        )
    else:
        print(
            f"kafka {info.kafka_brokers}\ndatabase {info.database_url}\n"
            f"embedded {str(info.embedded).lower()}"
        )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending SQL migrations."""
    info = _require_stack(settings)
    applied = migrate(info.database_url, settings.db_schema)
    print(f"applied {len(applied)} migrations" + (f": {', '.join(applied)}" if applied else ""))
    password = os.environ.get("FINTRA_API_DB_PASSWORD")
    if password:
        set_api_password(info.database_url, password)
        print("set the fintra_api role's password")
    return 0


def cmd_topics_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create the declared topics that are missing."""
    info = _require_stack(settings)
    created = ensure_topics(info.kafka_brokers, settings.topic_prefix)
    print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Publish Connect envelopes from JSON-lines files, or raw CSV/OFX exports."""
    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        msg = f"no such file: {', '.join(missing)}"
        raise CliError(msg)
    if args.provider is not None:
        return _ingest_files(args, settings, paths)
    if args.market:
        return _ingest_market(settings, paths)
    info = _require_stack(settings)
    logical = PLATFORM_DATA_TOPIC if args.platform_data else CONNECT_SYNC_TOPIC
    topic = settings.topic(logical)
    count = publish(info.kafka_brokers, topic, read_lines(paths))
    what = "platform data points" if args.platform_data else "envelopes"
    print(f"published {count} {what} to {topic}")
    return 0


def _ingest_market(settings: Settings, paths: list[Path]) -> int:
    info = _require_stack(settings)
    topic = settings.topic(MARKET_TOPIC)
    count = publish_keyed(
        info.kafka_brokers, topic, ((tick_key(line), line) for line in read_lines(paths))
    )
    print(f"published {count} market ticks to {topic}")
    return 0


def _ingest_files(args: argparse.Namespace, settings: Settings, paths: list[Path]) -> int:
    provider = Provider(args.provider)
    if not (args.tenant and args.profile):
        msg = f"--provider {provider.value} needs --tenant and --profile"
        raise CliError(msg)
    plan = None
    if provider is Provider.CSV:
        if not args.plan:
            msg = "--provider csv needs --plan (a shipped plan name or a path)"
            raise CliError(msg)
        plan = _load_plan(args.plan)
    account = {"provider_account_id": args.account} if args.account else None
    now = dt.datetime.now(dt.UTC)
    envelopes = [
        orjson.dumps(
            file_envelope(
                provider, args.tenant, args.profile, path, now, plan=plan, account=account
            )
        )
        for path in paths
    ]
    info = _require_stack(settings)
    topic = settings.topic(CONNECT_SYNC_TOPIC)
    count = publish(info.kafka_brokers, topic, envelopes)
    print(f"published {count} {provider.value} files to {topic}")
    return 0


def _load_plan(name: str) -> dict[str, Any]:
    try:
        return load_plan(name)
    except (PlanNotFoundError, ValueError, OSError) as exc:
        raise CliError(str(exc)) from exc


def cmd_mapping(args: argparse.Namespace, settings: Settings) -> int:
    """List shipped plans, or validate or preview a plan against a file."""
    if args.action == "list":
        names = list_plans()
        if args.json:
            _print_json(names)
        else:
            for name in names:
                print(name)
        return 0
    if not (args.plan and args.file):
        msg = f"fintra mapping {args.action} needs PLAN and FILE"
        raise CliError(msg)
    _load_plan(args.plan)
    outcome = check(args.plan, Path(args.file))
    if args.action == "validate":
        _print_json(
            {k: outcome[k] for k in ("plan", "errors", "rows", "closing_balance") if k in outcome}
        )
    else:
        shown = outcome.get("transactions", [])[: args.rows]
        _print_json(
            {**{k: v for k, v in outcome.items() if k != "transactions"}, "transactions": shown}
        )
    return 1 if outcome["errors"] else 0


def cmd_registry_put(args: argparse.Namespace, settings: Settings) -> int:
    """Register (or replace) a tenant's metric definitions."""
    try:
        definitions = read_definitions(args.tenant, Path(args.file))
    except (OSError, RegistryFileError) as exc:
        raise CliError(str(exc)) from exc
    info = _require_stack(settings)
    topic = settings.topic(REGISTRY_TOPIC)
    count = publish_keyed(info.kafka_brokers, topic, registry_messages(definitions))
    names = ", ".join(d.metric_id for d in definitions)
    print(f"registered {count} metrics for {args.tenant} on {topic}: {names}")
    return 0


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    """List or replay dead letters."""
    info = _require_stack(settings)
    topic = settings.topic(DLQ_TOPIC)
    entries = [
        e
        for e in open_dead_letters(info.kafka_brokers, topic)
        if args.reason is None or e.reason == args.reason
    ]
    if args.action == "replay":
        count = replay(info.kafka_brokers, topic, entries)
        print(
            f"replayed {count} dead letters"
            + (f" with reason {args.reason}" if args.reason else "")
        )
        return 0
    if args.json:
        _print_json([entry.document for entry in entries])
        return 0
    for entry in entries:
        doc = entry.document
        print(f"{entry.origin}  {doc['reason']:<22} {doc.get('field') or '-':<40} {doc['message']}")
    print(f"{len(entries)} dead letters")
    return 0


def cmd_tenant_put(args: argparse.Namespace, settings: Settings) -> int:
    """Set a tenant's defaults (its profiles' default base currency)."""
    try:
        tenant = TenantSettings(tenant_id=args.tenant, base_currency=args.base_currency)
        currency_exponent(tenant.base_currency)
    except (ValueError, MoneyError) as exc:
        raise CliError(str(exc)) from exc
    info = _require_stack(settings)
    topic = settings.topic(TENANTS_TOPIC)
    message = (f"{tenant.tenant_id}:defaults".encode(), orjson.dumps(tenant.model_dump()))
    publish_keyed(info.kafka_brokers, topic, [message])
    print(f"tenant {tenant.tenant_id}: base currency {tenant.base_currency} ({topic})")
    return 0


def cmd_rules_put(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a tenant's enrichment rules and send them to every profile of the tenant."""
    try:
        document = orjson.loads(Path(args.file).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        msg = f"{args.file}: {exc}"
        raise CliError(msg) from exc
    if isinstance(document, dict):
        document.setdefault("tenant_id", args.tenant)
    try:
        rules = parse_rules(document)
    except RuleSetError as exc:
        lines = [f"  {p.path}: {p.message} ({p.code})" for p in exc.problems]
        raise CliError("\n".join([f"{args.file}: the rules are not valid:", *lines])) from exc
    if rules.tenant_id != args.tenant:
        msg = f"{args.file} names tenant {rules.tenant_id!r}, not {args.tenant!r}"
        raise CliError(msg)
    info = _require_stack(settings)
    topic = settings.topic(TENANTS_TOPIC)
    message = (f"{rules.tenant_id}:rules".encode(), orjson.dumps(rules.source))
    publish_keyed(info.kafka_brokers, topic, [message])
    print(f"tenant {rules.tenant_id}: {len(rules.rules)} rules, version {rules.version} ({topic})")
    return 0


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    """Enrich stored transactions again after a dictionary, table or rule change."""
    info = _require_stack(settings)
    with _progress_bar("reading the event log", "profiles") as bar:
        task = bar.add_task("enrich", total=None)
        try:
            report = reenrich(
                info.database_url,
                settings.db_schema,
                info.kafka_brokers,
                settings.topic(ENRICH_TOPIC),
                args.since,
                tenant_id=args.tenant,
                progress=lambda done: bar.update(task, completed=done),
            )
        except EnrichError as exc:
            raise CliError(str(exc)) from exc
    print(
        f"{report.stale} of {report.transactions} transactions in {report.profiles} profiles"
        f" were enriched before {args.since}: sent in {report.requests} requests"
    )
    return 0


def cmd_snapshots(args: argparse.Namespace, settings: Settings) -> int:
    """Close a UTC day for every tenant (eod), or regenerate history from the event log."""
    if args.action == "eod":
        return _close_day(args, settings)
    if not (args.date_from and args.date_to):
        msg = "fintra snapshots rebuild needs --from and --to"
        raise CliError(msg)
    try:
        start, end = dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if start > end:
        msg = f"--from {start} is after --to {end}"
        raise CliError(msg)
    info = _require_stack(settings)
    counts = rebuild_history(
        info.database_url, settings.db_schema, start, end, tenant_id=args.tenant
    )
    print(
        f"rebuilt {counts.profiles} profiles from {counts.events} events: "
        f"{counts.balance_rows} balance rows, {counts.net_worth_rows} net worth rows "
        f"between {start} and {end}"
    )
    return 0


def _close_day(args: argparse.Namespace, settings: Settings) -> int:
    # The command is the edge: the day it closes (yesterday, by default) is data from here on.
    try:
        day = (
            dt.date.fromisoformat(args.day)
            if args.day
            else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    info = _require_stack(settings)
    tenants = sorted(
        {doc["tenant_id"] for doc in list_profiles(info.database_url, settings.db_schema)}
    )
    messages = [
        (
            f"{tenant}:clock".encode(),
            orjson.dumps({"tenant_id": tenant, "day_closed": day.isoformat()}),
        )
        for tenant in tenants
    ]
    publish_keyed(info.kafka_brokers, settings.topic(TENANTS_TOPIC), messages)
    print(f"closed {day} for {len(tenants)} tenants")
    return 0


def cmd_command(args: argparse.Namespace, settings: Settings) -> int:
    """Send a command to a profile's stream; its outcome is an event there."""
    try:
        payload = orjson.loads(args.payload)
        command = Command(
            command_id=args.id or f"cli-{uuid.uuid4().hex}",
            tenant_id=args.tenant,
            profile_id=args.profile,
            command=args.name,
            payload=payload,
            issued_at=dt.datetime.now(dt.UTC),
        )
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    info = _require_stack(settings)
    key = f"{command.tenant_id}:{command.profile_id}".encode()
    publish_keyed(
        info.kafka_brokers,
        settings.topic(COMMANDS_TOPIC),
        [(key, orjson.dumps(command.model_dump(mode="json")))],
    )
    print(command.command_id)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the core flow."""
    info = _require_stack(settings)
    # A worker started while the database restarts waits for it rather than failing.
    stack.prepare(settings, info, wait_s=120.0)
    if args.snapshot_interval is not None:
        settings = replace(settings, epoch_interval_seconds=args.snapshot_interval)
    plan = ClusterPlan(
        processes=args.processes,
        until_idle=args.until_idle,
        max_failures=args.max_failures,
        metrics_port=args.metrics_port,
    )
    return Supervisor(settings, info, plan).run()


def cmd_profile(args: argparse.Namespace, settings: Settings) -> int:
    """Print a profile's projection as JSON."""
    info = _require_stack(settings)
    doc = load_profile(info.database_url, settings.db_schema, args.tenant, args.profile)
    if doc is None:
        msg = f"no profile {args.tenant}:{args.profile} (has `fintra run` processed its syncs?)"
        raise CliError(msg)
    _print_json(doc)
    return 0


def _progress_bar(label: str, unit: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Input again from the beginning, or re-publish inputs from a position or a time."""
    info = _require_stack(settings)
    stack.prepare(settings, info)
    try:
        start = parse_start(args.start)
    except ReplayError as exc:
        raise CliError(str(exc)) from exc
    before = event_total(info.database_url, settings.db_schema)
    if start is None:
        reset_recovery(settings, info)
        print("recovery state set aside: every input is read again from offset 0", flush=True)
    else:
        with _progress_bar("re-publishing inputs", "messages") as bar:
            task = bar.add_task("replay", total=None)
            try:
                copied = republish(
                    settings,
                    info,
                    start,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except ReplayError as exc:
                raise CliError(str(exc)) from exc
        print(f"re-published {copied} input messages, marked as replays", flush=True)
        if not args.run:
            print("`fintra run` applies them; repeats of what was applied are no-ops")
            return 0
    plan = ClusterPlan(processes=args.processes, until_idle=True)
    with _progress_bar("replaying", "events in the log") as bar:
        task = bar.add_task("replay", total=None, completed=before)
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.5):
                bar.update(task, completed=event_total(info.database_url, settings.db_schema))

        watcher = threading.Thread(target=watch, name="replay-progress", daemon=True)
        watcher.start()
        try:
            code = Supervisor(settings, info, plan).run()
        finally:
            done.set()
            watcher.join()
    after = event_total(info.database_url, settings.db_schema)
    print(f"event log: {before} events before, {after} after ({after - before} new)")
    return code


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate every projection from the event log and swap it in atomically."""
    info = _require_stack(settings)
    with _progress_bar("rebuilding projections", "profiles") as bar:
        task = bar.add_task("rebuild", total=None)
        report = rebuild(
            info.database_url,
            settings.db_schema,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    rows = ", ".join(f"{count} {table}" for table, count in report.rows.items())
    print(f"rebuilt {report.profiles} profiles from {report.events} events: {rows}")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the event log's hash chains; name the first broken link of each profile."""
    info = _require_stack(settings)
    report = audit.verify(info.database_url, settings.db_schema, args.tenant)
    for link in report.broken:
        print(
            f"BROKEN {link.tenant_id}:{link.profile_id} at stream version {link.stream_version}"
            f" (event {link.event_id}): {link.problem}"
        )
    verdict = "intact" if not report.broken else f"{len(report.broken)} broken"
    print(f"{report.profiles} profiles, {report.events} events verified: {verdict}")
    return 0 if not report.broken else 1


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the HTTP API in the foreground."""
    info = _require_stack(settings)
    stack.prepare(settings, info)
    print(f"FintraOS Core API on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    api_server.serve(settings, info, args.host, args.port)
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """Mint a token with the local key and print it alone on stdout."""
    keys = api_server.local_keys(settings)
    try:
        token = mint_token(
            keys.private_pem,
            tenant_id=args.tenant,
            profile_id=args.profile,
            scopes=args.scope or DEFAULT_SCOPES,
            ttl_seconds=args.ttl,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    sys.stdout.write(token + "\n")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the end-to-end demo on generated data."""
    return run_demo(
        settings,
        seed=args.seed,
        tenants=args.tenants,
        profiles=args.profiles,
        months=args.months,
        api_port=None if args.no_api else args.api_port,
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every ``fintra`` command."""
    parser = argparse.ArgumentParser(prog="fintra", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("up", cmd_up, "start the embedded broker and database; ensure topics and schema")
    add("down", cmd_down, "stop the embedded broker and database")
    status = add("status", cmd_status, "show which broker and database are in use")
    status.add_argument("--json", action="store_true", help="print JSON")
    add("migrate", cmd_migrate, "apply pending SQL migrations")
    topics = add("topics", cmd_topics_create, "manage topics")
    topics.add_argument("action", choices=["create"], help="create missing topics")
    _add_data_commands(add)
    return parser


def _add_enrichment_commands(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """Tenant metrics and rules, and enriching stored transactions again after a change."""
    registry = add("registry", cmd_registry_put, "manage the tenant metric registry")
    registry.add_argument("action", choices=["put"], help="register or replace definitions")
    registry.add_argument("tenant")
    registry.add_argument(
        "file", metavar="FILE", help="a definition, a JSON list of them, or JSON lines"
    )
    rules = add("rules", cmd_rules_put, "set a tenant's enrichment rules")
    rules.add_argument("action", choices=["put"])
    rules.add_argument("tenant")
    rules.add_argument("file", metavar="FILE", help="the rule set as JSON")
    enrich_cmd = add("enrich", cmd_enrich, "enrich stored transactions again after a change")
    enrich_cmd.add_argument(
        "--since", required=True, metavar="VERSION", help="tables or rules changed at YYYY.MM.N"
    )
    enrich_cmd.add_argument("--tenant", help="only this tenant's profiles")


def _add_data_commands(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """Commands that move data in and out: ingestion, plans, registry, dead letters, history."""
    _add_ingest(add)
    mapping = add("mapping", cmd_mapping, "list, validate and preview mapping plans")
    mapping.add_argument("action", choices=["list", "validate", "preview"])
    mapping.add_argument("plan", nargs="?", metavar="PLAN", help="a shipped name or a path")
    mapping.add_argument("file", nargs="?", metavar="FILE")
    mapping.add_argument("--json", action="store_true", help="print JSON (list)")
    mapping.add_argument("--rows", type=int, default=5, help="preview: rows to show")
    snapshots = add("snapshots", cmd_snapshots, "regenerate daily history from the event log")
    snapshots.add_argument("action", choices=["rebuild", "eod"])
    snapshots.add_argument("--from", dest="date_from", metavar="DATE", help="rebuild: first day")
    snapshots.add_argument("--to", dest="date_to", metavar="DATE", help="rebuild: last day")
    snapshots.add_argument("--day", help="eod: the UTC day to close (default: yesterday)")
    snapshots.add_argument("--tenant", help="only this tenant's profiles")
    command = add("command", cmd_command, "send a command to a profile (its outcome is an event)")
    command.add_argument("tenant")
    command.add_argument("profile")
    command.add_argument("name", help="e.g. SetBaseCurrency")
    command.add_argument("--payload", default="{}", help="the command's payload as JSON")
    command.add_argument("--id", help="the command id (idempotency key); generated if absent")
    tenant = add("tenant", cmd_tenant_put, "set a tenant's defaults")
    tenant.add_argument("action", choices=["put"])
    tenant.add_argument("tenant")
    tenant.add_argument(
        "--base-currency",
        required=True,
        metavar="CCY",
        help="the default base currency of the tenant's profiles",
    )
    _add_enrichment_commands(add)
    dlq = add("dlq", cmd_dlq, "list dead letters, or replay them after a fix")
    dlq.add_argument("action", choices=["ls", "replay"])
    dlq.add_argument("--reason", help="only dead letters with this reason code")
    dlq.add_argument("--json", action="store_true", help="print JSON (ls)")
    run_cmd = add("run", cmd_run, "run the core flow")
    run_cmd.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once every input is consumed and every sink committed",
    )
    run_cmd.add_argument(
        "--processes", type=int, default=1, help="worker processes in the cluster (default 1)"
    )
    run_cmd.add_argument(
        "--snapshot-interval",
        type=float,
        metavar="SECONDS",
        help="seconds between recovery snapshots (default $FINTRA_EPOCH_INTERVAL_SECONDS or 2)",
    )
    run_cmd.add_argument(
        "--max-failures",
        type=int,
        default=5,
        help="give up after this many consecutive crashed runs (default 5)",
    )
    run_cmd.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics from this port on every interface (one per process)",
    )
    profile = add("profile", cmd_profile, "print a profile projection as JSON")
    profile.add_argument("tenant")
    profile.add_argument("profile")
    _add_api(add)
    demo = add("demo", cmd_demo, "generate sample syncs, process them and summarise each profile")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--tenants", type=int, default=2)
    demo.add_argument("--profiles", type=int, default=3, help="profiles per tenant")
    demo.add_argument("--months", type=int, default=6)
    demo.add_argument(
        "--api-port", type=int, default=api_server.DEFAULT_PORT, help="port of the live page"
    )
    demo.add_argument("--no-api", action="store_true", help="do not start the API afterwards")


def _add_api(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """The HTTP API and its local tokens, and the audit of the log they serve."""
    add("rebuild", cmd_rebuild, "regenerate every projection from the event log, atomically")
    replay_cmd = add("replay", cmd_replay, "read inputs again (from the beginning or a position)")
    replay_cmd.add_argument(
        "--from",
        dest="start",
        default="beginning",
        metavar="START",
        help="'beginning' (default), TOPIC:PARTITION:OFFSET, or an ISO 8601 time",
    )
    replay_cmd.add_argument(
        "--run", action="store_true", help="after re-publishing, run the flow until idle"
    )
    replay_cmd.add_argument("--processes", type=int, default=1, help="worker processes")
    audit_cmd = add("audit", cmd_audit, "verify the event log's per-profile hash chains")
    audit_cmd.add_argument("action", choices=["verify"])
    audit_cmd.add_argument("--tenant", help="only this tenant's profiles")
    api = add("api", cmd_api, "serve the HTTP API (profile, search, commands, event stream)")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    api.add_argument("--port", type=int, default=api_server.DEFAULT_PORT)
    token = add("token", cmd_token, "mint an API token with the local key (printed alone)")
    token.add_argument("--tenant", required=True)
    token.add_argument("--profile", help="the profile the token acts for")
    token.add_argument(
        "--scope",
        action="append",
        choices=sorted(SCOPES),
        help="repeat for several (default: profile:read, commands:write, stream:read)",
    )
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")


def _add_ingest(add: Callable[[str, Handler, str], argparse.ArgumentParser]) -> None:
    """The ``ingest`` command and its sources: envelopes, files, ticks, platform data."""
    ingest = add("ingest", cmd_ingest, "publish Connect envelopes (JSON lines) to the input topic")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument(
        "--provider",
        choices=["csv", "ofx"],
        help="the files are raw exports of this kind, not envelopes",
    )
    ingest.add_argument("--plan", help="csv: a shipped mapping plan name or a path")
    ingest.add_argument("--tenant", help="csv/ofx: the tenant the files belong to")
    ingest.add_argument("--profile", help="csv/ofx: the profile the files belong to")
    ingest.add_argument("--account", help="csv: the provider account id of the file")
    ingest.add_argument(
        "--market",
        action="store_true",
        help="the lines are market ticks (FX or PRICE), keyed by instrument",
    )
    ingest.add_argument(
        "--platform-data",
        action="store_true",
        help="the lines are platform data points (FOS UnifiedPlatformData)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fintra`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load()
        handler: Handler = args.handler
        return handler(args, settings)
    except (CliError, SettingsError, EmbeddedStackError) as exc:
        print(f"fintra: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
