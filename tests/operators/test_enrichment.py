"""Enrichment on real fixtures and generated data: every transaction gets a category and a source.

``category_coverage()`` is also what the coverage table in the documentation is built from.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from fintra.plans import load_plan
from fintra.samples import SampleSpec, generate
from operators.categories import TAXONOMY
from operators.decode import DecodeLimits
from operators.enrichment import DEFAULT, VERSIONS, enrich
from operators.mapping import apply_plan
from operators.observations import TransactionsObserved
from operators.pipeline import normalise
from schemas.envelopes import ConnectEnvelope
from tests.fintra.test_plans import CONTEXT, FIXTURE_OF_PLAN
from tests.operators.test_ofx import OUTCOMES, _normalise
from tests.support.envelopes import FIXTURES, envelope, plaid_fixture, sync_page

LIMITS = DecodeLimits()
SOURCES = {
    "USER_OVERRIDE",
    "TENANT_RULE",
    "VENDOR",
    "MCC",
    "MERCHANT_DICTIONARY",
    "KEYWORD",
    "TRANSACTION_TYPE",
    "DEFAULT",
}


def _docs_of(observations: Any) -> list[dict[str, Any]]:
    return [
        upsert.transaction.model_dump(mode="json")
        for observed in observations
        if isinstance(observed, TransactionsObserved)
        for upsert in observed.upserts
    ]


@functools.cache
def corpora() -> dict[str, list[dict[str, Any]]]:
    """FOS transactions from each kind of real input, and from the generator."""
    plaid_body = sync_page(added=plaid_fixture("transactions_get.json")["transactions"])
    plaid = _docs_of(normalise(ConnectEnvelope.model_validate(envelope(plaid_body)), LIMITS))
    csv = [
        txn.model_dump(mode="json")
        for name, (path, _) in FIXTURE_OF_PLAN.items()
        for txn in apply_plan(load_plan(name), path.read_bytes(), CONTEXT).transactions
    ]
    ofx = [
        doc
        for name, outcome in OUTCOMES.items()
        if isinstance(outcome, tuple)
        for doc in _docs_of(_normalise((FIXTURES / name).read_bytes()))
    ]
    sample = generate(SampleSpec(seed=3, tenants=2, profiles_per_tenant=3, months=6))
    generated = [
        doc
        for env in sample.envelopes
        if env["kind"] == "transactions_sync"
        for doc in _docs_of(normalise(ConnectEnvelope.model_validate(env), LIMITS))
    ]
    return {"plaid fixtures": plaid, "bank CSV": csv, "OFX/QFX": ofx, "generated": generated}


def category_coverage() -> dict[str, Counter[str]]:
    """How many transactions of each corpus each source categorised."""
    return {
        name: Counter(enrich(doc)["category_source"] for doc in docs)
        for name, docs in corpora().items()
    }


def test_every_transaction_gets_a_category_from_a_named_source() -> None:
    for name, docs in corpora().items():
        assert docs, name
        for doc in docs:
            result = enrich(doc)
            assert tuple(result["category"]) in TAXONOMY, (name, doc["merchant"], result)
            assert result["category_source"] in SOURCES
            assert result["versions"] == VERSIONS
            # A merchant is never invented: no descriptor, no name.
            named = bool(doc["merchant"]["raw_name"].strip())
            assert bool(result["merchant"]["clean_name"]) == named, doc["merchant"]


def test_sources_beyond_the_default_decide_most_transactions() -> None:
    coverage = category_coverage()
    for name, counts in coverage.items():
        total = sum(counts.values())
        assert counts[DEFAULT] < total, (name, counts)
    generated = coverage["generated"]
    assert generated[DEFAULT] / sum(generated.values()) < 0.05


def test_a_user_override_wins_over_every_source() -> None:
    doc = corpora()["generated"][0]
    result = enrich(doc, ("Business", "Client Coffee"))
    assert result["category"] == ["Business", "Client Coffee"]
    assert result["category_source"] == "USER_OVERRIDE"


@given(st.sampled_from(range(40)))
def test_enrichment_is_deterministic_and_enriching_twice_is_once(index: int) -> None:
    docs = corpora()["generated"]
    doc = docs[index % len(docs)]
    first = enrich(doc)
    assert orjson.dumps(first) == orjson.dumps(enrich(doc))
    again = {**doc, "merchant": {**doc["merchant"], "clean_name": first["merchant"]["clean_name"]}}
    assert enrich(again)["category"] == first["category"]
    assert enrich(again)["merchant"]["clean_name"] == first["merchant"]["clean_name"]
