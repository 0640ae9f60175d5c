"""Fixtures for driving the ``fintra`` command on the session's broker and database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fintra.embedded import StackInfo


@pytest.fixture
def cli_env(stack: StackInfo, tmp_path: Path, unique_name: Callable[[str], str]) -> dict[str, str]:
    return {
        **os.environ,
        "FINTRA_HOME": str(tmp_path / "home"),
        "FINTRA_KAFKA_BROKERS": stack.kafka_brokers,
        "FINTRA_DATABASE_URL": stack.database_url,
        "FINTRA_DB_SCHEMA": unique_name("cli"),
        "FINTRA_TOPIC_PREFIX": unique_name("cli") + ".",
        "FINTRA_EPOCH_INTERVAL_SECONDS": "0.5",
    }
