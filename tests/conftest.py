"""Shared fixtures: the session's broker and PostgreSQL, and unique resource names."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fintra import embedded


@pytest.fixture(scope="session")
def stack_home() -> Iterator[Path]:
    """Home folder of the session's embedded stack.

    It lives outside pytest's temporary tree: pytest keeps that tree private to its user,
    and as root PostgreSQL runs as another user that must traverse to its data folder.
    """
    home = Path(tempfile.mkdtemp(prefix="fintra-test-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_home: Path) -> Iterator[embedded.StackInfo]:
    """Broker and PostgreSQL for the session.

    External services from FINTRA_KAFKA_BROKERS / FINTRA_DATABASE_URL are used as they are
    and left running; otherwise an embedded stack is started and stopped at the end.
    """
    if os.environ.get(embedded.ENV_KAFKA_BROKERS) or os.environ.get(embedded.ENV_DATABASE_URL):
        external = embedded.from_environment()
        assert external is not None
        yield external
        return
    try:
        yield embedded.start(stack_home)
    finally:
        embedded.stop(stack_home)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Return a function making names unique per call, e.g. ``unique_name("orders")``.

    The result is lower case with underscores, valid as a topic or PostgreSQL schema name.
    """

    def make(prefix: str = "t") -> str:
        return f"{prefix}_{uuid.uuid4().hex[:12]}"

    return make
