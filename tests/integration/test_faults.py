"""Exactly-once effects under failure: SIGKILLs of the cluster, and a replay from offset 0.

The bounded version runs in ``make test``; ``make soak`` sets ``FINTRA_SOAK=1`` for the long
one (more data, more kills).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fintra import embedded
from fintra import stack as fintra_stack
from fintra.audit import verify
from fintra.embedded import ENV_DATABASE_URL, ENV_KAFKA_BROKERS, StackInfo
from fintra.samples import SampleSpec, generate
from fintra.settings import EVENTS_TOPIC, Settings
from tests.integration.conftest import Core

pytestmark = pytest.mark.integration

SOAK = os.environ.get("FINTRA_SOAK") == "1"
SPEC = (
    SampleSpec(seed=41, tenants=2, profiles_per_tenant=12, months=24)
    if SOAK
    else SampleSpec(seed=41, tenants=2, profiles_per_tenant=6, months=10)
)
KILLS = 20 if SOAK else 10

# The chain hashes cover each event's source (topic names differ between the two runs), so
# the log is compared by id and payload, and its chains are verified on their own.
PROJECTIONS = {
    "core_events": "SELECT event_id, tenant_id, profile_id, stream_version, type, payload_hash"
    " FROM core_events ORDER BY tenant_id, profile_id, stream_version",
    "view_unified_profile": "SELECT tenant_id, profile_id, version, doc::text"
    " FROM view_unified_profile ORDER BY 1, 2",
    "historical_balances": "SELECT * FROM historical_balances ORDER BY 1, 2, 3, 4",
    "historical_net_worth": "SELECT * FROM historical_net_worth ORDER BY 1, 2, 3",
    "transaction_search": "SELECT tenant_id, profile_id, transaction_id, version, removed,"
    " day, amount_minor, category, category_source FROM transaction_search ORDER BY 1, 2, 3",
}


def digest(core: Core) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 of every table a run writes."""
    result = {}
    for table, query in PROJECTIONS.items():
        rows = core.query(query)
        result[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


def start_run(core: Core, processes: int, max_failures: int = 3) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FINTRA_HOME": str(core.settings.home),
        "FINTRA_DB_SCHEMA": core.settings.db_schema,
        "FINTRA_TOPIC_PREFIX": core.settings.topic_prefix,
        "FINTRA_EPOCH_INTERVAL_SECONDS": "0.5",
        ENV_KAFKA_BROKERS: core.info.kafka_brokers,
        ENV_DATABASE_URL: core.info.database_url,
    }
    args = ["run", "--until-idle", "--processes", str(processes)]
    args += ["--max-failures", str(max_failures)]
    return subprocess.Popen(
        [sys.executable, "-m", "fintra.cli", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def clean_run(
    stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]
) -> dict[str, tuple[int, str]]:
    """The same input through an undisturbed run, for comparison."""
    settings = Settings(
        home=tmp_path / "clean",
        db_schema=unique_name("clean"),
        topic_prefix=unique_name("clean") + ".",
        epoch_interval_seconds=0.5,
    )
    fintra_stack.prepare(settings, stack)
    reference = Core(settings, stack)
    reference.ingest(generate(SPEC).envelopes)
    reference.run_until_idle()
    return digest(reference)


def test_sigkills_with_one_or_two_processes_lose_and_double_nothing(
    core: Core, clean_run: dict[str, tuple[int, str]]
) -> None:
    core.ingest(generate(SPEC).envelopes)
    rng = random.Random(2024)
    kills = attempts = 0
    while kills < KILLS and attempts < KILLS * 3:
        attempts += 1
        run = start_run(core, rng.choice((1, 2)))
        time.sleep(rng.uniform(1.5, 5.0))
        if run.poll() is not None:
            break
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        kills += 1
    assert kills >= KILLS, f"the flow finished after {kills} kills: give it more input"
    # The run that finishes the work is one process: Bytewax 0.21's TCP layer between
    # processes panics now and then ("Send thread panic"), and three such restarts in a row
    # end a run whose --max-failures is 3. The runs killed above still use one or two.
    final = start_run(core, 1)
    assert final.wait(timeout=600) == 0
    after = digest(core)
    assert after["core_events"][0] > 2000
    duplicates = core.query(
        "SELECT count(*) - count(DISTINCT (tenant_id, profile_id, stream_version)) FROM core_events"
    )
    assert duplicates == [(0,)]
    assert after == clean_run
    assert verify(core.info.database_url, core.settings.db_schema).broken == []
    # The events topic is fed from the outbox: every logged event is on it, and a copy can
    # only be the same bytes (a crash between the broker's acknowledgement and the outbox
    # delete), never a divergent event.
    on_topic: dict[str, set[bytes]] = {}
    for message in core.topic_messages(EVENTS_TOPIC):
        headers = dict(message.headers() or [])
        on_topic.setdefault(headers["event_id"].decode(), set()).add(message.value())
    logged = {str(row[0]) for row in core.query("SELECT event_id FROM core_events")}
    assert set(on_topic) == logged
    assert all(len(bodies) == 1 for bodies in on_topic.values())


def test_recovery_deleted_and_replayed_from_offset_zero_adds_nothing(
    core: Core, clean_run: dict[str, tuple[int, str]]
) -> None:
    core.ingest(generate(SPEC).envelopes)
    core.run_until_idle()
    before = digest(core)
    assert before == clean_run
    shutil.rmtree(core.settings.home / "recovery")
    core.run_until_idle()
    assert digest(core) == before


def test_postgres_restarted_three_times_during_writes_ends_exact(
    core: Core, clean_run: dict[str, tuple[int, str]], stack_home: Path
) -> None:
    if not core.info.embedded:
        pytest.skip("restarts the embedded PostgreSQL; an external one is not ours to restart")
    # The same syncs twice: the repeats are no-ops, and they keep the flow busy while the
    # database goes down under it.
    envelopes = generate(SPEC).envelopes
    core.ingest(envelopes + envelopes)
    run = start_run(core, 1)
    restarts = 0
    for _ in range(3):
        time.sleep(1.0)
        assert run.poll() is None, f"fintra run exited {run.returncode} during the restarts"
        embedded.restart_postgres(stack_home, "immediate")
        restarts += 1
    assert restarts == 3, "the run finished before the third restart: give it more input"
    assert run.wait(timeout=600) == 0
    assert digest(core) == clean_run
