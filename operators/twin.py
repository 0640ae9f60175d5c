"""The per-profile twin: decide which events an observation causes, and fold events into state.

``apply`` is the fold the dataflow runs: ``(state | None, observation) -> (state, events)``.
It decides each event against the state as it stands and immediately folds it with ``evolve``,
the same function a replay of the event log uses, so the live twin and a rebuilt one cannot
drift apart.

State is a frozen value rebuilt once per observation. It keeps integers and short strings,
not models: one small tuple per retained transaction, enough to dedupe and to order changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, NamedTuple

from operators.enrichment import enrich, rule_set
from operators.exceptions import RejectedInput
from operators.observations import (
    HoldingsObserved,
    InvestmentTransactionsObserved,
    LiabilitiesObserved,
    Observation,
    SyncContext,
    TransactionsObserved,
    TransactionUpsert,
)
from operators.valuation import RateBook, with_tick
from schemas.canonical import GENESIS_HASH, content_hash
from schemas.commands import CommandName, SetBaseCurrency, UpdateTransactionCategory
from schemas.envelopes import utc_iso
from schemas.events import Event, EventType
from schemas.fos import AccountType
from schemas.market import MARKET_TICK, FxTick, PriceTick
from schemas.money import MoneyError, currency_exponent
from schemas.records import Reason


class TxEntry(NamedTuple):
    """What the twin retains of a transaction, without the full document.

    Enough to dedupe, to order changes and to feed the engines (cashflow, recurring streams,
    daily history). Strings repeated across transactions (account, currency, kind,
    merchant) are interned, so a retained transaction costs one small tuple.
    """

    content_hash: str
    pending: bool
    as_of_us: int
    account_id: str
    amount_minor: int
    currency: str
    day: int
    kind: str
    merchant_key: str
    source_event_id: str
    category: tuple[str, ...] = ()
    category_source: str = ""
    merchant: str = ""


class AccountEntry(NamedTuple):
    """An account document (FOS, minor units) with the provenance of its balances."""

    doc: Mapping[str, Any]
    as_of_us: int
    source_event_id: str
    version: int


class MetricEntry(NamedTuple):
    """The latest data point of a platform metric, with the event that recorded it."""

    data: Mapping[str, Any]
    metric: Mapping[str, Any]
    source_event_id: str
    version: int


class MetricReading(NamedTuple):
    """A tenant metric's latest value in the profile, and the event that recorded it."""

    definition_hash: str
    reading: Mapping[str, Any]
    source_event_id: str
    version: int


class Snapshot(NamedTuple):
    """The latest report of something replaced whole (an account's holdings, a liability)."""

    doc: Mapping[str, Any]
    content_hash: str
    as_of_us: int
    source_event_id: str
    version: int


class SyncProgress(NamedTuple):
    """Pages of one sync seen so far and what they changed, until the sync completes."""

    pages: frozenset[int]
    last_page: int | None
    counts: tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class ProfileState:
    """The twin of one profile: its stream position, accounts and retained transactions.

    ``open_syncs`` and ``noops`` are bookkeeping of the inputs, not facts of the profile:
    a replay of the event log rebuilds everything else.
    """

    tenant_id: str
    profile_id: str
    version: int = 0
    last_hash: str = GENESIS_HASH
    last_event_id: str | None = None
    accounts: Mapping[str, AccountEntry] = field(default_factory=dict)
    transactions: Mapping[str, TxEntry] = field(default_factory=dict)
    tombstones: Mapping[str, int] = field(default_factory=dict)
    balance_source: tuple[str, int] | None = None
    platform_data: Mapping[str, str] = field(default_factory=dict)
    metrics_latest: Mapping[str, MetricEntry] = field(default_factory=dict)
    holdings: Mapping[str, Snapshot] = field(default_factory=dict)
    tenant_base_currency: str | None = None
    last_occurred_at: str | None = None
    rates: RateBook = field(default_factory=RateBook)
    closed_day: str | None = None
    own_base_currency: str | None = None
    commands: Mapping[str, str] = field(default_factory=dict)
    liabilities: Mapping[str, Snapshot] = field(default_factory=dict)
    investment_transactions: Mapping[str, str] = field(default_factory=dict)
    open_syncs: Mapping[str, SyncProgress] = field(default_factory=dict)
    category_overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    lock: str | None = None
    held: tuple[Any, ...] = ()
    import_seq: int = 0
    noops: int = 0
    tenant_rules: Mapping[str, Any] | None = None
    #: Where the tenant's base currency and rules were last set (registry positions).
    tenant_config_offsets: Mapping[str, int] = field(default_factory=dict)
    #: The tenant's metric definitions by id, each with its position; one without
    #: ``logic`` is a tombstone and is not evaluated.
    metric_definitions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metric_values: Mapping[str, MetricReading] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventSourceInfo:
    """Coordinates of the input being applied, copied into each event's ``source``."""

    topic: str
    partition: int
    offset: int

    def describe(self, context: SyncContext) -> dict[str, Any]:
        """Return the ``source`` mapping of an event caused by a sync."""
        return self.source(context.provider, context.sync_id, context.connection_id)

    def source(
        self, provider: str, sync_id: str | None = None, connection_id: str | None = None
    ) -> dict[str, Any]:
        """Return the ``source`` mapping of an event caused by this input."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "provider": provider,
            "connection_id": connection_id,
            "sync_id": sync_id,
        }


class _Counts:
    """Per-observation tallies that feed the ``TransactionsImported`` summary."""

    __slots__ = ("added", "removed", "stale", "unchanged", "updated")

    def __init__(self) -> None:
        self.added = self.updated = self.removed = self.unchanged = self.stale = 0

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.added, self.updated, self.removed, self.unchanged, self.stale)


class _Work:
    """A private, mutable copy of the state while one observation is applied."""

    def __init__(
        self, state: ProfileState, occurred_at: str = "", source: dict[str, Any] | None = None
    ) -> None:
        self.state = state
        self.occurred_at = occurred_at
        self.as_of_us = _micros_iso(occurred_at) if occurred_at else 0
        self.source = source or {}
        self.version = state.version
        self.last_event: Event | None = None
        self.last_event_id = state.last_event_id
        self.accounts = dict(state.accounts)
        self.transactions = dict(state.transactions)
        self.tombstones = dict(state.tombstones)
        self.balance_source = state.balance_source
        self.platform_data = dict(state.platform_data)
        self.metrics_latest = dict(state.metrics_latest)
        self.holdings = dict(state.holdings)
        self.tenant_base_currency = state.tenant_base_currency
        self.rates = state.rates
        self.closed_day = state.closed_day
        self.own_base_currency = state.own_base_currency
        self.commands = dict(state.commands)
        self.last_occurred_at = state.last_occurred_at
        self.liabilities = dict(state.liabilities)
        self.investment_transactions = dict(state.investment_transactions)
        self.category_overrides = dict(state.category_overrides)
        self.links = dict(state.links)
        self.tenant_rules = state.tenant_rules
        self.tenant_config_offsets = state.tenant_config_offsets
        self.metric_definitions = state.metric_definitions
        self.metric_values = dict(state.metric_values)
        self.events: list[Event] = []

    @property
    def last_hash(self) -> str:
        """The chain hash of the stream's last event, taken when it is needed."""
        return self.last_event.hash if self.last_event is not None else self.state.last_hash

    def emit(self, event_type: EventType, payload: dict[str, Any]) -> Event:
        event = Event.create(
            event_type=event_type.value,
            tenant_id=self.state.tenant_id,
            profile_id=self.state.profile_id,
            stream_version=self.version + 1,
            occurred_at=self.occurred_at,
            source=self.source,
            payload=payload,
            prev_hash=self.last_hash,
        )
        evolve_into(self, event)
        self.events.append(event)
        return event

    def freeze(self, **changes: Any) -> ProfileState:
        return replace(
            self.state,
            version=self.version,
            last_hash=self.last_hash,
            last_event_id=self.last_event_id,
            accounts=self.accounts,
            transactions=self.transactions,
            tombstones=self.tombstones,
            balance_source=self.balance_source,
            platform_data=self.platform_data,
            metrics_latest=self.metrics_latest,
            holdings=self.holdings,
            tenant_base_currency=self.tenant_base_currency,
            rates=self.rates,
            closed_day=self.closed_day,
            own_base_currency=self.own_base_currency,
            commands=self.commands,
            last_occurred_at=self.last_occurred_at,
            liabilities=self.liabilities,
            investment_transactions=self.investment_transactions,
            category_overrides=self.category_overrides,
            links=self.links,
            tenant_rules=self.tenant_rules,
            tenant_config_offsets=self.tenant_config_offsets,
            metric_definitions=self.metric_definitions,
            metric_values=self.metric_values,
            **changes,
        )


def base_currency(state: ProfileState) -> str | None:
    """The profile's base currency: its own, the tenant's default, or its first account's.

    Its own is set by the ``SetBaseCurrency`` command. "First" is the account created
    earliest in the stream, so the answer does not depend on account ids.
    """
    if state.own_base_currency is not None:
        return state.own_base_currency
    if state.tenant_base_currency is not None:
        return state.tenant_base_currency
    if not state.accounts:
        return None
    first = min(state.accounts.values(), key=lambda entry: entry.version)
    currency: str = first.doc["currency"]
    return currency


def emit_events(
    state: ProfileState,
    occurred_at: str,
    source: dict[str, Any],
    items: Iterable[tuple[EventType, dict[str, Any]]],
) -> tuple[ProfileState, list[Event]]:
    """Append events to the profile's stream, each evolving the state as it is emitted."""
    work = _Work(state, occurred_at, source)
    for event_type, payload in items:
        work.emit(event_type, payload)
    return work.freeze(), work.events


def initial_state(stream_key: str) -> ProfileState:
    """Return the empty twin of the profile named by ``tenant:profile``."""
    tenant_id, _, profile_id = stream_key.partition(":")
    return ProfileState(tenant_id=tenant_id, profile_id=profile_id)


def apply(
    state: ProfileState, observation: Observation, origin: EventSourceInfo
) -> tuple[ProfileState, list[Event]]:
    """Fold one observation into the twin and return the new state and the events it caused.

    Raises:
        RejectedInput: on an idempotency conflict; the state is then left as it was.
    """
    context = observation.context
    work = _Work(state, utc_iso(context.received_at), origin.describe(context))
    if not isinstance(observation, TransactionsObserved):
        for account in sorted(observation.accounts, key=lambda a: a.account_id):
            _decide_account(work, account.model_dump(mode="json"))
        if isinstance(observation, HoldingsObserved):
            _decide_holdings(work, observation)
        elif isinstance(observation, InvestmentTransactionsObserved):
            _decide_investment_transactions(work, observation)
        elif isinstance(observation, LiabilitiesObserved):
            _decide_liabilities(work, observation)
        return work.freeze(), work.events
    counts = _Counts()
    for upsert in observation.upserts:
        _decide_upsert(work, upsert, counts)
    for removed_id in observation.removed:
        _decide_removal(work, removed_id, counts)
    open_syncs, noops = _track_sync(work, context, counts)
    return work.freeze(open_syncs=open_syncs, noops=noops), work.events


def _decide_account(work: _Work, doc: dict[str, Any]) -> None:
    existing = work.accounts.get(doc["account_id"])
    if existing is None:
        work.emit(EventType.ACCOUNT_CREATED, {"account": doc})
        return
    if work.as_of_us < existing.as_of_us:
        # An older report than the one applied: applying it would roll balances back.
        return
    old = existing.doc
    if {**old, "balances": None} != {**doc, "balances": None}:
        work.emit(EventType.ACCOUNT_UPDATED, {"account": doc})
    if old["balances"] != doc["balances"]:
        _check_reconciliation(work, existing, doc)
        payload = {
            "account_id": doc["account_id"],
            "currency": doc["currency"],
            "balances": doc["balances"],
        }
        work.emit(EventType.BALANCE_UPDATED, payload)


def _check_reconciliation(work: _Work, previous: AccountEntry, doc: dict[str, Any]) -> None:
    """Compare a new balance report with the previous one plus what posted in between.

    A report includes the transactions posted before its day; so the new balance should be
    the previous one plus the transactions posted from the previous report's day up to the
    day before the new one. When they disagree both figures are recorded, and the vendor's
    balance is still taken: nothing is adjusted silently. Investment accounts move with
    prices, not transactions, and are not checked.
    """
    if doc["type"] == "INVESTMENT":
        return
    since = _day_of(previous.as_of_us)
    until = _day_of(work.as_of_us)
    posted = sum(
        entry.amount_minor
        for entry in work.transactions.values()
        if entry.account_id == doc["account_id"]
        and not entry.pending
        and since <= entry.day < until
    )
    derived = previous.doc["balances"]["current_minor"] + posted
    reported = doc["balances"]["current_minor"]
    if derived != reported:
        work.emit(
            EventType.RECONCILIATION_MISMATCH,
            {
                "account_id": doc["account_id"],
                "currency": doc["currency"],
                "reported_minor": reported,
                "derived_minor": derived,
                "difference_minor": reported - derived,
                "previous_balance_event_id": previous.source_event_id,
                "transactions_from": dt.date.fromordinal(since).isoformat(),
                "transactions_until": dt.date.fromordinal(until).isoformat(),
            },
        )


def _day_of(as_of_us: int) -> int:
    return dt.datetime.fromtimestamp(as_of_us / 1_000_000, tz=dt.UTC).date().toordinal()


def _decide_holdings(work: _Work, observation: HoldingsObserved) -> None:
    """Replace each account's holdings when the report says something new about them."""
    securities = {s.security_id: s.model_dump(mode="json") for s in observation.securities}
    reconciliations = {r.account_id: r.model_dump(mode="json") for r in observation.reconciliations}
    by_account: dict[str, list[dict[str, Any]]] = {}
    for holding in observation.holdings:
        by_account.setdefault(holding.account_id, []).append(holding.model_dump(mode="json"))
    investment_accounts = {
        a.account_id for a in observation.accounts if a.type is AccountType.INVESTMENT
    }
    for account_id in sorted(investment_accounts | set(by_account)):
        holdings = sorted(by_account.get(account_id, []), key=lambda h: h["holding_id"])
        held_ids = sorted({h["security_id"] for h in holdings})
        payload = {
            "account_id": account_id,
            "holdings": holdings,
            "securities": [securities[i] for i in held_ids if i in securities],
            "reconciliation": reconciliations.get(account_id),
        }
        _emit_snapshot(work, work.holdings, account_id, EventType.HOLDINGS_UPDATED, payload)


def _decide_liabilities(work: _Work, observation: LiabilitiesObserved) -> None:
    for liability in sorted(observation.liabilities, key=lambda item: item.account_id):
        payload = {"liability": liability.model_dump(mode="json")}
        _emit_snapshot(
            work, work.liabilities, liability.account_id, EventType.LIABILITY_UPDATED, payload
        )


def _emit_snapshot(
    work: _Work,
    held: Mapping[str, Snapshot],
    key: str,
    event_type: EventType,
    payload: dict[str, Any],
) -> None:
    digest = content_hash(payload)
    current = held.get(key)
    if current is not None and (current.content_hash == digest or current.as_of_us > work.as_of_us):
        return
    work.emit(event_type, {**payload, "content_hash": digest})


def _decide_investment_transactions(
    work: _Work, observation: InvestmentTransactionsObserved
) -> None:
    securities = {s.security_id: s.model_dump(mode="json") for s in observation.securities}
    for transaction in sorted(observation.transactions, key=lambda t: t.investment_transaction_id):
        doc = transaction.model_dump(mode="json")
        payload = {"transaction": doc, "security": securities.get(doc["security_id"] or "")}
        digest = content_hash(payload)
        held = work.investment_transactions.get(doc["investment_transaction_id"])
        if held == digest:
            continue
        if held is not None:
            msg = (
                f"investment transaction {doc['provider_investment_transaction_id']} "
                "was reported again with other content"
            )
            raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, "investment_transaction_id", msg)
        work.emit(EventType.INVESTMENT_TRANSACTION_ADDED, {**payload, "content_hash": digest})


def _decide_upsert(work: _Work, upsert: TransactionUpsert, counts: _Counts) -> None:
    doc = upsert.transaction.model_dump(mode="json")
    digest = content_hash(doc)
    txn_id = doc["transaction_id"]
    existing = work.transactions.get(txn_id)
    if existing is not None:
        if existing.content_hash == digest:
            counts.unchanged += 1
        elif existing.as_of_us > work.as_of_us:
            counts.stale += 1
        elif not upsert.modified:
            msg = f"transaction {doc['provider_transaction_id']} was added again with other content"
            raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, "transaction_id", msg)
        else:
            payload = {"transaction": doc, "content_hash": digest, "replaces": None}
            work.emit(EventType.TRANSACTION_UPDATED, payload)
            _emit_enrichment(work, doc)
            counts.updated += 1
        return
    if work.tombstones.get(txn_id, -1) >= work.as_of_us:
        # Removed or settled by a report at least as new as this one: a replayed old page.
        counts.stale += 1
        return
    pending_id = doc["pending_transaction_id"]
    payload = {"transaction": doc, "content_hash": digest, "replaces": pending_id}
    pending = work.transactions.get(pending_id) if pending_id else None
    if pending is not None and pending.pending:
        # The posted transaction takes the pending one's place: one transaction, never two.
        work.emit(EventType.TRANSACTION_UPDATED, payload)
        counts.updated += 1
    else:
        work.emit(EventType.TRANSACTION_ADDED, payload)
        counts.added += 1
    _emit_enrichment(work, doc)


def _emit_enrichment(work: _Work, doc: Mapping[str, Any]) -> None:
    """Enrich a transaction just added or changed; a user's category carries over."""
    override = work.category_overrides.get(doc["transaction_id"])
    work.emit(EventType.TRANSACTION_ENRICHED, enrich(doc, override, rule_set(work.tenant_rules)))


def _decide_removal(work: _Work, txn_id: str, counts: _Counts) -> None:
    existing = work.transactions.get(txn_id)
    if existing is None:
        if work.tombstones.get(txn_id, -1) >= work.as_of_us:
            counts.unchanged += 1
            return
        # A removal can arrive before the page that added the transaction; recording it
        # keeps that older page from bringing the transaction back.
        work.emit(EventType.TRANSACTION_REMOVED, {"transaction_id": txn_id, "known": False})
        counts.removed += 1
        return
    if existing.as_of_us > work.as_of_us:
        counts.stale += 1
        return
    work.emit(EventType.TRANSACTION_REMOVED, {"transaction_id": txn_id, "known": True})
    counts.removed += 1


def _track_sync(
    work: _Work, context: SyncContext, counts: _Counts
) -> tuple[dict[str, SyncProgress], int]:
    """Accumulate this page into its sync and emit the summary once every page is in."""
    open_syncs = dict(work.state.open_syncs)
    noops = work.state.noops + counts.unchanged + counts.stale
    progress = open_syncs.pop(context.sync_id, SyncProgress(frozenset(), None, (0, 0, 0, 0, 0)))
    pages = progress.pages | {context.page}
    last_page = context.page if context.last_page else progress.last_page
    total = tuple(a + b for a, b in zip(progress.counts, counts.as_tuple(), strict=True))
    if last_page is None or len(pages) < last_page + 1:
        open_syncs[context.sync_id] = SyncProgress(pages, last_page, total)  # type: ignore[arg-type]
        return open_syncs, noops
    added, updated, removed, unchanged, stale = total
    if added or updated or removed:
        payload = {
            "sync_id": context.sync_id,
            "connection_id": context.connection_id,
            "provider": context.provider,
            "pages": last_page + 1,
            "added": added,
            "updated": updated,
            "removed": removed,
            "unchanged": unchanged,
            "stale": stale,
        }
        work.emit(EventType.TRANSACTIONS_IMPORTED, payload)
    return open_syncs, noops


def apply_platform_data(
    state: ProfileState,
    data: Mapping[str, Any],
    metric: Mapping[str, Any],
    origin: EventSourceInfo,
) -> tuple[ProfileState, list[Event]]:
    """Append an accepted platform data point to the profile stream, once per ``data_id``.

    Raises:
        RejectedInput: when the same ``data_id`` arrives with other content.
    """
    source = origin.source("platform")
    work = _Work(state, data["timestamp"], source)
    payload = {"data": dict(data), "metric": dict(metric)}
    digest = content_hash(payload)
    held = work.platform_data.get(data["data_id"])
    if held == digest:
        return replace(state, noops=state.noops + 1), []
    if held is not None:
        msg = f"platform data {data['data_id']} was sent again with other content"
        raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, "data_id", msg)
    work.emit(EventType.PLATFORM_DATA_RECORDED, {**payload, "content_hash": digest})
    return work.freeze(), work.events


def apply_tenant_defaults(  # noqa: PLR0913 - each part of the configuration and its position
    state: ProfileState,
    base_currency: str | None,
    rules: Mapping[str, Any] | None,
    metrics: Iterable[Mapping[str, Any]],
    origin: EventSourceInfo,
    *,
    offsets: tuple[int, int],
) -> tuple[ProfileState, list[Event]]:
    """Record what of the tenant's configuration changed in the profile's stream.

    That is its default base currency, its enrichment rules and the metric definitions to
    evaluate; each part that differs from what the twin holds is one event. Each part comes
    with the position of the record that set it (``offsets`` for the base currency and the
    rules, an ``offset`` in each metric), and a part older than the twin's is ignored: when
    every input is read again, the tenant's configuration is rebuilt one record at a time,
    and its intermediate states must not undo what the twin already has.
    """
    source = origin.source("tenant")
    # Defaults have no event time of their own; the profile's last event time keeps the
    # stream's time monotonic and the result independent of when the default arrived.
    work = _Work(state, state.last_occurred_at or "1970-01-01T00:00:00Z", source)
    held = state.tenant_config_offsets
    currency_at, rules_at = offsets
    if (
        base_currency is not None
        and currency_at > held.get("base_currency", -1)
        and state.tenant_base_currency != base_currency
    ):
        payload = {"base_currency": base_currency, "offset": currency_at}
        work.emit(EventType.TENANT_DEFAULTS_APPLIED, payload)
    if rules_at > held.get("rules", -1) and _digest(rules) != _digest(state.tenant_rules):
        payload = {"rules": None if rules is None else dict(rules), "offset": rules_at}
        work.emit(EventType.TENANT_RULES_APPLIED, payload)
    definitions = _merged_definitions(state.metric_definitions, metrics)
    if definitions != state.metric_definitions:
        listed = [definitions[k] for k in sorted(definitions)]
        work.emit(EventType.METRIC_DEFINITIONS_APPLIED, {"definitions": listed})
    if not work.events:
        return state, []
    return work.freeze(), work.events


def _merged_definitions(
    held: Mapping[str, Mapping[str, Any]], incoming: Iterable[Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """The twin's metric definitions updated by the newer of the incoming ones.

    A definition without ``logic`` (removed, or not evaluated by profiles) replaces one the
    twin held, as a tombstone that keeps its position; it is not recorded otherwise.
    """
    merged = dict(held)
    for entry in incoming:
        current = merged.get(entry["metric_id"])
        if current is not None and entry["offset"] <= current["offset"]:
            continue
        if current is None and entry["logic"] is None:
            continue
        if current is not None and _same_definition(current, entry):
            continue
        merged[entry["metric_id"]] = dict(entry)
    return merged


def _same_definition(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a["logic"] is None and b["logic"] is None:
        return True
    return a.get("definition_hash") == b.get("definition_hash") and a["logic"] == b["logic"]


def apply_reenrichment(
    state: ProfileState, documents: Iterable[Mapping[str, Any]], source: dict[str, Any]
) -> tuple[ProfileState, list[Event]]:
    """Enrich stored transactions again with today's tables and the tenant's rules.

    A document counts only while it is the transaction's live version (same content hash):
    one removed or changed since it was read is left alone. Only a result that differs
    from the transaction's current category, source or merchant is recorded.
    """
    work = _Work(state, state.last_occurred_at or "1970-01-01T00:00:00Z", source)
    rules = rule_set(state.tenant_rules)
    for doc in documents:
        entry = work.transactions.get(doc["transaction_id"])
        if entry is None or entry.content_hash != content_hash(doc):
            continue
        payload = enrich(doc, work.category_overrides.get(doc["transaction_id"]), rules)
        now = (tuple(payload["category"]), payload["category_source"])
        if (
            now != (entry.category, entry.category_source)
            or (payload["merchant"]["clean_name"] or "") != entry.merchant
        ):
            work.emit(EventType.TRANSACTION_ENRICHED, payload)
    if not work.events:
        return replace(state, noops=state.noops + 1), []
    return work.freeze(), work.events


def _digest(rules: Mapping[str, Any] | None) -> str | None:
    return None if rules is None else str(rules["digest"])


def apply_command(
    state: ProfileState, command: Mapping[str, Any], origin: EventSourceInfo
) -> tuple[ProfileState, list[Event]]:
    """Apply a command once per ``command_id``: its event, or ``CommandRejected``.

    Raises:
        RejectedInput: when a ``command_id`` is reused for another command.
    """
    digest = content_hash(dict(command))
    held = state.commands.get(command["command_id"])
    if held == digest:
        return replace(state, noops=state.noops + 1), []
    if held is not None:
        msg = f"command {command['command_id']} was sent again with another body"
        raise RejectedInput(Reason.IDEMPOTENCY_CONFLICT, "command_id", msg)
    source = origin.source("command", command["command_id"])
    work = _Work(state, command["issued_at"], source)
    outcome = decide_command(state, command)
    if isinstance(outcome, str):
        work.emit(
            EventType.COMMAND_REJECTED,
            {
                "command_id": command["command_id"],
                "command": command["command"],
                "reason": outcome.partition(":")[0],
                "message": outcome.partition(":")[2].strip(),
                "command_hash": digest,
            },
        )
    else:
        event_type, payload = outcome
        work.emit(
            event_type, {**payload, "command_id": command["command_id"], "command_hash": digest}
        )
    return work.freeze(), work.events


def decide_command(
    state: ProfileState, command: Mapping[str, Any]
) -> tuple[EventType, dict[str, Any]] | str:
    """The event a command asks for, or ``"reason: message"`` when it cannot be applied."""
    if command["command"] == CommandName.UPDATE_TRANSACTION_CATEGORY:
        return _decide_category(state, command)
    if command["command"] == CommandName.SET_BASE_CURRENCY:
        try:
            payload = SetBaseCurrency.model_validate(command["payload"])
            currency_exponent(payload.base_currency)
        except (ValueError, MoneyError) as exc:
            return f"invalid_payload: {exc}"
        return EventType.BASE_CURRENCY_SET, {"base_currency": payload.base_currency}
    return f"unknown_command: {command['command']!r} is not a command this twin understands"


def _decide_category(
    state: ProfileState, command: Mapping[str, Any]
) -> tuple[EventType, dict[str, Any]] | str:
    try:
        request = UpdateTransactionCategory.model_validate(command["payload"])
    except ValueError as exc:
        return f"invalid_payload: {exc}"
    if request.transaction_id not in state.transactions:
        return f"unknown_transaction: {request.transaction_id} is not a live transaction"
    metadata = command.get("metadata") or {}
    payload = {
        "transaction_id": request.transaction_id,
        "category": list(request.category()),
        "category_source": "USER_OVERRIDE",
        "user_id": metadata.get("user_id") if isinstance(metadata.get("user_id"), str) else None,
    }
    return EventType.TRANSACTION_CATEGORY_OVERRIDDEN, payload


def apply_day_closed(
    state: ProfileState, day: str, origin: EventSourceInfo
) -> tuple[ProfileState, list[Event]]:
    """Record the end of a UTC day once, at its midnight; a day already closed is a no-op."""
    if state.closed_day is not None and day <= state.closed_day:
        return replace(state, noops=state.noops + 1), []
    midnight = dt.datetime.combine(
        dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )
    source = origin.source("clock")
    work = _Work(state, utc_iso(midnight), source)
    work.emit(EventType.DAY_CLOSED, {"day": day})
    return work.freeze(), work.events


def apply_tick(
    state: ProfileState,
    tick: FxTick | PriceTick,
    origin: EventSourceInfo,
    value: Callable[[ProfileState], Mapping[str, Any] | None],
) -> tuple[ProfileState, list[Event]]:
    """Fold a market tick into the profile's rates; record the revaluation it causes.

    ``value`` values a state (the balance sheet as a document). The tick is recorded as
    ``MarketTickApplied`` (so a replay rebuilds the rates), followed by ``HoldingRevalued``
    for each holding whose value moved and ``WealthUpdated`` when net worth moved, each
    naming the tick as its provenance.
    """
    book = with_tick(state.rates, tick)
    if book == state.rates:
        return replace(state, noops=state.noops + 1), []
    source = origin.source("market", tick.source)
    tick_doc = tick.model_dump(mode="json")
    occurred_at = max(state.last_occurred_at or "", utc_iso(tick.as_of))
    work = _Work(state, occurred_at, source)
    before = value(state)
    work.emit(EventType.MARKET_TICK_APPLIED, {"tick": tick_doc})
    after = value(work.freeze())
    if before is not None and after is not None:
        _emit_revaluation(work, before, after, tick_doc)
    return work.freeze(), work.events


def _emit_revaluation(
    work: _Work, before: Mapping[str, Any], after: Mapping[str, Any], tick: dict[str, Any]
) -> None:
    old_lines = {line["id"]: line for line in before["lines"] if line["kind"] == "holding"}
    for line in after["lines"]:
        old = old_lines.get(line["id"])
        if line["kind"] == "holding" and (old is None or old["base_minor"] != line["base_minor"]):
            work.emit(EventType.HOLDING_REVALUED, {"holding": line, "tick": tick})
    if (before["net_worth_minor"], before["base_currency"]) != (
        after["net_worth_minor"],
        after["base_currency"],
    ):
        payload = {
            k: after[k]
            for k in ("base_currency", "at", "net_worth_minor", "total_debt_minor", "assets_minor")
        }
        work.emit(EventType.WEALTH_UPDATED, {**payload, "tick": tick})


# --- evolve: the only place state changes, shared by the live fold and log replays ---------


def evolve_into(work: _Work, event: Event) -> None:
    """Fold one event into the working state."""
    _EVOLVERS[event.type](work, event)
    work.version = event.stream_version
    work.last_event = event
    work.last_event_id = event.event_id
    # The twin's time is the latest event time it has seen, whatever the arrival order.
    if work.last_occurred_at is None or _micros_iso(event.occurred_at) > _micros_iso(
        work.last_occurred_at
    ):
        work.last_occurred_at = event.occurred_at


def _evolve_account(work: _Work, event: Event) -> None:
    doc = event.payload["account"]
    work.accounts[doc["account_id"]] = AccountEntry(
        doc, _micros_iso(event.occurred_at), event.event_id, event.stream_version
    )
    work.balance_source = (event.event_id, event.stream_version)


def _evolve_account_updated(work: _Work, event: Event) -> None:
    doc = event.payload["account"]
    entry = work.accounts[doc["account_id"]]
    merged = {**doc, "balances": entry.doc["balances"]}
    work.accounts[doc["account_id"]] = entry._replace(doc=merged)


def _evolve_balance(work: _Work, event: Event) -> None:
    account_id = event.payload["account_id"]
    entry = work.accounts[account_id]
    work.accounts[account_id] = AccountEntry(
        {**entry.doc, "balances": event.payload["balances"]},
        _micros_iso(event.occurred_at),
        event.event_id,
        event.stream_version,
    )
    work.balance_source = (event.event_id, event.stream_version)


def _evolve_transaction(work: _Work, event: Event) -> None:
    doc = event.payload["transaction"]
    as_of_us = _micros_iso(event.occurred_at)
    replaces = event.payload["replaces"]
    if replaces is not None:
        work.transactions.pop(replaces, None)
        work.tombstones[replaces] = as_of_us
        # The posted transaction is the pending one settled: the user's category follows it.
        override = work.category_overrides.pop(replaces, None)
        if override is not None:
            work.category_overrides[doc["transaction_id"]] = override
    work.transactions[doc["transaction_id"]] = tx_entry(
        doc, event.payload["content_hash"], as_of_us, event.event_id
    )


def tx_entry(doc: Mapping[str, Any], digest: str, as_of_us: int, event_id: str) -> TxEntry:
    """Return what the twin keeps of a FOS transaction document."""
    dates = doc["dates"]
    day = dt.date.fromisoformat(dates["posted"] or dates["authorised"] or "1970-01-01")
    merchant = doc["merchant"]
    return TxEntry(
        digest,
        doc["status"] == "PENDING",
        as_of_us,
        sys.intern(doc["account_id"]),
        doc["amount_minor"],
        sys.intern(doc["currency"]),
        day.toordinal(),
        sys.intern(doc["details"]["type"]),
        sys.intern(merchant_key(merchant["clean_name"] or merchant["raw_name"])),
        event_id,
    )


def merchant_key(name: str) -> str:
    """A counterparty name reduced to what stays stable across a merchant's transactions.

    Case, digits (store numbers, dates, references) and punctuation vary between charges of
    the same merchant; letters in order do not.
    """
    lowered = name.lower()
    if lowered.isascii():
        words = lowered.encode().translate(_ASCII_LETTERS_ONLY).decode().split()
    else:
        words = "".join(c if c.isalpha() else " " for c in lowered).split()
    return " ".join(words[:4])


# ASCII with every byte that is not a letter made a space: ``merchant_key``'s common case.
_ASCII_LETTERS_ONLY: Final = bytes(
    code if code < 128 and chr(code).isalpha() else ord(" ") for code in range(256)
)


def _evolve_removed(work: _Work, event: Event) -> None:
    txn_id = event.payload["transaction_id"]
    work.transactions.pop(txn_id, None)
    work.category_overrides.pop(txn_id, None)
    work.tombstones[txn_id] = _micros_iso(event.occurred_at)


def _evolve_platform_data(work: _Work, event: Event) -> None:
    data = event.payload["data"]
    work.platform_data[data["data_id"]] = event.payload["content_hash"]
    held = work.metrics_latest.get(data["key"])
    # The newest data point wins whatever the arrival order; ties go to the larger id.
    if held is None or (held.data["timestamp"], held.data["data_id"]) < (
        data["timestamp"],
        data["data_id"],
    ):
        work.metrics_latest[data["key"]] = MetricEntry(
            data, event.payload["metric"], event.event_id, event.stream_version
        )


def _evolve_base_currency(work: _Work, event: Event) -> None:
    work.own_base_currency = event.payload["base_currency"]
    work.commands[event.payload["command_id"]] = event.payload["command_hash"]


def _evolve_category_overridden(work: _Work, event: Event) -> None:
    txn_id = event.payload["transaction_id"]
    work.category_overrides[txn_id] = tuple(event.payload["category"])
    entry = work.transactions.get(txn_id)
    if entry is not None:
        work.transactions[txn_id] = entry._replace(
            category=_interned_path(event.payload["category"]),
            category_source=sys.intern(event.payload["category_source"]),
        )
    work.commands[event.payload["command_id"]] = event.payload["command_hash"]


def _evolve_link_started(work: _Work, event: Event) -> None:
    work.links[event.payload["link_id"]] = "exporting"


def _evolve_linked(work: _Work, event: Event) -> None:
    work.links[event.payload["link_id"]] = f"linked_{event.payload['role']}"


def _evolve_command_rejected(work: _Work, event: Event) -> None:
    work.commands[event.payload["command_id"]] = event.payload["command_hash"]


def _evolve_day_closed(work: _Work, event: Event) -> None:
    work.closed_day = event.payload["day"]


def _evolve_tick(work: _Work, event: Event) -> None:
    work.rates = with_tick(work.rates, MARKET_TICK.validate_python(event.payload["tick"]))
    work.balance_source = (event.event_id, event.stream_version)


def _evolve_tenant_defaults(work: _Work, event: Event) -> None:
    work.tenant_base_currency = event.payload["base_currency"]
    if "offset" in event.payload:
        offsets = {**work.tenant_config_offsets, "base_currency": event.payload["offset"]}
        work.tenant_config_offsets = offsets


def _evolve_enriched(work: _Work, event: Event) -> None:
    """The clean merchant and the category join the retained transaction."""
    payload = event.payload
    entry = work.transactions.get(payload["transaction_id"])
    if entry is None:
        return
    name = payload["merchant"]["clean_name"] or ""
    work.transactions[payload["transaction_id"]] = entry._replace(
        category=_interned_path(payload["category"]),
        category_source=sys.intern(payload["category_source"]),
        merchant=sys.intern(name),
        merchant_key=sys.intern(merchant_key(name)) if name else entry.merchant_key,
    )


def _interned_path(path: Iterable[str]) -> tuple[str, ...]:
    # Every transaction of a category shares one tuple: the taxonomy is small.
    key = tuple(path)
    return _PATHS.setdefault(key, key)


_PATHS: Final[dict[tuple[str, ...], tuple[str, ...]]] = {}


def _evolve_tenant_rules(work: _Work, event: Event) -> None:
    work.tenant_rules = event.payload["rules"]
    work.tenant_config_offsets = {**work.tenant_config_offsets, "rules": event.payload["offset"]}


def _evolve_metric_definitions(work: _Work, event: Event) -> None:
    definitions = {d["metric_id"]: d for d in event.payload["definitions"]}
    work.metric_definitions = definitions
    evaluated = {m for m, d in definitions.items() if d["logic"] is not None}
    for metric_id in [m for m in work.metric_values if m not in evaluated]:
        del work.metric_values[metric_id]


def _evolve_metric_evaluated(work: _Work, event: Event) -> None:
    payload = event.payload
    work.metric_values[payload["metric_id"]] = MetricReading(
        payload["definition_hash"], payload, event.event_id, event.stream_version
    )


def _evolve_holdings(work: _Work, event: Event) -> None:
    work.holdings[event.payload["account_id"]] = _snapshot(event)
    work.balance_source = (event.event_id, event.stream_version)


def _evolve_liability(work: _Work, event: Event) -> None:
    work.liabilities[event.payload["liability"]["account_id"]] = _snapshot(event)


def _evolve_investment_transaction(work: _Work, event: Event) -> None:
    txn_id = event.payload["transaction"]["investment_transaction_id"]
    work.investment_transactions[txn_id] = event.payload["content_hash"]


def _snapshot(event: Event) -> Snapshot:
    doc = {k: v for k, v in event.payload.items() if k != "content_hash"}
    return Snapshot(
        doc,
        event.payload["content_hash"],
        _micros_iso(event.occurred_at),
        event.event_id,
        event.stream_version,
    )


def _evolve_nothing(work: _Work, event: Event) -> None:
    """Summaries change no state beyond the stream position."""


_EVOLVERS: Final[dict[str, Callable[[_Work, Event], None]]] = {
    EventType.ACCOUNT_CREATED.value: _evolve_account,
    EventType.ACCOUNT_UPDATED.value: _evolve_account_updated,
    EventType.BALANCE_UPDATED.value: _evolve_balance,
    EventType.TRANSACTION_ADDED.value: _evolve_transaction,
    EventType.TRANSACTION_UPDATED.value: _evolve_transaction,
    EventType.TRANSACTION_REMOVED.value: _evolve_removed,
    EventType.TRANSACTIONS_IMPORTED.value: _evolve_nothing,
    EventType.PLATFORM_DATA_RECORDED.value: _evolve_platform_data,
    EventType.HOLDINGS_UPDATED.value: _evolve_holdings,
    EventType.TENANT_DEFAULTS_APPLIED.value: _evolve_tenant_defaults,
    EventType.MARKET_TICK_APPLIED.value: _evolve_tick,
    EventType.DAY_CLOSED.value: _evolve_day_closed,
    EventType.RECONCILIATION_MISMATCH.value: _evolve_nothing,
    EventType.BASE_CURRENCY_SET.value: _evolve_base_currency,
    EventType.COMMAND_REJECTED.value: _evolve_command_rejected,
    EventType.TRANSACTION_CATEGORY_OVERRIDDEN.value: _evolve_category_overridden,
    EventType.TRANSACTION_ENRICHED.value: _evolve_enriched,
    EventType.TENANT_RULES_APPLIED.value: _evolve_tenant_rules,
    EventType.METRIC_DEFINITIONS_APPLIED.value: _evolve_metric_definitions,
    EventType.METRIC_EVALUATED.value: _evolve_metric_evaluated,
    EventType.PROFILE_LINK_STARTED.value: _evolve_link_started,
    EventType.PROFILE_LINKED.value: _evolve_linked,
    EventType.WEALTH_UPDATED.value: _evolve_nothing,
    EventType.HOLDING_REVALUED.value: _evolve_nothing,
    EventType.LIABILITY_UPDATED.value: _evolve_liability,
    EventType.INVESTMENT_TRANSACTION_ADDED.value: _evolve_investment_transaction,
}


def replay(stream_key: str, events: Iterable[Event]) -> ProfileState:
    """Rebuild a twin from its events, in stream order, as a fresh worker would."""
    work = _Work(initial_state(stream_key))
    for event in events:
        if event.stream_version != work.version + 1:
            msg = f"{stream_key}: expected version {work.version + 1}, got {event.stream_version}"
            raise ValueError(msg)
        evolve_into(work, event)
    return work.freeze()


def _micros(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@functools.lru_cache(maxsize=4096)
def _micros_iso(text: str) -> int:
    # The events of one input share their time, and the twin compares it with its own on
    # every event: parsed once.
    return _micros(dt.datetime.fromisoformat(text))


__all__ = [
    "AccountEntry",
    "EventSourceInfo",
    "ProfileState",
    "TxEntry",
    "apply",
    "initial_state",
    "replay",
]
