"""What a normaliser hands the twin: FOS entities observed in one input, with their context.

Every provider's normaliser produces these, so the twin never sees a vendor's shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.fos import (
    HoldingsReconciliation,
    InvestmentTransaction,
    UnifiedAccount,
    UnifiedInvestmentHolding,
    UnifiedLiability,
    UnifiedSecurity,
    UnifiedTransaction,
)


@dataclass(frozen=True, slots=True)
class SyncContext:
    """Which sync an observation belongs to and when it was received (its event time)."""

    tenant_id: str
    profile_id: str
    provider: str
    connection_id: str
    sync_id: str
    page: int
    last_page: bool
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AccountsObserved:
    """The accounts of a connection as the provider reported them at ``received_at``."""

    context: SyncContext
    accounts: tuple[UnifiedAccount, ...]


@dataclass(frozen=True, slots=True)
class TransactionUpsert:
    """A transaction the provider reported; ``modified`` means it announced a change."""

    transaction: UnifiedTransaction
    modified: bool


@dataclass(frozen=True, slots=True)
class TransactionsObserved:
    """One page of transaction changes: upserts and the FOS ids the provider removed."""

    context: SyncContext
    upserts: tuple[TransactionUpsert, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HoldingsObserved:
    """A connection's investment positions as the provider reported them at ``received_at``.

    The report is a complete snapshot: a holding of an account in ``accounts`` that is absent
    here is no longer held. ``reconciliations`` compares, per account with holdings (and per
    investment account), the account's reported value with the sum of its holdings.
    """

    context: SyncContext
    accounts: tuple[UnifiedAccount, ...]
    securities: tuple[UnifiedSecurity, ...]
    holdings: tuple[UnifiedInvestmentHolding, ...]
    reconciliations: tuple[HoldingsReconciliation, ...]


@dataclass(frozen=True, slots=True)
class InvestmentTransactionsObserved:
    """One page of investment transactions, with the accounts and securities they name."""

    context: SyncContext
    accounts: tuple[UnifiedAccount, ...]
    securities: tuple[UnifiedSecurity, ...]
    transactions: tuple[InvestmentTransaction, ...]


@dataclass(frozen=True, slots=True)
class LiabilitiesObserved:
    """The terms of a connection's debts, beside the accounts that carry their balances."""

    context: SyncContext
    accounts: tuple[UnifiedAccount, ...]
    liabilities: tuple[UnifiedLiability, ...]


Observation = (
    AccountsObserved
    | TransactionsObserved
    | HoldingsObserved
    | InvestmentTransactionsObserved
    | LiabilitiesObserved
)
