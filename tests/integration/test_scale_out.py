"""A cluster of 1, 2 or 3 worker processes over the same input writes the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fintra import stack as fintra_stack
from fintra.embedded import StackInfo
from fintra.samples import SampleSpec, generate
from fintra.settings import Settings
from tests.integration.conftest import Core
from tests.integration.test_faults import digest, start_run

pytestmark = pytest.mark.integration


def test_one_two_and_three_processes_give_byte_identical_projections(
    stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    envelopes = generate(SampleSpec(seed=37, tenants=3, profiles_per_tenant=3, months=3)).envelopes
    results = {}
    for processes in (1, 2, 3):
        name = unique_name(f"scale{processes}")
        settings = Settings(
            home=tmp_path / name,
            db_schema=name,
            topic_prefix=name + ".",
            epoch_interval_seconds=0.5,
        )
        fintra_stack.prepare(settings, stack)
        core = Core(settings, stack)
        core.ingest(envelopes)
        # A restart after Bytewax's occasional panic between processes changes nothing
        # written, which the digests below check; it must not end the run.
        assert start_run(core, processes, max_failures=6).wait(timeout=300) == 0
        results[processes] = digest(core)
    assert results[1]["view_unified_profile"][0] == 9
    assert results[1] == results[2] == results[3]
