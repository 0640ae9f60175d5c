"""Re-enrichment requests (``core.enrich_requests.v1``), keyed ``tenant:profile``.

``fintra enrich --since VERSION`` reads the transactions whose enrichment came from tables
older than ``VERSION`` out of the event log and sends them back through the profile's
stream: the twin enriches each one again with today's tables and rules. Nothing stored is
changed; a new ``TransactionEnriched`` event supersedes the old one.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelopes import ID_PATTERN
from schemas.fos import UnifiedTransaction

#: Transactions per request message: about 1 KiB each, well under the payload limit.
MAX_TRANSACTIONS: Final = 500


class EnrichRequest(BaseModel):
    """Transactions of one profile to enrich again, as the event log holds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(pattern=ID_PATTERN)
    tenant_id: str = Field(pattern=ID_PATTERN)
    profile_id: str = Field(pattern=ID_PATTERN)
    since: str = Field(pattern=r"^\d{1,6}(\.\d{1,6}){0,3}$")
    transactions: tuple[UnifiedTransaction, ...] = Field(max_length=MAX_TRANSACTIONS)

    def documents(self) -> list[dict[str, Any]]:
        """The transactions as FOS documents, in the form their events carry them."""
        return [transaction.model_dump(mode="json") for transaction in self.transactions]
