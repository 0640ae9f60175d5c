"""Pages of a profile delivered out of order end in the same projections as in order."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fintra import stack as fintra_stack
from fintra.embedded import StackInfo
from fintra.samples import SampleSpec, generate
from fintra.settings import Settings
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration

# Stream positions and event ids record how the inputs arrived, not what the profile is.
PROVENANCE = frozenset({"version", "source_event_id", "provenance"})


def facts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: facts(v) for k, v in sorted(value.items()) if k not in PROVENANCE}
    if isinstance(value, list):
        return [facts(v) for v in value]
    return value


def projection_hash(core: Core) -> str:
    docs = core.query("SELECT tenant_id, profile_id, doc FROM view_unified_profile ORDER BY 1, 2")
    balances = core.query(
        "SELECT tenant_id, profile_id, account_id, day, balance_minor, currency"
        " FROM historical_balances ORDER BY 1, 2, 3, 4"
    )
    worth = core.query(
        "SELECT tenant_id, profile_id, day, net_worth_minor, currency"
        " FROM historical_net_worth ORDER BY 1, 2, 3"
    )
    search = core.query(
        "SELECT tenant_id, profile_id, transaction_id, removed, day, amount_minor, category"
        " FROM transaction_search WHERE NOT removed ORDER BY 1, 2, 3"
    )
    shown = repr(([(t, p, facts(d)) for t, p, d in docs], balances, worth, search))
    assert docs and balances and worth and search
    return hashlib.sha256(shown.encode()).hexdigest()


def deployment(stack: StackInfo, home: Path, name: str) -> Core:
    settings = Settings(
        home=home, db_schema=name, topic_prefix=name + ".", epoch_interval_seconds=0.5
    )
    fintra_stack.prepare(settings, stack)
    return Core(settings, stack)


def test_shuffled_pages_give_the_same_projections(
    stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    envelopes = generate(SampleSpec(seed=29, tenants=1, profiles_per_tenant=3, months=4)).envelopes
    in_order = deployment(stack, tmp_path / "a", unique_name("ordered"))
    in_order.ingest(envelopes)
    in_order.run_until_idle()
    shuffled = list(envelopes)
    random.Random(5).shuffle(shuffled)
    assert shuffled != envelopes
    out_of_order = deployment(stack, tmp_path / "b", unique_name("shuffled"))
    out_of_order.ingest(shuffled)
    out_of_order.run_until_idle()
    assert projection_hash(out_of_order) == projection_hash(in_order)
