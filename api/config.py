"""What the API needs to run, handed in by the composition root (the ``fintra`` CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import JwtSettings


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Connections, topics, token rules and limits of one API process.

    ``database_url`` must log in as a role that neither owns the read models nor bypasses
    row-level security: every query sees only the rows of the tenant it sets.
    """

    database_url: str
    db_schema: str
    kafka_brokers: str
    events_topic: str
    commands_topic: str
    jwt: JwtSettings
    keepalive_seconds: float = 15.0
    max_streams: int = 64
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = 8
