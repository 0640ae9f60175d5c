"""Settings from the environment: set means "use this", unset means the embedded default."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
INFRA_DIR: Final = REPO_ROOT / "infra"

CONNECT_SYNC_TOPIC: Final = "connect.sync_completed.v1"
EVENTS_TOPIC: Final = "core.events.v1"
DLQ_TOPIC: Final = "core.dlq.v1"
PLATFORM_DATA_TOPIC: Final = "connect.custom_data.v1"
REGISTRY_TOPIC: Final = "brain.registry.v1"
TENANTS_TOPIC: Final = "core.tenants.v1"
MARKET_TOPIC: Final = "marketstream.price_updated.v1"
INTERESTS_TOPIC: Final = "core.instrument_interest.v1"
COMMANDS_TOPIC: Final = "core.commands.v1"
LINKS_TOPIC: Final = "connect.profile_linked.v1"
PASSPORT_TOPIC: Final = "core.passport.v1"
PASSPORT_REQUESTS_TOPIC: Final = "core.passport_requests.v1"
ENRICH_TOPIC: Final = "core.enrich_requests.v1"

_SCHEMA_PATTERN: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """A setting has a value Core cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where state lives and how the flow is tuned."""

    home: Path
    db_schema: str = "fintra"
    topic_prefix: str = ""
    max_payload_bytes: int = 1024 * 1024
    future_tolerance_days: int = 7
    epoch_interval_seconds: float = 2.0

    def topic(self, name: str) -> str:
        """Return the physical name of a logical topic (a prefix isolates test runs)."""
        return f"{self.topic_prefix}{name}"

    @property
    def recovery_dir(self) -> Path:
        """Where Bytewax keeps its recovery partitions."""
        return self.home / "recovery" / (self.topic_prefix or "default")


def load() -> Settings:
    """Read settings from ``FINTRA_*`` environment variables."""
    schema = os.environ.get("FINTRA_DB_SCHEMA", "fintra")
    if not _SCHEMA_PATTERN.match(schema):
        msg = f"FINTRA_DB_SCHEMA={schema!r} is not a lowercase SQL identifier"
        raise SettingsError(msg)
    return Settings(
        home=Path(os.environ.get("FINTRA_HOME", ".fintra")).resolve(),
        db_schema=schema,
        topic_prefix=os.environ.get("FINTRA_TOPIC_PREFIX", ""),
        max_payload_bytes=_int("FINTRA_MAX_PAYLOAD_BYTES", 1024 * 1024),
        future_tolerance_days=_int("FINTRA_FUTURE_TOLERANCE_DAYS", 7),
        epoch_interval_seconds=float(os.environ.get("FINTRA_EPOCH_INTERVAL_SECONDS", "2.0")),
    )


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        msg = f"{name}={raw!r} is not an integer"
        raise SettingsError(msg) from exc
    if value <= 0:
        msg = f"{name}={raw!r} must be positive"
        raise SettingsError(msg)
    return value
