"""``fintra audit verify``: check every profile's hash chain in the event log."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from fintra.snapshots import read_streams
from operators.audit import BrokenLink, first_broken_link


@dataclass
class AuditReport:
    """What a verification read and the first broken link of each failing profile."""

    profiles: int = 0
    events: int = 0
    broken: list[BrokenLink] = field(default_factory=list)


def verify(database_url: str, schema: str, tenant_id: str | None = None) -> AuditReport:
    """Verify the chains of every profile (of one tenant when given), in stream order."""
    report = AuditReport()
    with psycopg.connect(database_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        for _, events in read_streams(conn, tenant_id):
            report.profiles += 1
            report.events += len(events)
            broken = first_broken_link(events)
            if broken is not None:
                report.broken.append(broken)
    return report
